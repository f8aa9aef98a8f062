"""Ctrl-C while llama.cpp loads a model: kept until the load returns, then raised.

While it loads, llama.cpp reports through a log callback written in Python (llama-cpp-python's).
Python runs a pending SIGINT handler at the first Python code it reaches, which is that callback,
and ctypes prints and drops any exception a callback raises: Ctrl-C during a load was lost, and
`genlab perplexity` with a 6 GB context ran on to the end and exited 0. Here Ctrl-C is noted and
raised as KeyboardInterrupt as soon as the load returns. It cannot stop a load halfway: llama.cpp
allocates and clears the KV cache in one C call, and no Python code (so no signal handler, not
even a second Ctrl-C's) runs until it returns; genlab.llama.context keeps that cache within the
memory available, so the wait is seconds (a 6 GB cache: up to 8 s on a small cloud machine).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator


@contextlib.contextmanager
def deferred_interrupt() -> Iterator[None]:
    """Hold Ctrl-C back for the block and raise KeyboardInterrupt after it (in the main thread,
    when Python's own handler is in place; anything else is left as it is)."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield
        return
    seen: list[int] = []

    signal.signal(signal.SIGINT, lambda signum, frame: seen.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if seen:
            raise KeyboardInterrupt
