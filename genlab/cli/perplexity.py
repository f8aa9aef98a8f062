"""`genlab perplexity`: score one text with every backend."""

from __future__ import annotations

import json
import math
from pathlib import Path

import click

from genlab.cli.options import BACKEND_HELP, scoring_llama_options


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--backend", "-b", "backends", multiple=True, metavar="NAME",
              help="A model to score with (repeatable): " + BACKEND_HELP)
@click.option("--train", "train_corpus", type=click.Path(path_type=Path), metavar="CORPUS",
              help="With --orders: train chains of each order on CORPUS (or reuse saved ones).")
@click.option("--orders", help="With --train: the orders to compare, e.g. 1-6 or 2,3,5. [default: 1-6]")
@click.option("--unit", type=click.Choice(["word", "char"]), default="word", show_default=True,
              help="With --train: word or character chains.")
@click.option("--max-bytes", type=click.IntRange(min=1), help="Score only the first N bytes (cut at a paragraph end).")
@click.option("--tokenized", is_flag=True,
              help="FILE is split into tokens by spaces, one sentence per line: Markov chains score those tokens.")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON instead of a table.")
@click.option("--encoding", help="Text encoding of FILE and CORPUS. [default: UTF-8]")
@scoring_llama_options
def perplexity(file: Path, backends: tuple[str, ...], train_corpus: Path | None, orders: str | None,
               unit: str, max_bytes: int | None, tokenized: bool, as_json: bool, encoding: str | None,
               **llama_kwargs) -> None:
    """Bits per byte (and perplexities) of FILE under each backend.

    Every backend scores the same text: paragraphs separated by one blank line, whitespace
    inside a paragraph collapsed. Bits per byte is the number to compare across a word
    chain, a character chain and a llama model; token perplexity is per backend's own tokens.
    Markov chains use interpolated modified Kneser-Ney (KenLM's recipe); unknown words pay
    for their spelling. A llama model charges every token, the first one given its BOS token
    (else end-of-text), and keeps its KV cache in f32 so the scores are exact (--kv-cache).

    \b
    Examples:
      genlab perplexity --backend markov:novel --backend llama3 held-out.txt
      genlab perplexity --train corpora/novel.txt --orders 1-6 held-out.txt
      genlab perplexity --backend markov:novel held-out.txt --max-bytes 100000 --json
    """
    from genlab.corpus import read_corpus
    from genlab.errors import GenlabError
    from genlab.eval.perplexity import load_scorer, parse_orders, perplexity as score_one, prepare_text, prepare_tokenized

    if orders and not train_corpus:
        raise GenlabError("--orders needs --train CORPUS (the text to train the chains on)")
    if not backends and not train_corpus:
        raise GenlabError("give at least one --backend, or --train CORPUS to compare chain orders")
    raw = read_corpus(file, encoding)
    text = prepare_tokenized(raw, max_bytes) if tokenized else prepare_text(raw, max_bytes)

    from genlab.backends import kinds, resolve

    for name in backends:  # a backend that cannot score is refused before any work
        kind = kinds().get(resolve(name).kind)
        if kind is not None and not kind.scores:
            raise GenlabError(f"{name} cannot score text ({kind.about} gives no log-probabilities of a given "
                              "text); score its GGUF file in process instead (genlab models list)")
    models = []  # (name, loader): loaded one at a time, so only one model is in memory
    for name in backends:
        models.append((name, lambda name=name: load_scorer(name, **dict(llama_kwargs))))
    if train_corpus:
        for order in parse_orders(orders or "1-6"):
            models.append(_chain_of_order(train_corpus, order, unit, encoding, tokenized))
    rows = []
    for name, load in models:
        generator = load()
        rows.append(score_one(generator, text, name, tokenized))
        close = getattr(generator, "close", None)
        if close is not None:
            close()
        if not as_json:
            _print_row(rows[-1], first=len(rows) == 1)
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in rows], indent=1, default=_json_number))


def _chain_of_order(corpus: Path, order: int, unit: str, encoding: str | None, tokenized: bool):
    """(name, loader) of a chain trained on `corpus`: a saved one when its corpus matches."""

    def load():
        from genlab.corpus import sha256_file
        from genlab.markov.generator import MarkovGenerator
        from genlab.markov.model import train
        from genlab.markov.store import MODELS_DIR, SUFFIX, default_name, load as load_model

        saved = MODELS_DIR / f"{default_name(corpus.stem, order, unit)}{SUFFIX}"
        if saved.is_file():
            model = load_model(saved)
            if (model.order == order and model.unit == unit and model.pretokenized == tokenized
                    and [c.get("sha256") for c in model.corpora] == [sha256_file(corpus)]):
                return MarkovGenerator(model, path=saved)
        return MarkovGenerator(train([(corpus, 1.0)], order=order, unit=unit, encoding=encoding,
                                     tokenized=tokenized), name=f"{corpus.stem}-o{order}")

    return f"markov:{corpus.stem} order {order}" + (" char" if unit == "char" else ""), load


_COLUMNS = ("backend", "bits/byte", "byte ppl", "word ppl", "token ppl", "tokens", "OOV %", "seconds")


def _print_row(row, first: bool) -> None:
    if first:
        click.echo(f"{_COLUMNS[0]:<28} " + " ".join(f"{c:>10}" for c in _COLUMNS[1:]))
    oov = 100 * row.oov_rate if not math.isnan(row.oov_rate) else math.nan
    cells = [f"{row.bits_per_byte:.4f}", _big(row.byte_perplexity), _big(row.word_perplexity),
             _big(row.token_perplexity), f"{row.tokens:,}", f"{oov:.2f}", f"{row.seconds:.2f}"]
    click.echo(f"{row.backend:<28} " + " ".join(f"{c:>10}" for c in cells))


def _big(x: float) -> str:
    return f"{x:.4g}" if x < 1e6 else f"{x:.3e}"


def _json_number(x: object) -> object:
    return None if isinstance(x, float) and math.isnan(x) else x
