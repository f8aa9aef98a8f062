"""``genlab corpus``: get training text into the corpora folder.

GenlabError is deliberately not caught here: the main ``genlab`` group turns it into a
single ``genlab: error: ...`` line.
"""

from __future__ import annotations

import shlex

import click

from genlab.corpus import DEFAULT_GUTENBERG_MIRROR, MIRROR_ENV_VAR, fetch_gutenberg, parse_source


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
    _kind, number = parse_source(source)
    path = fetch_gutenberg(number, dest_dir=dest_dir, mirror=mirror, overwrite=force)
    words = len(path.read_text(encoding="utf-8").split())
    click.echo(f"saved {path} ({words:,} words)")
    click.echo("train on it with:")
    click.echo(f"  genlab train-markov {shlex.quote(str(path))}")
