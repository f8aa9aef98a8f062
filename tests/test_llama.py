"""The llama.cpp backend on tiny random GGUF models built by fixtures (real llama.cpp, no mocks)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest

llama_cpp = pytest.importorskip("llama_cpp")
pytest.importorskip("gguf")

from genlab.errors import GenlabError  # noqa: E402
from genlab.generator import Generator, Score  # noqa: E402
from genlab.llama.generator import LlamaGenerator  # noqa: E402
from genlab.llama.gguf_header import inspect_gguf  # noqa: E402
from genlab.llama.tiny import DEFAULT_TEMPLATE, build_tiny_model, build_vocab  # noqa: E402
from genlab.sampling import Sampling  # noqa: E402

CTX = 256  # llama.cpp pads the context to a multiple of 256, so this is the smallest real one
PROMPT = "The old man said"
GREEDY = Sampling(temperature=0, max_tokens=40)
ROLE_TEMPLATE = "{{ bos_token }}{% for m in messages %}[{{ m['role'] | upper }}]{{ m['content'] }}{% endfor %}[BOT]"
USER_HI = [{"role": "user", "content": "hello"}]


@pytest.fixture(scope="session")
def models(tmp_path_factory, tiny_gguf, plain_gguf):
    """The shared tiny models (n_ctx CTX), and one whose chat template writes each message's role
    out, for the tests that read the roles back."""
    roles = build_tiny_model(tmp_path_factory.mktemp("roles") / "roles.gguf", seed=1, context=CTX,
                             chat_template=ROLE_TEMPLATE)
    return {"tiny": tiny_gguf, "roles": roles, "plain": plain_gguf}


@pytest.fixture(scope="session")
def gen(models):
    g = LlamaGenerator(models["tiny"], f32_cache=True)
    yield g
    g.close()


def run(g, prompt=PROMPT, **settings):
    return "".join(g.stream(prompt, Sampling(**settings)))


def long_sample(g, min_chars=60, max_tokens=80):
    """A seeded sample that runs to max_tokens (the random model sometimes ends early)."""
    for seed in range(50):
        s = Sampling(seed=seed, max_tokens=max_tokens)
        text = "".join(g.stream(PROMPT, s))
        if g.last_usage["finish_reason"] == "length" and len(text) >= min_chars:
            return s, text
    raise AssertionError("no long sample")


# --- the model file ------------------------------------------------------------------------------


def test_build_is_deterministic_and_atomic(models, tmp_path):
    a = build_tiny_model(tmp_path / "a.gguf", seed=0, context=CTX)
    assert a.read_bytes() == models["tiny"].read_bytes()
    b = build_tiny_model(tmp_path / "b.gguf", seed=5, context=CTX)
    assert b.read_bytes() != a.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.gguf", "b.gguf"]  # no temp files left


def test_vocabulary_has_bytes_and_prefix_closed_pieces():
    tokens, scores, types = build_vocab()
    assert tokens[:3] == ["<unk>", "<s>", "</s>"]
    assert tokens[3:259] == [f"<0x{b:02X}>" for b in range(256)]
    assert len(set(tokens)) == len(tokens) == len(scores) == len(types)
    normal = {t for t, k in zip(tokens, types) if k == 1}
    assert "\u2581the" in normal
    assert all(p[:i] in normal for p in normal for i in range(1, len(p)))


def test_header(models):
    h = inspect_gguf(models["tiny"])
    assert (h.architecture, h.context_length, h.file_type) == ("llama", CTX, "ALL_F32")
    assert h.chat_template == DEFAULT_TEMPLATE
    assert h.parameters > 100_000


# --- loading and generating --------------------------------------------------------------------------


def test_loads_and_generates(gen, models):
    assert isinstance(gen, Generator)
    assert gen.context_length == CTX
    pieces = list(gen.stream(PROMPT, Sampling(seed=1, max_tokens=30)))
    assert len(pieces) > 3 and all(isinstance(p, str) and p for p in pieces)
    info = gen.info()
    assert info["kind"] == "llama" and info["architecture"] == "llama" and info["n_ctx"] == CTX
    assert info["chat_template"] is True and info["size_bytes"] == models["tiny"].stat().st_size
    assert len(info["sha256"]) == 64


def test_same_seed_same_text(gen):
    s = Sampling(seed=42, max_tokens=50, temperature=1.0)
    first = "".join(gen.stream(PROMPT, s))
    assert first == "".join(gen.stream(PROMPT, s))
    others = {"".join(gen.stream(PROMPT, Sampling(seed=k, max_tokens=50, temperature=1.0))) for k in range(5)}
    assert len(others) > 1  # the seed matters


def test_temperature_zero_equals_top_k_one(gen):
    greedy = run(gen, temperature=0, max_tokens=40)
    assert greedy
    assert run(gen, temperature=1.5, top_k=1, seed=3, max_tokens=40) == greedy
    assert run(gen, temperature=0.7, top_k=1, seed=9, max_tokens=40) == greedy


def test_repeat_last_n_reaches_the_sampler(gen):
    s, plain = long_sample(gen, max_tokens=120)  # long enough to repeat some tokens
    # a window of 0 tokens switches the penalty off, so the text is unchanged
    assert run(gen, seed=s.seed, max_tokens=120, repeat_penalty=3.0, repeat_last_n=0) == plain
    assert run(gen, seed=s.seed, max_tokens=120, repeat_penalty=3.0, repeat_last_n=64) != plain


def test_stop_strings_stop(gen):
    s, text = long_sample(gen)
    stop = text[20:24]
    cut = text.find(stop)
    got = "".join(gen.stream(PROMPT, Sampling(seed=s.seed, max_tokens=s.max_tokens, stop=(stop,))))
    assert got == text[:cut]
    assert gen.last_usage["finish_reason"] == "stop"
    # several stops: the earliest one wins, wherever it is in the list
    other = text[40:43]
    got = "".join(gen.stream(PROMPT, Sampling(seed=s.seed, max_tokens=s.max_tokens, stop=(other, stop))))
    assert got == text[: min(cut, text.find(other))]


def test_max_tokens_counts_tokens(gen, models):
    s, text = long_sample(gen, max_tokens=60)
    assert gen.last_usage["completion_tokens"] == 60
    previous = ""
    for n in (1, 5, 17, 33):
        part = "".join(gen.stream(PROMPT, Sampling(seed=s.seed, max_tokens=n)))
        assert gen.last_usage["completion_tokens"] == n
        assert text.startswith(part) and part.startswith(previous)
        previous = part
    # the same tokens straight from llama-cpp-python's own generator
    llm = llama_cpp.Llama(model_path=str(models["tiny"]), n_ctx=CTX, type_k=0, type_v=0, verbose=False)
    llm.set_seed(s.seed)
    tokens = []
    prompt = llm.tokenize(PROMPT.encode(), add_bos=True)
    for t in llm.generate(prompt, top_k=s.top_k, top_p=s.top_p, min_p=s.min_p, temp=s.temperature,
                          repeat_penalty=s.repeat_penalty):
        tokens.append(t)
        if len(tokens) == 17:
            break
    expected = b"".join(llm.detokenize([t]) for t in tokens).decode("utf-8", errors="ignore")
    got = "".join(gen.stream(PROMPT, Sampling(seed=s.seed, max_tokens=17)))
    assert got == expected
    llm.close()


def test_max_tokens_is_capped_by_the_context(gen):
    prompt = "the " * 200
    n = len(gen.tokenize(prompt, add_bos=True))
    "".join(gen.stream(prompt, Sampling(seed=1, max_tokens=1000, temperature=1.0)))
    assert gen.last_usage["completion_tokens"] <= CTX - n


def test_prompt_longer_than_context(gen):
    prompt = "the old man " * 300
    with pytest.raises(GenlabError, match=r"prompt is \d+ tokens .*context of 256"):
        gen.stream(prompt, GREEDY)
    with pytest.raises(GenlabError, match=r"conversation is \d+ tokens .*context of 256"):
        gen.chat([{"role": "user", "content": prompt}], GREEDY)


# --- chat ------------------------------------------------------------------------------------------------


def test_chat_uses_the_embedded_template(gen):
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert gen.format_chat(msgs) == (
        "<s><|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    tokens = gen.chat_prompt_tokens(msgs)
    im_start = gen.tokenize("<|im_start|>", special=True)
    assert len(im_start) == 1 and tokens.count(im_start[0]) == 3  # control tokens, not text
    reply = "".join(gen.chat(msgs, Sampling(seed=4, max_tokens=30)))
    assert reply == "".join(gen.chat(msgs, Sampling(seed=4, max_tokens=30)))


def test_chat_reply_continues_the_rendered_template(models):
    g = LlamaGenerator(models["roles"], f32_cache=True)
    assert g.format_chat(USER_HI) == "<s>[USER]hello[BOT]"
    # "<s>" is parsed as the BOS token: the chat prompt is exactly BOS + the rendered text
    assert g.chat_prompt_tokens(USER_HI) == g.tokenize("[USER]hello[BOT]", add_bos=True)
    raw = "".join(g.stream("[USER]hello[BOT]", GREEDY))
    reply = "".join(g.chat(USER_HI, GREEDY))
    assert reply == (raw[1:] if raw.startswith(" ") else raw)  # the reply drops SentencePiece's space
    g.close()


def test_chat_without_template(models):
    g = LlamaGenerator(models["plain"])
    assert g.info(sha256=False)["chat_template"] is False
    with pytest.raises(GenlabError, match="no chat template"):
        g.chat(USER_HI, GREEDY)
    g.close()
    g = LlamaGenerator(models["plain"], chat_format="chatml")
    assert "<|im_start|>user\nhello<|im_end|>" in g.format_chat(USER_HI)
    assert isinstance("".join(g.chat(USER_HI, Sampling(seed=1, max_tokens=10))), str)
    g.close()
    with pytest.raises(GenlabError, match="unknown chat format"):
        LlamaGenerator(models["plain"], chat_format="no-such-format")


def test_bad_messages(gen):
    with pytest.raises(GenlabError, match="role"):
        gen.chat([{"role": "wizard", "content": "x"}], GREEDY)
    with pytest.raises(GenlabError, match="at least one"):
        gen.chat([], GREEDY)


@pytest.mark.parametrize("payload", [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.popen('touch MARKER').read() }}",
    "{{ lipsum.__globals__['os'].popen('touch MARKER').read() }}",
    "{{ joiner.__init__.__globals__.__builtins__['open']('MARKER', 'w').write('x') }}",
])
def test_hostile_chat_template_is_not_executed(models, tmp_path, payload):
    marker = tmp_path / "pwned"
    template = "{{ bos_token }}" + payload.replace("MARKER", str(marker))
    path = build_tiny_model(tmp_path / "hostile.gguf", chat_template=template, context=CTX)
    g = LlamaGenerator(path)  # loading compiles the template but runs nothing
    assert isinstance("".join(g.stream(PROMPT, Sampling(seed=1, max_tokens=5))), str)  # completion works
    with pytest.raises(GenlabError, match="unsafe"):
        g.chat(USER_HI, GREEDY)
    with pytest.raises(GenlabError, match="unsafe"):
        g.format_chat(USER_HI)
    assert not marker.exists()
    g.close()


def test_template_errors_are_genlab_errors(tmp_path):
    path = build_tiny_model(tmp_path / "strict.gguf", context=CTX,
                            chat_template="{{ raise_exception('roles must alternate') }}")
    g = LlamaGenerator(path)
    with pytest.raises(GenlabError, match="roles must alternate"):
        g.chat(USER_HI, GREEDY)
    g.close()
    broken = build_tiny_model(tmp_path / "broken.gguf", context=CTX, chat_template="{% for x in %}")
    with pytest.raises(GenlabError, match="not valid Jinja"):
        LlamaGenerator(broken)


# --- scoring ------------------------------------------------------------------------------------------------


def _reference_nats(llm, bos, tokens, start, lo, end):
    """-sum ln p of tokens[lo:end] from llama-cpp-python's own logits of [BOS] + tokens[start:end]."""
    window = [bos] + tokens[start:end]
    llm.reset()
    llm.eval(window)
    logits = np.array(llm.scores[: len(window)], dtype=np.float64)
    logp = logits - (logits.max(1, keepdims=True)
                     + np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1, keepdims=True)))
    rows = [i - start for i in range(lo, end)]  # window row i - start + 1 - 1 predicts tokens[i]
    return -float(sum(logp[r, tokens[i]] for r, i in zip(rows, range(lo, end))))


@pytest.fixture(scope="module")
def reference(models):
    llm = llama_cpp.Llama(model_path=str(models["tiny"]), n_ctx=CTX, logits_all=True,
                          type_k=0, type_v=0, verbose=False)
    yield llm
    llm.close()


def test_score_short_text_matches_llama_logits(gen, reference):
    text = "The old man said that the world was good."
    tokens = gen.tokenize(text)
    score = gen.score(text)
    assert isinstance(score, Score)
    assert (score.tokens, score.bytes, score.words) == (len(tokens), len(text.encode()), 9)
    expected = _reference_nats(reference, 1, tokens, 0, 0, len(tokens))
    assert score.nats == pytest.approx(expected, rel=1e-6)
    assert 0 < score.bits_per_byte < 20


def test_score_longer_than_context_is_the_sum_of_its_windows(gen, reference):
    text = ("It was the best of times, it was the worst of times; “naïve” café-goers said so. " * 16
            + "The end 😀.")
    tokens = gen.tokenize(text)
    n = len(tokens)
    assert n > 2 * CTX
    width, stride = CTX - 1, CTX // 2
    # the windows, computed independently: each token scored once, later ones with >= half a context
    windows, end = [(0, 0, width)], width
    while end < n:
        new_end = min(n, end + stride)
        windows.append((new_end - width, end, new_end))
        end = new_end
    assert gen.score_windows(n) == windows
    covered = [i for _, lo, hi in windows for i in range(lo, hi)]
    assert covered == list(range(n))
    assert all(lo - start >= width - stride for start, lo, _ in windows[1:])

    expected = [_reference_nats(reference, 1, tokens, *w) for w in windows]
    score = gen.score(text)
    assert score.tokens == n
    assert score.nats == pytest.approx(sum(expected), rel=1e-6)
    # a different stride changes the contexts, hence the total, but still scores every token once
    other = gen.score(text, stride=width)
    assert other.tokens == n and other.nats != pytest.approx(score.nats, rel=1e-9)
    with pytest.raises(GenlabError, match="stride"):
        gen.score(text, stride=0)


def test_scoring_leaves_generation_reproducible(gen):
    s = Sampling(seed=11, max_tokens=30)
    before = "".join(gen.stream(PROMPT, s))
    gen.score("the old man " * 100)
    assert "".join(gen.stream(PROMPT, s)) == before
    assert gen.score("") == Score(nats=0.0, tokens=0, bytes=0, words=0)


# --- text and bytes -----------------------------------------------------------------------------------------


def test_unicode_round_trips(gen):
    text = "“Naïve” café — déjà vu… 😀👍🏽 中文 ß\n\ttabs  and  spaces Ünïcödé"
    tokens = gen.tokenize(text, add_bos=True)
    assert gen.detokenize(tokens) == text
    assert gen.count_tokens(text) == len(tokens) - 1


def test_stream_is_valid_utf8_and_assembles_split_characters(gen):
    single = {t for t in build_vocab()[0] if len(t) == 1}
    assembled = set()
    for seed in range(12):
        pieces = list(gen.stream("Emoji 😀 and café:", Sampling(seed=seed, max_tokens=60, temperature=1.2,
                                                                 top_k=0, top_p=1.0, min_p=0.0)))
        for p in pieces:
            assert p and "\ufffd" not in p
            p.encode("utf-8")  # no lone surrogates
        assembled |= {c for c in "".join(pieces) if ord(c) > 0x7F and c not in single}
    # the random model spells some characters with byte tokens: they arrive whole
    assert assembled


# --- errors and silence ---------------------------------------------------------------------------------


def test_file_errors(models, tmp_path):
    data = models["tiny"].read_bytes()
    cases = {
        "missing.gguf": None,
        "text.gguf": b"just some text, not a model\n",
        "empty.gguf": b"",
        "magic.gguf": b"GG",
        "header.gguf": data[:100],
        "half.gguf": data[: len(data) // 2],
        "short.gguf": data[:-16],
    }
    for name, content in cases.items():
        if content is not None:
            (tmp_path / name).write_bytes(content)
    expect = {
        "missing.gguf": "not found", "text.gguf": "is not a GGUF model file", "empty.gguf": "is empty",
        "magic.gguf": "truncated", "header.gguf": "damaged or truncated", "half.gguf": "damaged or truncated",
        "short.gguf": "truncated",
    }
    for name, message in expect.items():
        with pytest.raises(GenlabError, match=message):
            LlamaGenerator(tmp_path / name)
    with pytest.raises(GenlabError, match="directory"):
        LlamaGenerator(tmp_path)


def test_unknown_architecture_is_explained(tmp_path):
    import gguf

    w = gguf.GGUFWriter(tmp_path / "odd.gguf", "nonsense")
    w.add_tensor("x", np.zeros(4, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    with pytest.raises(GenlabError, match="unknown model architecture"):
        LlamaGenerator(tmp_path / "odd.gguf")


def test_llama_cpp_is_silent(models, capfd):
    g = LlamaGenerator(models["tiny"])
    "".join(g.stream(PROMPT, Sampling(seed=1, max_tokens=10)))
    "".join(g.chat(USER_HI, Sampling(seed=1, max_tokens=10)))
    g.score("the old man said")
    g.close()
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    # the silence is ours: with verbose=True llama.cpp does talk
    LlamaGenerator(models["tiny"], verbose=True).close()
    assert capfd.readouterr().err


def test_abandoned_stream_is_harmless(gen):
    it = gen.stream(PROMPT, Sampling(seed=2, max_tokens=50))
    next(it)
    it.close()
    assert run(gen, seed=2, max_tokens=50) == run(gen, seed=2, max_tokens=50)


def test_interleaved_streams_are_refused(gen):
    first = gen.stream(PROMPT, Sampling(seed=1, max_tokens=30))
    next(first)
    second = "".join(gen.stream(PROMPT, Sampling(seed=1, max_tokens=30)))
    assert second
    with pytest.raises(GenlabError, match="one stream at a time"):
        list(first)


def test_seed_range_is_reproducible(gen):
    top = Sampling(seed=2**32 - 1, max_tokens=20, temperature=1.0)
    assert "".join(gen.stream(PROMPT, top)) == "".join(gen.stream(PROMPT, top))
    assert math.isfinite(gen.score(PROMPT).nats)
    assert os.fspath(gen.path) == str(Path(gen.info(sha256=False)["path"]))


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
def test_ctrl_c_mid_stream_keeps_the_text_and_exits_130(tmp_path):
    """SIGINT while `genlab generate` streams from a llama model: what was printed stays, one
    line says so, exit 130, no traceback. (A wider model, so that a stream lasts a while; a seed
    whose stream the random model happens to end early is skipped for the next.)"""
    import signal
    import subprocess
    import sys
    import time

    path = build_tiny_model(tmp_path / "wide.gguf", seed=0, dim=384, layers=8, heads=4, context=2048)
    for seed in range(1, 30):
        cmd = [sys.executable, "-m", "genlab", "generate", "--backend", f"llama:{path}", "--prompt", PROMPT,
               "--seed", str(seed), "--max-tokens", "2000", "--temperature", "1.0"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        first = proc.stdout.read(40)  # text is streaming
        time.sleep(0.2)
        if proc.poll() is None:
            break
        proc.communicate(timeout=30)
    else:
        raise AssertionError("every stream ended before it could be interrupted")
    proc.send_signal(signal.SIGINT)
    rest, err = proc.communicate(timeout=30)
    text, err = (first + rest).decode("utf-8"), err.decode("utf-8", "replace")
    assert proc.returncode == 130, err
    assert "Traceback" not in err and [ln for ln in err.splitlines() if ln.strip()] == ["genlab: interrupted"]
    assert text.startswith(PROMPT) and len(text) > len(PROMPT) + 20
