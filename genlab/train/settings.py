"""What a training run is asked to do: its model shape, budget and optimiser settings.

Kept apart from the trainer, so that the resume rules (genlab.train.resume) and the command
line can read and check settings without the training loop.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrainSettings:
    """None: the default (see genlab.train.resume.DEFAULTS), or the checkpoint's when resuming."""

    size: str | None = None  # default small
    context: int | None = None  # default: the size's
    vocab_size: int | None = None  # default 2048
    minutes: float | None = None
    steps: int | None = None
    batch_size: int = 16
    learning_rate: float = 2e-3
    min_learning_rate: float = 1e-4
    warmup_steps: int = 50
    weight_decay: float = 0.1
    dropout: float | None = None  # default: the size's
    seed: int | None = None  # default 0
    held_out: float | None = None  # default 0.1
    threads: int | None = None
    tied: bool | None = None  # output matrix = token embedding; default True
    precision: str = "auto"  # bf16: matmuls in bfloat16 (weights stay f32); auto: bf16 where the CPU has it
    eval_seconds: float = 60.0  # estimate the held-out loss this often
    checkpoint_seconds: float = 300.0  # and save a checkpoint this often

    def budget_text(self) -> str:
        parts = []
        if self.minutes is not None:
            parts.append(f"{self.minutes:g} min")
        if self.steps is not None:
            parts.append(f"{self.steps} steps")
        return " or ".join(parts)
