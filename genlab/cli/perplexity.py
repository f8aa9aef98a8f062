"""`genlab perplexity`: score one text with every backend."""

from __future__ import annotations

import json
import math
from pathlib import Path

import click

from genlab.cli.options import backend_option, keep_gutenberg_option, scoring_llama_options


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
@backend_option("A model to score with", multiple=True, required=False)
@click.option("--train", "train_corpus", type=click.Path(path_type=Path), metavar="CORPUS",
              help="With --orders: train chains of each order on CORPUS (or reuse saved ones).")
@click.option("--orders", help="With --train: the orders to compare, e.g. 1-6 or 2,3,5. [default: 1-6]")
@click.option("--unit", type=click.Choice(["word", "char"]), default="word", show_default=True,
              help="With --train: word or character chains.")
@click.option("--max-bytes", type=click.IntRange(min=1, max=32 * 2**20),
              help="Score only the first N bytes (cut at a paragraph end), reading no more of FILE than that. "
                   "Without it FILE may hold at most 32 MB.")
@click.option("--tokenized", is_flag=True,
              help="FILE is split into tokens by spaces, one sentence per line: Markov chains score those tokens.")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON instead of a table.")
@click.option("--bootstrap", type=click.IntRange(min=0, max=100_000), default=1000, show_default=True,
              help="Bootstrap replicates for the 95% interval of bits per byte over the text's paragraphs "
                   "(0: no intervals).")
@click.option("-s", "--seed", type=int, default=0, show_default=True,
              help="Seed of the bootstrap: the same text, backends and seed print the same intervals.")
@click.option("--encoding", help="Text encoding of FILE and CORPUS. [default: UTF-8]")
@keep_gutenberg_option
@scoring_llama_options
def perplexity(file: Path, backends: tuple[str, ...], train_corpus: Path | None, orders: str | None,
               unit: str, max_bytes: int | None, tokenized: bool, as_json: bool, bootstrap: int, seed: int,
               encoding: str | None, keep_gutenberg: bool, **llama_kwargs) -> None:
    """Bits per byte (and perplexities) of FILE under each backend.

    Every backend scores the same text: paragraphs separated by one blank line, whitespace
    inside a paragraph collapsed. Bits per byte is the number to compare across a word
    chain, a character chain and a llama model; token perplexity is per backend's own tokens.
    Markov chains use interpolated modified Kneser-Ney (KenLM's recipe); unknown words pay
    for their spelling. A llama model charges every token, the first one given its BOS token
    (else end-of-text), and keeps its KV cache in f32 so the scores are exact (--kv-cache).

    After the table: each backend's bits per byte with its 95% interval, bootstrapped over the
    text's paragraphs (lines with --tokenized), and the difference between each pair of
    backends on the same resampled paragraphs, saying whether its interval excludes zero.
    --json gives each row its "paragraphs" and "interval".

    \b
    Examples:
      genlab perplexity --backend markov:novel --backend llama3 held-out.txt
      genlab perplexity --train corpora/novel.txt --orders 1-6 held-out.txt
      genlab perplexity --backend markov:novel held-out.txt --max-bytes 100000 --json
    """
    from genlab.errors import GenlabError
    from genlab.eval.orders import chain_scorers, parse_orders
    from genlab.eval.perplexity import score_each, scorers
    from genlab.eval.score_intervals import bits_per_byte_intervals
    from genlab.eval.texts import scored_text

    if orders and not train_corpus:
        raise GenlabError("--orders needs --train CORPUS (the text to train the chains on)")
    if not backends and not train_corpus:
        raise GenlabError("give at least one --backend, or --train CORPUS to compare chain orders")
    text = scored_text(file, encoding, max_bytes, tokenized, keep_gutenberg=keep_gutenberg)
    models = scorers(backends, **llama_kwargs)  # loaded one at a time, so only one model is in memory
    if train_corpus:
        models += chain_scorers(train_corpus, parse_orders(orders or "1-6"), unit, encoding, tokenized, keep_gutenberg)
    rows = []
    for row in score_each(models, text, tokenized):
        rows.append(row)
        if not as_json:
            _print_row(row, first=len(rows) == 1)
    labels = _labels(rows)
    found = bits_per_byte_intervals({label: r.parts for r, label in zip(rows, labels)}, bootstrap, seed)
    if as_json:
        click.echo(json.dumps([_json_row(r, label, found, bootstrap) for r, label in zip(rows, labels)], indent=1))
    elif bootstrap:
        _print_intervals(rows, labels, found, bootstrap, seed, "lines" if tokenized else "paragraphs")


_COLUMNS = ("backend", "bits/byte", "byte ppl", "word ppl", "token ppl", "tokens", "OOV %", "seconds")


def _print_row(row, first: bool) -> None:
    from genlab.folders import shown

    if first:
        click.echo(f"{_COLUMNS[0]:<28} " + " ".join(f"{c:>10}" for c in _COLUMNS[1:]))
    oov = 100 * row.oov_rate if not math.isnan(row.oov_rate) else math.nan
    cells = [f"{row.bits_per_byte:.4f}", _big(row.byte_perplexity), _big(row.word_perplexity),
             _big(row.token_perplexity), f"{row.tokens:,}", f"{oov:.2f}", f"{row.seconds:.2f}"]
    click.echo(f"{shown(row.backend):<28} " + " ".join(f"{c:>10}" for c in cells))


def _labels(rows) -> list[str]:
    """A name for each row (a backend given twice: "NAME #2"), so each keeps its own interval."""
    seen: dict[str, int] = {}
    out = []
    for r in rows:
        seen[r.backend] = seen.get(r.backend, 0) + 1
        out.append(r.backend if seen[r.backend] == 1 else f"{r.backend} #{seen[r.backend]}")
    return out


def _print_intervals(rows, labels: list[str], found, replicates: int, seed: int, units: str) -> None:
    """Each backend's bits per byte with its interval, then each pair's paired difference."""
    from genlab.eval.bootstrap import LEVEL, excludes_zero
    from genlab.folders import shown

    click.echo("")
    if found.units < 2:
        why = (f"the text is a single {units[:-1]}" if found.units == 1
               else f"no backend's score could be split over the text's {units}")
        click.echo(f"bits/byte interval: none ({why}; an interval needs two or more)")
        return
    click.echo(f"bits/byte, {LEVEL:.0%} interval over {found.units:,} {units} "
               f"({replicates:,} bootstrap replicates, seed {seed}):")
    for r, label in zip(rows, labels):
        bounds = found.intervals.get(label)
        cell = f"[{bounds[0]:.4f}, {bounds[1]:.4f}]" if bounds else f"none (its score cannot be split over the {units})"
        click.echo(f"{shown(label):<28} {r.bits_per_byte:>10.4f}  {cell}")
    for d in found.differences:
        bounds = d["interval"]
        pair = f"{shown(d['a'])} - {shown(d['b'])}: {d['difference']:+.4f}"
        if bounds is None:
            click.echo(f"{pair} (no interval)")
        else:
            verdict = "excludes zero" if excludes_zero(bounds) else "includes zero: within noise"
            click.echo(f"{pair} [{bounds[0]:+.4f}, {bounds[1]:+.4f}] paired, {verdict}")


def _json_row(row, label: str, found, replicates: int) -> dict:
    """A row as --json prints it: its numbers, paragraphs and interval (as compare's metrics.json:
    null without a bootstrap, {"bits_per_byte": null} when the row has none)."""
    out = {k: _json_number(v) for k, v in row.as_dict().items()}
    out["paragraphs"] = found.units if label in found.estimates else None
    out["interval"] = {"bits_per_byte": found.intervals.get(label)} if replicates else None
    return out


def _big(x: float) -> str:
    return f"{x:.4g}" if x < 1e6 else f"{x:.3e}"


def _json_number(x: object) -> object:
    return None if isinstance(x, float) and math.isnan(x) else x
