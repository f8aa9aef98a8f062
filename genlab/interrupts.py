"""Signals held back while a step that must not be cut runs, then acted on as they would have been.

Two steps need it. Saving a trained model's GGUF and checkpoint as a pair: a Ctrl-C between the
two renames would leave files of different steps. And loading a llama model: llama.cpp reports
through a log callback written in Python, Python runs a pending SIGINT handler at the first Python
code it reaches, which is that callback, and ctypes prints and drops any exception a callback
raises, so a Ctrl-C during a load was lost (the command ran on and exited 0). Held, it is raised
as soon as the load returns. Nothing can cut a C call short: llama.cpp allocates and clears the
KV cache in one, and no signal handler runs until it returns (genlab.llama.context keeps that
cache within the memory available, so the wait is seconds).
"""

from __future__ import annotations

import signal
import threading
from types import TracebackType


class InterruptsHeld:
    """While active, `signals` (Ctrl-C's SIGINT and SIGTERM unless told) are noted instead of
    acted on; on leaving, the handlers that were there get them, in order: Ctrl-C then raises
    KeyboardInterrupt, or asks a training loop to stop, as it would have. Signals reach the main
    thread only, so elsewhere this does nothing."""

    def __init__(self, signals: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)) -> None:
        self.signals = signals
        self.caught: list[int] = []
        self._old: dict[int, object] = {}

    def __enter__(self) -> "InterruptsHeld":
        if threading.current_thread() is threading.main_thread():
            for sig in self.signals:
                self._old[sig] = signal.signal(sig, lambda signum, frame: self.caught.append(signum))
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)  # None: set outside Python
        self._old.clear()
        for sig in self.caught:
            signal.raise_signal(sig)
