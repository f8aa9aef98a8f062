"""A score split over the paragraphs of the scored text, so bits per byte can get an interval
over paragraphs (genlab.eval.score_intervals) and two backends can be compared paragraph by
paragraph.

A paragraph is a block of text that blank lines separate (genlab.text.split_paragraphs' rule);
a text with no blank line but several lines (pre-tokenized: a sentence a line) is read line by
line. Each paragraph owns the bytes from its first character up to the next paragraph's first
character: a separator goes with the paragraph before it, whitespace before the first
paragraph goes to the first. So the parts' bytes always sum to the text's bytes, and a backend
that attributes every nat to a paragraph has parts that sum to its whole score.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from genlab.text import BOM, collapse_whitespace

Parts = tuple[tuple[float, int], ...]  # (nats, bytes) of each paragraph, in text order

_BREAK = re.compile(r"(?:\r\n|\r|\n)\s*(?:\r\n|\r|\n)")  # a blank line, before CR/LF are normalised


def block_starts(text: str) -> list[int]:
    """Character offsets where each paragraph (split_paragraphs' blocks) starts, the first at 0;
    empty for a text with no paragraph."""
    starts = [0] + [m.end() for m in _BREAK.finditer(text)]
    ends = starts[1:] + [len(text)]
    kept = [a for i, (a, b) in enumerate(zip(starts, ends))
            if collapse_whitespace(text[a:b].lstrip(BOM) if i == 0 else text[a:b])]
    return [0, *kept[1:]] if kept else []


def line_starts(text: str, keep: Callable[[str], bool] = lambda line: bool(line.strip())) -> list[int]:
    """Character offsets where each kept line starts (str.splitlines' line ends), the first at 0."""
    starts, at = [], 0
    for line in text.splitlines(keepends=True):
        if keep(line):
            starts.append(at)
        at += len(line)
    return [0, *starts[1:]] if starts else []


def paragraph_starts(text: str) -> list[int]:
    """Where each paragraph starts (see the module docstring: blocks, else lines)."""
    blocks = block_starts(text)
    if len(blocks) > 1:
        return blocks
    lines = line_starts(text)
    return lines if len(lines) > 1 else blocks


def byte_starts(text: str, starts: Sequence[int]) -> list[int]:
    """The UTF-8 byte offsets of character offsets `starts` (ascending)."""
    out, at, prev = [], 0, 0
    for s in starts:
        at += len(text[prev:s].encode("utf-8", "surrogatepass"))
        out.append(at)
        prev = s
    return out


def byte_sizes(text: str, starts: Sequence[int]) -> list[int]:
    """UTF-8 bytes each paragraph owns, from its start to the next one's (the last to the end)."""
    offsets = byte_starts(text, starts)
    total = len(text.encode("utf-8", "surrogatepass"))
    return [b - a for a, b in zip(offsets, [*offsets[1:], total])]


def parts(nats: Sequence[float], sizes: Sequence[int]) -> Parts:
    """Parts from each paragraph's nats and bytes (empty when they do not pair up)."""
    if len(nats) != len(sizes):
        return ()
    return tuple((float(n), int(b)) for n, b in zip(nats, sizes))


def parts_of_tokens(offsets: Sequence[int], token_nats: Sequence[float], starts: Sequence[int],
                    sizes: Sequence[int]) -> Parts:
    """Parts from each token's nats and its offset in the text (bytes or characters, the same
    unit as `starts`): a token goes to the paragraph its first byte or character lies in."""
    import numpy as np

    if not len(starts):
        return ()
    which = np.searchsorted(np.asarray(starts), np.asarray(offsets), side="right") - 1
    which = np.clip(which, 0, len(starts) - 1)
    sums = np.bincount(which, weights=np.asarray(token_nats, dtype=np.float64), minlength=len(starts))
    return parts(sums.tolist(), sizes)
