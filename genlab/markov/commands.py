"""The commands of the markov backend kind: `genlab train-markov` (train a chain and say how to
use it) and `genlab export-arpa` (a chain's Kneser-Ney model as an ARPA file)."""

from __future__ import annotations

import shlex
import time
from pathlib import Path

import click

from genlab.cli.options import keep_gutenberg_option
from genlab.markov.model import MAX_ORDER, UNITS


@click.command(name="train-markov")
@click.argument("corpora", nargs=-1, required=True, metavar="CORPUS[:WEIGHT]...")
@click.option("--order", "-k", type=int, default=3, show_default=True,
              help=f"Tokens of context, 1 to {MAX_ORDER}.")
@click.option("--unit", type=click.Choice(UNITS), default="word", show_default=True,
              help="Chain over words (with punctuation and quotes as tokens) or characters.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to save the model. [default: models/NAME.markov, NAME from the corpus]")
@click.option("--encoding", help="Text encoding of the corpora. [default: UTF-8]")
@click.option("--tokenized", is_flag=True,
              help="The corpora are split into tokens by spaces already, one sentence per line "
                   "(KenLM's input): skip genlab's tokenizer.")
@keep_gutenberg_option
def train_markov(corpora: tuple[str, ...], order: int, unit: str, output: Path | None, encoding: str | None,
                 tokenized: bool, keep_gutenberg: bool) -> None:
    """Train an n-gram Markov chain on one or more text files.

    Each CORPUS is a UTF-8 text file with paragraphs separated by blank lines;
    append :WEIGHT to count one corpus more (or less) than the others
    (a number from 1e-06 to 1e+06). A Project Gutenberg book's header and
    licence are left out (--keep-gutenberg keeps them); the model file
    records what was.

    \b
    Examples:
      genlab train-markov corpora/novel.txt
      genlab train-markov corpora/novel.txt --order 2 --unit char
      genlab train-markov corpora/novel.txt corpora/pride-and-prejudice.txt:2.0 -o models/mix.markov
      genlab train-markov --tokenized sentences.txt -o models/sentences.markov
    """
    from genlab.boilerplate import left_out
    from genlab.corpus import parse_corpus_spec
    from genlab.folders import checked_path, shown
    from genlab.markov.model import check_order, train
    from genlab.markov.store import MODELS_DIR, SUFFIX, default_name, save
    from genlab.progress import progress

    check_order(order)
    specs = [parse_corpus_spec(c) for c in corpora]
    for p, _ in specs:
        checked_path(p)
    name = "+".join(p.stem for p, _ in specs)
    path = checked_path(output or MODELS_DIR / f"{default_name(name, order, unit)}{SUFFIX}")  # before the work
    total = sum(p.stat().st_size for p, _ in specs if p.is_file())
    started = time.perf_counter()
    with progress(total, "training") as advance:
        model = train(specs, order=order, unit=unit, encoding=encoding, progress=advance, tokenized=tokenized,
                      keep_gutenberg=keep_gutenberg)
    for (p, _), corpus in zip(specs, model.corpora):
        line = left_out(shown(p), corpus.get("gutenberg"))
        if line:
            click.echo(line, err=True)
    save(model, path)
    seconds = time.perf_counter() - started
    backend = path.stem if path.parent == MODELS_DIR and path.suffix == SUFFIX else str(path)
    click.echo(f"trained an order-{order} {unit} chain on {len(model.text_ids):,} tokens "
               f"({len(model.vocab):,} distinct) in {seconds:.1f} s")
    click.echo(f"saved {path} ({path.stat().st_size / 1e6:.1f} MB)")
    click.echo("generate with:")
    click.echo(f"  genlab generate --backend {shlex.quote('markov:' + backend)}")


@click.command(name="export-arpa")
@click.argument("model", metavar="MODEL")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the ARPA file.")
def export_arpa(model: str, output: Path) -> None:
    """Write a Markov chain's Kneser-Ney model as a standard ARPA file.

    MODEL is a name from 'genlab train-markov' (novel), a markov:NAME backend or a .markov path.
    KenLM, SRILM and other toolkits read the result; <s> and </s> stand for paragraph starts
    and ends.

    \b
    Example:
      genlab export-arpa novel -o novel.arpa
    """
    from genlab.atomic import replacing
    from genlab.folders import checked_path
    from genlab.markov.scoring import kneser_ney
    from genlab.markov.store import find_model, load

    name = model.removeprefix("markov:")
    checked_path(name)
    checked_path(output)
    chain = load(find_model(name))
    kn = kneser_ney(chain)
    with replacing(output) as tmp, tmp.open("w", encoding="utf-8", newline="\n") as fh:
        kn.write_arpa(fh)
    sizes = ", ".join(f"{n}-grams {size:,}" for n, size in enumerate(kn.sizes, 1))
    click.echo(f"wrote {output} ({sizes})")
    fell_back = [n for n, f in enumerate(kn.fallback, 1) if f]
    if fell_back:
        click.echo(f"note: too little data for Kneser-Ney discounts at order {', '.join(map(str, fell_back))}; "
                   "used lmplz's fallback discounts 0.5 1 1.5", err=True)
