"""End-to-end tests of the `genlab` command line.

Every test runs the real console script in a subprocess, in a fresh temporary working
directory, with GENLAB_HOME (and XDG_DATA_HOME) pointed at temporary folders so the user's
own models are never read or written.  Nothing here touches the network.
"""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import signal
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Callable

import click
import numpy as np
import pytest

from conftest import CLI, GENLAB, NOVEL, isolated_env, ok, one_line_error, run_genlab
from conftest import any_one_line_error as assert_one_line_error
from conftest import ok as assert_ok
from genlab.cli import cli as genlab_cli

# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="session")
def novel_model(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The bytes of a real model trained on corpora/novel.txt by the CLI (trained once)."""
    base = tmp_path_factory.mktemp("session-model")
    ok(run_genlab(["train-markov", NOVEL], cwd=base, env=isolated_env(base)))
    return (base / "models" / "novel.markov").read_bytes()


def printed_command(stdout: str) -> list[str]:
    """The one `genlab generate ...` command that train-markov printed, split like a shell would."""
    lines = [line.strip() for line in stdout.splitlines() if line.strip().startswith("genlab generate")]
    assert len(lines) == 1, f"expected exactly one printed generate command in:\n{stdout}"
    return shlex.split(lines[0])


def assert_no_traceback(r: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in r.stdout and "Traceback" not in r.stderr, r.stderr


def model_path_in(cli: CLI) -> Path:
    return cli.cwd / "models" / "novel.markov"


# --------------------------------------------------------------------------- happy path


def test_train_prints_where_and_exact_command_that_works(cli: CLI):
    r = cli("train-markov", NOVEL)
    assert_ok(r)
    assert model_path_in(cli).is_file()
    assert os.path.join("models", "novel.markov") in r.stdout
    command = printed_command(r.stdout)
    assert command == ["genlab", "generate", "--backend", "markov:novel"]
    assert "genlab generate --backend markov:novel" in [line.strip() for line in r.stdout.splitlines()]
    assert sorted(os.listdir(cli.cwd / "models")) == ["novel.markov"]  # no temp file left behind

    first = cli.printed(command, "--seed", "1", "--max-tokens", "40")
    assert_ok(first)
    assert first.stdout.strip()
    assert first.stderr == ""

    again = cli.printed(command, "--seed", "1", "--max-tokens", "40")
    assert_ok(again)
    assert again.stdout == first.stdout

    prompt = "“Well,” said"
    p = cli.printed(command, "--prompt", prompt, "--seed", "3", "--max-tokens", "30")
    assert_ok(p)
    assert p.stdout.startswith(prompt)
    assert len(p.stdout.strip()) > len(prompt)


def test_relative_corpus_then_generate_with_no_other_flag(cli: CLI):
    """The acceptance scenario: from a folder holding corpora/novel.txt, no flags beyond the backend."""
    (cli.cwd / "corpora").mkdir()
    (cli.cwd / "corpora" / "novel.txt").symlink_to(NOVEL)
    r = cli("train-markov", "corpora/novel.txt")
    assert_ok(r)
    assert printed_command(r.stdout) == ["genlab", "generate", "--backend", "markov:novel"]
    g = cli("generate", "--backend", "markov:novel")
    assert_ok(g)
    assert g.stdout.strip()


def test_samples_flag_prints_n_samples_with_consecutive_seeds(cli: CLI, novel_model: bytes):
    (cli.cwd / "models").mkdir()
    model_path_in(cli).write_bytes(novel_model)
    many = cli("generate", "--backend", "markov:novel", "--samples", "3", "--seed", "5", "--max-tokens", "20")
    assert_ok(many)
    singles = []
    for seed in (5, 6, 7):
        one = cli("generate", "--backend", "markov:novel", "--seed", seed, "--max-tokens", "20")
        assert_ok(one)
        assert one.stdout.strip()
        singles.append(one.stdout)
    assert len(set(singles)) > 1
    assert many.stdout == "\n".join(singles)  # each ends with a newline: one blank line between


def test_char_model_name_and_printed_command(cli: CLI):
    r = cli("train-markov", NOVEL, "--unit", "char", "--order", "5")
    assert_ok(r)
    assert (cli.cwd / "models" / "novel-char-o5.markov").is_file()
    command = printed_command(r.stdout)
    assert command == ["genlab", "generate", "--backend", "markov:novel-char-o5"]
    g = cli.printed(command, "--seed", "2", "--max-tokens", "120")
    assert_ok(g)
    assert g.stdout.strip()


@pytest.mark.parametrize("output", ["custom/path.markov", "my models/my novel.markov"])
def test_output_path_is_used_in_printed_command(cli: CLI, output: str):
    r = cli("train-markov", NOVEL, "-o", output)
    assert_ok(r)
    assert (cli.cwd / output).is_file()
    assert not (cli.cwd / "models").exists()
    assert output in r.stdout
    command = printed_command(r.stdout)
    assert command == ["genlab", "generate", "--backend", f"markov:{output}"]
    g = cli.printed(command, "--seed", "1", "--max-tokens", "20")
    assert_ok(g)
    assert g.stdout.strip()


def test_model_found_in_user_folder(cli: CLI, novel_model: bytes):
    home_models = Path(cli.env["GENLAB_HOME"]) / "models"
    home_models.mkdir(parents=True)
    (home_models / "novel.markov").write_bytes(novel_model)
    g = cli("generate", "--backend", "markov:novel", "--seed", "1", "--max-tokens", "20")
    assert_ok(g)
    assert g.stdout.strip()
    assert not (cli.cwd / "models").exists()


def test_progress_is_shown_on_a_terminal(cli: CLI):
    pty = pytest.importorskip("pty")
    import fcntl
    import select
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    try:
        p = subprocess.Popen(cli.argv(["train-markov", NOVEL]), cwd=cli.cwd, env=cli.env,
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave)
    finally:
        os.close(slave)
    seen = b""
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                seen += chunk
            elif p.poll() is not None:
                break
        out, _ = p.communicate(timeout=30)
    finally:
        os.close(master)
    assert p.returncode == 0
    assert b"training" in seen
    assert "genlab generate --backend markov:novel" in out.decode()


def test_python_dash_m_help(cli: CLI):
    r = subprocess.run([sys.executable, "-m", "genlab", "--help"], cwd=cli.cwd, env=cli.env,
                       capture_output=True, text=True, encoding="utf-8", timeout=60)
    assert_ok(r)
    assert "Usage:" in r.stdout
    assert "train-markov" in r.stdout and "generate" in r.stdout


def test_version(cli: CLI):
    r = cli("--version")
    assert_ok(r)
    assert r.stdout.startswith("genlab, version ")


def test_shell_completion_as_readme_sets_it_up(cli: CLI):
    """README's one line (`eval "$(genlab completion bash)"`) makes a real bash complete genlab
    with genlab's function, and what that function asks genlab completes command names and their
    options. The older line (`eval "$(_GENLAB_COMPLETE=bash_source genlab)"`) gives the same script."""
    script = cli("completion", "bash")
    assert_ok(script)
    env = {**cli.env, "PATH": f"{Path(GENLAB[0]).parent}{os.pathsep}{cli.env.get('PATH', '')}"}
    readme_line = 'eval "$(genlab completion bash)"'
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", f"{readme_line} && complete -p genlab"],
                       cwd=cli.cwd, env=env, capture_output=True, text=True, timeout=60)
    assert (r.stdout.strip(), r.stderr) == ("complete -o nosort -F _genlab_completion genlab", "")
    cli.env["_GENLAB_COMPLETE"] = "bash_source"
    assert cli().stdout == script.stdout
    cli.env.update(_GENLAB_COMPLETE="bash_complete", COMP_WORDS="genlab ge", COMP_CWORD="1")
    assert cli().stdout.split() == ["plain,generate"]
    cli.env.update(COMP_WORDS="genlab train-markov --ord", COMP_CWORD="2")
    assert cli().stdout.split() == ["plain,--order"]


# --------------------------------------------------------------------------- help


def _walk(command: click.Command, path: tuple[str, ...], parent: click.Context | None):
    ctx = click.Context(command, info_name=path[-1] if path else "genlab", parent=parent)
    yield path, command, ctx
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                yield from _walk(sub, (*path, name), ctx)


COMMANDS = list(_walk(genlab_cli, (), None))


def test_walk_found_the_known_commands():
    paths = {" ".join(p) for p, _, _ in COMMANDS}
    assert {"", "train-markov", "generate", "corpus", "corpus fetch"} <= paths


@pytest.mark.parametrize("path,command,ctx", COMMANDS, ids=[" ".join(p) or "genlab" for p, _, _ in COMMANDS])
def test_help_is_complete(cli: CLI, path, command: click.Command, ctx: click.Context):
    r = cli(*path, "--help")
    assert_ok(r)
    assert r.stderr == ""
    assert "Usage:" in r.stdout
    assert (command.help or "").strip(), f"{' '.join(path) or 'genlab'} has no description"
    options = [p for p in command.get_params(ctx) if isinstance(p, click.Option)]
    assert any("--help" in o.opts for o in options)
    for option in options:
        name = max(option.opts, key=len)
        assert (option.help or "").strip(), f"{name} of '{' '.join(path) or 'genlab'}' has no help text"
        assert name in r.stdout, f"{name} missing from the help output"
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            assert re.search(rf"^\s+{re.escape(name)}\s", r.stdout, re.M), f"{name} not listed"
    short = cli(*path, "-h")
    assert_ok(short)
    assert short.stdout == r.stdout


# --------------------------------------------------------------------------- errors

Setup = Callable[[Path, bytes], None]


def _write(name: str, data: bytes | str) -> Setup:
    def setup(cwd: Path, model: bytes) -> None:
        target = cwd / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return setup


def _with_model(cwd: Path, model: bytes) -> None:
    (cwd / "models").mkdir(exist_ok=True)
    (cwd / "models" / "novel.markov").write_bytes(model)


def _mkdir(name: str) -> Setup:
    return lambda cwd, model: (cwd / name).mkdir(parents=True)


def _nothing(cwd: Path, model: bytes) -> None:
    pass


def _truncated(cwd: Path, model: bytes) -> None:
    (cwd / "in").mkdir()
    (cwd / "in" / "half.markov").write_bytes(model[: len(model) // 2])


def _foreign_npz(cwd: Path, model: bytes) -> None:
    (cwd / "in").mkdir()
    np.savez(cwd / "in" / "foreign.npz", a=np.arange(10), b=np.ones((2, 2)))


def _foreign_npz_with_meta(cwd: Path, model: bytes) -> None:
    (cwd / "in").mkdir()
    np.savez(cwd / "in" / "other.npz", meta=np.frombuffer(json.dumps({"name": "x"}).encode(), dtype=np.uint8))


LATIN1_TEXT = "Nell opened the door.\n\n“Hello,” she said. The café was closed.\n"
LATIN1_BYTES = LATIN1_TEXT.replace("“", '"').replace("”", '"').encode("latin-1")
LATIN1_OFFSET = LATIN1_BYTES.index(b"\xe9")

TRAIN_ERRORS = [
    ("missing", _nothing, ["in/missing.txt"], ["missing.txt", "no such file"]),
    ("directory", _mkdir("in/adir"), ["in/adir"], ["adir", "directory"]),
    ("empty", _write("in/empty.txt", b""), ["in/empty.txt"], ["empty"]),
    ("whitespace", _write("in/ws.txt", " \n\n\t  \n\n"), ["in/ws.txt"], ["whitespace"]),
    ("binary", _write("in/data.bin", bytes(range(256)) * 64), ["in/data.bin"], ["binary"]),
    ("nul-bytes", _write("in/nul.txt", b"Some text.\x00\x00\x00\x00 More text.\n"), ["in/nul.txt"], ["binary"]),
    ("latin-1", _write("in/latin.txt", LATIN1_BYTES), ["in/latin.txt"],
     ["latin.txt", "UTF-8", f"offset {LATIN1_OFFSET}", "--encoding"]),
    ("utf-16", _write("in/wide.txt", "Hello there.\n\nGoodbye.\n".encode("utf-16")), ["in/wide.txt"], ["UTF-16"]),
    ("unknown-encoding", _nothing, [NOVEL, "--encoding", "klingon"], ["klingon"]),
    ("order-0", _nothing, [NOVEL, "--order", "0"], ["order", "0"]),
    ("order-9", _nothing, [NOVEL, "--order", "9"], ["order", "9"]),
    ("order-not-a-number", _nothing, [NOVEL, "--order", "three"], ["--order", "three"]),
    ("unit-foo", _nothing, [NOVEL, "--unit", "foo"], ["--unit", "foo"]),
    ("zero-weight", _nothing, [f"{NOVEL}:0"], ["weight"]),
    ("second-corpus-missing", _nothing, [NOVEL, "in/missing.txt"], ["missing.txt", "no such file"]),
    ("output-is-a-directory", _mkdir("out"), [NOVEL, "-o", "out"], ["out", "directory"]),
    ("bogus-option", _nothing, [NOVEL, "--bogus"], ["--bogus"]),
    ("no-corpus", _nothing, [], ["CORPUS"]),
]


@pytest.mark.parametrize("setup,args,expected", [t[1:] for t in TRAIN_ERRORS], ids=[t[0] for t in TRAIN_ERRORS])
def test_train_errors(cli: CLI, novel_model: bytes, setup: Setup, args, expected):
    fails_cleanly(cli, novel_model, setup, ["train-markov", *args], expected)
    assert not (cli.cwd / "models").exists()


def fails_cleanly(cli: CLI, novel_model: bytes, setup: Setup, argv, expected) -> None:
    """The command fails in one line naming every expected text, and leaves no file behind."""
    setup(cli.cwd, novel_model)
    before = cli.files()
    line = assert_one_line_error(cli(*argv))
    for text in expected:
        assert text in line, f"{text!r} not in {line!r}"
    assert cli.files() == before, "the failed command left files behind"


GENERATE_ERRORS = [
    ("unknown-backend", _nothing, ["--backend", "nope:x"], ["nope:x"]),
    ("bare-kind", _nothing, ["--backend", "markov"], ["markov"]),
    ("empty-name", _nothing, ["--backend", "markov:"], ["markov:"]),
    ("no-such-model", _with_model, ["--backend", "markov:doesnotexist"], ["doesnotexist"]),
    ("no-such-model-no-models", _nothing, ["--backend", "markov:doesnotexist"], ["doesnotexist", "train-markov"]),
    ("random-bytes", _write("in/random.markov", bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8))),
     ["--backend", "markov:in/random.markov"], ["random.markov"]),
    ("truncated", _truncated, ["--backend", "markov:in/half.markov"], ["half.markov"]),
    ("foreign-npz", _foreign_npz, ["--backend", "markov:in/foreign.npz"], ["foreign.npz", "not a genlab"]),
    ("foreign-npz-with-meta", _foreign_npz_with_meta, ["--backend", "markov:in/other.npz"],
     ["other.npz", "not a genlab"]),
    ("plain-text", _write("in/notes.txt", "just some notes\n"), ["--backend", "markov:in/notes.txt"],
     ["notes.txt", "not a genlab"]),
    ("directory", _mkdir("in/adir"), ["--backend", "markov:in/adir"], ["adir", "directory"]),
    ("no-backend", _with_model, [], ["--backend"]),
    ("temperature-negative", _with_model, ["-b", "markov:novel", "--temperature", "-1"], ["temperature"]),
    ("temperature-nan", _with_model, ["-b", "markov:novel", "--temperature", "nan"], ["temperature"]),
    ("temperature-not-a-number", _with_model, ["-b", "markov:novel", "--temperature", "abc"], ["--temperature", "abc"]),
    ("top-p-0", _with_model, ["-b", "markov:novel", "--top-p", "0"], ["top", "p"]),
    ("top-p-1.5", _with_model, ["-b", "markov:novel", "--top-p", "1.5"], ["top", "p", "1.5"]),
    ("top-k-negative", _with_model, ["-b", "markov:novel", "--top-k", "-1"], ["top", "k", "-1"]),
    ("min-p-2", _with_model, ["-b", "markov:novel", "--min-p", "2"], ["min", "p"]),
    ("repeat-penalty-0", _with_model, ["-b", "markov:novel", "--repeat-penalty", "0"], ["repeat"]),
    ("max-tokens-0", _with_model, ["-b", "markov:novel", "--max-tokens", "0"], ["max", "tokens"]),
    ("seed-negative", _with_model, ["-b", "markov:novel", "--seed", "-1"], ["seed"]),
    ("samples-0", _with_model, ["-b", "markov:novel", "--samples", "0"], ["--samples"]),
    ("n-predict-0", _with_model, ["-b", "markov:novel", "-n", "0"], ["max", "tokens"]),
    ("empty-stop", _with_model, ["-b", "markov:novel", "--stop", ""], ["stop"]),
    ("bogus-option", _with_model, ["-b", "markov:novel", "--bogus"], ["--bogus"]),
]


@pytest.mark.parametrize("setup,args,expected", [t[1:] for t in GENERATE_ERRORS],
                         ids=[t[0] for t in GENERATE_ERRORS])
def test_generate_errors(cli: CLI, novel_model: bytes, setup: Setup, args, expected):
    fails_cleanly(cli, novel_model, setup, ["generate", *args], expected)


OTHER_ERRORS = [
    ("unknown-command", ["nosuch"], ["nosuch"]),
    ("unknown-top-level-option", ["--bogus"], ["--bogus"]),
    ("corpus-unknown-source", ["corpus", "fetch", "library:12"], ["library:12"]),
    ("corpus-bad-mirror", ["corpus", "fetch", "gutenberg:1342", "--mirror", "ftp://example.invalid"], ["mirror"]),
]


@pytest.mark.parametrize("args,expected", [t[1:] for t in OTHER_ERRORS], ids=[t[0] for t in OTHER_ERRORS])
def test_other_errors(cli: CLI, args, expected):
    r = cli(*args)
    line = assert_one_line_error(r)
    for text in expected:
        assert text in line, f"{text!r} not in {line!r}"
    assert cli.files() == set()


@pytest.mark.parametrize("args", [[], ["corpus"]], ids=["genlab", "genlab corpus"])
def test_bare_group_shows_readable_help(cli: CLI, args):
    r = cli(*args)
    assert_no_traceback(r)
    assert "genlab: error: Usage:" not in r.stderr
    output = r.stdout + r.stderr
    assert re.search(r"^Usage: genlab", output, re.M)
    assert re.search(r"^Commands:$", output, re.M)


# ----- latin-1 corpora: offsets, including around the 1 MiB read-chunk boundary


@pytest.mark.parametrize("position", [0, 37, (1 << 20) - 1, 1 << 20, (1 << 20) + 1])
def test_non_utf8_offset_is_exact(cli: CLI, position: int):
    filler = b"Some plain words, nothing more.\n\n"
    body = bytearray((filler * (position // len(filler) + 3))[: position + 200])
    body[position] = 0xE9  # latin-1 e-acute: not valid UTF-8 here
    (cli.cwd / "in").mkdir()
    (cli.cwd / "in" / "big-latin.txt").write_bytes(bytes(body))
    before = cli.files()
    line = assert_one_line_error(cli("train-markov", "in/big-latin.txt"))
    assert re.search(rf"\boffset {position}\b", line), line
    assert "0xE9" in line
    assert cli.files() == before


def test_latin1_with_encoding_flag_trains(cli: CLI):
    (cli.cwd / "in").mkdir()
    (cli.cwd / "in" / "latin.txt").write_bytes(LATIN1_BYTES)
    r = cli("train-markov", "in/latin.txt", "--encoding", "latin-1")
    assert_ok(r)
    assert (cli.cwd / "models" / "latin.markov").is_file()
    command = printed_command(r.stdout)
    g = cli.printed(command, "--seed", "1", "--max-tokens", "30", "--prompt", "The")
    assert_ok(g)
    assert g.stdout.startswith("The")


# ----- model files edited after saving


def _rewrite_meta(model: bytes, edit: Callable[[dict], None]) -> bytes:
    """A copy of a saved model with meta.npy's JSON edited (the model is a zip of .npy files)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(model)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "meta.npy":
                meta = json.loads(np.load(io.BytesIO(data), allow_pickle=False).tobytes())
                edit(meta)
                buf = io.BytesIO()
                raw = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
                np.lib.format.write_array(buf, raw, allow_pickle=False)
                data = buf.getvalue()
            zout.writestr(info.filename, data)
    return out.getvalue()


def _bump_version(meta: dict) -> None:
    meta["format_version"] += 1


def test_model_from_newer_format_version(cli: CLI, novel_model: bytes):
    (cli.cwd / "in").mkdir()
    (cli.cwd / "in" / "future.markov").write_bytes(_rewrite_meta(novel_model, _bump_version))
    before = cli.files()
    line = assert_one_line_error(cli("generate", "--backend", "markov:in/future.markov"))
    assert "newer genlab" in line
    assert "future.markov" in line
    assert cli.files() == before


def test_rewritten_meta_unchanged_still_loads(cli: CLI, novel_model: bytes):
    """Guards the helper above: rewriting meta without changes gives a working model."""
    (cli.cwd / "in").mkdir()
    (cli.cwd / "in" / "same.markov").write_bytes(_rewrite_meta(novel_model, lambda meta: None))
    g = cli("generate", "--backend", "markov:in/same.markov", "--seed", "1", "--max-tokens", "10")
    assert_ok(g)
    assert g.stdout.strip()


@pytest.mark.parametrize("edit,expected", [
    (lambda m: m.pop("format_version"), "corrupt"),
    (lambda m: m.update(format="something-else"), "not a genlab"),
    (lambda m: m.update(order=99), "corrupt"),
    (lambda m: m.update(vocab_size=m["vocab_size"] + 1), "corrupt"),
], ids=["no-version", "other-format", "bad-order", "vocab-mismatch"])
def test_model_with_bad_metadata(cli: CLI, novel_model: bytes, edit, expected):
    (cli.cwd / "in").mkdir()
    (cli.cwd / "in" / "odd.markov").write_bytes(_rewrite_meta(novel_model, edit))
    line = assert_one_line_error(cli("generate", "--backend", "markov:in/odd.markov"))
    assert expected in line


def _damage_member(model: bytes, member: str) -> bytes:
    """Overwrite the start of one member's deflated data; the zip directory stays intact."""
    data = bytearray(model)
    with zipfile.ZipFile(io.BytesIO(model)) as zf:
        offset = zf.getinfo(member).header_offset
    name_len, extra_len = struct.unpack("<HH", data[offset + 26:offset + 30])
    start = offset + 30 + name_len + extra_len
    data[start:start + 16] = b"\xff" * 16  # deflate block type 3: invalid
    return bytes(data)


@pytest.mark.parametrize("member", ["vocab.npy", "meta.npy"])
def test_model_with_damaged_data(cli: CLI, novel_model: bytes, member: str):
    (cli.cwd / "in").mkdir()
    (cli.cwd / "in" / "damaged.markov").write_bytes(_damage_member(novel_model, member))
    line = assert_one_line_error(cli("generate", "--backend", "markov:in/damaged.markov"))
    assert "damaged.markov" in line and "corrupt" in line


def test_truncated_model_is_called_truncated_or_corrupt(cli: CLI, novel_model: bytes):
    _truncated(cli.cwd, novel_model)
    line = assert_one_line_error(cli("generate", "--backend", "markov:in/half.markov"))
    assert "truncated" in line or "corrupt" in line


def test_printed_command_works_when_corpus_has_no_extension(cli: CLI):
    (cli.cwd / "novel").symlink_to(NOVEL)  # a corpus file without an extension, as from `curl -o novel`
    r = cli("train-markov", "novel")
    assert_ok(r)
    g = cli.printed(printed_command(r.stdout), "--seed", "1", "--max-tokens", "10")
    assert_ok(g)
    assert g.stdout.strip()


# --------------------------------------------------------------------------- Ctrl-C


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # even if the test runner ignores SIGINT


def _has_opened(pid: int, path: Path) -> bool:
    """Whether process `pid` has `path` open (Linux /proc); True where that cannot be known."""
    fd_dir = Path(f"/proc/{pid}/fd")
    if not fd_dir.is_dir():
        return True
    try:
        return any(os.readlink(fd_dir / fd) == str(path) for fd in os.listdir(fd_dir))
    except OSError:
        return False


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_during_training(cli: CLI):
    corpus = cli.cwd.parent / "big.txt"
    text = NOVEL.read_bytes()
    repeats = 60
    while True:
        corpus.write_bytes(text * repeats)  # about 11 MB for 60 copies
        p = subprocess.Popen(cli.argv(["train-markov", corpus]), cwd=cli.cwd, env=cli.env,
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             preexec_fn=_default_sigint)
        t0 = time.monotonic()
        while p.poll() is None and not _has_opened(p.pid, corpus) and time.monotonic() - t0 < 10:
            time.sleep(0.02)  # wait until it is reading the corpus, i.e. training has begun
        while p.poll() is None and time.monotonic() - t0 < 1.5:
            time.sleep(0.02)
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
            out, err = p.communicate(timeout=30)
            break
        p.communicate(timeout=30)
        assert p.returncode == 0
        for f in (cli.cwd / "models").glob("*"):
            f.unlink()
        repeats *= 3
        assert repeats <= 60 * 27, "training finishes too fast to interrupt"
    out, err = out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
    assert "Traceback" not in out and "Traceback" not in err, err
    assert p.returncode == 130, (p.returncode, err)
    assert [line for line in err.splitlines() if line.strip()] == ["genlab: interrupted"]
    models = cli.cwd / "models"
    leftovers = sorted(os.listdir(models)) if models.exists() else []
    assert not [f for f in leftovers if f.endswith(".markov") or f.endswith(".tmp")], leftovers
    assert leftovers == []


@pytest.mark.parametrize("args", [
    ("generate", "-b", "llama:~nouser-genlab-test/x.gguf"),
    ("generate", "-b", "~nouser-genlab-test/x.markov"),
    ("generate", "-b", "markov:~nouser-genlab-test/x"),
    ("chat", "-b", "markov:novel", "--persona", "~nouser-genlab-test/p.toml"),
    ("models", "show", "~nouser-genlab-test/x.gguf"),
])
def test_a_home_folder_that_does_not_exist_is_one_line(cli: CLI, args):
    """`~user/...` for a user the system does not know: one line naming the path (Python's
    pathlib raises RuntimeError for it)."""
    line = one_line_error(cli(*args, input=""))
    assert "cannot find the home folder in '~nouser-genlab-test/" in line
