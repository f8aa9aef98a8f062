"""A chat reply being streamed, kept whole however it ends.

What the model produced is recorded when the reply ends: finished, or stopped early (Ctrl-C:
the caller closes it). A reply that fails (the backend raised an error mid-way) is not kept:
`failed` is called instead, so a half answer never joins the chat.
"""

from __future__ import annotations

from typing import Callable, Generator, Iterable

from genlab.chat.valid import valid_text


def _relay(pieces: Iterable[str]) -> Generator[str, None, None]:
    """The pieces as a generator, so a reply can always be closed: closing it closes the
    backend's stream it is reading (`yield from` passes the close on)."""
    yield from pieces


class Reply:
    """Iterate it for the pieces of text; `text` is all of them so far. When the reply ends,
    `done(text)` is called once (finished or stopped), or `failed()` when an error ended it."""

    def __init__(self, pieces: Iterable[str], done: Callable[[str], None], dropped: int = 0,
                 failed: Callable[[], None] = lambda: None):
        self._pieces = _relay(pieces)
        self._done = done
        self._failed = failed
        self._parts: list[str] = []
        self.dropped = dropped  # messages that left the model's window for this reply
        self.finished = False
        self.stopped = False  # closed before the model was done
        self.error = False  # ended by an error: nothing of it was kept

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
        except Exception:
            self._finish(stopped=True, error=True)
            raise
        except BaseException:  # Ctrl-C: what was said so far is kept
            self._finish(stopped=True)
            raise
        piece = valid_text(piece)
        self._parts.append(piece)
        return piece

    @property
    def text(self) -> str:
        return "".join(self._parts)

    def close(self) -> None:
        self._finish(stopped=True)

    def _finish(self, stopped: bool, error: bool = False) -> None:
        if self.finished:
            return
        self.finished, self.stopped, self.error = True, stopped, error
        try:
            self._pieces.close()
        finally:
            if error:
                self._failed()
            else:
                self._done(self.text)
