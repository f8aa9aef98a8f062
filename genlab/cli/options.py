"""Command-line options shared by commands: --backend, the sampling flags, the llama loader's flags,
--keep-gutenberg."""

from __future__ import annotations

from typing import Any, Callable

import click

from genlab.cli.completers import complete_backend
from genlab.escapes import process_escapes
from genlab.sampling import FIELDS, MEANINGS, Sampling

# (field, spellings, type, help); a command's help shows its own default after each (see sampling_options).
# Each flag also takes llama.cpp's own spelling (its CLI and server: --temp, -s, -n/--n-predict), so a
# llama.cpp command line works here as typed. --help shows each flag once with all its spellings.
_SAMPLING_FLAGS = [
    ("temperature", ("--temperature", "--temp"), float, MEANINGS["temperature"]),
    ("top_k", ("--top-k",), int, MEANINGS["top_k"]),
    ("top_p", ("--top-p",), float, MEANINGS["top_p"]),
    ("min_p", ("--min-p",), float, MEANINGS["min_p"]),
    ("repeat_penalty", ("--repeat-penalty",), float, MEANINGS["repeat_penalty"]),
    ("repeat_last_n", ("--repeat-last-n",), int, MEANINGS["repeat_last_n"]),
    ("seed", ("-s", "--seed"), int, MEANINGS["seed"]),
    ("max_tokens", ("-n", "--max-tokens", "--n-predict"), int, MEANINGS["max_tokens"]),
    ("stop", ("--stop",), None,
     "Stop before this text (repeatable; \\n, \\t, \\\\ ... are understood as llama.cpp does)."),
]

SAMPLING_FIELDS = FIELDS


def sampling_options(f: Callable[..., Any] | None = None, *, defaults: Sampling | None = None):
    """The sampling flags. `defaults`: the settings the command uses for a flag not given,
    shown in its help (`@sampling_options(defaults=CHAT_DEFAULTS)`); without it no default is
    shown (`genlab models add`: a flag not given sets nothing). Flags not given stay None, so a
    command can tell them from its defaults."""

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        for name, flags, kind, text in reversed(_SAMPLING_FLAGS):
            value = getattr(defaults, name) if defaults is not None else None
            shown = f" [default: {value}]" if value not in (None, ()) else ""
            if name == "stop":
                f = click.option(*flags, name, multiple=True, help=text + shown)(f)
            else:
                f = click.option(*flags, name, type=kind, help=text + shown)(f)
        return f

    return decorate(f) if f is not None else decorate


def typed_sampling(kwargs: dict[str, Any], escape: bool = True) -> dict[str, Any]:
    """Pop the sampling flags out of a command's kwargs; the ones given, with escapes in
    --stop processed (unless `escape` is False)."""
    values = {k: v for k in SAMPLING_FIELDS if (v := kwargs.pop(k)) not in (None, ())}
    if escape and "stop" in values:
        values["stop"] = tuple(process_escapes(s, "--stop") for s in values["stop"])
    return values


def sampling_from(kwargs: dict[str, Any], base: Sampling | None = None, escape: bool = True) -> Sampling:
    """Pop the sampling flags out of a command's kwargs and merge them over `base`."""
    return (base or Sampling()).merged(**typed_sampling(kwargs, escape))


INT32_MAX = 2**31 - 1  # llama.cpp keeps these counts in C ints
MAX_THREADS = 512  # ggml's GGML_MAX_N_THREADS: more threads crash llama.cpp (a segfault at 100,000)

_LLAMA_OPTIONS = [
    click.option("-c", "--n-ctx", "--ctx-size", "n_ctx", type=click.IntRange(min=1, max=INT32_MAX),
                 help="llama models: context size in tokens, rounded up to a multiple of 256 as llama.cpp does. "
                      "[default: the model's, at most 4096]"),
    click.option("-t", "--threads", "n_threads", type=click.IntRange(min=1, max=MAX_THREADS),
                 help="llama models: CPU threads, for generating and for evaluating prompts. "
                      "[default: half the cores generating, all of them for prompts]"),
    click.option("-ngl", "--gpu-layers", "--n-gpu-layers", "n_gpu_layers", type=click.IntRange(min=-1, max=INT32_MAX),
                 help="llama models: layers to offload to a GPU (-1: all). [default: 0]"),
    click.option("--chat-format",
                 help="llama models: chat template to use instead of the model's own (llama-3, chatml, ...)."),
    click.option("--verbose", is_flag=True, default=None, help="Show llama.cpp's own log output."),
]


def llama_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--n-ctx, --threads, --gpu-layers, --chat-format, --verbose: for commands that may load a llama model,
    each also under llama.cpp's spelling (-c/--ctx-size, -t, -ngl/--n-gpu-layers)."""
    for option in reversed(_LLAMA_OPTIONS):
        f = option(f)
    return f


_KV_CACHE = click.option(
    "--kv-cache", "f32_cache", type=click.Choice(["f32", "f16"]), default="f32", show_default=True,
    callback=lambda ctx, param, value: value == "f32",
    help="llama models: number type of the KV cache. f32 makes scores exact (a float64 log-softmax of the "
         "logits) and doubles the cache: an 8B llama-3 at 8192 tokens holds 2 GiB instead of 1 GiB. "
         "f16, llama.cpp's own default, moves bits per byte by a few tenths of a percent.")


def scoring_llama_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """`llama_options` and --kv-cache [f32|f16] (default f32), for commands that score text.

    The command receives the cache choice as the keyword `f32_cache` (True for f32), which the
    llama backend takes as it is; other kinds of backend ignore it."""
    return llama_options(_KV_CACHE(f))


# what --backend takes besides the forms of the backend table (genlab.backends parses both)
_NAMES = ("a name from 'genlab models list' (an alias, or a model Ollama, the Hugging Face cache, LM Studio or "
          "a pip package put here)")


class _BackendOption(click.Option):
    """--backend: its help lists the kinds of the backend table when it is shown, so defining a
    command imports no backend package."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        if self.help and "{forms}" in self.help:
            from genlab.backends import forms

            *first, last = forms().split(", ")
            self.help = self.help.replace("{forms}", f"{', '.join(first)} or {last}" if first else last)
        return super().get_help_record(ctx)


def backend_option(what: str = "Which model", *, multiple: bool = False, required: bool = True,
                   default: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """--backend/-b NAME (or llama.cpp's -m/--model), the same for every command: `what` starts
    its help, which then names every kind of backend. multiple: repeatable, passed as the tuple
    `backends` (else the text `backend`). default: what the command does without it, in words (shown as its default)."""
    repeat = " (repeatable)" if multiple else ""
    shown = f" [default: {default}]" if default else ""
    return click.option("--backend", "-b", "--model", "-m", "backends" if multiple else "backend", cls=_BackendOption,
                        multiple=multiple, required=required, metavar="NAME", shell_complete=complete_backend,
                        help=f"{what}{repeat}: {_NAMES}, {{forms}}.{shown}")


keep_gutenberg_option = click.option(
    "--keep-gutenberg", is_flag=True,
    help="Read the text files as they are, Project Gutenberg's header and licence too. By default they are "
         "left out (by the rules 'genlab corpus fetch' uses) and one line on stderr says how many bytes.")
