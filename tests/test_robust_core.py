"""What every write and every message shares: files made with the umask's mode, temporaries of
killed writers cleaned, secrets hidden from any text, and the test fixtures for hostile places."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from conftest import NOVEL, any_one_line_error, ok, one_line_error, run_measured
from genlab import secrets
from genlab.atomic import write_text


def run_with_umask(cli, umask: int, *args) -> subprocess.CompletedProcess:
    r = subprocess.run(cli.argv(args), cwd=cli.cwd, env=cli.env, capture_output=True, text=True, umask=umask,
                       stdin=subprocess.DEVNULL, timeout=300)
    return r


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("umask, expected", [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_outputs_are_created_with_the_umask_mode(cli, umask, expected):
    ok(run_with_umask(cli, umask, "train-markov", NOVEL, "-o", "novel.markov"))
    ok(run_with_umask(cli, umask, "export-arpa", "novel.markov", "-o", "novel.arpa"))
    ok(run_with_umask(cli, umask, "corpus", "split", NOVEL, "-o", "split"))
    ok(run_with_umask(cli, umask, "tiny-model", "build", "-o", "tiny.gguf"))
    ok(run_with_umask(cli, umask, "compare", "-b", "markov:novel.markov", "--samples", "1", "--max-tokens", "20",
                      "--eval-text", "split/novel-held-out.txt", "-o", "run"))
    made = [cli.cwd / "novel.markov", cli.cwd / "novel.arpa", cli.cwd / "tiny.gguf",
            *sorted((cli.cwd / "split").iterdir()), *sorted(p for p in (cli.cwd / "run").rglob("*") if p.is_file())]
    assert {"report.md", "run.json"} <= {p.name for p in made}
    assert any(p.suffix in (".png", ".svg") for p in made)
    assert {p.name: oct(mode(p)) for p in made} == {p.name: oct(expected) for p in made}


def test_a_replaced_file_keeps_its_mode(tmp_path):
    target = tmp_path / "kept.txt"
    target.write_text("old")
    target.chmod(0o604)
    write_text(target, "new")
    assert target.read_text() == "new" and mode(target) == 0o604


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_temporaries_of_a_killed_writer_are_removed_by_the_next_write(cli):
    stale = cli.cwd / f".novel.markov.{dead_pid()}.x1y2z3.tmp"
    stale.write_bytes(b"half a model")
    busy = cli.cwd / f".novel.markov.{os.getpid()}.a1b2c3.tmp"  # a writer still running: left alone
    busy.write_bytes(b"being written")
    ok(cli("train-markov", NOVEL, "-o", "novel.markov"))
    assert not stale.exists()
    assert busy.exists()
    assert sorted(p.name for p in cli.cwd.iterdir() if p.name.startswith(".")) == [busy.name]


class TestRedaction:
    def test_a_remembered_key_is_hidden_also_as_python_escapes_it(self):
        secrets.remember("sk-test-\r\n-4242")
        shown = "cannot reach http://h/: Invalid header value b'Bearer sk-test-\\r\\n-4242'"
        assert "4242" not in secrets.redact(shown) and "sk-test" not in secrets.redact(shown)

    def test_url_passwords_and_lone_tokens_are_hidden(self):
        text = "http://bob:hunter2@example.org:8080/v1 https://tok123@example.org/ http://example.org/a@b"
        shown = secrets.redact(text)
        assert "hunter2" not in shown and "tok123" not in shown
        assert "http://bob:***@example.org:8080/v1" in shown and "http://example.org/a@b" in shown

    def test_bearer_tokens_in_a_server_reply_are_hidden(self):
        reply = '401 {"seen": "Authorization: Bearer abc.def"}'
        assert secrets.redact(reply) == '401 {"seen": "Authorization: Bearer ***"}'

    def test_ordinary_text_is_left_alone(self):
        text = "“Well,” said the bear: go on."
        assert secrets.redact(text) == text


def test_the_full_disk_fixture_is_full(full_disk):
    with pytest.raises(OSError) as caught:
        (full_disk / "more").write_bytes(b"x" * 65536)
    assert caught.value.errno == 28


def test_the_read_only_fixture_refuses_writes(read_only_dir):
    with pytest.raises(OSError):
        (read_only_dir / "x").write_text("x")


@pytest.mark.parametrize("flag, value", [("--threads", "100000"), ("--gpu-layers", "99999999999"),
                                         ("--n-ctx", "99999999999999999999999")])
def test_llama_counts_past_what_llama_cpp_holds_are_one_line(cli, tiny_gguf, flag, value):
    # --threads 100000 crashed llama.cpp with a segfault; the others overflow its C ints
    line = any_one_line_error(cli("generate", "--backend", f"llama:{tiny_gguf}", "--max-tokens", "3", flag, value))
    assert flag in line and value in line


def test_peak_memory_is_the_commands_own(cli):
    # a child forked from pytest used to be charged pytest's resident pages (311 MB here)
    ballast = bytearray(300 * 2**20)
    ballast[::4096] = b"x" * len(ballast[::4096])  # make the pages resident
    r, peak_mb = run_measured(cli, "--version")
    assert ok(r).startswith("genlab") and peak_mb < 150
    r, _ = run_measured(cli, "corpus", "split", cli.cwd / "missing.txt")
    assert one_line_error(r, exit_code=None)
    del ballast
