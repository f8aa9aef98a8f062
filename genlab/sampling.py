"""Shared sampling settings, and the sampler chain for backends without one of their own.

One `Sampling` value means the same thing on every backend: a Markov chain runs the same
transforms as llama.cpp, in llama.cpp's order (penalties, top-k, top-p, min-p, temperature),
so "temperature 1.2, top_k 40" is comparable across backends.
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Iterable, Mapping

import numpy as np

from genlab.errors import GenlabError


LLAMA_RANDOM_SEED = 0xFFFFFFFF  # llama.cpp's LLAMA_DEFAULT_SEED: "pick a random seed"
SEEDS = 2**32  # a seed is a whole number from 0 to SEEDS - 1, as llama.cpp's uint32


def reproducible_seed(seed: int) -> int:
    """The seed to hand llama.cpp (in process, behind a server or Ollama): its "random" value
    becomes the one below it, so every seed genlab accepts gives the same text twice."""
    return seed - 1 if seed == LLAMA_RANDOM_SEED else seed


@dataclass(frozen=True)
class Sampling:
    """Sampling settings; defaults are llama-cpp-python's completion defaults."""

    temperature: float = 0.8
    top_k: int = 40
    top_p: float = 0.95
    min_p: float = 0.05
    repeat_penalty: float = 1.0
    repeat_last_n: int = 64
    seed: int | None = None
    max_tokens: int = 256
    stop: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.stop, str):
            object.__setattr__(self, "stop", (self.stop,))
        elif not isinstance(self.stop, tuple):
            object.__setattr__(self, "stop", tuple(self.stop))
        _check(self)

    def merged(self, **overrides: Any) -> "Sampling":
        """A copy with the given fields replaced; None values are ignored."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["stop"] = list(self.stop)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], base: "Sampling | None" = None) -> "Sampling":
        """Build from a mapping (a TOML table, a transcript); unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise GenlabError(f"unknown sampling setting {unknown[0]!r} (known: {', '.join(sorted(known))})")
        values = {k: parse_value(k, v) for k, v in data.items()}
        return (base or cls()).merged(**values) if base else cls(**values)


FIELDS = tuple(f.name for f in fields(Sampling))

# what each setting does, in the words every front end shows (genlab's flags, llm's options);
# max_tokens and stop say more where they are given (llama.cpp's -n, repeatable flags)
MEANINGS = {
    "temperature": "Randomness: 0 is greedy, 1 the model's own odds.",
    "top_k": "Keep only the K likeliest next tokens (0: all).",
    "top_p": "Keep the likeliest tokens whose probabilities add up to P.",
    "min_p": "Drop tokens less likely than MIN_P times the likeliest.",
    "repeat_penalty": "Penalise tokens seen in the last repeat-last-n tokens (1: off).",
    "repeat_last_n": "How many recent tokens the repeat penalty looks at.",
    "seed": "Random seed: the same seed and inputs give the same text.",
    "max_tokens": "Tokens to predict at most, as llama.cpp's -n (words and punctuation for a word chain).",
}


def nth_reply(s: Sampling, k: int) -> Sampling:
    """The settings of reply k of a chat: seed + k (wrapping), so a seeded chat is reproducible
    and yet a retried reply differs; no seed stays no seed."""
    return s if s.seed is None else s.merged(seed=(s.seed + k) % SEEDS)


def _check(s: Sampling) -> None:
    def bad(msg: str) -> GenlabError:
        return GenlabError(msg)

    if not _is_number(s.temperature) or s.temperature < 0:
        raise bad(f"temperature must be a number >= 0 (0 means greedy), got {s.temperature!r}")
    if not _is_int(s.top_k) or s.top_k < 0:
        raise bad(f"top_k must be a whole number >= 0 (0 disables it), got {s.top_k!r}")
    if not _is_number(s.top_p) or not 0 < s.top_p <= 1:
        raise bad(f"top_p must be in (0, 1], got {s.top_p!r}")
    if not _is_number(s.min_p) or not 0 <= s.min_p <= 1:
        raise bad(f"min_p must be in [0, 1], got {s.min_p!r}")
    if not _is_number(s.repeat_penalty) or s.repeat_penalty <= 0:
        raise bad(f"repeat_penalty must be a number > 0 (1 disables it), got {s.repeat_penalty!r}")
    if not _is_int(s.repeat_last_n) or s.repeat_last_n < 0:
        raise bad(f"repeat_last_n must be a whole number >= 0, got {s.repeat_last_n!r}")
    if s.seed is not None and (not _is_int(s.seed) or not 0 <= s.seed < SEEDS):
        raise bad(f"seed must be a whole number from 0 to {SEEDS - 1}, got {s.seed!r}")
    if not _is_int(s.max_tokens) or s.max_tokens < 1:
        raise bad(f"max_tokens must be a whole number >= 1, got {s.max_tokens!r}")
    if not all(isinstance(x, str) and x for x in s.stop):
        raise bad("stop strings must be non-empty text")


def _is_number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def parse_value(key: str, value: Any) -> Any:
    """Convert a user-typed value (CLI, /set, TOML) to the field's type, with a clear error."""
    kinds = {"temperature": float, "top_p": float, "min_p": float, "repeat_penalty": float,
             "top_k": int, "repeat_last_n": int, "max_tokens": int, "seed": int}
    if key == "stop":
        if isinstance(value, str):
            return (value,)
        return tuple(value)
    if key not in kinds:
        raise GenlabError(f"unknown sampling setting {key!r}")
    if value is None or (key == "seed" and isinstance(value, str) and value.lower() in ("none", "random")):
        return None
    kind = kinds[key]
    if isinstance(value, bool):
        raise GenlabError(f"{key} must be a number, got {value!r}")
    try:
        if kind is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        return float(value)
    except (TypeError, ValueError):
        raise GenlabError(f"{key} must be {'a whole number' if kind is int else 'a number'}, got {value!r}") from None


# --- the sampler chain -------------------------------------------------------------------------


def apply_chain(logits: np.ndarray, candidates: np.ndarray, s: Sampling,
                recent: Iterable[int] = ()) -> tuple[np.ndarray, np.ndarray] | int:
    """Run penalties, top-k, top-p, min-p and temperature over one next-token distribution.

    `logits` are log-probabilities (any additive constant) of the token ids in `candidates`.
    Returns the index of the chosen candidate when sampling is greedy (temperature 0), else
    (kept indices, probabilities) to draw from.
    """
    x = np.asarray(logits, dtype=np.float64)
    if s.repeat_penalty != 1.0 and s.repeat_last_n > 0:
        x = _repeat_penalty(x, candidates, s, recent)
    if s.temperature == 0:
        return int(np.argmax(x))
    keep = np.arange(len(x))
    if s.top_k > 0 and s.top_k < len(x):
        order = np.argsort(-x, kind="stable")[: s.top_k]
        keep, x = order, x[order]
    if s.top_p < 1.0 and len(x) > 1:
        order = np.argsort(-x, kind="stable")
        p = _softmax(x[order])
        cut = int(np.searchsorted(np.cumsum(p), s.top_p - 1e-12)) + 1
        order = order[: max(cut, 1)]
        keep, x = keep[order], x[order]
    if s.min_p > 0.0 and len(x) > 1:
        # p_i >= min_p * p_max  <=>  x_i >= x_max + ln(min_p)
        ok = x >= x.max() + math.log(s.min_p)
        keep, x = keep[ok], x[ok]
    return keep, _softmax(x / s.temperature)


def _repeat_penalty(x: np.ndarray, candidates: np.ndarray, s: Sampling, recent: Iterable[int]) -> np.ndarray:
    recent = list(recent)[-s.repeat_last_n:]
    if not recent:
        return x
    hit = np.isin(candidates, np.asarray(recent, dtype=candidates.dtype))
    if not hit.any():
        return x
    x = x.copy()
    # llama.cpp: positive logits are divided, negative ones multiplied, by the penalty
    x[hit] = np.where(x[hit] > 0, x[hit] / s.repeat_penalty, x[hit] * s.repeat_penalty)
    return x


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


def draw(rng: "random.Random | np.random.Generator", probs: np.ndarray) -> int:
    """Index drawn from `probs` with one uniform number (reproducible under a seed)."""
    c = np.cumsum(probs)
    return min(int(np.searchsorted(c, rng.random() * c[-1], side="right")), len(c) - 1)


# No truncation, temperature 1: the chain's own distribution (what markovify samples from).
PURE = Sampling(temperature=1.0, top_k=0, top_p=1.0, min_p=0.0)
