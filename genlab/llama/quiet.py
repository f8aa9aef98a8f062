"""Keeping llama.cpp quiet: its log silenced at the file-descriptor level, and kept to explain a failed load.

llama.cpp writes to fd 2 from C, so replacing sys.stderr alone does not silence it, and
`Llama(verbose=False)` does not silence everything either. Silencing is per call into the
library, never across a `yield`, so the caller's own stderr output is never swallowed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from genlab.errors import GenlabError
from genlab.interrupts import InterruptsHeld


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (at most 200 characters), or its type's name."""
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


class _NullText:
    """A text stream that drops everything (stands in for sys.stderr while generating)."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


NULL_TEXT = _NullText()


class Stderr:
    """Point file descriptor 2 somewhere else for the duration of a `with` block.

    `capture=True` sends it to a temporary file whose text is kept in `.text` (to explain a
    failed load); otherwise to the null device. Python's sys.stderr is flushed first, so that
    nothing written before the block is lost, and replaced inside the block by a writer on the
    redirected fd 2, or by a null writer when not capturing (llama-cpp-python prints llama.cpp's
    log through sys.stderr).
    """

    def __init__(self, capture: bool = False):
        self.capture = capture
        self.text = ""
        self._saved: int | None = None
        self._file: Any = None
        self._py: Any = None

    def __enter__(self) -> "Stderr":
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        try:
            self._saved = os.dup(2)
        except OSError:  # no fd 2 (a daemon): nothing to silence
            self._saved = None
            return self
        if self.capture:
            self._file = tempfile.TemporaryFile()
            os.dup2(self._file.fileno(), 2)
        else:
            null = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(null, 2)
            finally:
                os.close(null)
        # sys.stderr need not be fd 2 (pytest, notebooks): point it at the redirected fd too,
        # or at nothing when fd 2 goes to the null device anyway (a file object costs ~5 us)
        self._py = sys.stderr
        if self.capture:
            sys.stderr = open(2, "w", encoding="utf-8", errors="replace", closefd=False)
        else:
            sys.stderr = NULL_TEXT
        return self

    def __exit__(self, *exc: object) -> None:
        if self._py is not None:
            if self.capture:
                with contextlib.suppress(Exception):
                    sys.stderr.close()  # flushes; fd 2 itself stays open (closefd=False)
            sys.stderr, self._py = self._py, None
        if self._saved is not None:
            os.dup2(self._saved, 2)
            os.close(self._saved)
            self._saved = None
        if self._file is not None:
            self._file.seek(0)
            self.text = self._file.read().decode("utf-8", errors="replace")
            self._file.close()
            self._file = None


def quiet(verbose: bool) -> contextlib.AbstractContextManager[Any]:
    """Silence fd 2 for a call into llama.cpp, unless the user asked for its log."""
    return contextlib.nullcontext() if verbose else Stderr()


def load_error(text: str) -> str | None:
    """The most useful line of llama.cpp's log of a failed load."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in lines:
        if "error loading model" in ln or "unknown model architecture" in ln:
            return ln.split("error loading model:")[-1].strip(" :") or ln
    for ln in lines:
        if "error" in ln.lower() or "failed" in ln.lower():
            return ln
    return None


def load(engine: type, kwargs: dict[str, Any], *, path: Path, verbose: bool) -> Any:
    """`engine(verbose=verbose, **kwargs)` with llama.cpp's log captured, so that a failed load
    is one GenlabError naming the reason llama.cpp gave."""
    import jinja2

    err = Stderr(capture=True) if not verbose else contextlib.nullcontext()
    loaded: list[Any] = []
    try:
        with InterruptsHeld((signal.SIGINT,)), err:  # Ctrl-C raised once the load returns
            loaded.append(engine(verbose=verbose, **kwargs))
        return loaded[0]
    except KeyboardInterrupt:
        if loaded:  # Ctrl-C came during the load: the model goes before the interrupt does
            with quiet(verbose):
                loaded[0].close()
        raise
    except jinja2.TemplateError as exc:
        raise GenlabError(f"{path}: its chat template is not valid Jinja ({first_line(exc)})") from None
    except (ValueError, RuntimeError, OSError) as exc:
        detail = (load_error(getattr(err, "text", "")) or (None if verbose else _diagnose(engine, kwargs))
                  or first_line(exc))
        raise GenlabError(f"llama.cpp could not load {path}: {detail}") from None


def _diagnose(engine: type, kwargs: dict[str, Any]) -> str | None:
    """Load again with llama.cpp's log on (captured) to learn why the first load failed."""
    cap = Stderr(capture=True)
    try:
        with InterruptsHeld((signal.SIGINT,)), cap:
            engine(verbose=True, **kwargs)
    except Exception:
        pass
    finally:
        with contextlib.suppress(Exception):
            from llama_cpp._logger import set_verbose

            set_verbose(False)
    return load_error(cap.text)
