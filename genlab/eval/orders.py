"""Markov chains by order, the curve the LLMs are set against: chains of each order trained on
the corpus in moments, through the backend table's trainer (so eval/ never imports a backend).

Row names keep the trainer kind's prefix: "markov:novel order 3" (perplexity), and the chains
of a comparison score the eval text and are sampled with the comparison's own prompts.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable

from genlab.errors import GenlabError
from genlab.eval.plan import CompareSettings, jobs
from genlab.generator import Generator

ORDER_KEYS = ("longest_copy_mean", "longest_copy_max", "novel_4gram_share", "distinct_2")  # each chain's style numbers


def parse_orders(spec: str) -> list[int]:
    """"1-6" or "2,3,5" -> [1, 2, ...]; every order a chain allows."""
    from genlab.backends import trainer

    allowed = trainer()[1].orders
    orders: list[int] = []
    try:
        for part in spec.split(","):
            lo, sep, hi = part.strip().partition("-")
            orders.extend(range(int(lo), int(hi) + 1) if sep else [int(lo)])
    except ValueError:
        raise GenlabError(f"--orders takes a range like 1-6 or a list like 2,3,5, got {spec!r}") from None
    if not orders or any(o not in allowed for o in orders):
        raise GenlabError(f"--orders must lie between {allowed[0]} and {allowed[-1]}, got {spec!r}")
    return sorted(set(orders))


def chain_scorers(corpus: Path, orders: list[int], unit: str, encoding: str | None,
                  tokenized: bool, keep_gutenberg: bool = False) -> list[tuple[str, Callable[[], Generator]]]:
    """(row name, loader) of a chain of each order on `corpus`: the one `train-markov` saved
    when its corpus is unchanged (and read the same way), else trained when loaded."""
    from genlab.backends import trainer

    prefix, chains = trainer()
    suffix = " char" if unit == "char" else ""

    def loader(order: int) -> Callable[[], Generator]:
        return lambda: chains.train(corpus, order, unit=unit, encoding=encoding, tokenized=tokenized,
                                    reuse_saved=True, keep_gutenberg=keep_gutenberg)

    return [(f"{prefix}:{corpus.stem} order {order}{suffix}", loader(order)) for order in orders]


def first_chain_corpus(backends: tuple[str, ...]) -> Path | None:
    """The training corpus of the first backend of the trainer's kind, when its file is still
    there (compare's default --corpus)."""
    from genlab.backends import trainer

    prefix, chains = trainer()
    for name in backends:
        kind, _, rest = name.partition(":")
        if kind == prefix and rest:
            path = chains.corpus_of(rest)
            if path is not None:
                return path
    return None


def chains_by_order(s: CompareSettings, corpus_text: str, eval_text: str | None, index,
                    log: Callable[[str], None]) -> list[dict]:
    """Chains of each order trained on the corpus: bits per byte on the eval text and how much
    of their output is copied from the corpus, with intervals drawn as the backends' are (the
    comparison's prompts and seeds)."""
    from genlab.backends import trainer
    from genlab.eval import metrics as M
    from genlab.eval.generate import generate_one
    from genlab.eval.runfolder import sample_text
    from genlab.eval.perplexity import perplexity
    from genlab.eval.uncertainty import measured, sample_counts
    from genlab.eval.score_intervals import bits_per_byte_intervals

    chains = trainer()[1]
    chain_jobs = jobs(replace(s, backends=("chain",), sweep=None))
    counts = sample_counts(s, chain_jobs[0].label)  # the same draws for every order
    rows = []
    for order in s.orders:
        log(f"chain of order {order} on {s.corpus.name if s.corpus else 'the corpus'}")
        with chains.train(s.corpus or Path("corpus"), order, text=corpus_text) as chain:
            row: dict[str, object] = {"order": order}
            if eval_text:
                scored = perplexity(chain, eval_text)
                row["bits_per_byte"] = scored.bits_per_byte
                bpb = bits_per_byte_intervals({"chain": scored.parts}, s.bootstrap, s.seed)
                row["interval"] = {"bits_per_byte": bpb.intervals.get("chain")}
            texts = []
            for job in chain_jobs:
                text, _, _ = generate_one(chain, job)
                texts.append(sample_text({"kind": job.prompt.kind, "prompt": job.prompt.text, "text": text}))
        found = measured(M.style_parts(texts, index, keys=ORDER_KEYS), counts)
        row |= found.estimates
        mine = found.intervals()  # beside any interval already in the row (bits per byte)
        row["interval"] = None if mine is None else {**(row.get("interval") or {}), **mine}
        rows.append(row)
    return rows
