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
import signal
import subprocess
from pathlib import Path

import pytest

from conftest import GENLAB, NOVEL, any_one_line_error, ok, one_line_error, run_measured

MB = 2**20
FAST = ["--orders", "none", "--samples", "1", "--max-tokens", "8", "--prompts", "../prompts.txt"]
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
    (None, None, ["--samples", "1000000000"], "at most 100,000"),
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
    r = work("compare", "-b", "markov:m.markov", "-o", full_disk / "run", "--orders", "none", "--samples", "3",
             "--max-tokens", "60", "--prompts", prompts, timeout=120)
    line = one_line_error(r)
    assert "samples.jsonl" in line and "space" in line
    raw = (full_disk / "run" / "samples.jsonl").read_bytes()
    assert raw.endswith(b"\n") and all(json.loads(x) for x in raw.splitlines())


@pytest.mark.parametrize("where", ["output", "eval-text"])
def test_names_that_are_not_utf8_are_one_line_before_anything_is_written(work, where):
    shutil.copy(NOVEL, work.cwd / os.fsdecode(b"ev\xfe.txt"))
    args = {"output": [b"-o", b"r\xff"], "eval-text": [b"-o", b"run", b"--eval-text", b"ev\xfe.txt"]}[where]
    r = run_bytes(work, b"compare", b"-b", b"markov:m.markov", *args, b"--orders", b"none", b"--samples", b"1")
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


# --- train-llm: the GGUF and its checkpoint saved as a pair ----------------------------------------

TRAIN = ["--size", "tiny", "--vocab-size", "300", "--batch-size", "2", "--threads", "1", "-o", "m.gguf"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """The novel's first 30 kB: enough for the tiny size, quick to learn a vocabulary on."""
    pytest.importorskip("torch")
    pytest.importorskip("llama_cpp")
    path = tmp_path_factory.mktemp("corpus") / "small.txt"
    path.write_bytes(NOVEL.read_bytes()[:30_000])
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory, corpus) -> Path:
    """A folder with m.gguf and m.ckpt.safetensors: 2 steps of the tiny size."""
    from conftest import run_in

    d = tmp_path_factory.mktemp("trained")
    ok(run_in("train-llm", corpus, *TRAIN, "--steps", "2", cwd=d))
    return d


def pair_of(folder: Path) -> tuple[dict, dict]:
    """(the GGUF's training provenance, the checkpoint's state)."""
    from genlab.llama.gguf_header import read_header
    from genlab.train.checkpoint import load_checkpoint

    provenance = json.loads(read_header(folder / "m.gguf", tensors=False).metadata["genlab.training"])
    return provenance, load_checkpoint(folder / "m.ckpt.safetensors").state


def test_ctrl_c_during_a_save_is_held_until_both_files_are_in_place(tmp_path, corpus):
    """A real SIGINT, sent when the trainer says it is saving, is acted on after the pair."""
    from genlab.train.trainer import Trainer, TrainSettings

    def log(message: str) -> None:
        if message.startswith("saving step"):
            os.kill(os.getpid(), signal.SIGINT)

    settings = TrainSettings(size="tiny", steps=2, vocab_size=300, batch_size=2)
    with pytest.raises(KeyboardInterrupt):
        Trainer([corpus], tmp_path / "m.gguf", settings, log=log, progress=False).run()
    provenance, state = pair_of(tmp_path)
    assert provenance["steps"] == state["step"] == 2
    assert provenance["save_id"] == state["save_id"]
    assert not list(tmp_path.glob(".*.tmp"))


def test_resume_says_so_when_the_gguf_is_not_from_the_checkpoints_save(work, trained, corpus):
    """Two runs' files make a pair cut between its renames: the GGUF of one save, the checkpoint
    of another."""
    from genlab.train.trainer import Trainer, TrainSettings

    settings = TrainSettings(size="tiny", steps=2, vocab_size=300, batch_size=2)
    Trainer([corpus], work.cwd / "m.gguf", settings, log=lambda m: None, progress=False).run()
    shutil.copy(trained / "m.gguf", work.cwd / "m.gguf")
    r = work("train-llm", corpus, *TRAIN, "--steps", "3", "--resume")
    ok(r)
    notes = [line for line in r.stderr.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "not from the same save" in notes[0] and "m.gguf" in notes[0], r.stderr
    provenance, state = pair_of(work.cwd)
    assert provenance["steps"] == state["step"] == 3 and provenance["save_id"] == state["save_id"]


def test_resume_refuses_another_size_in_one_line(work, trained, corpus):
    for name in ("m.gguf", "m.ckpt.safetensors"):
        shutil.copy(trained / name, work.cwd / name)
    before = (work.cwd / "m.ckpt.safetensors").read_bytes()
    line = one_line_error(work("train-llm", corpus, *TRAIN[2:], "--steps", "3", "--resume", "--size", "small"))
    assert "--size small" in line and "tiny (2 layers × 64)" in line and "m.ckpt.safetensors" in line, line
    assert (work.cwd / "m.ckpt.safetensors").read_bytes() == before


@pytest.mark.parametrize("given, words", [
    ({"context": 512}, ["--context 512", "--context 256"]),
    ({"tied": False}, ["--untied"]),
    ({"seed": 7}, ["--seed 7", "--seed 0"]),
    ({"held_out": 0.2}, ["--held-out 0.2", "--held-out 0.1"]),
    ({"dropout": 0.3}, ["--dropout 0.3", "--dropout 0.1"]),
    ({"vocab_size": 400}, ["--vocab-size 400", "--vocab-size 300"]),
])
def test_resume_refuses_any_setting_that_differs_from_the_checkpoint(tmp_path, trained, corpus, given, words):
    from genlab.errors import GenlabError
    from genlab.train.trainer import Trainer, TrainSettings

    for name in ("m.gguf", "m.ckpt.safetensors"):
        shutil.copy(trained / name, tmp_path / name)
    with pytest.raises(GenlabError) as refused:
        Trainer([corpus], tmp_path / "m.gguf", TrainSettings(steps=3, **given), resume=True, progress=False).run()
    assert all(w in str(refused.value) for w in words), refused.value


# --- train-llm: a checkpoint is data --------------------------------------------------------------


def damaged_copies(data: bytes, count: int = 30):
    import random

    rng = random.Random(17)
    for i in range(count):
        if i % 2:
            yield data[:rng.randrange(len(data))]
        else:
            flipped = bytearray(data)
            pos = rng.randrange(len(data))
            flipped[pos] ^= 1 << rng.randrange(8)
            yield bytes(flipped)


def test_truncated_or_flipped_checkpoints_are_one_error(tmp_path, trained):
    from genlab.errors import GenlabError
    from genlab.train.checkpoint import load_checkpoint

    path = tmp_path / "m.ckpt.safetensors"
    for data in damaged_copies((trained / "m.ckpt.safetensors").read_bytes()):
        path.write_bytes(data)
        with pytest.raises(GenlabError, match="damaged training checkpoint"):
            load_checkpoint(path)


def forged(trained: Path, dest: Path, change) -> None:
    """The trained checkpoint with its metadata changed by `change(metadata)`, well formed and
    without a checksum, as a hand-made or older file would be."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(trained / "m.ckpt.safetensors"), framework="pt") as f:
        meta, tensors = dict(f.metadata()), {k: f.get_tensor(k) for k in f.keys()}
    del meta["sha256"]
    change(meta)
    save_file(tensors, str(dest), metadata=meta)


def _set(key, **values):
    def change(meta):
        meta[key] = json.dumps({**json.loads(meta[key]), **values})
    return change


def test_a_forged_checkpoint_asking_for_a_huge_model_is_refused_before_memory_is_spent(work, trained, corpus):
    shutil.copy(trained / "m.gguf", work.cwd / "m.gguf")
    forged(trained, work.cwd / "m.ckpt.safetensors", _set("config", layers=8, dim=16384))  # 34 GB if believed
    r, peak = run_measured(work, "train-llm", corpus, *TRAIN, "--steps", "3", "--resume")
    line = one_line_error(r)
    assert "m.ckpt.safetensors is a damaged training checkpoint" in line and "the config needs" in line, line
    assert peak < 500, peak


@pytest.mark.parametrize("change", [
    _set("config", dim="x"),
    _set("config", context=10**9),
    _set("config", heads=3),
    _set("vocab", tokens=[5]),
    _set("state", step="x"),
    _set("state", seed=[1]),
    _set("state", held_out=float("nan")),
    _set("optimizer", param_groups=[{"params": [0]}]),
    lambda meta: meta.update(state="[" * 10_000),
    lambda meta: meta.pop("vocab"),
], ids=["dim-text", "huge-context", "odd-heads", "token-number", "step-text", "seed-list", "nan", "groups",
        "deep-json", "no-vocab"])
def test_forged_checkpoint_metadata_is_one_error(tmp_path, trained, change):
    from genlab.errors import GenlabError
    from genlab.train.checkpoint import load_checkpoint

    forged(trained, tmp_path / "m.ckpt.safetensors", change)
    with pytest.raises(GenlabError, match="m.ckpt.safetensors is a damaged training checkpoint"):
        load_checkpoint(tmp_path / "m.ckpt.safetensors")
