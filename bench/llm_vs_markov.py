#!/usr/bin/env python3
"""Benchmark: a small llama trained for N minutes vs Kneser-Ney Markov chains, same split.

Issue 6's quality target: on pride-and-prejudice (Project Gutenberg header and licence
removed), the first 90% trains both a llama (`genlab train-llm`, PyTorch, on this machine's
cores) and word chains of orders 1-6 (interpolated modified Kneser-Ney); the last 10% is
scored in bits per byte — the llama through llama.cpp with the scorer `genlab perplexity`
uses. Target: the llama's bits per byte below the best chain's after 10 minutes of training.

Usage: .venv/bin/python bench/llm_vs_markov.py [--novel pride-and-prejudice] [--minutes 10]
       [--size small] [--dropout P] [--lr 2e-3] [--vocab-size 2048] [--batch-size 16] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT.parent / "shared" / "corpora"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--novel", default="pride-and-prejudice")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--size", default="small")
    ap.add_argument("--dropout", type=float, help="default: the size's")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--vocab-size", type=int, default=2048)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--keep", type=Path, help="write the split texts and the model here")
    args = ap.parse_args()

    source = CORPORA / f"{args.novel}.txt"
    if not source.is_file():
        print(f"skipped: {source} is absent", file=sys.stderr)
        return 0
    sys.path.insert(0, str(ROOT))
    from genlab.corpus import read_corpus
    from genlab.gutenberg import strip_gutenberg
    from genlab.eval.perplexity import perplexity, prepare_text
    from genlab.markov.generator import MarkovGenerator
    from genlab.markov.model import train as train_markov
    from genlab.eval.texts import split_held_out
    from genlab.train.trainer import Trainer, TrainSettings

    work = args.keep or Path(tempfile.mkdtemp(prefix="genlab-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    book = work / f"{args.novel}.txt"
    book.write_text(strip_gutenberg(read_corpus(source), str(source)), encoding="utf-8")
    train_text, held_text = split_held_out(prepare_text(book.read_text(encoding="utf-8")), 0.1)
    (work / "train.txt").write_text(train_text + "\n", encoding="utf-8")
    (work / "held-out.txt").write_text(held_text + "\n", encoding="utf-8")
    log(f"{args.novel}: {len(train_text.encode()):,} bytes to train on, {len(held_text.encode()):,} held out "
        f"(files in {work})")

    rows: list[tuple[str, float, str]] = []
    for order in range(1, 7):
        started = time.perf_counter()
        chain = train_markov([(work / "train.txt", 1.0)], order=order)
        row = perplexity(MarkovGenerator(chain, name=f"markov order {order}"), held_text)
        rows.append((row.backend, row.bits_per_byte, f"{time.perf_counter() - started:.1f} s"))
    best_markov = min(rows, key=lambda r: r[1])

    settings = TrainSettings(size=args.size, minutes=args.minutes, dropout=args.dropout,
                             learning_rate=args.lr, vocab_size=args.vocab_size, batch_size=args.batch_size,
                             held_out=0.1)
    threads = os.cpu_count()
    log(f"training the llama for {args.minutes:g} min on {threads} cores")
    result = Trainer([book], work / "llm.gguf", settings, progress=False).run()
    rows.append((f"llama {args.size} ({result.parameters / 1e6:.1f} M params)", result.held_out_bpb,
                 f"{result.seconds / 60:.1f} min, {result.steps:,} steps, "
                 f"{result.tokens / result.seconds:,.0f} tok/s"))

    print(f"\nheld-out bits per byte, last 10% of {args.novel} (first 90% trains every model)\n")
    print("| model | bits/byte | training |\n|---|---:|---|")
    for name, bpb, note in rows:
        print(f"| {name} | {bpb:.4f} | {note} |")
    curve = ", ".join(f"{h['seconds'] / 60:.0f} min {h['held_out_bpb']:.3f}" for h in result.history
                      if "held_out_bpb" in h)
    print(f"\nllama held-out estimate during training (disjoint windows): {curve}")
    gap = result.held_out_bpb - best_markov[1]
    verdict = "met" if gap < 0 else "NOT met"
    print(f"\ntarget (llama below the best chain, {best_markov[0]}): {verdict}; "
          f"llama - best chain = {gap:+.4f} bits/byte ({gap / best_markov[1]:+.1%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
