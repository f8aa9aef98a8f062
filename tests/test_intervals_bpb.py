"""Bits per byte with a 95% interval over the paragraphs of the eval text, and paired differences
between backends: the parts each backend's score splits into, the bootstrap over them, and what
`genlab perplexity` and `genlab compare` show of it."""

from __future__ import annotations

import json
import shutil

import pytest

from conftest import NOVEL, ok
from conftest import run_in as genlab
from genlab.eval.perplexity import perplexity, prepare_text, prepare_tokenized
from genlab.eval.score_intervals import bits_per_byte_intervals, shared_units
from genlab.markov.generator import MarkovGenerator
from genlab.markov.model import train
from genlab.score_parts import block_starts, byte_sizes, paragraph_starts

PARAGRAPHS = [p for p in NOVEL.read_text(encoding="utf-8").split("\n\n") if p.strip()]
TRAIN, HELD = PARAGRAPHS[:-120], PARAGRAPHS[-120:]


def held(n: int) -> str:
    """The first `n` held-out paragraphs, as every backend scores them."""
    return prepare_text("\n\n".join(HELD[:n]))


@pytest.fixture(scope="module")
def chains() -> dict[str, MarkovGenerator]:
    """Chains trained on the novel less its last 120 paragraphs: words of order 1 and 4, characters of order 4."""
    text = "\n\n".join(TRAIN)
    made = {"word 1": train([("novel", 1.0)], order=1, texts=[text]),
            "word 4": train([("novel", 1.0)], order=4, texts=[text]),
            "char 4": train([("novel", 1.0)], order=4, unit="char", texts=[text])}
    return {name: MarkovGenerator(model, name=name) for name, model in made.items()}


def assert_parts_cover(score, text: str) -> None:
    """The parts sum to the score's nats and bytes, one part a paragraph of `text`."""
    assert len(score.parts) == len(paragraph_starts(text)) > 1
    assert sum(n for n, _ in score.parts) == pytest.approx(score.nats, rel=1e-12)
    assert sum(b for _, b in score.parts) == score.bytes == len(text.encode("utf-8"))
    assert all(n > 0 and b > 0 for n, b in score.parts)


# --- parts ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("unit", ["word 4", "char 4"])
def test_a_chain_s_parts_are_its_paragraphs_scored_alone(chains, unit):
    """A chain scores each paragraph as a sentence of its own (<s> ... </s>), so a paragraph's
    part is exactly what scoring it alone costs; its bytes are its own and the blank line after it."""
    text = held(6)
    score = chains[unit].score(text)
    assert_parts_cover(score, text)
    paragraphs = text.split("\n\n")
    for (nats, size), paragraph in zip(score.parts, paragraphs):
        alone = chains[unit].score(paragraph)
        assert nats == pytest.approx(alone.nats, rel=1e-12)
        assert size == alone.bytes + (2 if paragraph is not paragraphs[-1] else 0)


def test_pretokenized_text_is_split_line_by_line():
    """--tokenized: one sentence a line, and each line is a part (a line of reserved tokens
    only is no sentence: its bytes go to the line before)."""
    lines = [" ".join(p.split()[:12]) for p in TRAIN[:300]]
    model = train([("novel", 1.0)], order=3, tokenized=True, texts=["\n".join(lines)])
    chain = MarkovGenerator(model, name="tok")
    text = prepare_tokenized("\n".join([*[" ".join(p.split()[:15]) for p in HELD[:5]], "<s> </s>", HELD[6][:80]]))
    score = chain.score(text, tokenized=True)
    assert len(score.parts) == 6  # 7 lines, one of them no sentence
    assert sum(n for n, _ in score.parts) == pytest.approx(score.nats, rel=1e-12)
    assert sum(b for _, b in score.parts) == score.bytes
    fifth, reserved = text.splitlines()[4:6]
    assert reserved == "<s> </s>"
    assert score.parts[4][1] == len(fifth.encode()) + 1 + len(reserved) + 1


def _short_text() -> str:
    """Three paragraphs, the middle one far longer than the others."""
    return prepare_text("\n\n".join([HELD[0][:60], " ".join(HELD[1:5])[:900], HELD[5][:80]]))


def test_a_tiny_gguf_s_parts_sum_to_its_score(tiny_gguf):
    from genlab.eval.perplexity import load_scorer

    text = _short_text()
    with load_scorer(f"llama:{tiny_gguf}") as model:
        score = model.score(text, progress=False)
        assert_parts_cover(score, text)
        # the long paragraph has most of the tokens: it carries most of the nats
        assert score.parts[1][0] > score.parts[0][0] + score.parts[2][0]
        # a text longer than the context (256) is scored in windows: the parts still add up
        longer = held(8)
        long_score = model.score(longer, progress=False)
        assert long_score.tokens > 256
        assert_parts_cover(long_score, longer)


def test_smollm2_s_parts_sum_to_its_score(smollm2_path):
    """Tokens go to the paragraph of their first byte. The first paragraph is scored just as it
    would be alone (same BOS, same tokens before each), and its part also pays for the blank
    line after it: at least its score alone."""
    from genlab.eval.perplexity import load_scorer

    text = _short_text()
    with load_scorer(f"llama:{smollm2_path}", n_ctx=512) as model:
        score = model.score(text, progress=False)
        assert_parts_cover(score, text)
        assert score.parts[1][0] > max(score.parts[0][0], score.parts[2][0])
        first = model.score(text.split("\n\n")[0], progress=False)
        assert score.parts[0][0] >= first.nats * (1 - 1e-4)
        assert score.parts[0][0] - first.nats < 0.5 * first.nats  # the blank line, not a paragraph more


def test_a_server_s_parts_come_from_the_echoed_token_offsets(tiny_gguf, tmp_path):
    """llama-cpp-python's server (f32 cache, as the local model) echoes each token's text_offset:
    its parts split the text into the same bytes as the local model's, and every paragraph after
    the first costs what it costs locally (the first token is handled apart: docs/servers.md).
    Longer than the server's context, the text is scored in windows and still splits whole."""
    pytest.importorskip("llama_cpp.server.app", reason="needs llama-cpp-python[server]")
    from test_server import LlamaServer

    from genlab.eval.perplexity import load_scorer
    from genlab.server.generator import ServerGenerator
    from genlab.server.scoring import EchoScorer

    text = prepare_text("\n\n".join([HELD[0][:40], HELD[1][:200], HELD[2][:50]]))  # in one window of 256
    server = LlamaServer(tiny_gguf, tmp_path / "server.log")
    try:
        remote = ServerGenerator(server.url)
        with load_scorer(f"llama:{tiny_gguf}") as local:
            near, here = remote.score(text), local.score(text, progress=False)
            assert here.tokens < 250
            assert_parts_cover(near, text)
            assert [b for _, b in near.parts] == [b for _, b in here.parts]
            assert [n for n, _ in near.parts[1:]] == pytest.approx([n for n, _ in here.parts[1:]], rel=1e-4)
        longer = held(8)
        far = remote.score(longer)
        assert far.tokens > 256
        assert_parts_cover(far, longer)
    finally:
        server.stop()
    # an answer without text_offset: the score stands, with no parts
    answer = {"choices": [{"logprobs": {"tokens": ["The", " old", " man"], "token_logprobs": [-1.0, -2.0, -3.0]}}],
              "usage": {"completion_tokens": 0}}
    echoed = EchoScorer(None, "", None, "stub")._read(answer, "The old man")
    assert (echoed.nats, echoed.count, echoed.offsets) == (6.0, 3, None)


def test_paragraph_bytes_follow_the_blank_lines_of_any_text():
    text = "\ufeff\n\n  One  two.\r\n \r\nThree\nfour.\n\n\n\nFive é.\n"
    starts = block_starts(text)
    assert [text[s:].lstrip("\ufeff \r\n")[:3] for s in starts] == ["One", "Thr", "Fiv"]
    assert sum(byte_sizes(text, starts)) == len(text.encode("utf-8"))
    assert paragraph_starts("a b\nc d\ne") == [0, 4, 8]  # no blank line: line by line


# --- intervals -----------------------------------------------------------------------------------


def test_the_interval_holds_the_estimate_and_narrows_on_a_longer_text(chains):
    widths = []
    for n in (12, 120):
        row = perplexity(chains["word 4"], held(n))
        found = bits_per_byte_intervals({"chain": row.parts}, 1000, 3)
        low, high = found.intervals["chain"]
        assert found.units == n
        assert low < row.bits_per_byte < high
        assert found.estimates["chain"] == pytest.approx(row.bits_per_byte, rel=1e-12)
        widths.append(high - low)
    assert widths[1] < widths[0] / 2  # ten times the paragraphs: about a third of the width


def test_the_same_seed_gives_the_same_intervals_and_another_seed_others(chains):
    parts = {name: perplexity(chain, held(40)).parts for name, chain in chains.items()}
    first = bits_per_byte_intervals(parts, 500, 7)
    assert bits_per_byte_intervals(dict(parts), 500, 7) == first
    assert bits_per_byte_intervals(parts, 500, 8).intervals != first.intervals
    none = bits_per_byte_intervals(parts, 0, 7)  # --bootstrap 0: the numbers, no intervals
    assert none.intervals == {} and none.differences == []
    assert none.estimates == first.estimates


def test_a_backend_against_itself_differs_by_exactly_zero(chains):
    parts = perplexity(chains["word 4"], held(40)).parts
    found = bits_per_byte_intervals({"a": parts, "b": parts}, 1000, 1)
    (d,) = found.differences
    assert (d["a"], d["b"], d["difference"], d["interval"]) == ("a", "b", 0.0, [0.0, 0.0])


def test_clearly_different_chains_differ_beyond_noise(chains):
    """Order 1 against order 4: the paired interval excludes zero, and it is far narrower than
    either backend's own interval (the paragraphs' own difficulty cancels)."""
    parts = {n: perplexity(chains[n], held(60)).parts for n in ("word 1", "word 4")}
    found = bits_per_byte_intervals(parts, 1000, 2)
    (d,) = found.differences
    low, high = d["interval"]
    assert 0 < low <= d["difference"] <= high
    assert d["units"] == 60 and d["metric"] == "bits_per_byte" and d["setting"] == ""
    own = min(b - a for a, b in found.intervals.values())
    assert high - low < own


def test_splits_that_differ_are_compared_over_the_runs_they_share():
    """Lines (3 + 2 + 4 bytes) against paragraphs (5 + 4): the shared runs end at 5 and 9."""
    units = shared_units({"lines": [(1.0, 3), (2.0, 2), (4.0, 4)], "paragraphs": [(5.0, 5), (6.0, 4)],
                          "none": []})
    assert set(units) == {"lines", "paragraphs"}
    assert units["lines"].tolist() == [[3.0, 5.0], [4.0, 4.0]]
    assert units["paragraphs"].tolist() == [[5.0, 5.0], [6.0, 4.0]]
    assert shared_units({"a": [(1.0, 3)], "b": [(1.0, 4)]}) == {}  # not the same text


# --- the commands --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """Chains of order 1 and 4 on the novel less its end (the order-4 one also under a second
    name), the end as the eval text, and a one-prompt file."""
    d = tmp_path_factory.mktemp("bpb")
    (d / "texts").mkdir()
    (d / "texts" / "train.txt").write_text("\n\n".join(TRAIN), encoding="utf-8")
    (d / "texts" / "held.txt").write_text("\n\n".join(HELD[:40]), encoding="utf-8")
    (d / "texts" / "one.txt").write_text(HELD[0], encoding="utf-8")
    for order in (1, 4):
        ok(genlab("train-markov", "texts/train.txt", "--order", order, "-o", f"models/o{order}.markov", cwd=d))
    shutil.copy(d / "models" / "o4.markov", d / "models" / "o4-again.markov")
    (d / "prompts.txt").write_text("The old man said\n", encoding="utf-8")
    return d


BACKENDS = ["-b", "markov:models/o1.markov", "-b", "markov:models/o4.markov", "-b", "markov:models/o4-again.markov"]


def test_perplexity_prints_each_interval_and_each_paired_difference(work):
    out = ok(genlab("perplexity", *BACKENDS, "texts/held.txt", "--seed", "4", cwd=work))
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["backend", "bits/byte"] and len(lines[1].split()) == 8  # the table as it was
    block = lines[lines.index("") + 1:]
    assert block[0] == "bits/byte, 95% interval over 40 paragraphs (1,000 bootstrap replicates, seed 4):"
    for line, row in zip(block[1:4], lines[1:4]):
        name, value, low, high = line.replace("[", "").replace("]", "").replace(",", "").split()
        assert name == row.split()[0] and value == row.split()[1] and float(low) < float(value) < float(high)
    assert block[4].startswith("markov:models/o1.markov - markov:models/o4.markov: +0.")
    assert block[4].endswith("paired, excludes zero")
    assert block[6] == ("markov:models/o4.markov - markov:models/o4-again.markov: +0.0000 [+0.0000, +0.0000] "
                        "paired, includes zero: within noise")
    assert len(block) == 7
    again = ok(genlab("perplexity", *BACKENDS, "texts/held.txt", "--seed", "4", cwd=work))
    assert again.splitlines()[lines.index(""):] == lines[lines.index(""):]  # the same seed: the same intervals

    rows = json.loads(ok(genlab("perplexity", *BACKENDS[:4], "texts/held.txt", "--json", "--seed", "4", cwd=work)))
    # o1's interval does not depend on which backends stand beside it: the same paragraphs are drawn
    assert rows[0]["paragraphs"] == 40
    assert [f"{x:.4f}" for x in rows[0]["interval"]["bits_per_byte"]] == block[1].split("[")[1].rstrip("]").split(", ")

    single = ok(genlab("perplexity", *BACKENDS[:2], "texts/one.txt", cwd=work)).splitlines()
    assert single[-1] == "bits/byte interval: none (the text is a single paragraph; an interval needs two or more)"
    bare = ok(genlab("perplexity", *BACKENDS[:4], "texts/held.txt", "--bootstrap", "0", cwd=work))
    assert len(bare.splitlines()) == 3  # the table alone


def test_compare_writes_the_intervals_and_the_paired_differences(work):
    args = ["compare", *BACKENDS, "--prompts", "prompts.txt", "--eval-text", "texts/held.txt", "--corpus",
            "texts/train.txt", "--orders", "1,4", "--samples", "1", "--max-tokens", "8", "--seed", "5", "-o", "runs/a"]
    ok(genlab(*args, cwd=work))
    run = work / "runs" / "a"
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    rows = {r["backend"]: r for r in metrics["perplexity"]}
    for r in rows.values():
        low, high = r["interval"]["bits_per_byte"]
        assert r["paragraphs"] == 40 and low < r["bits_per_byte"] < high
        assert "paragraph_nats" not in r
    diffs = {(d["a"], d["b"]): d for d in metrics["differences"] if d["metric"] == "bits_per_byte"}
    o1, o4, again = (b for b in BACKENDS if b != "-b")
    assert list(diffs) == [(o1, o4), (o1, again), (o4, again)]
    assert diffs[(o1, o4)]["interval"][0] > 0 and diffs[(o4, again)]["interval"] == [0.0, 0.0]
    assert diffs[(o4, again)]["difference"] == 0.0
    orders = {r["order"]: r for r in metrics["orders"]}
    for r in orders.values():
        low, high = r["interval"]["bits_per_byte"]
        assert low < r["bits_per_byte"] < high
    # the order-4 chain of the curve is the o4 backend, on the same resampled paragraphs
    assert orders[4]["interval"]["bits_per_byte"] == pytest.approx(rows[o4]["interval"]["bits_per_byte"])

    # resumed, with one scores.jsonl line as written before the parts were kept: that backend
    # has no interval (null), the others keep theirs exactly (the same paragraphs are drawn)
    lines = [json.loads(line) for line in (run / "scores.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [line["backend"] for line in lines] == [o1, o4, again]
    for key in ("paragraph_nats", "paragraph_bytes"):
        assert len(lines[0].pop(key)) == 40
    (run / "scores.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    ok(genlab(*args, cwd=work))
    resumed = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    first, *others = resumed["perplexity"]
    assert first["interval"] == {"bits_per_byte": None} and first["paragraphs"] is None
    assert others == metrics["perplexity"][1:]
    assert [d for d in resumed["differences"] if d["metric"] == "bits_per_byte"] == [diffs[(o4, again)]]
