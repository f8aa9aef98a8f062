"""Straight quotes, ’ and _ decided before tokenizing: each opens, closes, or is an apostrophe.

The decisions are written into the paragraph as sentinels (see marks.py), which the token
regex then reads as single tokens, so opening and closing quotes become different tokens.
"""

from __future__ import annotations

import bisect
import re
import unicodedata

from genlab.markov.marks import (
    DASHES,
    DQ_CLOSE,
    DQ_OPEN,
    IT_CLOSE,
    IT_OPEN,
    RSQ_CLOSE,
    SQ_CLOSE,
    SQ_OPEN,
)

_ELISIONS = (
    "(?i:tis|twas|twere|twill|twould|twixt|tween|em|n|cause|cos|til|bout|neath|gainst|"
    r"mongst|nuff|scuse|spose)|\d\d(?:s|th)?"
)
_OPENING_CONTEXT = frozenset("“‘«‹([{/" + DASHES)
_CLOSING_CONTEXT = frozenset("”’»›)]}.,;:!?…" + DASHES)
_ELISION = re.compile(rf"(?:{_ELISIONS})(?![^\W_])")


_INSIDE_WORD = frozenset("'’‘_")
_SHORT_SEGMENT = re.compile(r"[\-‐‑][^\W\d_]{1,2}$")  # the "-o" of will-o’-the-wisp
_POSSESSIVE_S = re.compile(r"s(?![^\W_])")
_SINGLE_QUOTES = {"‘": re.compile("[‘’]"), "'": re.compile("'")}
_SURE_CLOSER_AFTER = frozenset(",.;:!?…)]”»" + DASHES)
_SURE_CLOSER_BEFORE = frozenset(",.;:!?…)]”»\"" + DASHES)


def _is_word_char(c: str) -> bool:
    """Same as the token regex's word characters (BMP marks only)."""
    return c.isalnum() or (c <= "\uffff" and unicodedata.category(c)[0] == "M")


class QuoteClassifier:
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
                out.append(DQ_OPEN if self.double else DQ_CLOSE)
            elif c == "_":
                self.italic = direction > 0 or (direction == 0 and not self.italic)
                out.append(IT_OPEN if self.italic else IT_CLOSE)
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
        return RSQ_CLOSE

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
        return SQ_OPEN if self.single else SQ_CLOSE

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
