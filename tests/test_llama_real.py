"""The llama.cpp backend on the real SmolLM2-135M-Instruct (Q4_1) and on damaged copies of its
header: what a user checks (the context they asked for works to its last token, scores are
exact, a chat does not re-read its history), through real llama.cpp, no mocks."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest

llama_cpp = pytest.importorskip("llama_cpp")

from conftest import NOVEL, isolated_env, ok, run_genlab  # noqa: E402
from genlab.errors import GenlabError  # noqa: E402
from genlab.llama.gguf_header import chat_template, has_chat_template, inspect_gguf, read_header  # noqa: E402
from genlab.llama.generator import LlamaGenerator  # noqa: E402
from genlab.sampling import Sampling  # noqa: E402

BOS = 1  # SmolLM2: <|im_start|>, not added by its tokenizer (add_bos_token false)
T = 1  # one thread: two llama.cpp threads on a busy 2-core machine wait on each other
GREEDY = Sampling(temperature=0, max_tokens=24)


@pytest.fixture(scope="module")
def smol(smollm2_path):
    """SmolLM2 for generation and chat, as `genlab generate` loads it (f16 cache)."""
    g = LlamaGenerator(smollm2_path, n_ctx=512, n_threads=T)
    yield g
    g.close()


@pytest.fixture(scope="module")
def scorer(smollm2_path):
    """SmolLM2 as `genlab perplexity` loads it (f32 cache), with a small context for windows."""
    g = LlamaGenerator(smollm2_path, n_ctx=256, f32_cache=True, n_threads=T)
    yield g
    g.close()


@pytest.fixture(scope="module")
def reference(smollm2_path):
    """llama-cpp-python's own Llama with every logit kept and an f32 cache: the reference."""
    llm = llama_cpp.Llama(model_path=str(smollm2_path), n_ctx=256, logits_all=True, type_k=0, type_v=0,
                          n_threads=T, n_threads_batch=T, verbose=False)
    yield llm
    llm.close()


def novel_tokens(g, n):
    return g.tokenize(NOVEL.read_text(encoding="utf-8"))[:n]


# --- the header ---------------------------------------------------------------------------------


def test_header_of_the_real_model(smollm2_path, smol):
    info = inspect_gguf(smollm2_path)
    assert (info.architecture, info.file_type, info.context_length, info.version) == ("llama", "Q4_1", 8192, 3)
    assert info.tensors == 272 and info.vocabulary == 49152
    # parameters and vocabulary as llama.cpp itself counts them
    assert info.parameters == llama_cpp.llama_model_n_params(smol.llm.model)
    assert info.vocabulary == smol.llm.n_vocab()
    assert sum(info.tensor_types.values()) == info.parameters and set(info.tensor_types) == {"Q4_1", "Q8_0", "F32"}
    assert "<|im_start|>" in info.chat_template and has_chat_template(smollm2_path)
    assert info.metadata["tokenizer.ggml.bos_token_id"] == BOS
    assert info.metadata["tokenizer.ggml.add_bos_token"] is False
    assert "tokenizer.ggml.tokens" not in info.metadata  # the vocabulary is skipped, not listed


def test_chat_template_is_known_from_the_header_alone(smollm2_path, tiny_gguf, plain_gguf, tmp_path):
    """has_chat_template reads only the key-values: a copy cut right after them still answers."""
    header = read_header(smollm2_path)
    cut = tmp_path / "head.gguf"
    cut.write_bytes(smollm2_path.read_bytes()[: header.data_offset])
    assert has_chat_template(cut) and chat_template(cut) == inspect_gguf(smollm2_path).chat_template
    with pytest.raises(GenlabError, match="truncated"):
        inspect_gguf(cut)  # a model needs its tensors
    assert has_chat_template(tiny_gguf) and not has_chat_template(plain_gguf)


def _damaged(tmp_path, data: bytes, size: int, i: int):
    """Write `data` as a file of `size` bytes (a sparse tail when longer) and inspect it."""
    path = tmp_path / f"d{i}.gguf"
    with open(path, "wb") as fh:
        fh.write(data[:size])
        fh.truncate(size)
    try:
        return inspect_gguf(path)
    except GenlabError as exc:
        assert str(exc) and "\n" not in str(exc)
        return None
    finally:
        path.unlink()


def test_damaged_headers_give_only_genlab_errors(smollm2_path, tmp_path):
    """The real header cut short at many offsets, and overwritten with zeros, ones and noise at
    many places (lengths, counts, types, keys, tensor infos): every outcome is a GenlabError or
    a successful read, never another exception, a hang or a huge allocation."""
    size = smollm2_path.stat().st_size
    header = read_header(smollm2_path)
    head = smollm2_path.read_bytes()[: header.data_offset]
    rng = random.Random(15)
    end = len(head)
    cuts = sorted({0, 1, 3, 4, 7, 8, 23, 24, 25, end - 1, end} | set(range(24, 600, 17))
                  | {rng.randrange(end) for _ in range(40)})
    for i, cut in enumerate(cuts):
        assert _damaged(tmp_path, head, cut, i) is None, cut  # a header cut short is never a model
    # the tensor data cut short: the header is whole, the data ends early
    assert _damaged(tmp_path, head, size - 1, 0) is None
    assert _damaged(tmp_path, head, size, 0) is not None  # the sparse stand-in of the data reads as whole
    # overwrite 8 bytes at places in the key-values and the tensor infos
    places = list(range(4, 600, 5)) + [rng.randrange(end) for _ in range(40)] + list(range(end - 3000, end, 97))
    patterns = [b"\xff" * 8, b"\x00" * 8, b"\x7f\xff\xff\xff\xff\xff\xff\x01"]
    survived = 0
    for i, at in enumerate(places):
        pattern = patterns[i % len(patterns)] if i % 4 else bytes(rng.randrange(256) for _ in range(8))
        bad = head[:at] + pattern + head[at + 8:]
        survived += _damaged(tmp_path, bad, size, i) is not None
    assert survived < len(places)  # most damage is found (a changed letter in a name is not)


# --- the context ---------------------------------------------------------------------------------


@pytest.mark.parametrize("n_ctx", [300, 512])
def test_any_context_size_fills_to_its_last_token(smollm2_path, smol, n_ctx):
    """llama.cpp rounds 300 up to 512; the whole 512 tokens work (--n-ctx 300 used to fail with
    'could not broadcast input array' once the text passed 300 tokens)."""
    g = smol if n_ctx == 512 else LlamaGenerator(smollm2_path, n_ctx=n_ctx, n_threads=T)
    assert g.context_length == 512 == g.llm.n_ctx()
    prompt = g.detokenize(novel_tokens(g, 480))
    n_prompt = g.count_tokens(prompt)
    assert n_prompt > 300
    text = "".join(g.stream(prompt, Sampling(seed=3, max_tokens=1000)))
    usage = g.last_usage
    assert usage["finish_reason"] == "length" and text
    assert usage["prompt_tokens"] + usage["completion_tokens"] == 512
    if g is not smol:
        g.close()


def test_chat_at_the_edge_of_the_context(smol):
    msgs = [{"role": "user", "content": smol.detokenize(novel_tokens(smol, 455))}]
    n = len(smol.chat_prompt_tokens(msgs))
    assert 480 < n < 512
    reply = "".join(smol.chat(msgs, Sampling(seed=3, max_tokens=1000)))
    usage = smol.last_usage
    assert usage["finish_reason"] in ("length", "stop") and isinstance(reply, str)
    assert usage["prompt_tokens"] + usage["completion_tokens"] <= 512
    longer = [{"role": "user", "content": smol.detokenize(novel_tokens(smol, 520))}]
    with pytest.raises(GenlabError, match="context of 512"):
        smol.chat(longer, GREEDY)


def test_threads_also_evaluate_prompts(smollm2_path):
    g = LlamaGenerator(smollm2_path, n_ctx=256, n_threads=1)
    ctx = g.llm.ctx
    assert (llama_cpp.llama_n_threads(ctx), llama_cpp.llama_n_threads_batch(ctx)) == (1, 1)
    g.close()


# --- chat keeps its KV cache ---------------------------------------------------------------------------


def _decoded(g) -> int:
    """Tokens llama.cpp has decoded in this context (its own performance counters)."""
    data = llama_cpp.llama_perf_context(g.llm.ctx)
    return int(data.n_p_eval + data.n_eval)


QUESTIONS = ["What is the capital of France?", "And of Germany?", "Name a river there."]


def _conversation(g, settings=GREEDY):
    msgs, replies, usages = [{"role": "system", "content": "You are a helpful assistant."}], [], []
    for q in QUESTIONS:
        msgs.append({"role": "user", "content": q})
        replies.append("".join(g.chat(msgs, settings)))
        usages.append(dict(g.last_usage))
        msgs.append({"role": "assistant", "content": replies[-1]})
    return msgs, replies, usages


def test_chat_evaluates_only_the_new_tokens(smol, smollm2_path):
    smol.score("Hi")  # scoring empties the cache
    msgs, replies, usages = _conversation(smol)
    assert usages[0]["cached_tokens"] == 0
    for before, after in zip(usages, usages[1:]):
        # the whole previous prompt (and the reply's tokens) came from the cache
        assert after["cached_tokens"] >= before["prompt_tokens"]
    # the next turn, one token long: llama.cpp decodes exactly the tokens that were not cached
    msgs.append({"role": "user", "content": "Thanks!"})
    start = _decoded(smol)
    "".join(smol.chat(msgs, Sampling(temperature=0, max_tokens=1)))
    usage = smol.last_usage
    new = usage["prompt_tokens"] - usage["cached_tokens"]
    assert _decoded(smol) - start == new
    assert new < 20 < usage["prompt_tokens"]
    # without the cache (prompt_cache=False) every token of the conversation is decoded again
    fresh = LlamaGenerator(smollm2_path, n_ctx=512, n_threads=T, prompt_cache=False)
    "".join(fresh.chat(msgs[:2], Sampling(temperature=0, max_tokens=1)))
    start = _decoded(fresh)
    "".join(fresh.chat(msgs, Sampling(temperature=0, max_tokens=1)))
    assert fresh.last_usage["cached_tokens"] == 0
    assert _decoded(fresh) - start == usage["prompt_tokens"]
    fresh.close()


def test_chat_with_the_cache_is_reproducible(smol, smollm2_path):
    """The same conversation, turn by turn, gives the same replies on a new model. (They need
    not equal what a model without the cache says: evaluating the history in other batches
    moves the last bits of the logits, and a greedy choice between near-equal tokens can flip;
    prompt_cache=False gives a fresh model's replies exactly.)"""
    other = LlamaGenerator(smollm2_path, n_ctx=512, n_threads=T)
    _, replies, _ = _conversation(other)
    other.close()
    smol.score("Hi")  # smol has run other calls before: scoring empties its cache
    assert _conversation(smol)[1] == replies
    first = replies[0]
    nocache = LlamaGenerator(smollm2_path, n_ctx=512, n_threads=T, prompt_cache=False)
    assert _conversation(nocache)[1][0] == first  # the first turn has nothing cached
    nocache.close()


def test_scoring_between_turns_empties_the_cache(smol, smollm2_path):
    msgs = [{"role": "user", "content": "What is the capital of Italy?"}]
    reply = "".join(smol.chat(msgs, GREEDY))
    msgs += [{"role": "assistant", "content": reply}, {"role": "user", "content": "And of Spain?"}]
    smol.score("A sentence that fills the cache with other tokens.")
    second = "".join(smol.chat(msgs, GREEDY))
    assert smol.last_usage["cached_tokens"] == 0
    fresh = LlamaGenerator(smollm2_path, n_ctx=512, n_threads=T, prompt_cache=False)
    assert "".join(fresh.chat(msgs, GREEDY)) == second  # evaluated from scratch, exactly as a fresh model
    fresh.close()


def test_completion_starts_from_an_empty_cache(smol):
    s = Sampling(seed=5, max_tokens=12, temperature=1.0)
    first = "".join(smol.stream("The lighthouse keeper", s))
    "".join(smol.chat([{"role": "user", "content": "Hello"}], GREEDY))
    assert "".join(smol.stream("The lighthouse keeper", s)) == first
    assert smol.last_usage["cached_tokens"] == 0


# --- exact scores --------------------------------------------------------------------------------


def _reference_nats(llm, tokens, start, lo, end):
    """-sum ln p(tokens[i]) for i in [lo, end), from llama-cpp-python's logits of
    [BOS] + tokens[start:end], log-softmax in float64."""
    window = [BOS] + tokens[start:end]
    llm.reset()
    llm.eval(window)
    logits = np.array(llm.scores[: len(window)], dtype=np.float64)
    m = logits.max(axis=1, keepdims=True)
    logp = logits - (m + np.log(np.exp(logits - m).sum(axis=1, keepdims=True)))
    return -sum(logp[i - start, tokens[i]] for i in range(lo, end))


def test_score_charges_every_token_from_bos(scorer, reference):
    text = "The train came down out of the hills at 4:15 p.m., exactly as the timetable had promised."
    tokens = scorer.tokenize(text)
    assert tokens[0] != BOS and scorer.prefix_token == BOS  # SmolLM2 adds no BOS, yet has one
    score = scorer.score(text)
    assert score.tokens == len(tokens)  # the first token is charged too
    expected = _reference_nats(reference, tokens, 0, 0, len(tokens))
    bpb = expected / len(text.encode()) / math.log(2)
    assert score.bits_per_byte == pytest.approx(bpb, rel=1e-6)


def test_windowed_score_is_the_sum_of_its_windows(scorer, reference):
    text = scorer.detokenize(novel_tokens(scorer, 700))  # three windows of a 256-token context
    tokens = scorer.tokenize(text)
    n = len(tokens)
    assert n > 2 * 255
    width = 255  # 256 less the BOS each window starts with
    windows, end = [(0, 0, width)], width  # disjoint windows (stride = width) keep the test short
    while end < n:
        windows.append((min(n, end + width) - width, end, min(n, end + width)))
        end = min(n, end + width)
    assert scorer.score_windows(n, stride=width) == windows
    score = scorer.score(text, stride=width)
    assert score.tokens == n
    expected = sum(_reference_nats(reference, tokens, *w) for w in windows)
    bpb = expected / len(text.encode()) / math.log(2)
    assert score.bits_per_byte == pytest.approx(bpb, rel=1e-6)


def test_perplexity_command_scores_with_an_f32_cache(scorer, smollm2_path, tmp_path):
    text = "She leaned her forehead against the cold window and watched the sea arrive."
    path = tmp_path / "held-out.txt"
    path.write_text(text, encoding="utf-8")
    rows = {}
    for cache in (None, "f16"):
        args = ["--backend", f"llama:{smollm2_path}", "--n-ctx", "256", "--threads", str(T), "--json", str(path)]
        r = run_genlab(["perplexity", *args, *(["--kv-cache", cache] if cache else [])], cwd=tmp_path,
                       env=isolated_env(tmp_path))
        rows[cache] = json.loads(ok(r))[0]
    exact = scorer.score(text)
    assert rows[None]["bits_per_byte"] == pytest.approx(exact.bits_per_byte, rel=1e-9)  # f32 by default
    assert rows[None]["tokens"] == exact.tokens
    f16 = LlamaGenerator(smollm2_path, n_ctx=256, n_threads=T)  # llama.cpp's default cache, as generate uses
    assert rows["f16"]["bits_per_byte"] == pytest.approx(f16.score(text).bits_per_byte, rel=1e-9)
    f16.close()


# --- an empty prompt ---------------------------------------------------------------------------------


def test_generate_from_an_empty_prompt_starts_at_bos(scorer, reference):
    text = "".join(scorer.stream("", Sampling(temperature=0, max_tokens=12)))
    assert scorer.last_usage["prompt_tokens"] == 1 and scorer.last_usage["completion_tokens"] > 0
    reference.reset()
    tokens = []
    for t in reference.generate([BOS], temp=0, top_k=40, top_p=0.95, min_p=0.05, repeat_penalty=1.0):
        if llama_cpp.llama_vocab_is_eog(llama_cpp.llama_model_get_vocab(reference.model), t) or len(tokens) == 12:
            break
        tokens.append(t)
    assert text == reference.detokenize(tokens).decode("utf-8", errors="ignore")


def test_chat_uses_the_chatml_template_and_stops_at_the_end_of_the_turn(smol):
    """SmolLM2's own template renders the turns; a short greedy answer ends at <|im_end|>, which
    is not part of the reply (the model stops by itself, not by max_tokens)."""
    msgs = [{"role": "system", "content": "Answer in one word."},
            {"role": "user", "content": "What is the capital of France?"}]
    rendered = smol.format_chat(msgs)
    assert rendered.startswith("<|im_start|>system\nAnswer in one word.<|im_end|>\n")
    assert rendered.endswith("<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n")
    reply = "".join(smol.chat(msgs, Sampling(temperature=0, max_tokens=200)))
    assert "Paris" in reply and smol.last_usage["finish_reason"] == "stop"
    assert smol.last_usage["completion_tokens"] < 200
    assert "<|im_end|>" not in reply and "<|im_start|>" not in reply
