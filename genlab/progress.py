"""Progress bars on a terminal, silence when piped."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Callable, Iterator

from tqdm import tqdm


@contextmanager
def progress(total: int | None, desc: str, unit: str = "B",
             enabled: bool | None = None) -> Iterator[Callable[[int], None]]:
    """Yield an `advance(n)` callable; draws a bar on stderr only when it is a terminal."""
    show = sys.stderr.isatty() if enabled is None else enabled
    if not show:
        yield lambda n: None
        return
    bar = tqdm(total=total, desc=desc, unit=unit, unit_scale=True, leave=False, file=sys.stderr)
    try:
        yield bar.update
    finally:
        bar.close()
