"""Detokenizing: the text of tokens, spaced as the book was.

Tokens never hold whitespace: where the text's spacing differs from the default (none before
, . ! ” ) ..., none after “ ( ...), the token carries it as a mark (marks.py): "␣]", "«⍽",
"⍽!", "‿[" in "word[1]". Dashes always carry theirs: "—", "␣—␣", "—␣". surface() is a
token's printed form without marks; quote_role() says whether a token opens or closes a quote.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from genlab.markov.marks import (
    PARAGRAPH,
    DASHES,
    GLUE_BOTH,
    GLUE_LEFT,
    GLUE_RIGHT,
    MARK_CHARS,
    ROLE,
    SURFACE,
    UNMARK,
)

# A token's spacing is (left, right, text). left/right are 1 (a space is due) or 0 (none)
# by default, or a str when the token says its spacing explicitly. The gap between two
# tokens is: previous token's explicit right, else next token's explicit left, else a
# space when both sides allow one.

_WORD = (1, 1)
_BASE: dict[str, tuple[int, int]] = {}
_BASE.update(dict.fromkeys(GLUE_LEFT, (0, 1)))
_BASE.update(dict.fromkeys(GLUE_RIGHT, (1, 0)))
_BASE.update(dict.fromkeys(GLUE_BOTH, (0, 0)))
_BASE.update({'<"': (1, 0), "<'": (1, 0), "<_": (1, 0), '">': (0, 1), "'>": (0, 1), "_>": (0, 1)})
_BASE["’"] = (0, 1)  # the closing quote (an apostrophe ’ is always inside a word token)


def _is_dash_run(core: str) -> bool:
    return core[0] in DASHES and core == core[0] * len(core)


def _split_marks(token: str) -> tuple[str | None, str, str | None]:
    """(left gap or None, core, right gap or None) of a possibly marked token."""
    left = right = None
    core = token
    if len(core) > 1 and core[0] in UNMARK:
        left, core = UNMARK[core[0]], core[1:]
    if len(core) > 1 and core[-1] in UNMARK:
        right, core = UNMARK[core[-1]], core[:-1]
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
        SURFACE.get(core, core),
    )


_SPEC = {t: (*s, SURFACE.get(t, t)) for t, s in _BASE.items()}
_SPEC[""] = (1, 1, "")
_SPECIAL_EDGE = frozenset(DASHES + MARK_CHARS + ".…")


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
    role = ROLE.get(token)
    if role is None and 1 < len(token) < 5:
        role = ROLE.get(_split_marks(token)[1])
    return role
