"""Round trip, speed and quote balance of genlab.markov.tokenize on the shared novels.

Why: the tokenizer must give back every paragraph exactly (detokenize(tokenize_paragraph(p))
== p, with split_paragraphs' whitespace collapsing), must be fast enough for 50 MB corpora,
and should pair its quotes. This prints one row per book; --show-failures N prints the
first N paragraphs per book that do not round-trip (or whose quotes do not balance, with
--show-unbalanced N), so the next engineer knows what to fix.

    .venv/bin/python bench/tokenizer_roundtrip.py [--show-failures N] [--show-unbalanced N]
"""

from __future__ import annotations

import argparse
import difflib
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from genlab.markov.tokenize import (  # noqa: E402
    detokenize,
    quote_role,
    split_paragraphs,
    tokenize,
    tokenize_paragraph,
)

SHARED = ROOT.parent / "shared" / "corpora"
BOOKS = [
    SHARED / "pride-and-prejudice.txt",
    SHARED / "alices-adventures-in-wonderland.txt",
    SHARED / "adventures-of-sherlock-holmes.txt",
    SHARED / "frankenstein.txt",
    SHARED / "phantom-of-the-opera.txt",
    SHARED / "madame-bovary.txt",
    ROOT / "corpora" / "novel.txt",
]


def balanced(paragraphs: list[list[str]]) -> list[bool]:
    """Per paragraph: every closing quote has an opener of its kind before it, and a
    quote left open is continued by the next paragraph opening the same kind."""
    result = []
    for i, tokens in enumerate(paragraphs):
        depth: Counter[str] = Counter()
        ok = True
        for t in tokens:
            role = quote_role(t)
            if role:
                depth[role[0]] += role[1]
                ok = ok and depth[role[0]] >= 0
        continued = set()  # kinds the next paragraph opens before anything else
        for t in paragraphs[i + 1] if i + 1 < len(paragraphs) else []:
            role = quote_role(t)
            if not role or role[1] < 0:
                break
            continued.add(role[0])
        if any(n > 0 and kind not in continued for kind, n in depth.items()):
            ok = False
        result.append(ok)
    return result


def best_time(fn, text: str, repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn(text)
        best = min(best, time.perf_counter() - start)
    return best


def show_diff(label: str, original: str, produced: str) -> None:
    print(f"  --- {label}")
    for line in difflib.ndiff([original], [produced]):
        print("   ", line.rstrip("\n"))


def markovify_speeds(text: str) -> tuple[float, float] | None:
    """MB/s of markovify's sentence + word splitting and of markovify.Text (its whole
    training), the speed references, if markovify is installed."""
    try:
        import markovify
        from markovify.splitters import split_into_sentences
    except ImportError:
        return None

    def split(t: str) -> None:
        for p in split_paragraphs(t):
            for s in split_into_sentences(p):
                s.split()

    megabytes = len(text.encode()) / 1e6
    return megabytes / best_time(split, text), megabytes / best_time(markovify.Text, text, 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show-failures", type=int, default=0, metavar="N")
    parser.add_argument("--show-unbalanced", type=int, default=0, metavar="N")
    args = parser.parse_args()

    tokenize("warm up: compile the regexes “once”.")
    header = f"{'book':36} {'paragraphs':>10} {'round-trip':>10} {'tokens':>8} {'MB/s':>6} "
    header += f"{'detok MB/s':>10} {'balanced':>8}"
    print(header)
    print("-" * len(header))
    worst = 100.0
    for path in BOOKS:
        if not path.exists():
            print(f"{path.name:36} (missing, skipped)")
            continue
        text = path.read_text(encoding="utf-8")
        megabytes = len(text.encode()) / 1e6
        speed = megabytes / best_time(tokenize, text)
        tokens = tokenize(text)
        detok_speed = megabytes / best_time(detokenize, tokens)

        paragraphs = split_paragraphs(text)
        per_paragraph = [tokenize_paragraph(p) for p in paragraphs]
        failures = [
            (p, d) for p, t in zip(paragraphs, per_paragraph) if (d := detokenize(t)) != p
        ]
        ok_share = 100 * (1 - len(failures) / len(paragraphs))
        balance = balanced(per_paragraph)
        balance_share = 100 * sum(balance) / len(balance)
        worst = min(worst, ok_share)
        print(
            f"{path.name:36} {len(paragraphs):>10} {ok_share:>9.2f}% {len(tokens):>8} "
            f"{speed:>6.1f} {detok_speed:>10.1f} {balance_share:>7.2f}%"
        )
        for original, produced in failures[: args.show_failures]:
            show_diff("round trip", original, produced)
        unbalanced = [p for p, ok in zip(per_paragraph, balance) if not ok]
        for tokens_of_p in unbalanced[: args.show_unbalanced]:
            print("  --- unbalanced:", " ".join(tokens_of_p))

    reference = SHARED / "pride-and-prejudice.txt"
    if reference.exists():
        speeds = markovify_speeds(reference.read_text(encoding="utf-8"))
        if speeds is not None:
            print(f"\nreference on {reference.name}: markovify sentence+word split")
            print(f"  {speeds[0]:.1f} MB/s, markovify.Text (split + chain) {speeds[1]:.1f} MB/s")
    print(f"worst round trip: {worst:.2f}% (target >= 99.5% per book)")
    return 0 if worst >= 99.5 else 1


if __name__ == "__main__":
    sys.exit(main())
