"""The server backend against a real llama-cpp-python server on a project-built tiny GGUF.

`python -m llama_cpp.server` runs on 127.0.0.1 with a free port and is always stopped. A small
stub HTTP server (http.server in a thread) is used only for what a real server will not do on
demand: a malformed stream, a cut-off stream and 429 answers before a success.
"""

from __future__ import annotations

import http.server
import json
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("llama_cpp")
pytest.importorskip("gguf")
pytest.importorskip("llama_cpp.server.app", reason="needs llama-cpp-python[server]")

from conftest import NOVEL as NOVEL_FILE  # noqa: E402
from conftest import REPO, isolated_env, run_genlab  # noqa: E402
from genlab.errors import GenlabError  # noqa: E402
from genlab.backends import load_backend
from genlab.generator import Generator  # noqa: E402
from genlab.llama.generator import LlamaGenerator  # noqa: E402
from genlab.sampling import Sampling  # noqa: E402
from genlab.server.client import Endpoint, Retry, ServerError, parse_retry_after  # noqa: E402
from genlab.server.generator import ServerGenerator, parse_spec, request_fields  # noqa: E402
from genlab.server.messages import error_message  # noqa: E402

CTX = 256
NOVEL = NOVEL_FILE.read_text(encoding="utf-8")
LONG = Sampling(seed=0, max_tokens=240)  # seed 0 runs the whole 240 tokens on this model (~2 s)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LlamaServer:
    """`python -m llama_cpp.server` on a free port; f32 KV cache so scores match LlamaGenerator's."""

    def __init__(self, model: Path, log: Path, *extra: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.log = open(log, "wb")
        cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
               "--port", str(self.port), "--logits_all", "true", "--n_ctx", str(CTX), "--n_threads", "1",
               "--n_threads_batch", "1", "--type_k", "0", "--type_v", "0", "--verbose", "false", *extra]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, cwd=model.parent)
        deadline = time.monotonic() + 90
        while True:
            if self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"llama_cpp.server exited: {log.read_text(errors='replace')[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/models", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("llama_cpp.server did not answer /v1/models within 90 s")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()


@pytest.fixture(scope="module")
def model(tiny_gguf) -> Path:
    return tiny_gguf  # n_ctx 256: CTX


@pytest.fixture(scope="module")
def server(model, tmp_path_factory):
    # requests queue instead of interrupting the running stream (llama-cpp-python's default)
    srv = LlamaServer(model, tmp_path_factory.mktemp("log") / "server.log", "--interrupt_requests", "false")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def gen(server) -> ServerGenerator:
    return ServerGenerator(server.url)


@pytest.fixture(scope="module")
def local(model):
    g = LlamaGenerator(model, f32_cache=True, n_ctx=CTX)
    yield g
    g.close()


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`genlab ARGS` in the repository folder, with `env` added to this process's environment."""
    return run_genlab(args, cwd=REPO, env={**os.environ, **(env or {})})


# --- through a real server ------------------------------------------------------------------------------


def test_stream_arrives_in_pieces_and_a_seed_repeats(gen):
    assert isinstance(gen, Generator)
    pieces = list(gen.stream("The old man said", Sampling(seed=3, max_tokens=30)))
    assert len(pieces) > 3 and all(isinstance(p, str) and p for p in pieces)
    text = "".join(pieces)
    assert text == "".join(gen.stream("The old man said", Sampling(seed=3, max_tokens=30)))
    others = {"".join(gen.stream("The old man said", Sampling(seed=k, max_tokens=30, temperature=1.0)))
              for k in range(4)}
    assert len(others) > 1  # the seed reaches the server


def test_stream_pieces_arrive_while_generating(gen):
    """The answer arrives a few tokens at a time (streamed, not whole at the end): the first
    piece is a small part of it, and many pieces follow."""
    it = gen.stream("The", LONG)
    first = next(it)
    rest = list(it)
    assert len(rest) > 100 and 0 < len(first) < len(first + "".join(rest)) / 20


def test_greedy_matches_the_local_model(gen, local):
    """temperature 0: the server and LlamaGenerator run the same file, so the same text."""
    s = Sampling(temperature=0, max_tokens=20)
    assert "".join(gen.stream("The old man said", s)) == "".join(local.stream("The old man said", s))


def test_sampling_reaches_the_server(gen):
    s = Sampling(seed=5, max_tokens=30, temperature=1.0)
    base = "".join(gen.stream("The old man", s))
    greedy = "".join(gen.stream("The old man", s.merged(temperature=0)))
    assert "".join(gen.stream("The old man", s.merged(top_k=1))) == greedy  # top_k is sent and read
    assert base != greedy
    stop = base[5:8]
    got = "".join(gen.stream("The old man", s.merged(stop=(stop,))))
    assert got == base[: base.find(stop)]


def test_chat(gen):
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello"}]
    s = Sampling(seed=2, max_tokens=20)
    pieces = list(gen.chat(msgs, s))
    assert pieces and all(isinstance(p, str) and p for p in pieces)
    assert "".join(pieces) == "".join(gen.chat(msgs, s))
    with pytest.raises(GenlabError, match="role"):
        list(gen.chat([{"role": "robot", "content": "x"}], s))


def test_score_is_close_to_the_local_model(gen, local):
    """Bits per byte through the server vs LlamaGenerator.score on the same GGUF and text.

    llama-cpp-python's server reports no log-probability for the first text token (OpenAI's
    convention), so that token is charged the mean cost of the others. The other tokens are the
    same computation (f32 KV cache on both sides): they agree to float32 rounding. The measured
    bits-per-byte difference on these 400-character texts is 0.01%-0.2%; the bound below is the
    worst case of the imputation, |cost of token 1 - mean| / n, plus rounding.
    """
    measured = []
    for start in (0, 1000, 5000, 9000):
        text = NOVEL[start: start + 400]
        remote, mine = gen.score(text), local.score(text)
        assert (remote.tokens, remote.bytes, remote.words) == (mine.tokens, mine.bytes, mine.words)
        assert math.isfinite(remote.bits_per_byte) and remote.bits_per_byte > 0
        n = remote.tokens
        scored = remote.nats * (n - 1) / n  # what the server reported, without the imputed first token
        first = _first_token_nats(local, text)
        tail = mine.nats - first  # the reported tokens are exactly LlamaGenerator's tokens 2..n
        assert scored == pytest.approx(tail, rel=1e-4)
        # imputed - actual = (mean - first): its effect on the total is that, nothing more
        assert remote.nats - mine.nats == pytest.approx(tail / (n - 1) - first, abs=1e-4 * mine.nats)
        measured.append(abs(remote.bits_per_byte / mine.bits_per_byte - 1))
        assert remote.bits_per_byte == pytest.approx(mine.bits_per_byte, rel=0.01)
    print(f"bits per byte, server vs LlamaGenerator: relative differences {[f'{m:.2e}' for m in measured]}")


def _first_token_nats(local: LlamaGenerator, text: str) -> float:
    """-ln p(first token | BOS) by the local model (its own window scorer, one token)."""
    return local._score_window(local.tokenize(text), 0, 0, 1)


def test_score_edge_cases(gen):
    empty = gen.score("")
    assert (empty.nats, empty.tokens, empty.bytes) == (0.0, 0, 0)
    with pytest.raises(GenlabError, match="too short"):
        gen.score("The")  # one token: its log-probability is never reported
    with pytest.raises(GenlabError, match="context length is 256 tokens"):
        gen.score("x" * 3000)  # longer than the context and never a space to cut at


def test_a_text_longer_than_the_context_is_scored_in_windows(gen, local):
    """3,000 characters are ~1,600 tokens, six times the server's context of 256: the server
    refuses them whole, and genlab scores them in windows of half a context after half a
    context. The in-process model scores the same text in its own windows (stride 128 tokens);
    with the same context lengths the two agree closely - and exactly in token count, so no
    token is scored twice or skipped."""
    for text in (NOVEL[:3000], NOVEL[20000:26000]):
        remote, mine = gen.score(text), local.score(text)
        assert remote.tokens > 4 * CTX
        assert (remote.tokens, remote.bytes, remote.words) == (mine.tokens, mine.bytes, mine.words)
        assert remote.bits_per_byte == pytest.approx(mine.bits_per_byte, rel=1e-3)


def test_count_tokens(gen, local):
    for text in ("The old man said", "", "“Well,” she said — naïve café 🎉", NOVEL[:300]):
        assert gen.count_tokens(text) == local.count_tokens(text)
    assert gen.info()["tokenizer"] == "extras"


def test_info(gen, server, model):
    info = gen.info()
    assert info["kind"] == "openai" and info["url"] == server.url and info["model"] is None
    assert info["models"] == [str(model)]  # llama-cpp-python names the model by its path
    assert info["context_length"] is None  # llama-cpp-python's server does not say
    assert gen.context_length is None


def test_concurrent_streams_from_threads(gen):
    """One generator, several threads, one request each: every stream is whole and seeded."""
    seeds = [3, 4, 5, 6]
    alone = {k: "".join(gen.stream("The old man", Sampling(seed=k, max_tokens=25))) for k in seeds}
    got: dict[int, str] = {}

    def run(k: int) -> None:
        got[k] = "".join(gen.stream("The old man", Sampling(seed=k, max_tokens=25)))

    threads = [threading.Thread(target=run, args=(k,)) for k in seeds]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert got == alone


def test_cli_generate(server, gen):
    s = Sampling(seed=7, max_tokens=20)
    expected = "".join(gen.stream("The old man", s))
    r = cli("generate", "--backend", f"openai:{server.url}#tiny", "--prompt", "The old man", "--seed", "7",
            "--max-tokens", "20")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "The old man" + expected + "\n"


def test_alias_with_url_and_api_key_env(server, tmp_path, monkeypatch):
    (tmp_path / "user").mkdir()
    (tmp_path / "user" / "genlab.toml").write_text(
        f'[models.big]\nurl = "{server.url}"\nmodel = "tiny"\napi_key_env = "GENLAB_TEST_KEY"\ntimeout = 30\n'
        '[models.big.sampling]\nmax_tokens = 12\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GENLAB_CONFIG_DIR", str(tmp_path / "user"))
    monkeypatch.delenv("GENLAB_TEST_KEY", raising=False)
    with pytest.raises(GenlabError, match="GENLAB_TEST_KEY, which is not set"):
        load_backend("big")
    monkeypatch.setenv("GENLAB_TEST_KEY", "sk-very-secret")
    g = load_backend("big")
    assert isinstance(g, ServerGenerator) and (g.name, g.model, g.client.timeout) == ("big", "tiny", 30.0)
    assert "sk-very-secret" not in repr(g) and "sk-very-secret" not in json.dumps(g.info(), default=str)
    # the server has no key configured, so it ignores the Bearer token and answers
    r = cli("generate", "--backend", "big", "--prompt", "The", "--seed", "1",
            env={"GENLAB_CONFIG_DIR": str(tmp_path / "user"), "GENLAB_TEST_KEY": "sk-very-secret"})
    assert r.returncode == 0, r.stderr
    assert "sk-very-secret" not in r.stdout + r.stderr
    from genlab import aliases as reg

    assert reg.find_alias("big").is_server
    from genlab.backends import resolve

    assert (resolve("big").kind, resolve("big").location) == ("openai", f"{server.url}#tiny")


def test_models_add_writes_a_server_alias_that_generates(server, gen, tmp_path):
    env = {"GENLAB_CONFIG_DIR": str(tmp_path / "user"), "GENLAB_TEST_KEY": "sk-very-secret"}
    r = cli("models", "add", "big", f"openai:{server.url}#tiny", "--api-key-env", "GENLAB_TEST_KEY",
            "--timeout", "30", "--max-tokens", "12", env=env)
    assert r.returncode == 0, r.stderr
    assert "alias big -> openai:" in r.stdout and "server models:" in r.stdout
    written = (tmp_path / "user" / "genlab.toml").read_text(encoding="utf-8")
    assert "sk-very-secret" not in written and 'api_key_env = "GENLAB_TEST_KEY"' in written
    expected = "".join(gen.stream("The", Sampling(seed=3, max_tokens=12)))
    r = cli("generate", "--backend", "big", "--prompt", "The", "--seed", "3", env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "The" + expected + "\n"  # the alias's max_tokens = 12 applied
    listed = cli("models", "list", env=env)
    assert "big" in listed.stdout and server.url in listed.stdout
    shown = cli("models", "show", "big", env=env)
    assert shown.returncode == 0, shown.stderr
    assert server.url in shown.stdout and "from $GENLAB_TEST_KEY" in shown.stdout
    assert "max_tokens=12" in shown.stdout and "sk-very-secret" not in shown.stdout
    data = json.loads(cli("models", "show", "big", "--json", env=env).stdout)
    assert data["url"] == server.url and data["model"] == "tiny" and data["models"]


def test_models_add_server_errors(tmp_path):
    env = {"GENLAB_CONFIG_DIR": str(tmp_path / "user")}
    down = f"openai:http://127.0.0.1:{free_port()}/v1"
    cases = [
        (["models", "add", "big", down], ["connection refused", "--no-check"]),
        (["models", "add", "big", down + "#m", "--n-ctx", "512", "--no-check"], ["--n-ctx", "server alias"]),
        (["models", "add", "big", "models/x.gguf", "--api-key-env", "K", "--no-check"], ["--api-key-env", "server"]),
        (["models", "add", "big", down, "--api-key-env", "not a name", "--no-check"], ["api_key_env"]),
    ]
    for args, words in cases:
        r = cli(*args, env=env)
        lines = r.stderr.strip().splitlines()
        assert r.returncode != 0 and len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
        assert all(w in lines[0] for w in words), lines[0]
        assert not (tmp_path / "user" / "genlab.toml").exists()
    r = cli("models", "add", "big", down + "#m", "--no-check", env=env)  # a server that is down for now
    assert r.returncode == 0, r.stderr
    assert 'url = "http://127.0.0.1:' in (tmp_path / "user" / "genlab.toml").read_text(encoding="utf-8")


@pytest.mark.parametrize("backend, words", [
    ("openai:http://127.0.0.1:{closed}/v1", ["connection refused", "is the server running"]),
    ("openai:ftp://example.org/v1", ["not an http:// or https:// URL"]),
    ("openai:", ["after the colon", "openai:URL"]),
])
def test_cli_errors_are_one_line(backend, words):
    r = cli("generate", "--backend", backend.format(closed=free_port()), "--prompt", "Hi")
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert all(w in lines[0] for w in words), lines[0]


def test_timeout_is_one_clear_error():
    """A socket that accepts connections but never answers (a hung server)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(4)
        g = ServerGenerator(f"http://127.0.0.1:{s.getsockname()[1]}/v1", timeout=0.5)
        with pytest.raises(ServerError, match=r"within 0.5 s \(timeout\)"):  # the timeout given, not a default
            list(g.stream("Hi", Sampling(max_tokens=5)))


@pytest.fixture
def spare_server(model, tmp_path):
    """A server of our own: llama-cpp-python's defaults (it interrupts streams), no logits_all."""
    srv = LlamaServer(model, tmp_path / "spare.log", "--logits_all", "false")
    yield srv
    srv.stop()


def test_a_server_without_prompt_logprobs_cannot_score(spare_server):
    g = ServerGenerator(spare_server.url)
    with pytest.raises(ServerError) as info:
        g.score("The old man said hello.")
    message = str(info.value)
    assert message.startswith("this server cannot score text (it returns no prompt log-probabilities)")
    assert "\n" not in message
    assert "".join(g.stream("The", Sampling(seed=1, max_tokens=5)))  # generation still works


def test_an_interrupted_stream_is_an_error(spare_server):
    """llama-cpp-python's server (by default) ends a running stream with [DONE] when another
    request arrives: that is reported, not taken for a finished answer."""
    g = ServerGenerator(spare_server.url)
    received: list[str] = []
    other: list[str] = []
    with pytest.raises(ServerError, match="ended the stream before the answer finished") as info:
        for piece in g.stream("The", LONG):
            received.append(piece)
            if len(received) == 2:
                t = threading.Thread(target=lambda: other.append("".join(g.stream("The", Sampling(max_tokens=3)))))
                t.start()
    t.join(30)
    assert info.value.received == "".join(received) and other  # the other request was answered


def test_server_killed_mid_stream_keeps_the_text(spare_server):
    g = ServerGenerator(spare_server.url)
    received: list[str] = []
    with pytest.raises(ServerError) as info:
        for piece in g.stream("The", LONG):
            received.append(piece)
            if len(received) == 3:
                os.kill(spare_server.proc.pid, signal.SIGKILL)
                spare_server.proc.wait(10)
    text = "".join(received)
    assert len(received) >= 3 and info.value.received == text
    message = str(info.value)
    assert "\n" not in message and "cut off" in message and f"after {len(text)} characters" in message
    # the server is gone now: the next call says so
    with pytest.raises(ServerError, match="connection refused"):
        list(g.stream("The", LONG))


# --- a stub server: malformed and cut-off streams, 429 then success ------------------------------------------


class Stub:
    """An http.server in a thread that plays `script`: one (status, headers, body bytes) per request."""

    def __init__(self, script: list[tuple[int, dict[str, str], bytes]]):
        self.script = list(script)
        self.requests: list[dict[str, object]] = []
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                stub.requests.append({"path": self.path, "headers": dict(self.headers),
                                      "body": json.loads(self.rfile.read(length) or b"{}")})
                status, headers, body = stub.script.pop(0) if stub.script else (500, {}, b"script ended")
                self.send_response(status)
                for k, v in {"Connection": "close", **headers}.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()
                self.close_connection = True

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def stub():
    made: list[Stub] = []

    def make(script):
        s = Stub(script)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


SSE = {"Content-Type": "text/event-stream"}


def chunk(text: str, finish: str | None = None) -> bytes:
    return b"data: " + json.dumps({"choices": [{"text": text, "finish_reason": finish}]}).encode() + b"\n\n"


def test_malformed_stream(stub):
    s = stub([(200, SSE, chunk("Hello") + b": ping\n\ndata: {not json\n\n" + chunk(" world"))])
    g = ServerGenerator(s.url)
    received = []
    with pytest.raises(ServerError) as info:
        for piece in g.stream("Hi", Sampling(max_tokens=5)):
            received.append(piece)
    assert received == ["Hello"] and info.value.received == "Hello"
    assert "malformed event" in str(info.value) and "after 5 characters" in str(info.value)


def test_cut_off_stream(stub):
    s = stub([(200, SSE, chunk("Hello") + chunk(" wor")),  # no finish_reason, no [DONE]: cut off
              (200, SSE, chunk("Hello") + chunk(" world", "length"))])  # no [DONE] but finished: fine
    g = ServerGenerator(s.url)
    received = []
    with pytest.raises(ServerError, match="cut off") as info:
        for piece in g.stream("Hi", Sampling(max_tokens=5)):
            received.append(piece)
    assert "".join(received) == info.value.received == "Hello wor"
    assert "".join(g.stream("Hi", Sampling(max_tokens=5))) == "Hello world"


def test_429_then_success_is_retried_once_without_duplicates(stub):
    busy = (429, {"Retry-After": "0", "Content-Type": "application/json"},
            json.dumps({"error": {"message": "slow down"}}).encode())
    unavailable = (503, {"Content-Type": "application/json"}, b'{"error": "loading model"}')
    s = stub([busy, unavailable, (200, SSE, chunk("Hello") + chunk(" world", "stop") + b"data: [DONE]\n\n")])
    g = ServerGenerator(s.url, api_key="sk-stub-secret")
    g.client.retry = Retry(attempts=4, base=0.01)
    assert list(g.stream("Hi", Sampling(seed=1, max_tokens=5))) == ["Hello", " world"]
    assert len(s.requests) == 3
    assert all(r["headers"]["Authorization"] == "Bearer sk-stub-secret" for r in s.requests)
    body = s.requests[-1]["body"]
    assert body["stream"] is True and body["prompt"] == "Hi" and body["seed"] == 1
    # bounded: a server that stays busy gives one clear error after `attempts` tries
    s2 = stub([busy] * 3)
    g2 = ServerGenerator(s2.url, api_key="sk-stub-secret", retries=3)
    g2.client.retry = Retry(attempts=3, base=0.01)
    with pytest.raises(ServerError) as info:
        list(g2.stream("Hi", Sampling(max_tokens=5)))
    assert len(s2.requests) == 3 and info.value.status == 429
    assert "gave up after 3 attempts" in str(info.value) and "slow down" in str(info.value)
    assert "sk-stub-secret" not in str(info.value)


# --- pure functions ------------------------------------------------------------------------------------------


def logprobs_answer(tokens, values, completion=1):
    return {"choices": [{"text": "", "finish_reason": "length",
                         "logprobs": {"tokens": tokens, "token_logprobs": values}}],
            "usage": {"completion_tokens": completion}}


def test_reading_prompt_logprobs_of_each_server_shape():
    g = ServerGenerator("http://127.0.0.1:9/v1").scorer
    text = "The old man"
    # vLLM: BOS echoed first with no value, every text token scored given BOS (exact)
    assert g.read_logprobs(logprobs_answer(["<s>", "The", " old", " man", " x"], [None, -1.0, -2.0, -3.0, -9.0]),
                            text) == (6.0, 3)
    # llama-cpp-python / OpenAI: the first text token has no value: charged the mean of the others
    assert g.read_logprobs(logprobs_answer([" The", " old", " man", " x"], [None, -2.0, -4.0, -9.0]),
                            text) == (9.0, 3)
    # a server that scored every token (no null entry)
    assert g.read_logprobs(logprobs_answer(["The", " old", " man"], [-1.0, -2.0, -3.0], 0), text) == (6.0, 3)
    for bad in (logprobs_answer([], []), {"choices": [{"text": "", "logprobs": None}]}):
        with pytest.raises(ServerError, match="cannot score"):
            g.read_logprobs(bad, text)
    with pytest.raises(ServerError, match="invalid"):
        g.read_logprobs(logprobs_answer([" The", " old", " man", " x"], [None, None, -4.0, -9.0]), text)


# --- pure functions, continued ----------------------------------------------------------------------------------


def test_request_fields_mapping():
    s = Sampling(temperature=0.7, top_k=20, top_p=0.9, min_p=0.1, repeat_penalty=1.1, repeat_last_n=32,
                 seed=4294967295, max_tokens=50, stop=("\n\n",))
    assert request_fields(s) == {"temperature": 0.7, "top_p": 0.9, "max_tokens": 50, "seed": 4294967294,
                                 "stop": ["\n\n"], "top_k": 20, "min_p": 0.1, "repeat_penalty": 1.1,
                                 "repetition_penalty": 1.1, "repeat_last_n": 32}
    assert request_fields(Sampling(), extra=False) == {"temperature": 0.8, "top_p": 0.95, "max_tokens": 256}


def test_spec_and_url_parsing():
    assert parse_spec("http://h:1/v1#llama3:8b") == ("http://h:1/v1", "llama3:8b")
    assert parse_spec("http://h:1/v1") == ("http://h:1/v1", None)
    assert Endpoint.parse("http://h:8000").url == "http://h:8000/v1"
    assert Endpoint.parse("https://h/api/v1/").url == "https://h:443/api/v1"
    assert Endpoint.parse("http://h:8000/v1").root == ""
    for bad in ("h:8000", "http://", "http://user:pw@h/v1", "http://h:99999/v1"):
        with pytest.raises(GenlabError):
            Endpoint.parse(bad)


def test_error_messages_and_retry_after():
    assert error_message(b'{"error": {"message": "bad top_k"}}') == "bad top_k"
    assert error_message(b'{"detail": [{"loc": ["body", "top_k"], "msg": "not an int"}]}') == "top_k: not an int"
    assert error_message(b"<html><body>502 Bad Gateway</body></html>") == "502 Bad Gateway"
    lcp = {"error": {"message": "1 validation error:\n  {'type': 'int_parsing', 'loc': ('body', 'top_k'), "
                                "'msg': 'Input should be a valid integer', 'input': 'x'}\n\n  File \"app.py\""}}
    assert error_message(lcp) == "top_k: Input should be a valid integer"
    assert parse_retry_after("3") == 3.0 and parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert 0 <= parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") <= 0.0  # in the past: no wait
    assert Retry(cap=5).delay(1, 60) is None  # a Retry-After beyond the cap is not waited for


def test_rejected_field_is_named(server):
    g = ServerGenerator(server.url)
    with pytest.raises(ServerError) as info:
        g.client.post_json("/v1/completions", {"prompt": "x", "top_k": "many", "max_tokens": 1})
    assert "rejected the request field 'top_k'" in str(info.value) and "\n" not in str(info.value)


# --- genlab compare through a server ---------------------------------------------------------------------


def test_compare_with_concurrent_requests_gives_the_sequential_results(server, tmp_path):
    """Four requests in flight at once: every sample is saved once, under its own prompt and
    seed, with the text a one-at-a-time run gives."""
    import json

    (tmp_path / "prompts.txt").write_text("The old man\nchat:Where is the harbour?\n", encoding="utf-8")
    runs = {}
    for width in (4, 1):
        r = run_genlab(["compare", "-b", f"openai:{server.url}", "--prompts", "prompts.txt", "--samples", "4",
                        "--orders", "none", "--max-tokens", "16", "--seed", "3", "--concurrency", str(width),
                        "-o", f"run{width}"], cwd=tmp_path, env=isolated_env(tmp_path))
        assert r.returncode == 0, r.stderr
        samples = (tmp_path / f"run{width}" / "samples.jsonl").read_text(encoding="utf-8")
        rows = [json.loads(x) for x in samples.splitlines()]
        runs[width] = {(row["prompt_id"], row["sample"]): (row["seed"], row["text"]) for row in rows}
        assert len(rows) == len(runs[width]) == 2 * 4
        assert (tmp_path / f"run{width}" / "report.md").is_file()
    assert runs[4] == runs[1]


def test_compare_keeps_its_saved_samples_when_the_server_dies(model, tmp_path):
    """Kill the server in the middle of a compare: one clear error line, every sample saved
    before it intact and complete."""
    import json

    srv = LlamaServer(model, tmp_path / "dying.log", "--interrupt_requests", "false")
    try:
        proc = subprocess.Popen([sys.executable, "-m", "genlab", "compare", "-b", f"openai:{srv.url}",
                                 "--samples", "30", "--orders", "none", "--max-tokens", "40", "--concurrency", "2",
                                 "-o", "run"],
                                cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        saved = tmp_path / "run" / "samples.jsonl"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not saved.is_file() or len(saved.read_bytes().splitlines()) < 3):
            time.sleep(0.05)
        os.kill(srv.proc.pid, signal.SIGKILL)
        srv.proc.wait(10)
        out, err = proc.communicate(timeout=120)
    finally:
        srv.stop()
    lines = [x for x in err.splitlines() if x.strip()]
    assert proc.returncode == 1 and "Traceback" not in err, err
    assert len(lines) == 1 and lines[0].startswith("genlab: error:"), err
    rows = [json.loads(x) for x in saved.read_text(encoding="utf-8").splitlines()]
    assert 3 <= len(rows) < 9 * 30
    assert all(r["text"] and r["tokens"] > 0 for r in rows)


def test_a_context_refusal_without_numbers_says_to_split(stub):
    """llama.cpp's own server refuses a long prompt without saying how long its context is:
    then the text cannot be cut to fit, and the one error line says to split it."""
    refusal = (400, {"Content-Type": "application/json"},
               json.dumps({"error": {"message": "the request exceeds the available context size"}}).encode())
    s = stub([refusal])
    with pytest.raises(ServerError, match="exceeds the available context size.*split it"):
        ServerGenerator(s.url).score("a text the server finds too long for its context")
    assert len(s.requests) == 1
