"""How much genlab reads from a model server, whatever the server sends.

Every answer is read under a cap, so a server that sends gigabytes, or a line that never ends,
costs a few megabytes and one error line; and a stream stops after the tokens asked for even
when the server ignores max_tokens. The figures are far above what a real server sends (an
event of a stream is a few hundred bytes; a scoring answer about 60 bytes a token).
"""

from __future__ import annotations

MAX_LINE = 2**20  # one line of a stream (an SSE line, an NDJSON object)
MAX_EVENT = 2**20  # the data of one server-sent event (its data lines joined)
MAX_STREAM = 256 * 2**20  # all the bytes of one stream
MAX_BODY = 16 * 2**20  # a JSON answer (prompt log-probabilities of a long window are a few MB)
MAX_ERROR_BODY = 2**16  # an error answer, read for its message
BYTES_PER_TOKEN = 1024  # text a stream may bring a token, far above the longest token of any vocabulary
EXTRA_OBJECTS = 16  # stream objects beyond one a token (a role, a finish reason, usage ...)


def size(n: int) -> str:
    """A byte count for messages: "16 MB"."""
    return f"{n / 2**20:g} MB" if n >= 2**20 else f"{n / 2**10:g} KB"


class TokenCap:
    """The client's own max_tokens: a stream yields at most `max_tokens` pieces of text (a
    server sends one a token), at most about BYTES_PER_TOKEN characters a token, and takes at
    most twice as many stream objects (pieces of thinking, empty deltas), whatever the server
    does. `take` says whether the next piece may still go to the caller, and how much of it."""

    def __init__(self, max_tokens: int):
        self.pieces = max_tokens
        self.characters = max_tokens * BYTES_PER_TOKEN
        self.objects = 2 * max_tokens + EXTRA_OBJECTS
        self.reached = False

    def object(self) -> bool:
        """One more object of the stream; False once there are too many."""
        self.objects -= 1
        self.reached = self.reached or self.objects < 0
        return not self.reached

    def take(self, text: str) -> str | None:
        """`text` (cut to what is left) if a piece may still be yielded, else None."""
        if self.reached or self.pieces <= 0 or self.characters <= 0:
            self.reached = True
            return None
        self.pieces -= 1
        text = text[: self.characters]
        self.characters -= len(text)
        return text
