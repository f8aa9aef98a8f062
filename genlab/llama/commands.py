"""The commands of the llama backend kind: `genlab tiny-model build`, a small llama-architecture
GGUF for tests and demos."""

from __future__ import annotations

import shlex
from pathlib import Path

import click


@click.group(name="tiny-model")
def tiny_model() -> None:
    """Small llama.cpp models that genlab builds itself (no download).

    \b
    Example:
      genlab tiny-model build -o models/tiny.gguf
    """


@tiny_model.command(name="build")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the GGUF file.")
@click.option("-s", "--seed", type=int, default=0, show_default=True, help="Seed of the random weights.")
@click.option("--layers", type=click.IntRange(min=1, max=64), default=2, show_default=True, help="Transformer blocks.")
@click.option("--dim", type=click.IntRange(min=8, max=4096), default=64, show_default=True,
              help="Embedding width (a multiple of the 4 attention heads).")
@click.option("--context", type=click.IntRange(min=16, max=1 << 16), default=256, show_default=True,
              help="Context length the model declares, in tokens.")
def build(output: Path, seed: int, layers: int, dim: int, context: int) -> None:
    """Write a small llama-architecture GGUF with deterministic random weights.

    It has a byte-fallback vocabulary (any UTF-8 text round-trips) and an embedded chat
    template, so every llama feature of genlab can be tried on it. Its text is noise: the
    weights are random.
    """
    from genlab.errors import GenlabError
    from genlab.folders import checked_path

    checked_path(output)
    if dim % 4:
        raise GenlabError(f"--dim must be a multiple of 4 (the attention heads), got {dim}")
    try:
        from genlab.llama.tiny import build_tiny_model
    except ImportError:
        raise GenlabError("building GGUF files needs the gguf package: pip install 'genlab[llama]'") from None
    path = build_tiny_model(output, seed=seed, layers=layers, dim=dim, context=context)
    click.echo(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    click.echo("generate with:")
    click.echo(f"  genlab generate --backend {shlex.quote('llama:' + str(path))}")
