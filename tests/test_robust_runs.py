"""Runs that must not break or leave a mess: compare, sweeps, perplexity, generate's prompt
file and train-llm, fed bad arguments, hostile files and interrupted saves, through the CLI.

Each test is named after the class of failure it guards. A refused command must leave no run
folder (or an existing one untouched); every failure is one `genlab: error:` line naming the
file; big inputs are refused or read in part within 500 MB.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import GENLAB, NOVEL, any_one_line_error, ok, one_line_error, run_measured

MB = 2**20
FAST = ["--orders", "none", "-n", "1", "--max-tokens", "8", "--prompts", "../prompts.txt"]
LATIN1 = "café au lait. Il était une fois.\n\nSecond paragraphe.\n".encode("latin-1")


@pytest.fixture(scope="module")
def chain(tmp_path_factory) -> Path:
    """A folder holding a chain trained on the novel (m.markov) and a one-prompt file."""
    from conftest import run_in

    d = tmp_path_factory.mktemp("chain")
    ok(run_in("train-markov", NOVEL, "-o", "m.markov", cwd=d))
    (d / "prompts.txt").write_text("“Well,” said\n", encoding="utf-8")
    return d


@pytest.fixture
def work(cli, chain):
    """The cli fixture, with the chain as m.markov beside its working folder's prompts."""
    shutil.copy(chain / "m.markov", cli.cwd / "m.markov")
    shutil.copy(chain / "prompts.txt", cli.cwd.parent / "prompts.txt")
    return cli


def compare(cli, *args, out="run"):
    return cli("compare", "-b", "markov:m.markov", "-o", out, *FAST, *args, timeout=120)


def run_bytes(cli, *args: bytes) -> subprocess.CompletedProcess:
    """`genlab ARGS` with arguments as raw bytes (names that are not UTF-8)."""
    r = subprocess.run([*map(os.fsencode, GENLAB), *args], cwd=cli.cwd, env=cli.env, capture_output=True,
                       stdin=subprocess.DEVNULL, timeout=120)
    return subprocess.CompletedProcess(r.args, r.returncode, r.stdout.decode("utf-8"), r.stderr.decode("utf-8"))


# --- compare: arguments checked before anything is written ----------------------------------------


@pytest.mark.parametrize("spec", ["temperature=-1,2", "top_p=0,1", "temperature=nan,1", "top_k=1.5,2",
                                  "temperature=1,1", "min_p=0.5,2", "repeat_penalty=0,1", "temperature=inf,1"])
def test_bad_sweep_values_write_no_run_folder(work, spec):
    line = one_line_error(compare(work, "--sweep", spec))
    assert "--sweep" in line and spec.split("=")[0] in line
    assert not (work.cwd / "run").exists()


def test_the_corrected_sweep_runs_after_a_refused_one(work):
    one_line_error(compare(work, "--sweep", "temperature=-1,2"))
    ok(compare(work, "--sweep", "temperature=0.5,2"))
    settings = {json.loads(line)["setting"] for line in (work.cwd / "run" / "samples.jsonl").open(encoding="utf-8")}
    assert settings == {"temperature=0.5", "temperature=2"}


@pytest.mark.parametrize("name, content, args, words", [
    (None, None, ["-n", "1000000000"], "at most 100,000"),
    ("p.jsonl", b'{"text": 5}\n', [], "p.jsonl:1"),
    ("p.jsonl", b'{"text": "x", "kind": ["story"]}\n', [], "p.jsonl:1"),
    ("p.jsonl", b"[" * 100_000 + b"\n", [], "p.jsonl:1"),
    ("p.txt", b"caf\xe9\n", [], "p.txt is not UTF-8 text"),
    ("p.txt", b"x\n" * (2 * MB + 1), [], "4 MB"),
])
def test_bad_prompts_and_sample_counts_write_no_run_folder(work, name, content, args, words):
    if name:
        (work.cwd / name).write_bytes(content)
        args = [*args, "--prompts", name]
    line = one_line_error(compare(work, *args))
    assert words in line, line
    assert not (work.cwd / "run").exists()


def test_a_refused_command_leaves_an_existing_run_untouched(work):
    ok(compare(work))
    run = work.cwd / "run"
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    one_line_error(compare(work, "--sweep", "temperature=-1,2"))
    one_line_error(compare(work, "--prompts", "missing.txt"))
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


# --- compare: a folder it cannot write, and names that are not UTF-8 ------------------------------


def test_a_read_only_run_folder_is_one_line_and_nothing_is_made(work, read_only_dir):
    line = one_line_error(compare(work, out=read_only_dir / "run"))
    assert str(read_only_dir / "run") in line
    assert not any(read_only_dir.iterdir())


def test_a_full_disk_leaves_no_run_folder(work, full_disk):
    line = one_line_error(compare(work, out=full_disk / "runs" / "a"))
    assert "run.json" in line and "space" in line
    assert sorted(p.name for p in full_disk.iterdir()) == ["filler"]


def test_a_disk_filling_up_mid_run_keeps_only_whole_samples(work, full_disk):
    filler = full_disk / "filler"
    os.truncate(filler, filler.stat().st_size - 12 * 1024)  # room for run.json and a few samples
    prompts = work.cwd / "many.txt"
    prompts.write_text("".join(f"“Well,” said {i}\n" for i in range(40)), encoding="utf-8")
    r = work("compare", "-b", "markov:m.markov", "-o", full_disk / "run", "--orders", "none", "-n", "3",
             "--max-tokens", "60", "--prompts", prompts, timeout=120)
    line = one_line_error(r)
    assert "samples.jsonl" in line and "space" in line
    raw = (full_disk / "run" / "samples.jsonl").read_bytes()
    assert raw.endswith(b"\n") and all(json.loads(x) for x in raw.splitlines())


@pytest.mark.parametrize("where", ["output", "eval-text"])
def test_names_that_are_not_utf8_are_one_line_before_anything_is_written(work, where):
    shutil.copy(NOVEL, work.cwd / os.fsdecode(b"ev\xfe.txt"))
    args = {"output": [b"-o", b"r\xff"], "eval-text": [b"-o", b"run", b"--eval-text", b"ev\xfe.txt"]}[where]
    r = run_bytes(work, b"compare", b"-b", b"markov:m.markov", *args, b"--orders", b"none", b"-n", b"1")
    line = one_line_error(r)
    assert ("r\\xff" if where == "output" else "ev\\xfe.txt") in line and "not UTF-8" in line
    assert {os.fsencode(p.name) for p in work.cwd.iterdir()} == {b"m.markov", b"ev\xfe.txt"}


def test_perplexity_prints_a_backend_name_that_is_not_utf8(work):
    shutil.copy(work.cwd / "m.markov", work.cwd / os.fsdecode(b"m\xff.markov"))
    out = ok(run_bytes(work, b"perplexity", b"-b", b"markov:m\xff.markov", os.fsencode(NOVEL)))
    assert "markov:m\\xff.markov" in out and "bits/byte" in out


# --- texts that cannot be read, and texts too big to read whole -----------------------------------


@pytest.mark.parametrize("kind", ["latin-1", "missing", "folder"])
@pytest.mark.parametrize("command", ["perplexity", "generate", "compare"])
def test_unreadable_texts_are_one_line_naming_the_file(work, command, kind):
    path = work.cwd / "text.txt"
    if kind == "latin-1":
        path.write_bytes(LATIN1)
    elif kind == "folder":
        path.mkdir()
    args = {"perplexity": ["perplexity", "-b", "markov:m.markov", path.name],
            "generate": ["generate", "-b", "markov:m.markov", "-f", path.name],
            "compare": ["compare", "-b", "markov:m.markov", "--eval-text", path.name, "-o", "run", *FAST]}[command]
    line = any_one_line_error(work(*args))
    assert "text.txt" in line
    if kind == "latin-1":
        assert "0xE9" in line
    assert not (work.cwd / "run").exists()


def test_compare_reads_a_latin1_eval_text_with_encoding(work):
    (work.cwd / "text.txt").write_bytes(LATIN1 * 50)
    ok(compare(work, "--eval-text", "text.txt", "--encoding", "latin-1"))
    assert json.loads((work.cwd / "run" / "scores.jsonl").read_text(encoding="utf-8"))["bits_per_byte"] > 0


@pytest.fixture(scope="module")
def big_text(tmp_path_factory) -> Path:
    """34 MB of real text (the novel 180 times): over the 32 MB read whole."""
    path = tmp_path_factory.mktemp("big") / "big.txt"
    path.write_bytes(NOVEL.read_bytes() * 180)
    return path


def test_a_text_over_the_cap_is_refused_in_bounded_memory(work, big_text):
    r, peak = run_measured(work, "perplexity", "-b", "markov:m.markov", big_text)
    line = one_line_error(r)
    assert "big.txt" in line and "32 MB" in line and "--max-bytes" in line
    assert peak < 500, peak
    r, peak = run_measured(work, "compare", "-b", "markov:m.markov", "--eval-text", big_text, "-o", "run", *FAST)
    assert "32 MB" in one_line_error(r) and peak < 500
    assert not (work.cwd / "run").exists()


def test_max_bytes_reads_only_the_beginning_and_scores_it_exactly(work, big_text):
    r, peak = run_measured(work, "perplexity", "-b", "markov:m.markov", big_text, "--max-bytes", "100000", "--json")
    assert peak < 500, peak
    head = json.loads(ok(r))[0]
    whole = json.loads(ok(work("perplexity", "-b", "markov:m.markov", NOVEL, "--max-bytes", "100000", "--json")))[0]
    assert head["bytes"] == whole["bytes"] and head["bits_per_byte"] == whole["bits_per_byte"]


@pytest.mark.parametrize("source", ["file", "stdin"])
def test_a_prompt_file_over_the_cap_is_refused(work, source):
    data = b"word " * (MB + 1)  # 5 MB
    if source == "file":
        (work.cwd / "p.txt").write_bytes(data)
        r = work("generate", "-b", "markov:m.markov", "-f", "p.txt")
    else:
        r = work("generate", "-b", "markov:m.markov", "-f", "-", input=data)
    line = one_line_error(r)
    assert "4 MB" in line and ("p.txt" in line if source == "file" else "stdin" in line)
