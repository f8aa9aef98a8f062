"""The compiled regexes of the word tokenizer: abbreviations that keep their period, the
character classes of words, the spacing passes and the token pattern itself.

Patterns start with a positive character class where they can, so the scan for candidates
runs in C; they are built on first use (the character classes take ~20 ms).
"""

from __future__ import annotations

import functools
import re
import unicodedata

from genlab.markov.marks import (
    CLAIM_WS,
    CLOSE_SENTINELS,
    DASHES,
    GLUE_BOTH,
    GLUE_LEFT,
    GLUE_RIGHT,
    LEFT_MARKS,
    MARK_CHARS,
    OPEN_SENTINELS,
    SENTINELS,
)

_ABBREVIATIONS = (
    "Mr Mrs Ms Messrs Mme Mmes Mlle Mlles Dr St Ste Jr Sr Esq Prof Rev Hon Capt Col Gen "
    "Lt Sgt Gov Mt Ft Bros Co Inc Ltd Dept Vol Ch Chap vs viz etc cf ca approx"
).split()
NUMBER_WORDS = ["No", "no", "Nos", "nos", "p", "pp"]  # keep their period before a number
_UPPER = "A-ZÀ-ÖØ-Þ"


@functools.cache
def _char_classes() -> tuple[str, str]:
    """(combining marks, other non-word non-space characters) of the BMP, as class bodies.

    Marks belong inside words. The second class is a fast positive stand-in for
    [^\\s\\w], plus all astral characters. (A class with astral ranges makes the token
    regex 3x slower, so astral marks are left out of words.)
    """

    def ranges(flags: list[bool]) -> str:
        out, start = [], None
        for i, flag in enumerate([*flags, False]):
            if flag and start is None:
                start = i
            elif not flag and start is not None:
                out.append(f"\\u{start:04x}-\\u{i - 1:04x}")
                start = None
        return "".join(out)

    chars = [chr(i) for i in range(0x10000)]
    marks = [unicodedata.category(c)[0] == "M" for c in chars]
    other = [not (m or c.isalnum() or c.isspace() or c == "_") for c, m in zip(chars, marks)]
    return ranges(marks), ranges(other) + "\\U00010000-\\U0010ffff"


def _lookbehinds(words: list[str]) -> str:
    """One fixed-width lookbehind per word length: (?<=\\bMr|\\bDr)|(?<=\\bMrs)..."""
    by_len: dict[int, list[str]] = {}
    for w in words:
        by_len.setdefault(len(w), []).append(rf"\b{re.escape(w)}")
    return "|".join(f"(?<={'|'.join(ws)})" for ws in by_len.values())


def abbreviation_words() -> set[str]:
    return {v for a in _ABBREVIATIONS for v in (a, a.lower(), a.upper(), a.capitalize())}


def _abbreviation_dot() -> str:
    """A period that belongs to the word before it."""
    words = abbreviation_words()
    gap = f"[{CLAIM_WS}{LEFT_MARKS}]?"  # what follows may already be a sentinel
    return (
        r"(?=\.)(?:"
        rf"(?:{_lookbehinds(sorted(words))})\."
        rf"|(?<=\.[^\W\d_])\."  # e.g. i.e. a.m. U.S.A.
        rf"|(?<=\b[{_UPPER}])(?<!\bI)\.(?={gap}[{_UPPER}])"  # J. R. Tolkien
        rf"|(?<=\b[{_UPPER}]\. [{_UPPER}])\."  # the last of a row of initials: O. G.
        rf"|(?:(?<=\bM)|(?<=\bMM))\.(?={gap}[^\W\d_])"  # M. le curé
        rf"|(?:{_lookbehinds(NUMBER_WORDS)})\.(?={gap}\d)"
        r")"
    )


class _Regexes:
    """The compiled regexes, built on first use (building the classes takes ~20 ms)."""

    def __init__(self) -> None:
        esc = re.escape
        marks, nonword = _char_classes()
        w = rf"[\w{marks}]"  # a raw "_" left by the quote pass is inside a word
        known = esc(GLUE_LEFT + GLUE_RIGHT + GLUE_BOTH + DASHES + MARK_CHARS) + "\"'’‘"
        sym = rf"[^\s\w{marks}{known}{SENTINELS}]"  # other symbols: a run is one token
        claims_right = esc(GLUE_RIGHT + GLUE_BOTH + DASHES) + OPEN_SENTINELS
        claims_left = esc(GLUE_LEFT + GLUE_BOTH + DASHES + "…") + CLOSE_SENTINELS
        ws = f"[{CLAIM_WS}]"
        # Patterns start with a positive character class where they can: the scan for
        # candidates then runs in C without trying the rest at every position.
        self.quotes = re.compile(r"[\"'’‘_]+")

        # Spacing the default rules get wrong, written as sentinels before the token that
        # owns it: a space before a token that glues to the left ...
        self.space_before = re.compile(rf" (?=[{claims_left}])(?<![{claims_right}] )")
        # ... any no-break space (unless the token before owns it) ...
        self.nobreak_before = re.compile(rf"[\u00a0\u202f](?=\S)(?<![{claims_right}].)")
        # ... and no space where both tokens want one: after a non-word character X (a)
        # or after a word (b, c).
        ends_spaced = rf"[^\s\w{marks}{claims_right}\"]"
        starts_spaced = rf"[^\s{claims_left}\"]"
        after = (
            rf"(?<={ends_spaced})(?={starts_spaced})"
            rf"(?!(?<=['’]){w})"  # an apostrophe inside a word
            rf"(?!(?<={w}\.){w})"  # www.gutenberg.org, 3.14
            rf"(?!(?<=\d[,:])\d)"  # 1,000 10:30
            rf"(?!(?<={sym}){sym})"  # a run of symbols
        )
        before = rf"(?<={w}[^\s\w{marks}{claims_left}\"'’])"
        self.glue = re.compile(
            rf"[{nonword}](?<=[^\s\w{marks}])(?:(?P<a>{after})(?P<b>{before})?|(?P<c>{before}))"
        )
        self.needs_names = re.compile(
            rf"[{SENTINELS}{claims_right}](?:(?<=[{SENTINELS}])|{ws})"
        )

        # joined inside a word: ' ’ ‘ - ‐ ‑ and . (www.gutenberg.org), , and : in numbers
        joiner = (  # o’- only after a one- or two-letter segment, as in will-o’-the-wisp
            r"(?=[.,:'’‘\-‐‑])"  # both branches start with one of these: most words stop here, fast
            r"(?:(?:(?<=[\-‐‑]\w)|(?<=[\-‐‑]\w\w))['’][\-‐‑]"
            r"|[.,:'’‘\-‐‑](?:(?<=[.'’‘\-‐‑])|(?<=\d.)(?=\d)))"
        )
        word = rf"['’]?+{w}++(?:{joiner}{w}+)*(?:['’]|{_abbreviation_dot()})?"
        dash = "|".join(f"{esc(c)}+" for c in DASHES)
        # " ?(...)": a match eats the space before its token, so the scan never stops on
        # a space; findall returns the group.
        self.tokens = re.compile(
            f" ?([{LEFT_MARKS}]?(?:"
            + "|".join(
                [
                    word,
                    r"\.{2,}|…+",
                    rf"(?:{dash}){ws}?",
                    rf"[{esc(GLUE_RIGHT + GLUE_BOTH)}{OPEN_SENTINELS}]{ws}?",
                    rf"[{esc(GLUE_LEFT)}{CLOSE_SENTINELS}]",
                    rf"{sym}+",
                    r"\S",
                ]
            )
            + "))"
        )


@functools.cache
def regexes() -> _Regexes:
    return _Regexes()
