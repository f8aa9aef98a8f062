"""Command-line options shared by every command that samples text."""

from __future__ import annotations

from typing import Any, Callable

import click

from genlab.sampling import Sampling

# (field, flag, type, help); a command's help shows its own default after each (see sampling_options)
_SAMPLING_FLAGS = [
    ("temperature", "--temperature", float, "Randomness: 0 is greedy, 1 the model's own odds."),
    ("top_k", "--top-k", int, "Keep only the K likeliest next tokens (0: all)."),
    ("top_p", "--top-p", float, "Keep the likeliest tokens whose probabilities add up to P."),
    ("min_p", "--min-p", float, "Drop tokens less likely than MIN_P times the likeliest."),
    ("repeat_penalty", "--repeat-penalty", float, "Penalise tokens seen in the last --repeat-last-n (1: off)."),
    ("repeat_last_n", "--repeat-last-n", int, "How many recent tokens the repeat penalty looks at."),
    ("seed", "--seed", int, "Random seed: the same seed and inputs give the same text."),
    ("max_tokens", "--max-tokens", int, "Stop after this many tokens (words and punctuation for a word chain)."),
    ("stop", "--stop", None, "Stop before this text (repeatable)."),
]

SAMPLING_FIELDS = tuple(name for name, *_ in _SAMPLING_FLAGS)


def sampling_options(f: Callable[..., Any] | None = None, *, defaults: Sampling | None = None):
    """The sampling flags. `defaults`: the settings the command uses for a flag not given,
    shown in its help (`@sampling_options(defaults=CHAT_DEFAULTS)`); without it no default is
    shown (`genlab models add`: a flag not given sets nothing). Flags not given stay None, so a
    command can tell them from its defaults."""

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        for name, flag, kind, text in reversed(_SAMPLING_FLAGS):
            value = getattr(defaults, name) if defaults is not None else None
            shown = f" [default: {value}]" if value not in (None, ()) else ""
            if name == "stop":
                f = click.option(flag, multiple=True, help=text + shown)(f)
            else:
                f = click.option(flag, type=kind, help=text + shown)(f)
        return f

    return decorate(f) if f is not None else decorate


def typed_sampling(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Pop the sampling flags out of a command's kwargs; the ones given."""
    return {k: v for k in SAMPLING_FIELDS if (v := kwargs.pop(k)) not in (None, ())}


def sampling_from(kwargs: dict[str, Any], base: Sampling | None = None) -> Sampling:
    """Pop the sampling flags out of a command's kwargs and merge them over `base`."""
    return (base or Sampling()).merged(**typed_sampling(kwargs))


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
