"""Word tokenizer and detokenizer for novels with dialogue.

Why: an n-gram Markov chain is only as good as its tokens. Punctuation and quotes are
tokens of their own (so "said," and "said" share statistics), opening and closing quotes
differ (so generated dialogue opens and closes), abbreviations keep their period (so a
lone "." means a sentence end), and detokenize(tokenize(p)) == p, spacing included, so
generated text is spaced like the book. The work is done by compiled regexes; Python runs
per quote character and once per token. Training on 50 MB goes faster still through
_fastwords.c, which repeats these rules for plain paragraphs and hands the rest back here:
this module is the definition, and tests hold the two together.

Interface: PARAGRAPH ("<p>", only between paragraphs), normalize, split_paragraphs
(a whitespace run becomes " ", or the U+00A0 / U+202F it holds), tokenize_paragraph, tokenize_collapsed,
paragraph_tokens, tokenize, detokenize (paragraphs joined by "\\n\\n"),
Detokenizer().piece (streaming), surface, quote_role, compiled (the C fast path, or None).

Tokens: quotes “ ” ‘ ’ « » ‹ › are themselves, straight quotes are <" "> <' '>, italics
_x_ give <_ x _>. Tokens never hold whitespace: where the text's spacing differs from the
default (none before , . ! ” ) ..., none after “ ( ...), the token carries it as a mark:
␣ space, ⍽ U+00A0, ⎵ U+202F, ‿ none ("␣]", "«⍽", "⍽!", "‿[" in "word[1]", "⍽000").
Dashes always carry their spacing: "—", "␣—␣", "—␣". surface() drops the marks.
"""

from __future__ import annotations

import bisect
import functools
import re
import unicodedata
from collections.abc import Iterable, Iterator

__all__ = [
    "PARAGRAPH",
    "Detokenizer",
    "detokenize",
    "normalize",
    "paragraph_tokens",
    "quote_role",
    "split_paragraphs",
    "surface",
    "compiled",
    "tokenize",
    "tokenize_collapsed",
    "tokenize_paragraph",
]

PARAGRAPH = "<p>"

# --- characters ------------------------------------------------------------------------

_CLAIM_WS = " \u00a0\u202f"  # the whitespace a token can own (paragraphs are collapsed)
_MARK = {" ": "␣", "\u00a0": "⍽", "\u202f": "⎵"}
_UNMARK = {"␣": " ", "⍽": "\u00a0", "⎵": "\u202f", "‿": ""}
_MARK_CHARS = "".join(_UNMARK)

_GLUE_LEFT = ",.;:!?…)]}”»›%‰™®"  # no space before
_GLUE_RIGHT = "([{“‘«‹¿¡$£€¥#"  # no space after
_GLUE_BOTH = "/@"
_DASHES = "—–―‒⸺⸻‐‑−-"

# The quote pre-pass writes its decisions into the text as Unicode noncharacters, which
# the token regex then reads as single tokens.
_SENTINEL_NAME: dict[str, str] = {
    "\ufdd0": '<"',
    "\ufdd1": "<'",
    "\ufdd2": "<_",
    "\ufdd3": '">',
    "\ufdd4": "'>",
    "\ufdd5": "_>",
    "\ufdd6": "’",  # a ’ that closes a quote (a raw ’ is an apostrophe inside a word)
}
_DQ_OPEN, _SQ_OPEN, _IT_OPEN, _DQ_CLOSE, _SQ_CLOSE, _IT_CLOSE, _RSQ_CLOSE = _SENTINEL_NAME
_OPEN_SENTINELS = _DQ_OPEN + _SQ_OPEN + _IT_OPEN
_CLOSE_SENTINELS = _DQ_CLOSE + _SQ_CLOSE + _IT_CLOSE + _RSQ_CLOSE
# Spacing a token owns on its left, written just before it by the spacing passes.
_GLUE = "\ufdd7"  # no space, although one is due
_LEFT_SPACE = {" ": "\ufdd8", "\u00a0": "\ufdd9", "\u202f": "\ufdda"}
_LEFT_MARKS = _GLUE + "".join(_LEFT_SPACE.values())
_SENTINELS = "".join(_SENTINEL_NAME) + _LEFT_MARKS
_NONCHARACTERS = re.compile("[\ufdd0-\ufdef]")

_ROLE = {
    "“": ("double", 1),
    "”": ("double", -1),
    "‘": ("single", 1),
    "’": ("single", -1),
    "«": ("guillemet", 1),
    "»": ("guillemet", -1),
    "‹": ("single_guillemet", 1),
    "›": ("single_guillemet", -1),
    '<"': ("straight_double", 1),
    '">': ("straight_double", -1),
    "<'": ("straight_single", 1),
    "'>": ("straight_single", -1),
}
_SURFACE = {'<"': '"', '">': '"', "<'": "'", "'>": "'", "<_": "_", "_>": "_"}

# --- detokenizer -------------------------------------------------------------------------
# A token's spacing is (left, right, text). left/right are 1 (a space is due) or 0 (none)
# by default, or a str when the token says its spacing explicitly. The gap between two
# tokens is: previous token's explicit right, else next token's explicit left, else a
# space when both sides allow one.

_WORD = (1, 1)
_BASE: dict[str, tuple[int, int]] = {}
_BASE.update(dict.fromkeys(_GLUE_LEFT, (0, 1)))
_BASE.update(dict.fromkeys(_GLUE_RIGHT, (1, 0)))
_BASE.update(dict.fromkeys(_GLUE_BOTH, (0, 0)))
_BASE.update({'<"': (1, 0), "<'": (1, 0), "<_": (1, 0), '">': (0, 1), "'>": (0, 1), "_>": (0, 1)})
_BASE["’"] = (0, 1)  # the closing quote (an apostrophe ’ is always inside a word token)


def _is_dash_run(core: str) -> bool:
    return core[0] in _DASHES and core == core[0] * len(core)


def _split_marks(token: str) -> tuple[str | None, str, str | None]:
    """(left gap or None, core, right gap or None) of a possibly marked token."""
    left = right = None
    core = token
    if len(core) > 1 and core[0] in _UNMARK:
        left, core = _UNMARK[core[0]], core[1:]
    if len(core) > 1 and core[-1] in _UNMARK:
        right, core = _UNMARK[core[-1]], core[:-1]
    return left, core, right


@functools.lru_cache(maxsize=8192)
def _special_spec(token: str) -> tuple:
    """Spacing of a token that starts or ends with a mark or a dash."""
    left, core, right = _split_marks(token)
    if _is_dash_run(core):
        return (left or "", right or "", core)
    if core[0] in ".…" and core == core[0] * len(core):
        return (0 if left is None else left, 1, core)  # an ellipsis
    base = _BASE.get(core, _WORD)
    return (
        base[0] if left is None else left,
        base[1] if right is None else right,
        _SURFACE.get(core, core),
    )


_SPEC = {t: (*s, _SURFACE.get(t, t)) for t, s in _BASE.items()}
_SPEC[""] = (1, 1, "")
_SPECIAL_EDGE = frozenset(_DASHES + _MARK_CHARS + ".…")


_SPEC_MEMO: dict[str, tuple] = {}  # every token's spacing once worked out (bounded below)


def _spec(token: str) -> tuple:
    spec = _SPEC_MEMO.get(token)
    if spec is None:
        spec = _SPEC.get(token)
        if spec is None:
            spec = _special_spec(token) if token[0] in _SPECIAL_EDGE or token[-1] in _SPECIAL_EDGE else (1, 1, token)
        if len(_SPEC_MEMO) >= 1 << 17:
            _SPEC_MEMO.clear()
        _SPEC_MEMO[token] = spec
    return spec


class Detokenizer:
    """Streaming detokenizer: piece(token) is the text to append, leading space included."""

    __slots__ = ("_right",)

    def __init__(self) -> None:
        self._right = None  # None at the start of a paragraph

    def piece(self, token: str) -> str:
        if token == PARAGRAPH:
            self._right = None
            return "\n\n"
        if not token:
            return ""
        left, right, text = _spec(token)
        prev, self._right = self._right, right
        return _joined(prev, left, text)


def _joined(prev: int | str | None, left: int | str, text: str) -> str:
    """A token's text after the gap that the previous token's right side and its left side make."""
    if prev is None:
        return text
    if prev.__class__ is str:
        return prev + text
    if left.__class__ is str:
        return left + text
    return " " + text if prev and left else text


def detokenize(tokens: Iterable[str]) -> str:
    """Text of tokens: default spacing, or the spacing the tokens' marks say."""
    pieces, prev = [], None  # Detokenizer().piece, without a method call per token
    memo = _SPEC_MEMO.get
    for token in tokens:
        if token == PARAGRAPH:
            pieces.append("\n\n")
            prev = None
        elif token:
            left, right, text = memo(token) or _spec(token)
            pieces.append(_joined(prev, left, text))
            prev = right
    return "".join(pieces)


def surface(token: str) -> str:
    """Printed form of a token without its spacing ('<"' -> '"', '␣—␣' -> '—')."""
    return "\n\n" if token == PARAGRAPH else _spec(token)[2]


def quote_role(token: str) -> tuple[str, int] | None:
    """(kind, +1 opens / -1 closes) for a quote token, else None."""
    role = _ROLE.get(token)
    if role is None and 1 < len(token) < 5:
        role = _ROLE.get(_split_marks(token)[1])
    return role


# --- paragraphs ---------------------------------------------------------------------------

_NEWLINES = re.compile(r"\r\n?")
_PARA_BREAK = re.compile(r"\n\s*\n")
_WS_RUN = re.compile(r"\s{2,}|[^\S \u00a0\u202f]")


def normalize(text: str) -> str:
    """Strip a BOM and turn CRLF / CR into LF."""
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\r" in text:
        text = _NEWLINES.sub("\n", text)
    return text


def _collapse_run(m: re.Match) -> str:
    run = m.group()
    if "\u202f" in run:
        return "\u202f"
    return "\u00a0" if "\u00a0" in run else " "


def _collapse(p: str) -> str:
    if "\u00a0" in p or "\u202f" in p:
        return _WS_RUN.sub(_collapse_run, p).strip()
    return " ".join(p.split())


def split_paragraphs(text: str) -> list[str]:
    """Normalized paragraphs (blank lines separate them), whitespace collapsed."""
    paragraphs = (_collapse(p) for p in _PARA_BREAK.split(normalize(text)))
    return [p for p in paragraphs if p]


# --- regexes -----------------------------------------------------------------------------

_ABBREVIATIONS = (
    "Mr Mrs Ms Messrs Mme Mmes Mlle Mlles Dr St Ste Jr Sr Esq Prof Rev Hon Capt Col Gen "
    "Lt Sgt Gov Mt Ft Bros Co Inc Ltd Dept Vol Ch Chap vs viz etc cf ca approx"
).split()
_ELISIONS = (
    "(?i:tis|twas|twere|twill|twould|twixt|tween|em|n|cause|cos|til|bout|neath|gainst|"
    r"mongst|nuff|scuse|spose)|\d\d(?:s|th)?"
)
_NUMBER_WORDS = ["No", "no", "Nos", "nos", "p", "pp"]  # keep their period before a number
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


def _abbreviation_words() -> set[str]:
    return {v for a in _ABBREVIATIONS for v in (a, a.lower(), a.upper(), a.capitalize())}


def _abbreviation_dot() -> str:
    """A period that belongs to the word before it."""
    words = _abbreviation_words()
    gap = f"[{_CLAIM_WS}{_LEFT_MARKS}]?"  # what follows may already be a sentinel
    return (
        r"(?=\.)(?:"
        rf"(?:{_lookbehinds(sorted(words))})\."
        rf"|(?<=\.[^\W\d_])\."  # e.g. i.e. a.m. U.S.A.
        rf"|(?<=\b[{_UPPER}])(?<!\bI)\.(?={gap}[{_UPPER}])"  # J. R. Tolkien
        rf"|(?<=\b[{_UPPER}]\. [{_UPPER}])\."  # the last of a row of initials: O. G.
        rf"|(?:(?<=\bM)|(?<=\bMM))\.(?={gap}[^\W\d_])"  # M. le curé
        rf"|(?:{_lookbehinds(_NUMBER_WORDS)})\.(?={gap}\d)"
        r")"
    )


class _Regexes:
    """The compiled regexes, built on first use (building the classes takes ~20 ms)."""

    def __init__(self) -> None:
        esc = re.escape
        marks, nonword = _char_classes()
        w = rf"[\w{marks}]"  # a raw "_" left by the quote pass is inside a word
        known = esc(_GLUE_LEFT + _GLUE_RIGHT + _GLUE_BOTH + _DASHES + _MARK_CHARS) + "\"'’‘"
        sym = rf"[^\s\w{marks}{known}{_SENTINELS}]"  # other symbols: a run is one token
        claims_right = esc(_GLUE_RIGHT + _GLUE_BOTH + _DASHES) + _OPEN_SENTINELS
        claims_left = esc(_GLUE_LEFT + _GLUE_BOTH + _DASHES + "…") + _CLOSE_SENTINELS
        ws = f"[{_CLAIM_WS}]"
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
            rf"[{_SENTINELS}{claims_right}](?:(?<=[{_SENTINELS}])|{ws})"
        )

        # joined inside a word: ' ’ ‘ - ‐ ‑ and . (www.gutenberg.org), , and : in numbers
        joiner = (  # o’- only after a one- or two-letter segment, as in will-o’-the-wisp
            r"(?=[.,:'’‘\-‐‑])"  # both branches start with one of these: most words stop here, fast
            r"(?:(?:(?<=[\-‐‑]\w)|(?<=[\-‐‑]\w\w))['’][\-‐‑]"
            r"|[.,:'’‘\-‐‑](?:(?<=[.'’‘\-‐‑])|(?<=\d.)(?=\d)))"
        )
        word = rf"['’]?+{w}++(?:{joiner}{w}+)*(?:['’]|{_abbreviation_dot()})?"
        dash = "|".join(f"{esc(c)}+" for c in _DASHES)
        # " ?(...)": a match eats the space before its token, so the scan never stops on
        # a space; findall returns the group.
        self.tokens = re.compile(
            f" ?([{_LEFT_MARKS}]?(?:"
            + "|".join(
                [
                    word,
                    r"\.{2,}|…+",
                    rf"(?:{dash}){ws}?",
                    rf"[{esc(_GLUE_RIGHT + _GLUE_BOTH)}{_OPEN_SENTINELS}]{ws}?",
                    rf"[{esc(_GLUE_LEFT)}{_CLOSE_SENTINELS}]",
                    rf"{sym}+",
                    r"\S",
                ]
            )
            + "))"
        )


@functools.cache
def _regexes() -> _Regexes:
    return _Regexes()


# --- quote classification (pre-pass) -----------------------------------------------------

_OPENING_CONTEXT = frozenset("“‘«‹([{/" + _DASHES)
_CLOSING_CONTEXT = frozenset("”’»›)]}.,;:!?…" + _DASHES)
_ELISION = re.compile(rf"(?:{_ELISIONS})(?![^\W_])")


_INSIDE_WORD = frozenset("'’‘_")
_SHORT_SEGMENT = re.compile(r"[\-‐‑][^\W\d_]{1,2}$")  # the "-o" of will-o’-the-wisp
_POSSESSIVE_S = re.compile(r"s(?![^\W_])")
_SINGLE_QUOTES = {"‘": re.compile("[‘’]"), "'": re.compile("'")}
_SURE_CLOSER_AFTER = frozenset(",.;:!?…)]”»" + _DASHES)
_SURE_CLOSER_BEFORE = frozenset(",.;:!?…)]”»\"" + _DASHES)


def _is_word_char(c: str) -> bool:
    """Same as the token regex's word characters (BMP marks only)."""
    return c.isalnum() or (c <= "\uffff" and unicodedata.category(c)[0] == "M")


class _QuoteClassifier:
    """Decides each straight quote, ’ and _ of a paragraph: opens, closes or apostrophe.

    The characters around a run of quotes decide when they can (after a space and before
    a word: opens); otherwise the paragraph's open/closed state does. A quote after a
    word and before a space ("the Bennets’ house", "wi’ the") is an apostrophe unless it
    can close an open quote that no later, surer closer (after , . ! ? or before
    punctuation) would close.
    """

    __slots__ = ("p", "double", "single", "curly", "italic", "events")

    def __init__(self, p: str) -> None:
        self.p = p
        self.double = self.single = self.italic = False
        self.curly = 0  # depth of open ‘
        self.events: dict[str, tuple[list[int], list[int], list[int]]] = {}

    def __call__(self, m: re.Match) -> str:
        p = self.p
        start, end = m.span()
        before = p[start - 1] if start else " "
        after = p[end] if end < len(p) else " "
        run = m.group()
        word_before, word_after = _is_word_char(before), _is_word_char(after)
        if word_before and word_after and run in _INSIDE_WORD:
            return run  # don’t, o'er, snake_case
        if word_before and run in "'’" and after in "-‐‑" and _is_word_char(p[end + 1:end + 2] or " ") \
                and _SHORT_SEGMENT.search(p, 0, start):
            return run  # will-o’-the-wisp, jack-o'-lantern, cat-o’-nine-tails
        opening = before.isspace() or before in _OPENING_CONTEXT
        closing = after.isspace() or after in _CLOSING_CONTEXT
        direction = 1 if opening and not closing else -1 if closing and not opening else 0
        last = len(run) - 1
        out = []
        for i, c in enumerate(run):
            leading = i == last and word_after and direction >= 0
            trailing = i == 0 and word_before and direction <= 0
            if c == '"':
                self.double = direction > 0 or (direction == 0 and not self.double)
                out.append(_DQ_OPEN if self.double else _DQ_CLOSE)
            elif c == "_":
                self.italic = direction > 0 or (direction == 0 and not self.italic)
                out.append(_IT_OPEN if self.italic else _IT_CLOSE)
            elif c == "‘":
                self.curly += 1
                out.append(c)
            elif c == "’":
                out.append(self._curly_close(leading, trailing, after, end))
            else:
                out.append(self._straight_single(direction, leading, trailing, before, after, end))
        return "".join(out)

    def _curly_close(self, leading: bool, trailing: bool, after: str, end: int) -> str:
        if leading or (trailing and self._apostrophe_after_word(self.curly, after, end, "‘")):
            return "’"  # ’Tis, ’em, the Bennets’
        self.curly = max(0, self.curly - 1)
        return _RSQ_CLOSE

    def _straight_single(
        self, direction: int, leading: bool, trailing: bool, before: str, after: str, end: int
    ) -> str:
        p = self.p
        if leading and (
            _ELISION.match(p, end) or (not before.isspace() and _POSSESSIVE_S.match(p, end))
        ):
            return "'"  # 'tis, 'n', '90s, O. G.'s
        if trailing and self._apostrophe_after_word(int(self.single), after, end, "'"):
            return "'"  # the Bennets'
        self.single = direction > 0 or (direction == 0 and not self.single)
        return _SQ_OPEN if self.single else _SQ_CLOSE

    def _apostrophe_after_word(self, depth: int, after: str, end: int, opener: str) -> bool:
        """Is a quote between a word and a space an apostrophe rather than a closer?

        It is when no quote is open, or when enough surer closers follow before the next
        opener to close all the open quotes.
        """
        if not depth:
            return True
        if not after.isspace():
            return False
        positions, closers_before, next_opener = self._events(opener)
        i = bisect.bisect_left(positions, end)
        return closers_before[next_opener[i]] - closers_before[i] >= depth

    def _events(self, opener: str) -> tuple[list[int], list[int], list[int]]:
        """Quotes that surely open or close, as (positions, closers before each, index of
        the next opener at or after each); each list has one extra entry for the end."""
        cached = self.events.get(opener)
        if cached is None:
            p = self.p
            positions, closers_before, is_opener = [], [0], []
            for m in _SINGLE_QUOTES[opener].finditer(p):
                j = m.start()
                prev, nxt = p[j - 1 : j] or " ", p[j + 1 : j + 2]
                opens = m.group() == "‘" or (
                    opener == "'" and (prev.isspace() or prev in _OPENING_CONTEXT)
                )
                closes = prev in _SURE_CLOSER_AFTER or not nxt or nxt in _SURE_CLOSER_BEFORE
                if opens or closes:
                    positions.append(j)
                    is_opener.append(opens)
                    closers_before.append(closers_before[-1] + (not opens))
            next_opener = [len(positions)] * (len(positions) + 1)
            for k in range(len(positions) - 1, -1, -1):
                next_opener[k] = k if is_opener[k] else next_opener[k + 1]
            cached = self.events[opener] = (positions, closers_before, next_opener)
        return cached


# --- tokenizer ---------------------------------------------------------------------------

_HAS_QUOTES = re.compile(r"[\"'’‘_]")
_RAW_EDGE = frozenset(_CLAIM_WS + _SENTINELS)
_LEFT_MARK = {_GLUE: "‿", **{v: _MARK[k] for k, v in _LEFT_SPACE.items()}}


def _left_space(m: re.Match) -> str:
    return _LEFT_SPACE[m.group()]


def _glue(m: re.Match) -> str:
    before = m.group("b") is not None or m.group("c") is not None
    after = m.group("a") is not None
    return (_GLUE if before else "") + m.group() + (_GLUE if after else "")


@functools.lru_cache(maxsize=8192)
def _name(raw: str) -> str:
    """Token for a match that holds whitespace or a sentinel."""
    left = right = ""
    if raw[0] in _LEFT_MARK:
        left, raw = _LEFT_MARK[raw[0]], raw[1:]
    if len(raw) > 1 and raw[-1] in _MARK:
        right, raw = _MARK[raw[-1]], raw[:-1]
    return left + _SENTINEL_NAME.get(raw, raw) + right


def tokenize_collapsed(p: str) -> list[str]:
    """Tokens of one paragraph whose whitespace is collapsed already (see split_paragraphs)."""
    rx = _regexes()
    if _NONCHARACTERS.search(p):
        p = _NONCHARACTERS.sub("\ufffd", p)
    if _HAS_QUOTES.search(p):
        p = rx.quotes.sub(_QuoteClassifier(p), p)
    p = rx.glue.sub(_glue, p)
    p = rx.space_before.sub(_LEFT_SPACE[" "], p)
    if "\u00a0" in p or "\u202f" in p:
        p = rx.nobreak_before.sub(_left_space, p)
    tokens = rx.tokens.findall(p)
    if rx.needs_names.search(p):
        edge = _RAW_EDGE
        tokens = [_name(t) if t[0] in edge or t[-1] in edge else t for t in tokens]
        _paragraph_edge_dashes(tokens)
    return tokens


def _paragraph_edge_dashes(tokens: list[str]) -> None:
    """A dash opening a paragraph gets the same spacing on both sides (the left side is
    not printed), so the French dialogue dash "— " and a mid-paragraph " — " are one token;
    likewise for a dash ending one."""
    first, last = tokens[0], tokens[-1]
    if len(first) > 1 and first[0] in _DASHES and first[-1] in _UNMARK:
        tokens[0] = first[-1] + first
    if len(last) > 1 and last[-1] in _DASHES and last[0] in _UNMARK:
        tokens[-1] = last + last[0]


@functools.cache
def compiled():
    """The compiled fast path (_fastwords.c), configured, or None where it was not built.

    It tokenizes the plain paragraphs of a text exactly as this module does and hands the
    rest back; training uses it through its Encoder (ids without a str per token)."""
    try:
        from genlab.markov import _fastwords
    except ImportError:
        return None
    _fastwords.configure(frozenset(_abbreviation_words()), frozenset(_NUMBER_WORDS))
    return _fastwords


def tokenize_paragraph(p: str) -> list[str]:
    """Tokens of one paragraph (its whitespace is collapsed first)."""
    return tokenize_collapsed(_collapse(p))


def paragraph_tokens(text: str) -> Iterator[list[str]]:
    """Tokens of each paragraph of a whole text (collapsed once, by split_paragraphs)."""
    return map(tokenize_collapsed, split_paragraphs(text))


def tokenize(text: str) -> list[str]:
    """Tokens of a whole text, PARAGRAPH between paragraphs."""
    out: list[str] = []
    for tokens in paragraph_tokens(text):
        if out:
            out.append(PARAGRAPH)
        out.extend(tokens)
    return out
