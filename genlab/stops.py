"""Stop strings over a stream of text pieces, for every backend that cuts its own output.

A piece is held back while its end could still grow into a stop string, so a stop string is
never partly shown, and the text ends right before the first one.
"""

from __future__ import annotations

from typing import Iterable, Iterator


class StopFilter:
    """Feed pieces in order; each `feed` returns the text that is safe to show now.

    After a stop string is seen, `stopped` is True and every later `feed` returns "".
    `flush()` returns what was held back when the stream ends without a stop string.
    """

    def __init__(self, stops: Iterable[str]):
        self.stops = tuple(dict.fromkeys(s for s in stops if s))
        self.stopped = False
        self._pending = ""

    def feed(self, piece: str) -> str:
        if self.stopped:
            return ""
        if not self.stops:
            return piece
        text = self._pending + piece
        cut = min((i for i in (text.find(s) for s in self.stops) if i >= 0), default=-1)
        if cut >= 0:
            self.stopped, self._pending = True, ""
            return text[:cut]
        hold = self._could_start_a_stop(text)
        self._pending = text[len(text) - hold:] if hold else ""
        return text[: len(text) - hold]

    def flush(self) -> str:
        text, self._pending = self._pending, ""
        return "" if self.stopped else text

    def _could_start_a_stop(self, text: str) -> int:
        """The length of the longest end of `text` that begins some stop string."""
        hold = 0
        for s in self.stops:
            for k in range(min(len(s) - 1, len(text)), hold, -1):
                if text.endswith(s[:k]):
                    hold = k
                    break
        return hold


def cut_at_stops(pieces: Iterable[str], stops: Iterable[str]) -> Iterator[str]:
    """`pieces` up to the first stop string, none of it shown early (empty pieces dropped)."""
    f = StopFilter(stops)
    for piece in pieces:
        out = f.feed(piece)
        if out:
            yield out
        if f.stopped:
            return
    rest = f.flush()
    if rest:
        yield rest
