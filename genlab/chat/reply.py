"""A chat reply being streamed, kept whole however it ends.

Whatever the model produced is recorded when the reply ends: finished, stopped early (Ctrl-C:
the caller closes it) or failed.
"""

from __future__ import annotations

from typing import Callable, Generator, Iterable


def _relay(pieces: Iterable[str]) -> Generator[str, None, None]:
    """The pieces as a generator, so a reply can always be closed: closing it closes the
    backend's stream it is reading (`yield from` passes the close on)."""
    yield from pieces


class Reply:
    """Iterate it for the pieces of text; `text` is all of them so far. `done(text)` is called
    once when the reply ends, whatever ends it."""

    def __init__(self, pieces: Iterable[str], done: Callable[[str], None], dropped: int = 0):
        self._pieces = _relay(pieces)
        self._done = done
        self._parts: list[str] = []
        self.dropped = dropped  # messages that left the model's window for this reply
        self.finished = False
        self.stopped = False  # closed before the model was done

    def __iter__(self) -> "Reply":
        return self

    def __next__(self) -> str:
        if self.finished:
            raise StopIteration
        try:
            piece = next(self._pieces)
        except StopIteration:
            self._finish(stopped=False)
            raise
        except BaseException:
            self._finish(stopped=True)
            raise
        self._parts.append(piece)
        return piece

    @property
    def text(self) -> str:
        return "".join(self._parts)

    def close(self) -> None:
        self._finish(stopped=True)

    def _finish(self, stopped: bool) -> None:
        if self.finished:
            return
        self.finished, self.stopped = True, stopped
        try:
            self._pieces.close()
        finally:
            self._done(self.text)
