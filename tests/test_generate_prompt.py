"""`genlab generate --prompt` understands llama.cpp's escapes, and --prompt-file reads a prompt
as it is: through the real CLI, on the real SmolLM2-135M-Instruct."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import isolated_env, run_genlab

pytest.importorskip("llama_cpp")

LIST = "A list of reasons never to go outside:\n\n1."


def generate(args: list, tmp_path: Path, stdin: str | bytes | None = None) -> subprocess.CompletedProcess:
    return run_genlab(["generate", *args], cwd=tmp_path, env=isolated_env(tmp_path), input=stdin)


def test_prompt_escapes_reach_the_model_as_a_file_would(smollm2_path, tmp_path):
    greedy = ["-b", f"llama:{smollm2_path}", "--temperature", "0", "--max-tokens", "12"]
    typed = generate([*greedy, "--prompt", r"A list of reasons never to go outside:\n\n1."], tmp_path)
    assert typed.returncode == 0, typed.stderr
    assert typed.stdout.startswith(LIST)  # the processed prompt is printed, real newlines and all
    (tmp_path / "prompt.txt").write_text(LIST, encoding="utf-8")
    from_file = generate([*greedy, "--prompt-file", "prompt.txt"], tmp_path)
    assert from_file.returncode == 0, from_file.stderr
    assert typed.stdout == from_file.stdout  # the model got the same prompt: same greedy continuation
    piped = generate([*greedy, "-f", "-"], tmp_path, stdin=LIST.encode("utf-8"))  # llama.cpp's spelling, stdin
    assert piped.stdout == typed.stdout

    raw = generate([*greedy, "--max-tokens", "1", "--no-escape", "--prompt", r"A list:\n\n1."], tmp_path)
    assert raw.returncode == 0, raw.stderr
    assert raw.stdout.startswith(r"A list:\n\n1.")  # as typed


def test_every_llama_cpp_escape_and_stop_strings(smollm2_path, tmp_path):
    model = ["-b", f"llama:{smollm2_path}", "--temperature", "0"]
    r = generate([*model, "--max-tokens", "1", "--prompt", r"tab\there \"q\" \'s\' back\\slash \xc3\xa9 \q\n"],
                 tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("tab\there \"q\" 's' back\\slash é \\q\n")  # unknown \q stays as typed

    fruits = [*model, "--max-tokens", "24", "--prompt", r"Three fruits:\n\n1."]
    free = generate(fruits, tmp_path).stdout.removeprefix("Three fruits:\n\n1.")
    stopped = generate([*fruits, "--stop", r"\n"], tmp_path)
    assert stopped.returncode == 0, stopped.stderr
    line = stopped.stdout.removeprefix("Three fruits:\n\n1.").removesuffix("\n")
    assert line.strip() and "\n" not in line  # --stop "\n" stops at a real newline ...
    assert free.startswith(line + "\n") and free.count("\n") > 1  # ... where the model went on to item 2


@pytest.mark.parametrize("args,stdin,expected", [
    (["--prompt", "x", "--prompt-file", "p.txt"], None, "--prompt or --prompt-file, not both"),
    (["--prompt-file", "missing.txt"], None, "missing.txt: no such file"),
    (["--prompt-file", "-"], b"caf\xe9", "stdin is not UTF-8 text"),
    (["--prompt", r"\xff"], None, "--prompt: its \\x escapes do not make UTF-8 text"),
])
def test_prompt_errors_are_one_line(smollm2_path, tmp_path, args, stdin, expected):
    (tmp_path / "p.txt").write_text("x", encoding="utf-8")
    r = generate(["-b", f"llama:{smollm2_path}", *args], tmp_path, stdin=stdin)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 1 and r.stdout == "", r.stderr
    assert len(lines) == 1 and lines[0].startswith("genlab: error:") and expected in lines[0], r.stderr
