"""What a training run shows and hears at a terminal: a progress bar, and Ctrl-C.

Ctrl-C (or SIGTERM) asks the run to finish its step, save and stop; a second one stops it at
once. The bar follows the budget with the loss and tokens per second.
"""

from __future__ import annotations

import signal
import sys
import time
from typing import Protocol

from genlab.train.settings import TrainSettings


class Run(Protocol):
    """What the bar follows of a training run (a Trainer is one)."""

    settings: TrainSettings
    step: int
    seconds: float
    tokens_seen: int


class StopFlag:
    """First Ctrl-C (or SIGTERM): finish the step, save, stop. Second Ctrl-C: stop at once."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.stop = False
        self._old: dict[int, object] = {}

    def __enter__(self) -> "StopFlag":
        def handler(signum, frame):  # noqa: ARG001
            if self.stop:
                raise KeyboardInterrupt
            self.stop = True

        for sig in self.SIGNALS:
            try:
                self._old[sig] = signal.signal(sig, handler)
            except ValueError:  # not the main thread: signals stay as they were
                pass
        return self

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


class Progress:
    """A bar over the budget (steps, or seconds when only minutes are given) with loss and
    tokens/s; silent when disabled (the evaluations then print lines instead)."""

    def __init__(self, trainer: Run, enabled: bool):
        self.trainer = trainer
        self.enabled = enabled
        self.bar = None
        self.by_steps = False
        self._t0 = time.perf_counter()
        self._tok0 = 0

    def __enter__(self) -> "Progress":
        if self.enabled:
            from tqdm import tqdm

            s = self.trainer.settings
            by_steps = s.minutes is None
            total = s.steps if by_steps else int(round(60 * s.minutes))
            self.bar = tqdm(total=total, unit="step" if by_steps else "s", desc="training", file=sys.stderr,
                            dynamic_ncols=True, leave=False,
                            bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} [{elapsed}<{remaining}{postfix}]")
            self.by_steps = by_steps
        self._t0 = time.perf_counter()
        self._tok0 = self.trainer.tokens_seen
        return self

    def update(self, loss: float) -> None:
        if self.bar is None:
            return
        t = self.trainer
        rate = (t.tokens_seen - self._tok0) / max(time.perf_counter() - self._t0, 1e-9)
        self.bar.n = t.step if self.by_steps else min(t.seconds, self.bar.total)
        self.bar.set_postfix_str(f"step {t.step:,} loss {loss:.3f} {rate:,.0f} tok/s", refresh=False)
        self.bar.refresh()

    def write(self, msg: str) -> None:
        from tqdm import tqdm

        tqdm.write(msg, file=sys.stderr)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()
