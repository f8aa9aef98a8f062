"""Command-line options shared by every command that samples text."""

from __future__ import annotations

from typing import Any, Callable

import click

from genlab.sampling import Sampling

_SAMPLING_OPTIONS = [
    click.option("--temperature", type=float, help="Randomness: 0 is greedy, 1 the model's own odds. [default: 0.8]"),
    click.option("--top-k", type=int, help="Keep only the K likeliest next tokens (0: all). [default: 40]"),
    click.option("--top-p", type=float, help="Keep the likeliest tokens whose probabilities add up to P. [default: 0.95]"),
    click.option("--min-p", type=float, help="Drop tokens less likely than MIN_P times the likeliest. [default: 0.05]"),
    click.option("--repeat-penalty", type=float, help="Penalise tokens seen in the last --repeat-last-n (1: off). [default: 1.0]"),
    click.option("--repeat-last-n", type=int, help="How many recent tokens the repeat penalty looks at. [default: 64]"),
    click.option("--seed", type=int, help="Random seed: the same seed and inputs give the same text."),
    click.option("--max-tokens", type=int, help="Stop after this many tokens (words and punctuation for a word chain). [default: 256]"),
    click.option("--stop", multiple=True, help="Stop before this text (repeatable)."),
]

SAMPLING_FIELDS = ("temperature", "top_k", "top_p", "min_p", "repeat_penalty", "repeat_last_n", "seed",
                   "max_tokens", "stop")


def sampling_options(f: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_SAMPLING_OPTIONS):
        f = option(f)
    return f


def sampling_from(kwargs: dict[str, Any], base: Sampling | None = None) -> Sampling:
    """Pop the sampling flags out of a command's kwargs and merge them over `base`."""
    values = {k: kwargs.pop(k) for k in SAMPLING_FIELDS}
    if not values["stop"]:
        values["stop"] = None
    return (base or Sampling()).merged(**values)


_LLAMA_OPTIONS = [
    click.option("--n-ctx", type=click.IntRange(min=1), help="llama models: context size in tokens. [default: the model's, at most 4096]"),
    click.option("--threads", "n_threads", type=click.IntRange(min=1), help="llama models: CPU threads. [default: llama.cpp's choice]"),
    click.option("--gpu-layers", "n_gpu_layers", type=click.IntRange(min=-1), help="llama models: layers to offload to a GPU (-1: all). [default: 0]"),
    click.option("--chat-format", help="llama models: chat template to use instead of the model's own (llama-3, chatml, ...)."),
    click.option("--verbose", is_flag=True, default=None, help="Show llama.cpp's own log output."),
]


def llama_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--n-ctx, --threads, --gpu-layers, --chat-format, --verbose: for commands that may load a llama model."""
    for option in reversed(_LLAMA_OPTIONS):
        f = option(f)
    return f
