"""The ollama: backend against a stand-in Ollama (tests/ollama_stub_server.py) on 127.0.0.1.

Ollama cannot be installed here; the stub speaks its native API as documented and makes its text
with the real llama.cpp (LlamaGenerator over the tiny GGUF), applying the options it receives on
top of Ollama's defaults and the model's Modelfile parameters. So "the same text as
LlamaGenerator in process with the same Sampling" means every setting arrived under Ollama's
name and overrode the Modelfile's (whose values here all differ from genlab's).
"""

from __future__ import annotations

import hashlib
import json
import math
import socket
from dataclasses import replace

import pytest

pytest.importorskip("llama_cpp")
pytest.importorskip("gguf")

from conftest import CLI, isolated_env  # noqa: E402
from ollama_stub_server import OllamaStub, StubModel  # noqa: E402

from genlab.errors import GenlabError  # noqa: E402
from genlab.generator import Generator  # noqa: E402
from genlab.llama.generator import LlamaGenerator  # noqa: E402
from genlab.ollama import OllamaGenerator, parse_host, parse_spec, request_options  # noqa: E402
from genlab.ollama.api import parse_parameters  # noqa: E402
from genlab.sampling import Sampling  # noqa: E402
from genlab.server.client import Retry, ServerError  # noqa: E402

# A Modelfile whose every value differs from what genlab sends (the stub refuses typical_p and
# presence_penalty unless they are overridden back to neutral).
MODELFILE = {"temperature": 0.3, "top_k": 7, "top_p": 0.5, "min_p": 0.2, "repeat_penalty": 1.3,
             "repeat_last_n": 8, "seed": 42, "num_predict": 5, "typical_p": 0.7, "presence_penalty": 1.5,
             "stop": ["<|im_end|>", "USER:"]}
PROMPT = "The old man said"


@pytest.fixture(scope="module")
def stub(tiny_gguf):
    with OllamaStub({"tiny": StubModel(tiny_gguf, MODELFILE),
                     "plain:v1": StubModel(tiny_gguf),
                     "small": StubModel(tiny_gguf, {"num_ctx": 128}),
                     "terse": StubModel(tiny_gguf, system="You are terse.")}) as s:
        yield s


@pytest.fixture(scope="module")
def local(tiny_gguf):
    with LlamaGenerator(tiny_gguf, n_ctx=256) as g:
        yield g


@pytest.fixture(scope="module")
def gen(stub) -> OllamaGenerator:
    return OllamaGenerator("tiny", stub.url)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and "Traceback" not in text, text
    return text


# --- sampling arrives whole ------------------------------------------------------------------------


@pytest.mark.parametrize("s", [
    Sampling(seed=3, max_tokens=24),
    Sampling(temperature=0, max_tokens=24),
    Sampling(seed=5, temperature=1.4, top_k=0, top_p=1.0, min_p=0.0, max_tokens=24),
    Sampling(seed=5, temperature=1.0, top_k=5, top_p=0.8, min_p=0.1, max_tokens=24),
    Sampling(seed=9, repeat_penalty=1.5, repeat_last_n=16, max_tokens=40),
])
def test_stream_is_llama_cpp_in_process_with_the_same_sampling(gen, local, s):
    pieces = list(gen.stream(PROMPT, s))
    assert len(pieces) > 1 and all(isinstance(p, str) and p for p in pieces)  # streamed, not whole at the end
    assert "".join(pieces) == "".join(local.stream(PROMPT, s))
    assert gen.last_usage["completion_tokens"] == local.last_usage["completion_tokens"]
    assert gen.last_usage["prompt_tokens"] == local.last_usage["prompt_tokens"]


def test_every_setting_is_sent_under_ollamas_name(gen, stub):
    s = Sampling(temperature=0.7, top_k=20, top_p=0.9, min_p=0.1, repeat_penalty=1.1, repeat_last_n=32,
                 seed=11, max_tokens=9, stop=("\n\n", "THE END"))
    "".join(gen.stream(PROMPT, s))
    body = stub.bodies("/api/generate")[-1]
    assert body == {"model": "tiny", "prompt": PROMPT, "raw": True, "stream": True, "think": False,
                    "options": {"temperature": 0.7, "top_k": 20, "top_p": 0.9, "min_p": 0.1, "typical_p": 1.0,
                                "repeat_penalty": 1.1, "repeat_last_n": 32, "presence_penalty": 0.0,
                                "frequency_penalty": 0.0, "seed": 11, "num_predict": 9, "num_ctx": 256,
                                "stop": ["\n\n", "THE END"]}}
    # seeds: None is "random" (-1: a Modelfile's fixed seed must not make it repeat); llama.cpp
    # reads 4294967295 as random too, so it becomes 4294967294 (as LlamaGenerator does)
    assert request_options(Sampling(), 64, None)["seed"] == -1
    assert "stop" not in request_options(Sampling(), 64, None)
    assert request_options(Sampling(seed=4294967295), 64, [])["seed"] == 4294967294


def test_seed_temperature_stop_and_num_predict(gen, stub, local):
    s = Sampling(seed=4, temperature=1.0, max_tokens=30)
    text = "".join(gen.stream(PROMPT, s))
    assert text == "".join(gen.stream(PROMPT, s))  # the same seed, the same text
    assert len({"".join(gen.stream(PROMPT, s.merged(seed=k))) for k in range(4)}) > 1  # the seed arrives
    unseeded = replace(s, seed=None)  # (merged() keeps a field given None)
    assert len({"".join(gen.stream(PROMPT, unseeded)) for _ in range(4)}) > 1  # no seed: random
    assert stub.bodies("/api/generate")[-1]["options"]["seed"] == -1
    greedy = "".join(gen.stream(PROMPT, s.merged(temperature=0)))
    assert greedy == "".join(gen.stream(PROMPT, s.merged(top_k=1, seed=8))) != text
    stop = text[6:9]
    assert "".join(gen.stream(PROMPT, s.merged(stop=(stop,)))) == text[: text.find(stop)]
    assert gen.last_usage["finish_reason"] == "stop"
    "".join(gen.stream(PROMPT, s.merged(max_tokens=3)))
    assert gen.last_usage == {"finish_reason": "length", "prompt_tokens": len(local.tokenize(PROMPT, add_bos=True)),
                              "completion_tokens": 3}


def test_the_last_piece_may_come_in_the_done_object(tiny_gguf, local):
    s = Sampling(seed=2, max_tokens=20)
    expected = "".join(local.stream(PROMPT, s))
    for in_done in (True, False):
        with OllamaStub({"tiny": StubModel(tiny_gguf)}, last_piece_in_done=in_done) as other:
            assert "".join(OllamaGenerator("tiny", other.url).stream(PROMPT, s)) == expected


def test_chat_messages_arrive_with_their_roles(gen, stub, local):
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello"},
            {"role": "assistant", "content": "hi there"}, {"role": "user", "content": "where is the harbour?"}]
    s = Sampling(seed=2, max_tokens=20, stop=("zz",))
    pieces = list(gen.chat(msgs, s))
    assert pieces and "".join(pieces) == "".join(local.chat(msgs, s))
    body = stub.bodies("/api/chat")[-1]
    assert body["messages"] == msgs and body["stream"] is True and "think" not in body
    # the Modelfile's stop strings (turn markers) stay, with genlab's after them
    assert body["options"]["stop"] == ["<|im_end|>", "USER:", "zz"]
    with pytest.raises(GenlabError, match="role"):
        list(gen.chat([{"role": "robot", "content": "x"}], s))


def test_chat_gets_the_modelfiles_system_prompt(stub, local):
    g = OllamaGenerator("terse", stub.url)
    s = Sampling(seed=6, max_tokens=16)
    user = [{"role": "user", "content": "hello"}]
    assert "".join(g.chat(user, s)) == "".join(local.chat([{"role": "system", "content": "You are terse."}] + user, s))
    assert "stop" not in stub.bodies("/api/chat")[-1]["options"]  # nothing to send: the Modelfile has none


# --- context, tokens, scoring, info ------------------------------------------------------------------


def test_context_length_is_the_num_ctx_sent(stub, gen):
    assert gen.context_length == 256  # the model's training context (under the 4096 cap)
    small = OllamaGenerator("small", stub.url)
    assert small.context_length == 128  # the Modelfile's num_ctx
    "".join(small.stream(PROMPT, Sampling(seed=1, max_tokens=4)))
    assert stub.bodies("/api/generate")[-1]["options"]["num_ctx"] == 128
    mine = OllamaGenerator("small", stub.url, num_ctx=192)
    before = len(stub.requests)
    assert mine.context_length == 192 and len(stub.requests) == before  # asked for: no request needed
    "".join(mine.stream(PROMPT, Sampling(seed=1, max_tokens=4)))
    assert stub.bodies("/api/generate")[-1]["options"]["num_ctx"] == 192
    assert OllamaGenerator("tiny", f"127.0.0.1:{free_port()}").context_length is None  # no server: unknown


def test_count_tokens(stub, gen, local):
    texts = [PROMPT, "“Well,” she said — naïve café 🎉", "x" * 37]
    assert [gen.count_tokens(t) for t in texts] == [math.ceil(len(t.encode()) / 4) for t in texts]
    assert gen.count_tokens("") == 0 and gen.info()["tokenizer"] == "estimate"
    exact = OllamaGenerator("tiny", stub.url, token_count="server")
    assert [exact.count_tokens(t) for t in texts] == [local.count_tokens(t) for t in texts]
    body = stub.bodies("/api/generate")[-1]
    assert body["stream"] is False and body["raw"] is True and body["options"]["num_predict"] == 1
    assert exact.info()["tokenizer"] == "prompt_eval_count"


def test_score_is_one_clear_error(gen):
    assert gen.capabilities.score is False and gen.capabilities.chat is True
    with pytest.raises(GenlabError) as info:
        gen.score("The old man said hello.")
    assert one_line(info.value).startswith("ollama:http://127.0.0.1:") and "cannot score text" in str(info.value)


def test_info_and_the_generator_contract(stub, gen, tiny_gguf):
    assert isinstance(gen, Generator)
    info = gen.info()
    assert info["kind"] == "ollama" and info["url"] == stub.url and info["model"] == "tiny"
    assert info["context_length"] == info["n_ctx_train"] == 256 and info["score"] is False
    assert info["digest"] == hashlib.sha256(tiny_gguf.read_bytes()).hexdigest()
    assert info["server_version"] and info["details"]["family"] == "llama"
    assert info["parameters"]["stop"] == ["<|im_end|>", "USER:"] and gen.model_parameters()["top_k"] == 7
    assert set(gen.served_models()) == {"tiny:latest", "plain:v1", "small:latest", "terse:latest"}
    json.dumps(info)
    down = OllamaGenerator("tiny", f"127.0.0.1:{free_port()}").info()
    assert "connection refused" in down["server_error"]


def test_names_hosts_and_ollama_host(stub, monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{stub.port}")  # no scheme: Ollama's usual form
    g = OllamaGenerator.from_spec("plain:v1")
    assert (g.name, g.url, g.model, g.info()["host_from"]) == ("ollama:plain:v1", stub.url, "plain:v1", "OLLAMA_HOST")
    assert "".join(g.stream(PROMPT, Sampling(seed=1, max_tokens=5)))
    monkeypatch.setenv("OLLAMA_HOST", f"0.0.0.0:{stub.port}")  # a server's bind-all address
    assert OllamaGenerator.from_spec("plain:v1").url == stub.url
    monkeypatch.delenv("OLLAMA_HOST")
    assert OllamaGenerator.from_spec("llama3").url == "http://127.0.0.1:11434"
    explicit = OllamaGenerator.from_spec(f"{stub.url}#plain:v1")
    assert explicit.name == f"ollama:{stub.url}#plain:v1" and explicit.info()["host_from"] == "given"


def test_host_and_spec_forms():
    cases = {None: "http://127.0.0.1:11434", "": "http://127.0.0.1:11434", "1.2.3.4": "http://1.2.3.4:11434",
             ":5000": "http://127.0.0.1:5000", "h:5000": "http://h:5000", "http://h": "http://h:80",
             "https://h": "https://h:443", "https://h:9/": "https://h:9", "h/proxy/": "http://h:11434/proxy",
             "[::1]:7": "http://[::1]:7", "0.0.0.0": "http://127.0.0.1:11434", "ollama.com": "https://ollama.com:443",
             '"h:1"': "http://h:1"}
    assert {k: parse_host(k).url for k in cases} == cases
    assert parse_spec("llama3") == (None, "llama3") and parse_spec("llama3:8b") == (None, "llama3:8b")
    assert parse_spec("hf.co/owner/repo:Q4_K_M") == (None, "hf.co/owner/repo:Q4_K_M")
    assert parse_spec("http://h:1#user/model:tag") == ("http://h:1", "user/model:tag")
    for bad, words in [("", "needs a model"), ("http://h:1", "after a '#'"), ("#m", "nothing before"),
                       ("http://h:1#", "needs a model"), ("a b", "not an Ollama model name")]:
        with pytest.raises(GenlabError, match=words):
            parse_spec(bad)
    for bad in ("ftp://h", "h:99999", "http://user:pw@h"):
        with pytest.raises(GenlabError):
            parse_host(bad)
    assert parse_parameters('num_ctx                        4096\nstop                           "<|eot_id|>"\n'
                            'temperature                    0.6\nstop                           "a\\"b"') == \
        {"num_ctx": 4096, "stop": ["<|eot_id|>", 'a"b'], "temperature": 0.6}
    for bad in [dict(num_ctx=4), dict(timeout=0), dict(retries=0), dict(think="lots"), dict(token_count="exact")]:
        with pytest.raises(GenlabError):
            OllamaGenerator("m", "h:1", **bad)


# --- errors -----------------------------------------------------------------------------------------


def test_server_down_is_one_line():
    g = OllamaGenerator("tiny", f"127.0.0.1:{free_port()}")
    for call in (lambda: list(g.stream(PROMPT, Sampling())), lambda: list(g.chat([{"role": "user", "content": "x"}],
                                                                                 Sampling()))):
        with pytest.raises(ServerError) as info:
            call()
        assert "connection refused" in one_line(info.value) and "ollama serve" in str(info.value)


def test_unknown_model_says_to_pull_it(stub):
    g = OllamaGenerator("nope:7b", stub.url, token_count="server")
    for call in (lambda: list(g.stream(PROMPT, Sampling())), lambda: g.count_tokens("x"), g.model_parameters):
        with pytest.raises(ServerError) as info:
            call()
        assert "`ollama pull nope:7b`" in one_line(info.value) and info.value.status == 404
    # the model is checked by the generate route too (a model removed after /api/show answered)
    g2 = OllamaGenerator("tiny", stub.url)
    g2.facts()
    stub.fail("/api/chat", status=404, error="model \"tiny\" not found, try pulling it first")  # older wording
    with pytest.raises(ServerError, match="ollama pull tiny"):
        list(g2.chat([{"role": "user", "content": "x"}], Sampling()))


def test_an_error_answer_is_one_line_and_secrets_stay_out(stub):
    g = OllamaGenerator("tiny", stub.url, api_key="sk-very-secret")
    stub.fail("/api/generate", status=500, error="model requires more system memory (9.1 GiB) than is available")
    with pytest.raises(ServerError) as info:
        list(g.stream(PROMPT, Sampling(max_tokens=5)))
    assert "HTTP 500: model requires more system memory" in one_line(info.value) and info.value.status == 500
    assert stub.requests[-1]["headers"]["Authorization"] == "Bearer sk-very-secret"
    assert "sk-very-secret" not in repr(g) + json.dumps(g.info()) + str(info.value)
    # an option of the wrong type, as Ollama answers it
    with pytest.raises(ServerError, match='HTTP 500: option "top_k" must be of type integer'):
        g.client.post_json("/api/generate", {"model": "tiny", "prompt": "x", "raw": True, "options": {"top_k": "a"}})
    # not an Ollama server: gin's 404 for an unknown route
    with pytest.raises(ServerError, match="is it an Ollama server"):
        OllamaGenerator("tiny", f"{stub.url}/not-ollama").facts()
    with pytest.raises(ServerError, match="does not support thinking"):
        list(OllamaGenerator("tiny", stub.url, think=True).chat([{"role": "user", "content": "x"}], Sampling()))
    with pytest.raises(GenlabError, match="non-empty prompt"):
        list(g.stream("", Sampling()))


def test_a_stream_cut_off_keeps_its_text(gen, stub, local):
    s = Sampling(seed=3, max_tokens=30)
    whole = "".join(local.stream(PROMPT, s))
    for fault, words in [(dict(cut_after=3), "cut off"),
                         (dict(error_after=2, error="an error was encountered while running the model"),
                          "reported an error mid-stream: an error was encountered")]:
        stub.fail("/api/generate", **fault)
        received: list[str] = []
        with pytest.raises(ServerError) as info:
            for piece in gen.stream(PROMPT, s):
                received.append(piece)
        text = "".join(received)
        assert text and whole.startswith(text) and info.value.received == text
        assert words in one_line(info.value) and f"after {len(text)} characters" in str(info.value)
    assert "".join(gen.stream(PROMPT, s)) == whole  # the next request is whole again


def test_busy_answers_are_retried_without_duplicates(stub, local):
    g = OllamaGenerator("tiny", stub.url)
    g.client.retry = Retry(attempts=4, base=0.01)
    g.facts()
    stub.fail("/api/generate", status=429, error="too many requests", headers={"Retry-After": "0"})
    stub.fail("/api/generate", status=503, error="server busy, please try again.  maximum pending requests exceeded")
    s = Sampling(seed=1, max_tokens=12)
    before = len(stub.bodies("/api/generate"))
    assert "".join(g.stream(PROMPT, s)) == "".join(local.stream(PROMPT, s))
    assert len(stub.bodies("/api/generate")) - before == 3
    g.client.retry = Retry(attempts=2, base=0.01)
    for _ in range(2):
        stub.fail("/api/generate", status=503, error="server busy")
    with pytest.raises(ServerError) as info:
        list(g.stream(PROMPT, s))
    assert "gave up after 2 attempts" in one_line(info.value) and info.value.status == 503


def test_a_silent_server_times_out():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(4)
        g = OllamaGenerator("tiny", f"127.0.0.1:{s.getsockname()[1]}", timeout=0.5)
        with pytest.raises(ServerError, match=r"within 0.5 s \(timeout\)"):  # the timeout given, not a default
            list(g.stream(PROMPT, Sampling(max_tokens=5)))


# --- with the rest of genlab ------------------------------------------------------------------------


def test_concurrent_streams_from_threads(gen):
    """One generator, four requests in flight at once: every stream whole and seeded."""
    from concurrent.futures import ThreadPoolExecutor

    def text(seed: int) -> str:
        return "".join(gen.stream(PROMPT, Sampling(seed=seed, max_tokens=16)))

    seeds = [3, 4, 5, 6]
    alone = [text(k) for k in seeds]
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(text, seeds, timeout=30)) == alone


def test_the_chat_front_end_trims_to_the_context(stub):
    """The session moves its window once count_tokens says the chat outgrows num_ctx. It counts
    the messages' text, not the chat template around them, so on this model Ollama's own
    truncation still drops a message or two (the stub does as Ollama does); _count_chat_tokens
    gives the exact number."""
    from genlab.chat.persona import load_persona
    from genlab.chat.session import ChatSession

    g = OllamaGenerator("plain:v1", stub.url, token_count="server")
    pogi = load_persona("pogi")
    session = ChatSession(g, pogi, sampling=pogi.sampling().merged(max_tokens=4, seed=1))
    dropped = 0
    for i in range(8):
        reply = session.send(f"message {i} about the sea, the harbour and the boats")
        assert "".join(reply)
        dropped += reply.dropped
        assert g.last_usage["prompt_tokens"] + 4 <= g.context_length == 256
    assert dropped > 0 and session.window > 0
    sent = stub.bodies("/api/chat")[-1]["messages"]
    assert sent[0] == {"role": "system", "content": pogi.system}
    assert sent[-1] == {"role": "user", "content": "message 7 about the sea, the harbour and the boats"}
    assert sent == session.messages()[:-1]  # the window, without the reply to it


def test_count_chat_tokens_is_the_whole_prompt(stub, local):
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "where is the harbour?"}]
    exact = OllamaGenerator("plain:v1", stub.url, token_count="server")
    assert exact._count_chat_tokens(msgs) == len(local.chat_prompt_tokens(msgs))
    terse = OllamaGenerator("terse", stub.url, token_count="server")  # the Modelfile's system prompt counts
    user = msgs[1:]
    assert terse._count_chat_tokens(user) == len(local.chat_prompt_tokens(
        [{"role": "system", "content": "You are terse."}] + user))
    body = stub.bodies("/api/chat")[-1]
    assert body["truncate"] is False and body["stream"] is False and body["options"]["num_predict"] == 1
    long = [{"role": "user", "content": "the harbour " * 100}]
    assert exact._count_chat_tokens(long) >= 256  # refused as too long, not cut: it does not fit
    assert exact.count_tokens("the harbour " * 100) >= 256
    estimate = OllamaGenerator("plain:v1", stub.url)
    assert estimate._count_chat_tokens(user) == math.ceil(len("user: where is the harbour?") / 4)


def test_closing_a_stream_early_closes_its_connection(gen, local):
    s = Sampling(seed=7, max_tokens=200)
    it = gen.stream(PROMPT, s)
    first = next(it)
    it.close()  # the server sees the connection go and stops
    assert first and "".join(gen.stream(PROMPT, s)) == "".join(local.stream(PROMPT, s))


# --- through the backend table and the CLI ------------------------------------------------------------


def ollama_cli(stub, tmp_path) -> CLI:
    """The real `genlab` in tmp_path (also HOME), with OLLAMA_HOST pointing at the stub."""
    env = isolated_env(tmp_path)
    env.update(OLLAMA_HOST=stub.url, HOME=str(tmp_path))
    return CLI(tmp_path, env)


def test_ollama_names_through_the_cli(stub, local, tmp_path):
    genlab = ollama_cli(stub, tmp_path)

    s = Sampling(seed=3, max_tokens=12)
    expected = PROMPT + "".join(local.stream(PROMPT, s)) + "\n"
    for backend in ("ollama:tiny", f"ollama:{stub.url}#tiny"):
        r = genlab("generate", "--backend", backend, "--prompt", PROMPT, "--seed", "3", "--max-tokens", "12")
        assert r.returncode == 0 and r.stdout == expected, r.stderr
    r = genlab("chat", "--backend", "ollama:tiny", "--seed", "1", "--max-tokens", "5", input="hello\n")
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    r = genlab("generate", "--backend", "ollama:nope", "--prompt", "Hi")
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 1 and len(lines) == 1 and "ollama pull nope" in lines[0], r.stderr


def test_perplexity_refuses_and_compare_skips_scoring_an_ollama_model(stub, tmp_path):
    genlab = ollama_cli(stub, tmp_path)
    held = tmp_path / "held.txt"
    held.write_text("The sea was calm that morning.\n\nNobody spoke.\n", encoding="utf-8")
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("The old man said\n", encoding="utf-8")

    r = genlab("perplexity", "--backend", "ollama:tiny", held)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 1 and len(lines) == 1 and "cannot score" in lines[0] and r.stdout == "", r.stderr
    r = genlab("compare", "-b", "ollama:tiny", "--eval-text", held, "--prompts", prompts, "--samples", "1",
               "--max-tokens", "4", "--orders", "none", "-o", "run")
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert "ollama:tiny cannot score text" in r.stderr
    assert (tmp_path / "run" / "samples.jsonl").read_text(encoding="utf-8").count("\n") == 1
    assert (tmp_path / "run" / "report.md").is_file()
