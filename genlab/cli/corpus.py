"""``genlab corpus``: fetch a public-domain book as a corpus, split a corpus for held-out scoring.

GenlabError is not caught here: the main ``genlab`` group turns it into one
``genlab: error: ...`` line.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from genlab.cli.options import keep_gutenberg_option
from genlab.gutenberg import DEFAULT_GUTENBERG_MIRROR, MIRROR_ENV_VAR, fetch_gutenberg, parse_source


@click.group(name="corpus")
def corpus() -> None:
    """Manage training corpora (plain UTF-8 text files).

    \b
    Example:
      genlab corpus fetch gutenberg:1342
    """


@corpus.command(name="fetch")
@click.argument("source", metavar="SOURCE")
@click.option(
    "--dir",
    "dest_dir",
    default="corpora",
    show_default=True,
    metavar="DIR",
    help="Folder to save the book in (created if missing).",
)
@click.option(
    "--mirror",
    metavar="URL",
    default=None,
    help=(
        f"Project Gutenberg mirror to download from "
        f"[default: ${MIRROR_ENV_VAR} or {DEFAULT_GUTENBERG_MIRROR}]."
    ),
)
@click.option("--force", is_flag=True, help="Overwrite the file if it already exists.")
def fetch(source: str, dest_dir: str, mirror: str | None, force: bool) -> None:
    """Download a public-domain book and save it as a training corpus.

    SOURCE is gutenberg:<book number>, the number in the book's URL on
    gutenberg.org (https://www.gutenberg.org/ebooks/1342 is gutenberg:1342).

    The Project Gutenberg header and licence footer are stripped, a BOM is
    removed and line endings become LF; the text is saved in DIR under a name
    taken from the book's title.

    \b
    Example:
      genlab corpus fetch gutenberg:1342
      genlab train-markov corpora/pride-and-prejudice.txt
    """
    from genlab.folders import checked_path

    checked_path(dest_dir)
    _kind, number = parse_source(source)
    path = fetch_gutenberg(number, dest_dir=dest_dir, mirror=mirror, overwrite=force)
    words = len(path.read_text(encoding="utf-8").split())
    click.echo(f"saved {path} ({words:,} words)")
    click.echo("train on it with:")
    click.echo(f"  genlab train-markov {shlex.quote(str(path))}")


@corpus.command(name="split")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--held-out", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.1,
              show_default=True, help="Fraction of the bytes, taken from the end, to hold out.")
@click.option("-o", "--dir", "dest_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("models"),
              show_default=True, help="Folder for NAME-train.txt and NAME-held-out.txt.")
@click.option("--encoding", help="Text encoding of FILE. [default: UTF-8]")
@keep_gutenberg_option
def split(file: Path, held_out: float, dest_dir: Path, encoding: str | None, keep_gutenberg: bool) -> None:
    """Split a text into a training part and a held-out end, at a paragraph break.

    The split is the one 'genlab train-llm --held-out' makes, so a chain
    trained on NAME-train.txt and the llama are scored on the same held-out
    text.

    \b
    Example:
      genlab corpus split corpora/novel.txt
      genlab train-markov models/novel-train.txt --order 3
      genlab perplexity --train models/novel-train.txt --orders 1-4 models/novel-held-out.txt
    """
    from contextlib import ExitStack

    from genlab.atomic import replacing
    from genlab.corpus import corpus_name
    from genlab.eval.texts import corpus_text, split_held_out
    from genlab.folders import checked_path

    checked_path(file)
    checked_path(dest_dir)
    head, tail = split_held_out(corpus_text([file], encoding, keep_gutenberg=keep_gutenberg), held_out)
    name = corpus_name(file)
    parts = [(dest_dir / f"{name}-{part}.txt", text) for part, text in (("train", head), ("held-out", tail))]
    with ExitStack() as both:  # the two files are a pair: both are written, or neither is
        for path, text in parts:
            tmp = both.enter_context(replacing(path))
            with tmp.open("w", encoding="utf-8", newline="") as fh:
                fh.write(text + "\n")
    for path, text in parts:
        click.echo(f"wrote {path} ({len(text.encode('utf-8')):,} bytes)")
