#!/usr/bin/env python3
"""Benchmark: genlab's Markov chain vs markovify 0.9.4, in the same run.

A script, not a timed test.  For every corpus (each novel in ../shared/corpora, and all of them
concatenated 1x, 4x and 16x, about 50 MB) and every order (genlab order N vs markovify
state_size N), each tool is measured in a FRESH child process (this script re-run with the
hidden --worker option), so its peak memory is its own.  Timing happens inside the child with
time.perf_counter() around the work only: interpreter start-up and imports are excluded
(markovify builds one novel in about 0.25 s, so start-up would swamp the ratio).

Measured per (tool, corpus, order):
  train s     read the file + build the model (genlab: train(); markovify: Text(text, N))
  peak MB     the child's peak RSS (VmHWM; see rss_mb) after train + save + generation, i.e. the
              whole-process high-water mark, interpreter and imports included.  "+MB" is the
              same minus the RSS right after imports (what the work itself added); "after
              train" is the high-water mark before save and generation.
  file MB     genlab: save(model) (.markov); markovify: model.to_json() written to a file
  save s      time of that save
  load s      genlab: load(path); markovify: Text.from_json(file contents)
  sent/s      make_sentence() calls per second (defaults: tries=10, overlap test on); "ok/N"
              is how many of the N calls returned a sentence.  Calls stop early at a time cap
              (--gen-seconds), and the rate is then what was done in that time.
  balanced %  share of the produced sentences with balanced quotes, judged by genlab's
              balance_problems(tok.tokenize(sentence)) for both tools
  used %      share of the corpus the model trained on: markovify, sentences kept by its input
              test / sentences its splitter finds; genlab, tokens (see run_genlab)

Usage:
  .venv/bin/python bench/markov_vs_markovify.py              # everything (~6-15 min on 2 cores)
  .venv/bin/python bench/markov_vs_markovify.py --quick      # six novels + 1x, fewer sentences
  options: --only NAME[,NAME]  --sizes 1,4,16  --orders 2,3  --sentences 1000
           --gen-seconds 60  --tools genlab,markovify  --json OUT  --workdir DIR
           --report-from OUT.json   (print the tables again from a saved --json file)
Progress goes to stderr; the markdown tables go to stdout.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT.parent / "shared" / "corpora"
TOOLS = ("markovify", "genlab")
MB = 1 << 20  # sizes and memory are reported in MiB

# targets from the issue
TRAIN_SPEEDUP = 5.0   # at 16x: genlab trains >= 5x faster
MEMORY_RATIO = 0.25   # at 16x: genlab peak memory <= 1/4 of markovify's
FILE_RATIO = 0.25     # at 16x: genlab file <= 1/4 of markovify's JSON
GEN_SPEEDUP = 5.0     # everywhere: >= 5x the sentences per second
BALANCED = 100.0      # everywhere: 100% balanced quotes
USED = 95.0           # everywhere: >= 95% of the corpus used
LINEAR_SLACK = 1.3    # "linear": seconds per MB at 16x within 1.3x of that at 1x


WARMUP_TEXT = "It was warm. Then it was not warm at all. And it was warm again!"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def rss_mb() -> float:
    """Peak RSS of this process so far, in MiB.

    On Linux this is VmHWM from /proc/self/status, not ru_maxrss: the kernel carries
    ru_maxrss over exec from the forking parent (subprocess uses vfork), so a child's
    ru_maxrss is never below the parent's peak.  VmHWM belongs to the child's own memory map.
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return peak / 1024 if sys.platform != "darwin" else peak / MB


def read_text(path: Path) -> str:
    return path.read_text(encoding="utf-8-sig")


# =============================================================================================
# worker: one tool, one corpus, one order, in its own process
# =============================================================================================


def genlab_fingerprint() -> str:
    """Short hash of genlab's Python sources as this process sees them.

    genlab is edited while benchmarks run; if the workers of one run saw different sources,
    the report says so rather than mixing versions silently.
    """
    import hashlib

    h = hashlib.sha256()
    pkg = ROOT / "genlab"
    for p in sorted(pkg.rglob("*.py")):
        h.update(str(p.relative_to(pkg)).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:10]


def worker(spec: dict) -> dict:
    res: dict = {k: spec[k] for k in ("tool", "corpus", "order", "size_class", "corpus_mb")}
    res["genlab_sources"] = genlab_fingerprint()  # before imports: what they are about to read
    res["stage"] = "imports"
    try:
        if spec["tool"] == "markovify":
            run_markovify(spec, res)
        else:
            run_genlab(spec, res)
        res["stage"] = "done"
    except BaseException as e:  # record it and let the parent carry on
        res["error"] = f"{type(e).__name__}: {e}"
        res["traceback"] = traceback.format_exc()
        log(f"  ERROR in {spec['tool']} {spec['corpus']} order {spec['order']} "
            f"at stage {res['stage']}:\n{res['traceback']}")
    return res


def generate(make, n: int, cap_s: float, label: str) -> tuple[list[str], dict]:
    """Call make() up to n times or until cap_s seconds have passed."""
    out: list[str] = []
    calls = 0
    first = None
    t0 = time.perf_counter()
    last_report = t0
    capped = False
    while calls < n:
        s = make()
        calls += 1
        now = time.perf_counter()
        if first is None:
            first = now - t0
        if s is not None:
            out.append(s)
        if now - last_report > 15:
            log(f"    {label}: {calls} calls, {len(out)} sentences, {now - t0:.0f} s")
            last_report = now
        if now - t0 >= cap_s and calls < n:
            capped = True
            break
    secs = time.perf_counter() - t0
    return out, {
        "calls": calls,
        "ok": len(out),
        "gen_s": secs,
        "first_call_s": first or 0.0,
        "sent_per_s": calls / secs if secs > 0 else None,
        "ok_per_s": len(out) / secs if secs > 0 else None,
        "capped": capped,
        "requested": n,
    }


def quote_balance(sentences: list[str]) -> dict:
    from genlab.markov import tokenize as tok
    from genlab.markov.quotes import balance_problems

    bad = [s for s in sentences if balance_problems(tok.tokenize(s))]
    n = len(sentences)
    return {
        "balanced": n - len(bad),
        "balance_checked": n,
        "balanced_pct": 100.0 * (n - len(bad)) / n if n else None,
        "unbalanced_examples": bad[:5],
    }


def finish_run(res: dict, sentences: list[str], generation: dict, out: Path, load_model,
               check=lambda loaded: {}) -> None:
    """The steps both tools share after generating: the peak memory figures, then (not counted
    in the peak) the time to load the saved model back, and the quote balance of the output.
    `check(loaded)` adds tool-specific facts about the reloaded model."""
    res.update(generation)
    res["peak_mb"] = rss_mb()  # main figure: train + save + generation
    res["peak_minus_imports_mb"] = res["peak_mb"] - res["rss_after_imports_mb"]

    res["stage"] = "load"
    t0 = time.perf_counter()
    loaded = load_model(out)
    res["load_s"] = time.perf_counter() - t0
    res.update(check(loaded))
    del loaded
    out.unlink()

    res["stage"] = "quotes"
    res.update(quote_balance(sentences))
    res["examples"] = sentences[:3]


def run_markovify(spec: dict, res: dict) -> None:
    import random

    import markovify

    path, order, work = Path(spec["path"]), spec["order"], Path(spec["workdir"])
    res["tool_version"] = markovify.__version__ if hasattr(markovify, "__version__") else "?"
    # Warm-up, not timed as training: a two-sentence model, so one-time lazy set-up (compiled
    # regexes, lazily loaded tables) is not charged to the first real build.  Same for genlab.
    t0 = time.perf_counter()
    markovify.Text(WARMUP_TEXT, state_size=order)
    res["warmup_s"] = time.perf_counter() - t0
    res["rss_after_imports_mb"] = rss_mb()

    res["stage"] = "train"
    t0 = time.perf_counter()
    text = read_text(path)
    t1 = time.perf_counter()
    model = markovify.Text(text, state_size=order)
    t2 = time.perf_counter()
    res["read_s"] = t1 - t0
    res["train_s"] = t2 - t0  # read + build, like genlab's train() which reads the file itself
    res["peak_after_train_mb"] = rss_mb()
    log(f"    markovify built in {res['train_s']:.2f} s")

    res["stage"] = "save"
    out = work / f"markovify-{spec['corpus']}-{order}.json"
    t0 = time.perf_counter()
    js = model.to_json()
    out.write_text(js, encoding="utf-8")
    res["save_s"] = time.perf_counter() - t0
    res["file_bytes"] = out.stat().st_size
    del js
    res["peak_after_save_mb"] = rss_mb()

    res["stage"] = "generate"
    random.seed(spec["seed"])
    sentences, g = generate(model.make_sentence, spec["sentences"], spec["gen_seconds"],
                            "markovify")
    finish_run(res, sentences, g, out, lambda p: markovify.Text.from_json(p.read_text(encoding="utf-8")))

    # Share of corpus sentences used: markovify drops every sentence its input test rejects
    # (quotes, parentheses...).  Its own splitter finds the corpus sentences (empty strings,
    # which its input test drops as non-sentences, are not counted).
    res["stage"] = "corpus share"
    found = [s for s in markovify.split_into_sentences(text) if s.strip()]
    res["corpus_units"] = len(found)
    res["used_units"] = len(model.parsed_sentences)
    res["used_pct"] = 100.0 * len(model.parsed_sentences) / len(found) if found else None
    res["used_what"] = "sentences"


def run_genlab(spec: dict, res: dict) -> None:
    import random

    import numpy as np

    import genlab
    import genlab.corpus  # noqa: F401  (train() imports it lazily; an import, so not timed)
    from genlab.markov import tokenize as tok
    from genlab.markov.generator import MarkovGenerator
    from genlab.markov.model import train
    from genlab.markov.store import load, save

    path, order, work = Path(spec["path"]), spec["order"], Path(spec["workdir"])
    res["tool_version"] = getattr(genlab, "__version__", "?")
    t0 = time.perf_counter()
    train([("warmup", 1.0)], order=order, texts=[WARMUP_TEXT])
    res["warmup_s"] = time.perf_counter() - t0
    res["rss_after_imports_mb"] = rss_mb()

    res["stage"] = "train"
    t0 = time.perf_counter()
    model = train([(path, 1.0)], order=order)
    res["train_s"] = time.perf_counter() - t0
    res["peak_after_train_mb"] = rss_mb()
    res["training_tokens"] = int(len(model.text_ids))
    log(f"    genlab trained in {res['train_s']:.2f} s ({res['training_tokens']:,} tokens)")

    res["stage"] = "save"
    out = work / f"genlab-{spec['corpus']}-{order}.markov"
    t0 = time.perf_counter()
    save(model, out)
    res["save_s"] = time.perf_counter() - t0
    res["file_bytes"] = out.stat().st_size
    res["peak_after_save_mb"] = rss_mb()

    res["stage"] = "generate"
    t0 = time.perf_counter()
    gen = MarkovGenerator(model)
    res["gen_setup_s"] = time.perf_counter() - t0
    rng = random.Random(spec["seed"])
    sentences, g = generate(lambda: gen.make_sentence(rng=rng), spec["sentences"],
                            spec["gen_seconds"], "genlab")
    finish_run(res, sentences, g, out, load,
               check=lambda loaded: {"load_same_tokens": bool(np.array_equal(loaded.text_ids, model.text_ids))})

    # Share of the corpus used.  genlab has no input filter: it trains on every paragraph, so
    # counting "sentences that survived a filter" would be 100% by construction.  Measured
    # honestly instead: the corpus's tokens (tok.tokenize of the whole text, paragraph marks
    # left out) against the tokens that made it into the model's training stream
    # (model.text_ids, paragraph marks left out).  Anything the trainer dropped shows here.
    res["stage"] = "corpus share"
    text = read_text(path)
    tokens = tok.tokenize(text)
    corpus_tokens = sum(1 for t in tokens if t != tok.PARAGRAPH)
    para = model.paragraph_id
    used = int(len(model.text_ids) - np.count_nonzero(model.text_ids == para))
    res["corpus_units"] = corpus_tokens
    res["used_units"] = used
    res["used_pct"] = 100.0 * used / corpus_tokens if corpus_tokens else None
    res["used_what"] = "tokens"


def worker_main(spec_json: str) -> int:
    spec = json.loads(spec_json)
    res = worker(spec)
    Path(spec["result"]).write_text(json.dumps(res, indent=1), encoding="utf-8")
    return 0


# =============================================================================================
# parent: build the corpora, run the workers, print the tables
# =============================================================================================


def build_corpora(args, work: Path) -> list[dict]:
    novels = sorted(CORPORA.glob("*.txt"))
    out: list[dict] = []
    for p in novels:
        out.append({"corpus": p.stem, "path": str(p), "size_class": "novel"})
    if args.sizes:
        joined = "\n\n".join(read_text(p).strip("\n") for p in novels)
        for k in args.sizes:
            name = f"all-x{k}"
            if args.only and name not in args.only:
                continue
            dest = work / f"{name}.txt"
            with dest.open("w", encoding="utf-8") as fh:  # streamed: keep this process small
                for i in range(k):
                    fh.write(("\n\n" if i else "") + joined)
                fh.write("\n")
            out.append({"corpus": name, "path": str(dest), "size_class": f"{k}x"})
    if args.only:
        out = [c for c in out if c["corpus"] in args.only]
    for c in out:
        c["corpus_mb"] = Path(c["path"]).stat().st_size / MB
    return out


def run_one(spec: dict, work: Path, timeout: float) -> dict:
    result = work / f"result-{spec['tool']}-{spec['corpus']}-{spec['order']}.json"
    spec = dict(spec, result=str(result), workdir=str(work))
    base = {k: spec[k] for k in ("tool", "corpus", "order", "size_class", "corpus_mb")}
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker",
                               json.dumps(spec)], stdout=subprocess.PIPE, stderr=None,
                              timeout=timeout, cwd=str(ROOT))
    except subprocess.TimeoutExpired:
        return dict(base, error=f"worker timed out after {timeout:.0f} s", stage="?")
    wall = time.perf_counter() - t0
    if not result.exists():
        tail = proc.stdout.decode(errors="replace")[-2000:]
        return dict(base, error=f"worker exited with code {proc.returncode}, no result {tail}",
                    stage="?")
    res = json.loads(result.read_text(encoding="utf-8"))
    result.unlink()
    res["process_wall_s"] = wall
    if proc.returncode != 0 and "error" not in res:
        res["error"] = f"worker exited with code {proc.returncode}"
    return res


# --- formatting ----------------------------------------------------------------------------


def f(x, fmt: str = ".2f", none: str = "–") -> str:
    return none if x is None else format(x, fmt)


def ratio(a, b):
    return a / b if a is not None and b not in (None, 0) else None


def verdict(ok: bool | None) -> str:
    return "–" if ok is None else ("PASS" if ok else "**MISS**")


def md_table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def result_row(r: dict) -> list[str]:
    err = r.get("error")
    if err and r.get("train_s") is None:
        cells = [r["corpus"], str(r["order"]), r["tool"], f"ERROR ({r.get('stage')}): {err}"]
        return cells + [""] * (len(RESULT_HEAD) - len(cells))
    n = r.get("calls")
    ok = f"{r.get('ok')}/{n}" + ("*" if r.get("capped") else "") if n is not None else "–"
    fb = r.get("file_bytes")
    row = [
        r["corpus"], str(r["order"]), r["tool"],
        f(r.get("train_s"), ".3f"),
        f(r.get("peak_mb"), ".0f"),
        f(r.get("peak_minus_imports_mb"), ".0f"),
        f(r.get("peak_after_train_mb"), ".0f"),
        f(fb / MB if fb is not None else None, ".2f"),
        f(r.get("save_s"), ".2f"),
        f(r.get("load_s"), ".2f"),
        f(r.get("sent_per_s"), ".1f"),
        f(r.get("first_call_s", None) if r.get("calls") else None, ".3f"),
        ok,
        f(r.get("balanced_pct"), ".1f")
        + (f" ({r['balance_checked']})" if r.get("balance_checked") is not None else ""),
        f(r.get("used_pct"), ".1f") + (f" {r['used_what']}" if r.get("used_what") else ""),
    ]
    if err:
        row[-1] += f" — ERROR at {r.get('stage')}: {err}"
    return row


RESULT_HEAD = ["corpus", "order", "tool", "train s", "peak RSS MB", "+MB over imports",
               "peak RSS after train MB", "file MB",
               "save s", "load s", "sent/s", "1st call s", "ok/N", "balanced % (n)", "corpus used %"]


def ratio_rows(results: list[dict], size_class: str) -> tuple[list[list[str]], list[dict]]:
    judged_16 = size_class == "16x"
    rows, verdicts = [], []
    by = {(r["corpus"], r["order"], r["tool"]): r for r in results}
    for corpus, order in dict.fromkeys((r["corpus"], r["order"]) for r in results):
        g, m = by.get((corpus, order, "genlab")), by.get((corpus, order, "markovify"))
        if not g or not m:
            continue
        tr = ratio(m.get("train_s"), g.get("train_s"))
        mem = ratio(g.get("peak_mb"), m.get("peak_mb"))
        memd = ratio(g.get("peak_minus_imports_mb"), m.get("peak_minus_imports_mb"))
        memt = ratio(g.get("peak_after_train_mb"), m.get("peak_after_train_mb"))
        fil = ratio(g.get("file_bytes"), m.get("file_bytes"))
        gen = ratio(g.get("sent_per_s"), m.get("sent_per_s"))
        gen_ok = ratio(g.get("ok_per_s"), m.get("ok_per_s"))
        bal, used = g.get("balanced_pct"), g.get("used_pct")
        v = {
            "corpus": corpus, "order": order,
            "train_speedup": tr, "memory_ratio": mem, "memory_ratio_over_imports": memd,
            "memory_ratio_after_train": memt, "file_ratio": fil, "gen_speedup": gen, "gen_speedup_ok": gen_ok,
            "train": (tr is not None and tr >= TRAIN_SPEEDUP) if judged_16 else None,
            "memory": (mem is not None and mem <= MEMORY_RATIO) if judged_16 else None,
            "file": (fil is not None and fil <= FILE_RATIO) if judged_16 else None,
            "gen": gen is not None and gen >= GEN_SPEEDUP,
            "balanced": bal is not None and bal >= BALANCED,
            "used": used is not None and used >= USED,
            "genlab_error": g.get("error"),
        }
        verdicts.append(v)
        rows.append([
            corpus, str(order),
            f"{f(tr, '.2f')}× {verdict(v['train'])}",
            f"{f(mem, '.3f')} {verdict(v['memory'])}",
            f(memd, ".3f"),
            f(memt, ".3f"),
            f"{f(fil, '.3f')} {verdict(v['file'])}",
            f"{f(gen, '.1f')}× {verdict(v['gen'])}",
            f"{f(gen_ok, '.1f')}×",
            f"{f(bal, '.1f')} {verdict(v['balanced'])}",
            f"{f(used, '.1f')} {verdict(v['used'])}",
        ])
    return rows, verdicts


RATIO_HEAD = ["corpus", "order", "train speed-up (mfy s / genlab s)",
              "memory ratio (genlab/mfy peak RSS)", "(+MB over imports ratio)",
              "(peak after train ratio)",
              "file ratio (genlab/mfy JSON)", "generation speed-up (calls/s)",
              "(successful sentences/s)", "genlab balanced %", "genlab corpus used %"]


def linearity(results: list[dict], sizes: list[int], orders: list[int]) -> tuple[str, list[dict]]:
    lines, out = [], []
    by = {(r["corpus"], r["order"], r["tool"]): r for r in results}
    if len(sizes) < 2:
        return "", out
    lo, hi = min(sizes), max(sizes)
    head = ["tool", "order"] + [f"{k}× s/MB" for k in sizes] + [f"{hi}×/{lo}× s/MB", "linear?"]
    rows = []
    for tool in ("genlab", "markovify"):
        for order in orders:
            per = {}
            for k in sizes:
                r = by.get((f"all-x{k}", order, tool))
                if r and r.get("train_s") is not None:
                    per[k] = r["train_s"] / r["corpus_mb"]
            q = ratio(per.get(hi), per.get(lo))
            ok = None if q is None else q <= LINEAR_SLACK
            out.append({"tool": tool, "order": order, "s_per_mb": per, "ratio": q, "linear": ok})
            rows.append([tool, str(order)] + [f(per.get(k), ".3f") for k in sizes]
                        + [f(q, ".2f"), verdict(ok) if tool == "genlab" else f"({verdict(ok)})"])
    lines.append(md_table(head, rows))
    lines.append(f"\n(train seconds per MiB of corpus; \"linear\" means the {hi}×/{lo}× ratio "
                 f"is ≤ {LINEAR_SLACK}; judged for genlab, markovify's shown for reference)")
    return "\n".join(lines), out


def report(results: list[dict], args, corpora: list[dict]) -> tuple[str, dict]:
    classes = list(dict.fromkeys(c["size_class"] for c in corpora))
    out = ["# genlab vs markovify 0.9.4", ""]
    out.append(f"Orders {args.orders}; up to {args.sentences} make_sentence() calls per model, "
               f"capped at {args.gen_seconds:.0f} s of generation (ok/N marked * when the cap "
               f"stopped it; the rate is then from the calls done).  Each measurement in a fresh "
               f"process; times inside it with perf_counter (start-up, imports and a two-sentence "
               f"warm-up build excluded).  MB = MiB.  **peak RSS MB** is the child's "
               f"peak RSS (VmHWM: its own high-water mark; ru_maxrss would include the "
               f"parent's) after train + save + generation, whole process: the main memory "
               f"figure.  \"+MB over imports\" is that minus the RSS after imports; "
               f"\"peak RSS after train\" is the high-water mark "
               f"right after training (before save and generation).  sent/s "
               f"counts every call, the first one included (\"1st call s\": genlab builds its "
               f"overlap index lazily on it).  train s includes reading the file for both tools.  "
               f"corpus used %: markovify = its parsed sentences / sentences its "
               f"splitter finds; genlab = tokens in the training stream / tokens in the corpus.  "
               f"The all-xK corpora are K verbatim copies of the six novels joined, so a model "
               f"file that compresses its training text gains from the repetition.")
    out.append("")
    all_verdicts = []
    for cls in classes:
        rs = [r for r in results if r["size_class"] == cls]
        if not rs:
            continue
        mbs = sorted({round(r["corpus_mb"], 1) for r in rs})
        out.append(f"## {cls} ({', '.join(f'{m} MB' for m in mbs)})")
        out.append("")
        out.append(md_table(RESULT_HEAD, [result_row(r) for r in rs]))
        out.append("")
        rows, verdicts = ratio_rows(rs, cls)
        for v in verdicts:
            v["size_class"] = cls
        all_verdicts += verdicts
        if rows:
            judged = "train/memory/file judged here" if cls == "16x" else \
                "train/memory/file targets judged only at 16×"
            out.append(f"### {cls} ratios (targets: train ≥ {TRAIN_SPEEDUP:g}×, memory ≤ "
                       f"{MEMORY_RATIO:g}, file ≤ {FILE_RATIO:g} at 16×; generation ≥ "
                       f"{GEN_SPEEDUP:g}×, {BALANCED:g}% balanced, ≥ {USED:g}% used everywhere; "
                       f"{judged})")
            out.append("")
            out.append(md_table(RATIO_HEAD, rows))
            out.append("")
    sizes = [k for k in args.sizes if any(r["corpus"] == f"all-x{k}" for r in results)]
    lin_text, lin = linearity(results, sizes, args.orders)
    if lin_text:
        out.append("## Linearity (train time per MB)")
        out.append("")
        out.append(lin_text)
        out.append("")
    misses = [(v["size_class"], v["corpus"], v["order"], k) for v in all_verdicts
              for k in ("train", "memory", "file", "gen", "balanced", "used") if v[k] is False]
    misses += [("linearity", "all", row["order"], "linear") for row in lin
               if row["tool"] == "genlab" and row["linear"] is False]
    errors = [r for r in results if r.get("error")]
    out.append("## Summary")
    out.append("")
    prints = list(dict.fromkeys(r.get("genlab_sources") for r in results if r["tool"] == "genlab"))
    if len(prints) > 1:
        out.append(f"**WARNING: genlab's sources changed during the run** ({len(prints)} versions "
                   f"seen; rows are not all from the same code):")
        for fp in prints:
            rows = [f"{r['corpus']}/{r['order']}" for r in results
                    if r["tool"] == "genlab" and r.get("genlab_sources") == fp]
            out.append(f"- genlab sources {fp}: {', '.join(rows)}")
        out.append("")
    elif prints and prints[0]:
        out.append(f"genlab sources fingerprint {prints[0]} (same in every genlab worker).")
        out.append("")
    out.append(f"{len(all_verdicts)} corpus/order pairs compared; "
               f"{len(misses)} target misses; {len(errors)} errors.")
    for m in misses:
        out.append(f"- MISS: {m[0]} {m[1]} order {m[2]}: {m[3]}")
    for r in errors:
        first = (r.get("traceback") or r["error"]).strip().splitlines()[-1]
        out.append(f"- ERROR: {r['tool']} {r['corpus']} order {r['order']} at {r.get('stage')}: "
                   f"{first}")
    return "\n".join(out), {"verdicts": all_verdicts, "linearity": lin, "misses": misses}


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--quick", action="store_true",
                    help="only the six novels and the 1x concatenation, fewer sentences")
    ap.add_argument("--only", help="comma-separated corpus names (novel stem or all-x4 ...)")
    ap.add_argument("--sizes", help="concatenation multiples, e.g. 1,4,16 (default; 'none' for none)")
    ap.add_argument("--orders", default="2,3", help="orders / state sizes (default 2,3)")
    ap.add_argument("--sentences", type=int, help="make_sentence() calls per model (default 1000; "
                    "200 with --quick)")
    ap.add_argument("--gen-seconds", type=float, help="cap on generation time per model "
                    "(default 60; 20 with --quick)")
    ap.add_argument("--tools", default="markovify,genlab", help="which tools (default both)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=1800, help="per-worker timeout, s")
    ap.add_argument("--json", help="write every result and verdict to this file")
    ap.add_argument("--report-from", help="print the tables again from a --json file, run nothing")
    ap.add_argument("--workdir", help="where temp corpora and models go (default: a temp dir)")
    args = ap.parse_args(argv)
    if args.worker:
        return args
    if args.sizes is None:
        args.sizes = "1" if args.quick else "1,4,16"
    args.sizes = [] if args.sizes.strip().lower() in ("", "none", "0") else \
        [int(x) for x in args.sizes.split(",") if x.strip()]
    args.orders = [int(x) for x in args.orders.split(",") if x.strip()]
    args.only = set(x.strip() for x in args.only.split(",")) if args.only else None
    args.tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    bad = [t for t in args.tools if t not in TOOLS]
    if bad:
        ap.error(f"unknown tool(s) {bad}; choose from {TOOLS}")
    if args.sentences is None:
        args.sentences = 200 if args.quick else 1000
    if args.gen_seconds is None:
        args.gen_seconds = 20.0 if args.quick else 60.0
    return args


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.worker:
        return worker_main(args.worker)
    if args.report_from:
        saved = json.loads(Path(args.report_from).read_text(encoding="utf-8"))
        for k in ("sizes", "orders", "sentences", "gen_seconds"):
            setattr(args, k, saved["args"][k])
        results = saved["results"]
        corpora = list({r["corpus"]: r for r in results}.values())
        print(report(results, args, corpora)[0])
        return 0
    if not CORPORA.is_dir() or not any(CORPORA.glob("*.txt")):
        print(f"skipped: no corpora found in {CORPORA}", file=sys.stderr)
        return 0
    made_tmp = args.workdir is None
    work = Path(tempfile.mkdtemp(prefix="markov-bench-")) if made_tmp else Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    results: list[dict] = []
    t_start = time.perf_counter()
    try:
        corpora = build_corpora(args, work)
        if not corpora:
            print(f"nothing to run (--only {sorted(args.only or [])} matched no corpus)",
                  file=sys.stderr)
            return 2
        jobs = [(c, o, t) for c in corpora for o in args.orders for t in args.tools]
        log(f"{len(jobs)} measurements on {len(corpora)} corpora, orders {args.orders}, "
            f"{args.sentences} sentences (cap {args.gen_seconds:.0f} s); work dir {work}")
        for i, (c, order, tool) in enumerate(jobs, 1):
            log(f"[{i}/{len(jobs)}] {tool} {c['corpus']} ({c['corpus_mb']:.1f} MB) order {order}")
            spec = dict(c, order=order, tool=tool, sentences=args.sentences,
                        gen_seconds=args.gen_seconds, seed=args.seed)
            r = run_one(spec, work, args.timeout)
            results.append(r)
            if r.get("error"):
                log(f"    -> ERROR at {r.get('stage')}: {r['error']}")
            else:
                log(f"    -> train {r['train_s']:.2f} s, peak {r['peak_mb']:.0f} MB, file "
                    f"{r['file_bytes'] / MB:.2f} MB, {r['sent_per_s']:.1f} calls/s "
                    f"({r['ok']}/{r['calls']}{', capped' if r['capped'] else ''}), balanced "
                    f"{f(r.get('balanced_pct'), '.1f')}%, used {f(r.get('used_pct'), '.1f')}%")
        text, summary = report(results, args, corpora)
        print(text)
        log(f"total {time.perf_counter() - t_start:.0f} s")
        if args.json:
            Path(args.json).write_text(json.dumps({
                "args": {k: (sorted(v) if isinstance(v, set) else v) for k, v in vars(args).items()},
                "python": sys.version, "results": results, **summary}, indent=1, default=str),
                encoding="utf-8")
            log(f"results written to {args.json}")
    finally:
        if made_tmp:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
