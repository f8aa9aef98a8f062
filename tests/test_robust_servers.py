"""Hostile model servers, keys and downloads, through the real `genlab` command.

A local http.server in a thread plays the hostile server: it echoes the API key back in its
error pages, sends bodies of hundreds of megabytes or a line that never ends, ignores
max_tokens and streams forever, never answers, or drips one byte at a time. Each case must end
in one `genlab: error:` line (or work), with no secret in any output or file, peak memory under
500 MB and no hang.
"""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path

import pytest

from conftest import one_line_error, run_measured

SECRET = "sk-hostile-7f3a9c41e2d8b605"  # the API key
PASSWORD = "pw-hostile-51c0d7e9"  # the password in a user:pass@ URL
MB = 2**20
HUGE = 600 * MB  # more than the 500 MB a command may take: reading it whole fails the memory check
PIECE = {"choices": [{"index": 0, "text": "x", "delta": {"content": "x"}, "finish_reason": None}],
         "response": "x", "message": {"role": "assistant", "content": "x"}, "done": False}


class Hostile(http.server.ThreadingHTTPServer):
    """A model server (OpenAI routes and Ollama's) that misbehaves as `mode` says."""

    daemon_threads = True

    def __init__(self, mode: str):
        super().__init__(("127.0.0.1", 0), Handler)
        self.mode = mode
        self.keys: list[str] = []  # Authorization headers received
        self.hung_up = threading.Event()  # the client closed the connection before the server was done
        self.stop = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(http.server.BaseHTTPRequestHandler):
    server: Hostile

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        self.answer()

    def do_POST(self) -> None:  # noqa: N802
        self.request_body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.answer()

    def answer(self) -> None:
        self.server.keys.append(self.headers.get("Authorization", ""))
        try:
            if self.path.endswith("/api/show") and self.server.mode in ("forever", "endless_line"):
                self.head(length=2)  # Ollama's facts of the model: none, so the stream is reached
                self.wfile.write(b"{}")
                return
            getattr(self, self.server.mode)()
        except OSError:  # the client hung up
            self.server.hung_up.set()

    def head(self, status: int = 200, kind: str = "application/json", length: int | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()

    def pour(self, block: bytes, total: int) -> None:
        """`block` again and again, `total` bytes in all, unless the client hangs up first."""
        sent = 0
        while sent < total and not self.server.stop.is_set():
            self.wfile.write(block)
            sent += len(block)

    def echo(self) -> None:  # 401, 403 or 500 by turns, the key echoed back in every form
        auth = self.headers.get("Authorization", "")
        body = json.dumps({"error": {"message": f"bad credentials {auth!r} (key {auth.split()[-1]})"}}).encode()
        self.head((401, 403, 500)[len(self.server.keys) % 3], length=len(body))
        self.wfile.write(body)

    def forever(self) -> None:  # ignores max_tokens: pieces of text until the client hangs up
        ollama = self.path.startswith("/api/")
        self.head(kind="application/x-ndjson" if ollama else "text/event-stream")
        line = json.dumps(PIECE).encode() + b"\n"
        self.pour(line if ollama else b"data: " + line + b"\n", 50 * MB)

    def endless_line(self) -> None:  # a stream whose first line never ends
        self.head(kind="text/event-stream")
        self.wfile.write(b'data: {"choices": [{"text": "')
        self.pour(b"x" * MB, HUGE)

    def huge_json(self) -> None:  # a JSON answer of 600 MB
        self.head()
        self.wfile.write(b"[")
        self.pour(b"0," * (MB // 2), HUGE)

    def huge_length(self) -> None:  # says 3 GB are coming
        self.head(length=3 * 2**30)
        self.pour(b" " * MB, HUGE)

    def huge_error(self) -> None:
        self.head(500, kind="text/plain")
        self.pour(b"x" * MB, HUGE)

    def nested(self) -> None:  # JSON nested 100,000 deep: as an answer, an event and an error page
        body = b"[" * 100_000
        if self.path.endswith("/completions") and b'"stream": true' in self.request_body:
            self.head(kind="text/event-stream")
            self.wfile.write(b"data: " + body + b"\n\n")
        else:
            self.head(500 if self.path.endswith("/api/show") else 200, length=len(body))
            self.wfile.write(body)

    def silent(self) -> None:
        self.server.stop.wait(60)

    def drip(self, data: bytes = b"HTTP/1.0 200 OK\r\nContent-Type: text/event-stream\r\n\r\n") -> None:
        """The answer's head one byte every half second (20 s in all: a test without the guard ends)."""
        for byte in data[:40]:
            if self.server.stop.wait(0.5):
                return
            self.wfile.write(bytes([byte]))
            self.wfile.flush()

    def drip_body(self) -> None:  # a prompt head, then an event one byte every half second
        self.head(kind="text/event-stream")
        self.drip(b"data: " + json.dumps(PIECE).encode())

    def book(self) -> None:  # a Gutenberg "book" of 600 MB, its size not said
        self.head(kind="text/plain; charset=utf-8")
        self.wfile.write(b"*** START OF THE PROJECT GUTENBERG EBOOK X ***\n")
        self.pour(b"word " * (MB // 5), HUGE)


@pytest.fixture
def hostile():
    made: list[Hostile] = []

    def make(mode: str) -> Hostile:
        server = Hostile(mode)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        made.append(server)
        return server

    yield make
    for server in made:
        server.stop.set()
        server.shutdown()
        server.server_close()


def alias(cli, url: str, **settings: object) -> str:
    """A server alias "hostile" in the user's genlab.toml (its settings as TOML values)."""
    lines = ["[models.hostile]", f"url = {json.dumps(url)}", *(f"{k} = {json.dumps(v)}" for k, v in settings.items())]
    folder = Path(cli.env["GENLAB_CONFIG_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "genlab.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return "hostile"


def commands(cli, backend: str) -> dict[str, tuple[tuple[str, ...], str | None]]:
    """The four commands that talk to a model, each as (arguments, stdin)."""
    (cli.cwd / "held.txt").write_text("The old man walked down to the sea.\n\nHe sat on a rock.\n")
    (cli.cwd / "prompts.txt").write_text("Once upon a time\n")
    return {
        "generate": (("generate", "-b", backend, "--prompt", "Hi", "--max-tokens", "5"), None),
        "chat": (("chat", "-b", backend), "hello\n"),
        "perplexity": (("perplexity", "-b", backend, "held.txt"), None),
        "compare": (("compare", "-b", backend, "--prompts", "prompts.txt", "--samples", "1", "--max-tokens", "5",
                     "--orders", "none", "-o", "run"), None),
    }


def leaks(secret: str, r, cli, *skip: Path) -> list[str]:
    """Where `secret` shows (as it is or escaped): "stdout", "stderr", or a file of the run."""
    forms = {secret, secret.encode("unicode_escape").decode()}
    where = [name for name, text in (("stdout", r.stdout), ("stderr", r.stderr)) if any(f in text for f in forms)]
    for path in cli.cwd.parent.rglob("*"):
        if path.is_file() and path not in skip and any(f.encode() in path.read_bytes() for f in forms):
            where.append(str(path))
    return where


COMMANDS = ("generate", "chat", "perplexity", "compare")
COMPARE_WRITES_NAMES = ("compare writes the backend names as typed into run.json before it checks them "
                        "(genlab/eval, not this part): remove this mark once it checks them first")


# --- secrets -----------------------------------------------------------------------------------------


class TestSecretsNeverPrinted:
    @pytest.mark.parametrize("command", COMMANDS)
    def test_a_key_with_a_line_break_is_refused_without_echoing_it(self, cli, hostile, command):
        server = hostile("echo")
        cli.env["HOSTILE_KEY"] = SECRET + "\r\n"
        args, stdin = commands(cli, alias(cli, server.url + "/v1", api_key_env="HOSTILE_KEY"))[command]
        r = cli(*args, input=stdin, timeout=120)
        line = one_line_error(r)
        assert "HOSTILE_KEY" in line and "control character" in line
        assert leaks(SECRET, r, cli) == []

    @pytest.mark.parametrize("command", COMMANDS)
    def test_a_server_echoing_the_key_in_its_error_pages(self, cli, hostile, command):
        server = hostile("echo")
        cli.env["HOSTILE_KEY"] = SECRET
        args, stdin = commands(cli, alias(cli, server.url + "/v1", api_key_env="HOSTILE_KEY"))[command]
        r = cli(*args, input=stdin, timeout=120)
        assert "Traceback" not in r.stderr, r.stderr
        assert f"Bearer {SECRET}" in server.keys  # the key went out, and came back in the error pages
        assert leaks(SECRET, r, cli) == []

    @pytest.mark.parametrize("command", COMMANDS)
    @pytest.mark.parametrize("kind", ["openai", "ollama", "alias"])
    def test_a_url_with_a_password(self, cli, hostile, command, kind):
        server = hostile("echo")
        url = server.url.replace("://", f"://user:{PASSWORD}@")
        backend = {"openai": f"openai:{url}/v1", "ollama": f"ollama:{url}#m"}.get(kind) or alias(cli, url + "/v1")
        args, stdin = commands(cli, backend)[command]
        r = cli(*args, input=stdin, timeout=120)
        assert "Traceback" not in r.stderr and r.returncode != 0, r.stderr
        assert leaks(PASSWORD, r, cli, Path(cli.env["GENLAB_CONFIG_DIR"]) / "genlab.toml") == []

    def test_models_list_and_show_hide_a_url_password(self, cli, hostile):
        url = hostile("echo").url.replace("://", f"://user:{PASSWORD}@") + "/v1"
        name = alias(cli, url)
        for args in (("models", "list"), ("models", "list", "--json"), ("models", "show", name)):
            r = cli(*args, timeout=120)
            assert "Traceback" not in r.stderr, r.stderr
            assert leaks(PASSWORD, r, cli, Path(cli.env["GENLAB_CONFIG_DIR"]) / "genlab.toml") == []


# --- bodies under a cap ----------------------------------------------------------------------------


def error_line(r) -> str:
    """The one `genlab: error:` line of a failed command (`generate` has printed its prompt)."""
    lines = r.stderr.splitlines()
    assert r.returncode == 1 and len(lines) == 1 and lines[0].startswith("genlab: error: "), r.stderr
    return lines[0]


def peak_run(cli, *args) -> tuple[str, float]:
    """The error line of `genlab ARGS` and its peak memory in MB."""
    r, peak = run_measured(cli, *args, timeout=120)
    return error_line(r), peak


class TestBodiesBounded:
    @pytest.mark.parametrize("mode, words", [
        ("huge_json", "more than 16 MB"), ("huge_length", "3,221,225,472 bytes"), ("huge_error", "HTTP 500")])
    @pytest.mark.parametrize("kind", ["openai", "ollama"])
    def test_a_huge_answer(self, cli, hostile, mode, words, kind):
        url = hostile(mode).url
        if kind == "openai":  # scoring reads a JSON answer
            (cli.cwd / "held.txt").write_text("The old man walked down to the sea.\n")
            line, peak = peak_run(cli, "perplexity", "-b", f"openai:{url}/v1", "held.txt")
        else:  # every Ollama call starts with /api/show
            line, peak = peak_run(cli, "generate", "-b", f"ollama:{url}#m", "-p", "Hi")
        assert words in line and peak < 500, (line, peak)

    @pytest.mark.parametrize("args", [("generate", "-b", "openai:{url}/v1", "-p", "Hi"),  # an event
                                      ("perplexity", "-b", "openai:{url}/v1", "held.txt"),  # an answer
                                      ("generate", "-b", "ollama:{url}#m", "-p", "Hi")])  # an error page
    def test_json_nested_too_deeply(self, cli, hostile, args):
        url = hostile("nested").url
        (cli.cwd / "held.txt").write_text("The old man walked down to the sea.\n")
        line = error_line(cli(*(a.format(url=url) for a in args), timeout=120))
        assert url in line and "nested too deeply" in line, line

    @pytest.mark.parametrize("backend", ["openai:{url}/v1", "ollama:{url}#m"])
    def test_a_stream_line_that_never_ends(self, cli, hostile, backend):
        server = hostile("endless_line")
        line, peak = peak_run(cli, "generate", "-b", backend.format(url=server.url), "-p", "Hi")
        assert "malformed stream" in line and peak < 500, (line, peak)


# --- a client-side token cap ------------------------------------------------------------------------


class TestTokenCap:
    @pytest.mark.parametrize("backend", ["openai:{url}/v1", "ollama:{url}#m"])
    @pytest.mark.parametrize("command", ["generate", "chat"])
    def test_a_server_ignoring_max_tokens_is_stopped(self, cli, hostile, backend, command):
        server = hostile("forever")
        name = backend.format(url=server.url)
        args = ("generate", "-b", name, "-p", "Hi") if command == "generate" else ("chat", "-b", name)
        r = cli(*args, "--max-tokens", "20", input="hello\n" if command == "chat" else None, timeout=60)
        assert "Traceback" not in r.stderr and r.returncode == 0, r.stderr
        assert r.stdout.count("x") == 20, r.stdout[:200]
        assert server.hung_up.wait(10)  # genlab closed the connection: the server stops generating


# --- timeouts -----------------------------------------------------------------------------------------


class TestTimeouts:
    @pytest.mark.parametrize("mode", ["silent", "drip", "drip_body"])
    def test_a_server_that_stalls_or_drips(self, cli, hostile, mode):
        server = hostile(mode)
        r = cli("generate", "-b", alias(cli, server.url + "/v1", timeout=2), "-p", "Hi", timeout=60)
        line = error_line(r)
        assert "within 2 s (timeout)" in line, line


# --- corpus fetch -----------------------------------------------------------------------------------


class TestCorpusFetch:
    @pytest.mark.parametrize("mode, words", [("book", "more than 64 MB"), ("huge_length", "3,221,225,472 bytes")])
    def test_a_huge_download(self, cli, hostile, mode, words):
        server = hostile(mode)
        line, peak = peak_run(cli, "corpus", "fetch", "gutenberg:7", "--mirror", server.url, "--dir", "corpora")
        assert words in line and peak < 500, (line, peak)
        assert list(cli.cwd.rglob("*")) in ([], [cli.cwd / "corpora"])  # no file, no temporary left

    def test_a_dripping_mirror(self, tmp_path, hostile):
        from genlab.errors import GenlabError
        from genlab.gutenberg import fetch_gutenberg

        server = hostile("drip_body")
        with pytest.raises(GenlabError, match="timed out after 1s"):
            fetch_gutenberg(7, dest_dir=tmp_path, mirror=server.url, timeout=1)
