"""A sample with what made it: the text, the settings and seed it was made with, its tokens,
why it ended and how long it took. `genlab generate --json` prints one a line (JSON Lines);
a notebook gets the same from `take_sample` and `as_record`.

Every record can be made again: a sample given no seed gets one drawn for it (`seed_of`), so
`genlab generate --seed SEED` with a record's seed prints its text.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from genlab.errors import GenlabError
from genlab.generator import Generator, Usage
from genlab.kinds import Target
from genlab.sampling import SEEDS, Sampling
from genlab.secrets import redact

MAX_SEED = SEEDS - 1


def sampling_of(sampling: Sampling, i: int, *, draw: bool = False) -> Sampling:
    """The settings of sample `i` (0-based): seed SEED + i when a seed is given; else, with
    `draw`, a seed drawn for it (so its record can be made again), or none (the backend's own
    randomness, as plain `genlab generate` leaves it)."""
    if sampling.seed is not None:
        return sampling.merged(seed=sampling.seed + i) if i else sampling
    return sampling.merged(seed=secrets.randbits(32)) if draw else sampling


def check_seeds(sampling: Sampling, samples: int) -> None:
    """One clear error, before anything is made, when SEED + samples - 1 passes the largest seed."""
    if sampling.seed is not None and sampling.seed + samples - 1 > MAX_SEED:
        raise GenlabError(f"seed {sampling.seed} with {samples} samples runs past the largest seed, {MAX_SEED} "
                          f"(samples use SEED, SEED+1, ...): give a seed of at most {MAX_SEED - samples + 1}")


@dataclass(frozen=True)
class Sample:
    """One finished sample: its text, the settings it was made with, the model's Usage (None
    from a backend that does not keep one) and its wall time in seconds."""

    text: str
    sampling: Sampling
    usage: Usage | None
    seconds: float


def take_sample(model: Generator, prompt: str, sampling: Sampling) -> Sample:
    """The whole continuation of `prompt`, with the usage the model kept of it."""
    start = time.perf_counter()
    text = "".join(model.stream(prompt, sampling))
    seconds = time.perf_counter() - start
    usage = model.last_usage
    return Sample(text, sampling, dict(usage) if isinstance(usage, dict) else None, seconds)  # type: ignore[arg-type]


def as_record(target: Target, prompt: str, sample: Sample) -> dict[str, Any]:
    """The JSON object of a sample. Its keys mean what they mean in compare's samples.jsonl
    (backend: the name as given), and `target` says what that name resolved to (kind,
    file or address, where it was found). A password in a server's address is hidden."""
    usage = sample.usage or {}
    return {
        "backend": redact(target.name),
        "target": {"kind": target.kind, "location": redact(target.location), "source": redact(target.source)},
        "prompt": prompt,
        "settings": sample.sampling.to_dict(),
        "seed": sample.sampling.seed,
        "text": sample.text,
        "tokens": usage.get("completion_tokens"),
        "prompt_tokens": usage.get("prompt_tokens"),
        "finish_reason": usage.get("finish_reason"),
        "seconds": round(sample.seconds, 6),
    }


# characters that str.splitlines() and some JSON readers take for a line end: written as \u escapes
LINE_BREAKS = str.maketrans({c: f"\\u{ord(c):04x}" for c in "\x85\u2028\u2029"})


def json_line(record: dict[str, Any]) -> bytes:
    """One line of JSON Lines: UTF-8, characters as they are but those some readers take for a
    line end, and a lone surrogate (text that was not UTF-8) as its \\u escape, so the line is
    one valid JSON line whatever it holds."""
    text = json.dumps(record, ensure_ascii=False).translate(LINE_BREAKS)
    return (text + "\n").encode("utf-8", "backslashreplace")
