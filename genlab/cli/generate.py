"""`genlab generate`: stream text from any backend."""

from __future__ import annotations

import sys

import click

from genlab.cli.options import llama_options, sampling_from, sampling_options
from genlab.sampling import Sampling


@click.command()
@click.option("--backend", "-b", required=True, metavar="NAME",
              help="Which model: markov:NAME_OR_PATH (a chain from 'genlab train-markov'), llama:PATH.gguf, "
                   "hf:OWNER/REPO/FILE.gguf, or an alias from 'genlab models list'.")
@click.option("--prompt", "-p", default="", help="Text to continue. [default: start a new paragraph]")
@click.option("-n", "--samples", type=click.IntRange(min=1), default=1, show_default=True,
              help="How many independent samples (seeds SEED, SEED+1, ... when --seed is given).")
@sampling_options(defaults=Sampling())
@llama_options
def generate(backend: str, prompt: str, samples: int, **kwargs) -> None:
    """Generate text, streaming it to stdout as it is produced.

    The prompt is printed first, then its continuation. A model alias may bring its own
    sampling settings, used in place of the defaults shown.

    \b
    Examples:
      genlab generate --backend markov:novel
      genlab generate --backend markov:novel --prompt "“Well,” said" --temperature 0.9 --seed 7
    """
    from genlab.backends import resolve

    target = resolve(backend)
    sampling = sampling_from(kwargs, base=target.default_sampling())  # flags over the model's own defaults
    model = target.load(**kwargs)
    out = sys.stdout
    for i in range(samples):
        s = sampling if sampling.seed is None else sampling.merged(seed=sampling.seed + i)
        if i:
            out.write("\n")  # the previous sample ended its line: one blank line between
        out.write(prompt)
        out.flush()
        try:
            for piece in model.stream(prompt, s):
                out.write(piece)
                out.flush()
        finally:
            out.write("\n")
            out.flush()
