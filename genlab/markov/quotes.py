"""Quote bookkeeping: the stack of open quotations, and a balance check for token sequences.

The walk (walk.py) feeds every quote mark it writes to a QuoteTracker and absorbs a mark
that would unbalance the text, so a closing quote never appears without its opener and a
paragraph never ends inside a quotation (unless the corpus itself continues quotations
across paragraphs, in which case the next paragraph reopens it). balance_problems() checks
the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from genlab.markov import tokenize as tok

KINDS = ("double", "single", "guillemet", "single_guillemet", "straight_double", "straight_single")
MAX_DEPTH = 2  # quotations open at once (a quote inside a quote)


def kind_number(kind: str) -> int:
    return KINDS.index(kind) + 1


@dataclass
class QuoteTracker:
    """The stack of open quotation kinds (numbers from kind_number)."""

    stack: list[int] = field(default_factory=list)

    def feed_role(self, kind: int, direction: int) -> None:
        if kind == 0:
            return
        if direction > 0:
            self.stack.append(kind)
        elif self.stack and self.stack[-1] == kind:
            self.stack.pop()


def _role(token: str) -> tuple[int, int]:
    role = tok.quote_role(token)
    return (kind_number(role[0]), role[1]) if role else (0, 0)


def balance_problems(tokens: Iterable[str]) -> list[str]:
    """Every way a token sequence breaks quote balance (empty list: balanced).

    Rules: a closing quote needs an open quotation of the same kind on top; a paragraph may
    end with one quotation open only if the next paragraph reopens it with the same mark
    (continued quotation); the text must end with nothing open.
    """
    problems: list[str] = []
    paragraphs: list[list[str]] = [[]]
    for t in tokens:
        if t == tok.PARAGRAPH:
            paragraphs.append([])
        else:
            paragraphs[-1].append(t)
    carried: list[int] = []
    for n, para in enumerate(paragraphs):
        stack = list(carried)
        body = para
        if carried and para and _role(para[0]) == (carried[-1], 1):
            body = para[1:]  # reopening mark of a continued quotation
        elif carried:
            problems.append(f"paragraph {n} does not reopen the quotation continued into it")
            stack = []
        for t in body:
            kind, direction = _role(t)
            if kind == 0:
                continue
            if direction > 0:
                stack.append(kind)
            elif stack and stack[-1] == kind:
                stack.pop()
            else:
                problems.append(f"paragraph {n}: closing {t!r} without its opening quote")
        carried = stack if len(stack) == 1 and n + 1 < len(paragraphs) else []
        if stack and not carried:
            problems.append(f"paragraph {n} ends with {len(stack)} quotation(s) open")
    return problems
