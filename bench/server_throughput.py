#!/usr/bin/env python3
"""Benchmark: `genlab compare` throughput through a local llama.cpp server vs in process.

A script, not a timed test. One project-built GGUF (random weights, 4 layers × 256: a model
whose tokens take real time) is served by `python -m llama_cpp.server` on 127.0.0.1; the same
compare (built-in prompts, fixed seeds, fixed max_tokens) runs through it at --concurrency 1,
2, 4 and 8, and once through the in-process LlamaGenerator. Printed: samples/s and the ratio
to in-process, all from the same run.

llama-cpp-python's server holds one model and one context, so it answers one request at a
time (concurrent requests queue, with --interrupt_requests false): concurrency there can only
hide the HTTP round trips. Servers with parallel slots (llama.cpp's own `llama-server -np N`,
vLLM) gain from it much more.

Usage: .venv/bin/python bench/server_throughput.py [--samples 4] [--max-tokens 96] [--threads 2]
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(model: Path, log: Path, threads: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
           "--port", str(port), "--n_ctx", "256", "--n_threads", str(threads), "--verbose", "false",
           "--interrupt_requests", "false"]
    proc = subprocess.Popen(cmd, stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"llama_cpp.server exited: {log.read_text(errors='replace')[-1500:]}")
        try:
            with urllib.request.urlopen(url + "/models", timeout=2):
                return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("llama_cpp.server did not start within 90 s")


def time_samples(backend: str, work: Path, name: str, samples: int, max_tokens: int, concurrency: int,
                 threads: int) -> tuple[float, int]:
    """Seconds to make every sample of a compare (the library's run_samples: generation and
    saving, not start-up or measuring), and how many were made."""
    from genlab.eval.compare import CompareSettings, run_samples
    from genlab.backends import load_backend
    from genlab.sampling import Sampling

    settings = CompareSettings(backends=(backend,), samples=samples, seed=1, sampling=Sampling(max_tokens=max_tokens))
    out = work / name
    out.mkdir()
    options = {"n_threads": threads} if backend.startswith("llama:") else {}
    gen = load_backend(backend, **options)  # loaded before the clock starts
    started = time.perf_counter()
    run_samples(settings, out, lambda _: gen, concurrency=concurrency)
    seconds = time.perf_counter() - started
    return seconds, len((out / "samples.jsonl").read_text(encoding="utf-8").splitlines())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=96)
    ap.add_argument("--threads", type=int, default=2, help="llama.cpp threads, server and in process")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from genlab.llama.tiny import build_tiny_model

    work = Path(tempfile.mkdtemp(prefix="genlab-server-bench-"))
    model = build_tiny_model(work / "m.gguf", seed=1, layers=4, dim=256, heads=4, context=256)
    rows = []
    seconds, count = time_samples(f"llama:{model}", work, "inprocess", args.samples, args.max_tokens, 1, args.threads)
    rows.append(("in process (LlamaGenerator)", "–", count, seconds))
    proc, url = start_server(model, work / "server.log", args.threads)
    try:
        for concurrency in (1, 2, 4, 8):
            seconds, count = time_samples(f"openai:{url}", work, f"server{concurrency}", args.samples,
                                          args.max_tokens, concurrency, args.threads)
            rows.append(("llama_cpp.server", str(concurrency), count, seconds))
    finally:
        proc.terminate()
        proc.wait(10)
    base = rows[0][2] / rows[0][3]
    print(f"\ncompare of {rows[0][2]} samples (max {args.max_tokens} tokens, built-in prompts), "
          f"4 × 256 random GGUF, {args.threads} llama.cpp threads\n")
    print("| backend | concurrency | samples | seconds | samples/s | vs in process |\n|---|---:|---:|---:|---:|---:|")
    for name, conc, count, seconds in rows:
        rate = count / seconds
        print(f"| {name} | {conc} | {count} | {seconds:.1f} | {rate:.2f} | {rate / base:.2f}× |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
