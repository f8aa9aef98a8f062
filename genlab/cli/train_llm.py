"""`genlab train-llm`: train a small llama on a corpus and write a GGUF llama.cpp runs."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from genlab.cli.options import keep_gutenberg_option
from genlab.errors import GenlabError


@click.command(name="train-llm")
@click.argument("corpora", nargs=-1, required=True, metavar="CORPUS...")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="The GGUF to write. [default: models/NAME-llm.gguf, NAME from the first corpus]")
@click.option("--size", type=click.Choice(["tiny", "small"]),
              help="tiny: 2 layers × 64 (seconds to train); small: 4 layers × 256 (minutes). "
                   "[default: small; with --resume the checkpoint's, and another is refused]")
@click.option("--minutes", type=click.FloatRange(min=0, min_open=True),
              help="Training time budget, counting time before a --resume. [default: 10 unless --steps]")
@click.option("--steps", type=click.IntRange(min=1), help="Step budget (whichever budget runs out first ends).")
@click.option("--context", type=click.IntRange(min=256, max=4096),
              help="Context length in tokens, a multiple of 256 (llama.cpp's unit). [default: 256]")
@click.option("--vocab-size", type=click.IntRange(min=262, max=1 << 20),
              help="Tokens in the BPE vocabulary learned on the corpus (with 256 byte tokens as fallback). "
                   "[default: 2048]")
@click.option("--batch-size", type=click.IntRange(min=1), default=16, show_default=True, help="Windows per step.")
@click.option("--lr", "learning_rate", type=click.FloatRange(min=0, min_open=True), default=2e-3, show_default=True,
              help="Peak learning rate (warm-up, then cosine decay over the budget).")
@click.option("--dropout", type=click.FloatRange(0, 1, max_open=True),
              help="Dropout on the residual branches and attention. [default: tiny 0.1, small 0.3]")
@click.option("--held-out", type=click.FloatRange(0, 1, max_open=True),
              help="Fraction of the text (its end, cut at a paragraph) kept out of training and scored "
                   "in bits per byte. 0: train on everything. [default: 0.1]")
@click.option("--untied", is_flag=True, help="A separate output matrix instead of reusing the token embedding.")
@click.option("-s", "--seed", type=int, help="Random seed (initial weights, batches). [default: 0]")
@click.option("-t", "--threads", type=click.IntRange(min=1), help="CPU threads for PyTorch. [default: all cores]")
@click.option("--resume", is_flag=True,
              help="Continue from the checkpoint saved beside the output (NAME.ckpt.safetensors), with its "
                   "size, vocabulary, held-out part and seed; a different one given is refused. "
                   "[default budget: the checkpoint's]")
@click.option("--encoding", help="Text encoding of the corpora. [default: UTF-8]")
@keep_gutenberg_option
def train_llm(corpora: tuple[str, ...], output: Path | None, size: str | None, minutes: float | None,
              steps: int | None, context: int | None, vocab_size: int | None, batch_size: int,
              learning_rate: float, dropout: float | None, held_out: float | None, untied: bool, seed: int | None,
              threads: int | None, resume: bool, encoding: str | None, keep_gutenberg: bool) -> None:
    """Train a small llama-architecture transformer on CORPUS files and write a GGUF.

    The model is trained with PyTorch (pip install 'genlab[train]') and runs
    through llama.cpp like any downloaded model: generate, chat, perplexity.
    Progress shows loss, tokens/s and time left; Ctrl-C finishes the step,
    saves a checkpoint and the GGUF, and --resume carries on. At the end the
    held-out text is scored in bits per byte by the same scorer as
    'genlab perplexity'. A Project Gutenberg book's header and licence are
    left out (--keep-gutenberg keeps them); the GGUF records what was.

    \b
    Examples:
      genlab train-llm corpora/novel.txt --minutes 5
      genlab train-llm corpora/novel.txt --size tiny --steps 200 -o models/tiny-novel.gguf
      genlab train-llm corpora/novel.txt --minutes 10 --resume
    """
    from genlab.corpus import corpus_name

    _require_torch()
    from genlab.train.trainer import Trainer, TrainSettings

    if minutes is None and steps is None and not resume:
        minutes = 10.0
    out = output or Path("models") / f"{corpus_name(corpora[0])}-llm.gguf"
    settings = TrainSettings(size=size, context=context, vocab_size=vocab_size, minutes=minutes, steps=steps,
                             batch_size=batch_size, learning_rate=learning_rate, dropout=dropout, seed=seed,
                             held_out=held_out, threads=threads, tied=False if untied else None)
    result = Trainer(list(corpora), out, settings, resume=resume, encoding=encoding,
                     keep_gutenberg=keep_gutenberg).run()
    click.echo(f"trained {result.steps:,} steps ({result.tokens:,} tokens) in {result.seconds / 60:.1f} min; "
               f"training loss {result.train_loss:.3f}")
    if result.held_out_bpb is not None:
        click.echo(f"held-out text: {result.held_out_bpb:.4f} bits per byte (llama.cpp, genlab perplexity's scorer)")
    click.echo(f"saved {result.path} ({result.path.stat().st_size / 1e6:.1f} MB); checkpoint {result.checkpoint}")
    click.echo("generate with:")
    click.echo(f"  genlab generate --backend {shlex.quote('llama:' + str(result.path))}")
    if result.interrupted:
        sys.exit(130)


def _require_torch() -> None:
    try:
        import torch  # noqa: F401
        import safetensors  # noqa: F401
    except ImportError:
        raise GenlabError("train-llm needs PyTorch: pip install 'genlab[train]' "
                          "(or pip install torch==2.13.0 safetensors)") from None
