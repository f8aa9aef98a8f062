#!/usr/bin/env python3
"""Benchmark: genlab's Kneser-Ney scoring vs nltk.lm and KenLM, in the same run.

A script, not a timed test. Chains of order 3 are trained on one novel of ../shared/corpora
and score a 100 KB held-out text from another. Everything is measured on the same
pre-tokenized text (genlab's tokenizer, one sentence per line); genlab's own tokenizing time
is reported separately.

  scoring     tokens/s (words plus one </s> per sentence): genlab (string -> id lookup and
              Kneser-Ney back-off, numpy), KenLM's Python module (Model.score per sentence)
              reading genlab's ARPA, nltk.lm KneserNeyInterpolated (capped: it is slow)
  estimation  genlab: Kneser-Ney estimate from the training tokens; nltk.lm: fit;
              at 16x the six novels: genlab `train --tokenized` + estimate (+ writing the ARPA)
              against KenLM's lmplz -o 3 (when it is installed: GENLAB_LMPLZ or on PATH)
  perplexity  per token, genlab vs KenLM on genlab's ARPA (must agree to 1e-4 per sentence)
              and nltk.lm (on the tokens it scored)

Usage: .venv/bin/python bench/perplexity.py [--train NAME] [--held NAME] [--nltk-seconds 20] [--no-16x]
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT.parent / "shared" / "corpora"
HELD_BYTES = 100_000

# targets from the issue
NLTK_SPEEDUP = 1000.0
KENLM_SHARE = 1 / 3
LMPLZ_RATIO = 3.0


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def sentences(text: str) -> list[list[str]]:
    """genlab tokens, one sentence per list (split after . ! ? tokens and at paragraph ends)."""
    from genlab.markov import tokenize as tok

    out: list[list[str]] = []
    for p in tok.split_paragraphs(text):
        current: list[str] = []
        for t in tok.tokenize_paragraph(p):
            current.append(t)
            if t in (".", "!", "?"):
                out.append(current)
                current = []
        if current:
            out.append(current)
    return out


def read(name: str) -> str:
    from genlab.gutenberg import strip_gutenberg

    return strip_gutenberg((CORPORA / f"{name}.txt").read_text(encoding="utf-8-sig"))


def write_lines(path: Path, lines: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for s in lines:
            fh.write(" ".join(s) + "\n")


def best_of(n: int, fn):
    best, result = math.inf, None
    for _ in range(n):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return best, result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", default="pride-and-prejudice")
    ap.add_argument("--held", default="frankenstein")
    ap.add_argument("--nltk-seconds", type=float, default=20.0)
    ap.add_argument("--no-16x", action="store_true", help="skip the estimation race at 16x")
    args = ap.parse_args(argv)
    if not CORPORA.is_dir():
        print(f"skipped: {CORPORA} is absent")
        return 0
    from genlab.markov.model import train

    work = Path(tempfile.mkdtemp(prefix="genlab-ppl-"))
    try:
        held_text = read(args.held).encode("utf-8")[-HELD_BYTES:].decode("utf-8", "ignore")
        held_text = held_text[held_text.find("\n\n") + 2:]  # start at a paragraph
        t0 = time.perf_counter()
        held = sentences(held_text)
        tokenize_s = time.perf_counter() - t0
        train_lines = sentences(read(args.train))
        write_lines(work / "train.tok", train_lines)
        n_tokens = sum(len(s) + 1 for s in held)
        log(f"held-out: {len(held_text.encode()):,} bytes of {args.held}, {len(held):,} sentences, "
            f"{n_tokens:,} tokens (genlab tokenized it in {tokenize_s:.3f} s)")

        rows: list[tuple[str, ...]] = []
        # --- genlab
        est_s, model = best_of(3, lambda: train([(work / "train.tok", 1.0)], order=3, tokenized=True))
        kn_s, kn = best_of(3, lambda: fresh_kneser_ney(model))

        def genlab_score():
            return kn.log10_scores(kn.encode(held))

        genlab_score()  # builds the lookup tables once, as loading KenLM's ARPA does

        g_s, g_scores = best_of(5, genlab_score)
        g_tps = n_tokens / g_s
        g_log10 = float(g_scores.sum())
        rows.append(("genlab", f"{g_tps:,.0f}", f"{kn_s:.3f} (+{est_s:.3f} counting)", _ppl(g_log10, n_tokens)))

        # --- KenLM on genlab's ARPA
        try:
            import kenlm
        except ImportError:
            kenlm = None
        k_tps = None
        if kenlm is not None:
            arpa = work / "genlab.arpa"
            with arpa.open("w", encoding="utf-8") as fh:
                kn.write_arpa(fh)
            km = kenlm.Model(str(arpa))
            joined = [" ".join(s) for s in held]
            k_s, k_total = best_of(5, lambda: sum(km.score(s) for s in joined))
            k_tps = n_tokens / k_s
            worst = 0.0
            per_sentence = np.split(g_scores, np.cumsum([len(s) + 2 for s in held])[:-1])
            for s, ours in zip(joined, per_sentence):
                worst = max(worst, abs(float(ours[1:].sum()) - sum(p for p, _, _ in km.full_scores(s))))
            rows.append(("KenLM (Python) on genlab's ARPA", f"{k_tps:,.0f}", "–", _ppl(k_total, n_tokens)))
            log(f"genlab vs KenLM: worst sentence difference {worst:.2e} (log10)")
        else:
            log("kenlm is not installed: pip install kenlm")

        # --- nltk.lm
        n_tps = None
        try:
            from nltk.lm import KneserNeyInterpolated
            from nltk.lm.preprocessing import padded_everygram_pipeline
        except ImportError:
            KneserNeyInterpolated = None
        if KneserNeyInterpolated is not None:
            t0 = time.perf_counter()
            lm = KneserNeyInterpolated(3)
            grams, vocab = padded_everygram_pipeline(3, train_lines)
            lm.fit(grams, vocab)
            n_fit = time.perf_counter() - t0
            scored, total, zero, n_sent = 0, 0.0, 0, 0
            t0 = time.perf_counter()
            for s in held:
                n_sent += 1
                padded = ["<s>", "<s>", *s, "</s>"]
                for i in range(2, len(padded)):
                    p = lm.score(padded[i], padded[i - 2:i])
                    scored += 1
                    if p > 0:
                        total += math.log10(p)
                    else:
                        zero += 1
                if time.perf_counter() - t0 > args.nltk_seconds:
                    break
            n_s = time.perf_counter() - t0
            n_tps = scored / n_s
            ppl = "inf" if zero else f"{10 ** (-total / scored):.2f}"
            same = float(g_scores[:sum(len(x) + 2 for x in held[:n_sent])].sum())
            rows.append((f"nltk.lm KneserNeyInterpolated ({scored:,} tokens, {zero} at p=0)",
                         f"{n_tps:,.1f}", f"{n_fit:.2f}", f"{ppl} (genlab on them: {_ppl(same, scored)})"))

        print(f"\n## Kneser-Ney scoring, order 3: trained on {args.train}, {len(held_text.encode()):,} bytes of "
              f"{args.held} held out\n")
        print("| scorer | tokens/s | estimation s | perplexity (per token) |")
        print("|---|---|---|---|")
        for r in rows:
            print("| " + " | ".join(r) + " |")
        print()
        print(f"genlab tokenizing the held-out text (not in the tokens/s above): {tokenize_s:.3f} s")
        if n_tps:
            verdict = "PASS" if g_tps / n_tps >= NLTK_SPEEDUP else "MISS"
            print(f"- genlab / nltk.lm scoring speed: {g_tps / n_tps:,.0f}x (target >= {NLTK_SPEEDUP:.0f}x) {verdict}")
        if k_tps:
            verdict = "PASS" if g_tps / k_tps >= KENLM_SHARE else "MISS"
            print(f"- genlab / KenLM scoring speed: {g_tps / k_tps:.2f} (target >= {KENLM_SHARE:.2f}) {verdict}")
        if not args.no_16x:
            race_16x(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def fresh_kneser_ney(model):
    """The chain's Kneser-Ney model made again, as genlab makes it (from the chain's counts
    when they can serve), not taken from the cache on the model."""
    from genlab.markov.scoring import kneser_ney

    model.__dict__.pop("_kneser_ney", None)
    return kneser_ney(model)


def _ppl(log10_total: float | None, tokens: int) -> str:
    return "–" if log10_total is None else f"{10 ** (-log10_total / tokens):.2f}"


def race_16x(work: Path) -> None:
    """Estimation time at 16x the six novels: genlab vs lmplz (when installed)."""
    from genlab.markov.model import train
    from genlab.markov.scoring import kneser_ney

    names = sorted(p.stem for p in CORPORA.glob("*.txt"))
    lines: list[list[str]] = []
    for name in names:
        lines.extend(sentences(read(name)))
    path = work / "all-x16.tok"
    with path.open("w", encoding="utf-8") as fh:
        block = "".join(" ".join(s) + "\n" for s in lines)
        for _ in range(16):
            fh.write(block)
    size = path.stat().st_size
    log(f"16x: {size / 1e6:.1f} MB of pre-tokenized text")
    t0 = time.perf_counter()
    model = train([(path, 1.0)], order=3, tokenized=True)
    kn = kneser_ney(model)
    g_est = time.perf_counter() - t0
    t0 = time.perf_counter()
    with (work / "x16.arpa").open("w", encoding="utf-8") as fh:
        kn.write_arpa(fh)
    g_arpa = time.perf_counter() - t0
    print(f"\n## Estimation at 16x ({size / 1e6:.1f} MB pre-tokenized, order 3)\n")
    print(f"- genlab train --tokenized + Kneser-Ney: {g_est:.2f} s; writing the ARPA: {g_arpa:.2f} s "
          f"({sum(kn.sizes):,} n-grams)")
    lmplz = os.environ.get("GENLAB_LMPLZ") or shutil.which("lmplz")
    if not lmplz:
        print("- lmplz not installed: absolute time only (set GENLAB_LMPLZ=/path/to/lmplz)")
        return
    t0 = time.perf_counter()
    with path.open("rb") as src, (work / "lmplz.arpa").open("wb") as dst:
        subprocess.run([lmplz, "-o", "3", "-S", "1G", "-T", str(work), "--discount_fallback"], stdin=src, stdout=dst,
                       stderr=subprocess.DEVNULL, check=True)
    l_s = time.perf_counter() - t0
    print(f"- lmplz -o 3 --discount_fallback (reads the text, writes the ARPA): {l_s:.2f} s (16 copies leave no "
          "n-gram seen once or twice, so modified Kneser-Ney needs the fallback discounts in both tools)")
    for what, g in (("estimate", g_est), ("estimate + ARPA", g_est + g_arpa)):
        verdict = "PASS" if g <= LMPLZ_RATIO * l_s else "MISS"
        print(f"- genlab {what} / lmplz: {g / l_s:.2f} (target <= {LMPLZ_RATIO:.0f}) {verdict}")


if __name__ == "__main__":
    sys.exit(main())
