"""Markov chains on real prose: determinism, persistence, back-off, sampling, quotes, guard."""

from __future__ import annotations

import json
import random
import zipfile

import numpy as np
import pytest

from conftest import NOVEL, SHARED_BOOKS
from genlab.errors import GenlabError
from genlab.generator import Capabilities, Generator
from genlab.markov import tokenize as tok
from genlab.markov.generator import MarkovGenerator
from genlab.markov.model import train
from genlab.overlap import RunIndex
from genlab.markov.quotes import balance_problems
from genlab.markov.store import FORMAT_VERSION, load, save
from genlab.sampling import PURE, Sampling



@pytest.fixture(scope="module")
def novel_model():
    return train([(NOVEL, 1.0)], order=3)


@pytest.fixture(scope="module")
def novel(novel_model):
    return MarkovGenerator(novel_model)


def text(gen, prompt="", **settings):
    return "".join(gen.stream(prompt, Sampling(**settings)))


def walk(gen, n, sampling, history=None):
    """n token ids from a fresh paragraph (or the given history)."""
    return list(gen.tokens(list(history or [gen._para]), sampling.merged(max_tokens=n)))


# --- training and persistence -------------------------------------------------------------------


def test_training_is_deterministic(novel_model):
    again = train([(NOVEL, 1.0)], order=3)
    assert again.vocab == novel_model.vocab
    for a, b in zip(again.counts.keys + again.counts.counts, novel_model.counts.keys + novel_model.counts.counts):
        assert np.array_equal(a, b)


def test_model_records_provenance(novel_model):
    info = novel_model.info()
    assert info["order"] == 3 and info["unit"] == "word"
    corpus = info["corpora"][0]
    assert corpus["name"] == "novel" and len(corpus["sha256"]) == 64 and corpus["tokens"] > 20000
    assert info["genlab_version"]


def test_a_chain_is_a_generator_that_declares_what_it_can_do(novel):
    assert isinstance(novel, Generator)
    assert novel.capabilities == Capabilities(chat=True, persona_prompts=False, score=True, pretokenized=True)
    assert novel.info()["unit"] == "word" and novel.count_tokens("Hello, world.") == 4


def test_same_seed_same_text_different_seed_different_text(novel):
    a = text(novel, seed=11, max_tokens=80)
    assert a == text(novel, seed=11, max_tokens=80)
    assert len({text(novel, seed=s, max_tokens=80) for s in range(5)}) == 5


def test_save_then_load_generates_identically(novel, novel_model, tmp_path):
    path = save(novel_model, tmp_path / "m.markov")
    loaded = MarkovGenerator(load(path))
    assert loaded.model.vocab == novel_model.vocab
    assert loaded.model.continue_rate == novel_model.continue_rate
    assert np.array_equal(loaded.model.text_ids, novel_model.text_ids)
    for seed in range(3):
        assert text(loaded, "“Well,” said", seed=seed) == text(novel, "“Well,” said", seed=seed)
    assert [p.name for p in tmp_path.iterdir()] == ["m.markov"]  # no temp file left


def test_file_is_plain_arrays_loadable_without_pickle(novel_model, tmp_path):
    path = save(novel_model, tmp_path / "m.markov")
    with np.load(path, allow_pickle=False) as z:
        assert all(z[name].dtype != object for name in z.files)
        meta = json.loads(z["meta"].tobytes())
    assert meta["format"] == "genlab-markov" and meta["order"] == 3


@pytest.mark.parametrize("order", range(1, 9))
def test_every_order_from_1_to_8_trains_and_generates(order):
    model = train([(NOVEL, 1.0)], order=order)
    out = text(MarkovGenerator(model), seed=1, max_tokens=30)
    assert len(out.split()) >= 5


@pytest.mark.parametrize("order", [0, 9, -1])
def test_order_out_of_range_is_refused(order):
    with pytest.raises(GenlabError, match="order must be a whole number from 1 to 8"):
        train([(NOVEL, 1.0)], order=order)


def test_corpus_weights_scale_counts(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("The cat sat.\n\nThe cat ran.\n")
    b.write_text("The dog sat.\n")
    m = train([(a, 2.0), (b, 1.0)], order=1)
    g = MarkovGenerator(m)
    the = m.index["The"]
    depth, lo, hi = m.counts.context([the])
    ids, counts = m.counts.continuations(depth, lo, hi)
    got = {m.vocab[i]: float(c) for i, c in zip(ids, counts)}
    assert got == {"cat": 4.0, "dog": 1.0}
    assert g.info()["corpora"][0]["weight"] == 2.0


# --- generation ---------------------------------------------------------------------------------


def test_prompt_continues_from_its_last_words(novel):
    out = text(novel, "The lantern", seed=3, max_tokens=40)
    assert out and not out.startswith("The lantern")
    # the first continuation is something the novel really has after "The lantern"
    model = novel.model
    history = [model.paragraph_id] + model.encode(model.tokens_of("The lantern"))
    first = walk(novel, 1, Sampling(seed=3), history)[0]
    depth, lo, hi = model.counts.context(history)
    assert depth >= 2 and first in model.counts.continuations(depth, lo, hi)[0]


def test_unseen_prompt_backs_off_and_never_fails(novel):
    for prompt in ["Zyzzyva quokka flibbertigibbet", "Nell quokka", "“", "”", "— ...", "🙂🙂"]:
        out = text(novel, prompt, seed=5, max_tokens=30)
        assert len(out.split()) >= 3, prompt


def test_temperature_zero_follows_the_likeliest_continuation(novel):
    model = novel.model
    ids = walk(novel, 25, PURE.merged(temperature=0, seed=1))
    assert ids == walk(novel, 25, PURE.merged(temperature=0, seed=99))
    history = [model.paragraph_id]
    for t in ids[:10]:
        depth, lo, hi = model.counts.context(history)
        cand, counts = model.counts.continuations(depth, lo, hi)
        assert counts[list(cand).index(t)] == counts.max()
        history.append(t)


def test_top_k_1_is_greedy_too(novel):
    greedy = walk(novel, 20, PURE.merged(temperature=0))
    assert walk(novel, 20, PURE.merged(top_k=1, seed=4)) == greedy


def test_max_tokens_is_honoured(novel):
    for n in (1, 7, 50):
        assert len(walk(novel, n, Sampling(seed=2))) == n


def test_stop_strings_stop_before_the_stop_text(novel):
    full = text(novel, seed=8, max_tokens=200)
    cut = text(novel, seed=8, max_tokens=200, stop=("Nell",))
    assert "Nell" not in cut
    if "Nell" in full:
        assert cut == full[: full.index("Nell")].rstrip() or full.startswith(cut)


def test_sampling_settings_change_the_output(novel):
    base = text(novel, seed=9, max_tokens=60)
    assert text(novel, seed=9, max_tokens=60, temperature=1.5, top_k=0, top_p=1.0, min_p=0.0) != base


def test_repeat_penalty_reduces_repetition(novel):
    def repeats(penalty):
        """Share of tokens that repeat one of the previous 64: what the penalty pushes down."""
        ids = walk(novel, 3000, Sampling(seed=1, repeat_penalty=penalty, repeat_last_n=64))
        return sum(ids[k] in ids[k - 64:k] for k in range(64, len(ids))) / len(ids)

    assert repeats(3.0) < repeats(1.8) < repeats(1.0)


# --- quotes -------------------------------------------------------------------------------------


def quote_share(tokens):
    """Share of word tokens inside a quotation, paragraph by paragraph ('how much dialogue')."""
    depth = inside = words = 0
    for t in tokens:
        if t == tok.PARAGRAPH:
            depth = 0  # a stray mark in the book must not make the rest of it "quoted"
            continue
        role = tok.quote_role(t)
        if role:
            depth = max(depth + role[1], 0)
        elif any(c.isalnum() for c in t):
            words += 1
            inside += depth > 0
    return inside / max(words, 1)


def paragraphs_of(gen, n, seed):
    """n generated paragraphs as one token list (continued quotations kept across them)."""
    history, out, done = [gen._para], [], 0
    tracker = gen.track(history)
    rng = random.Random(seed)
    while done < n:
        assert len(out) < 500 * n, "generation stopped producing paragraphs"
        for t in gen.tokens(history, PURE.merged(max_tokens=2000), rng, tracker):
            out.append(gen.model.vocab[t])
            done += t == gen._para
            if done >= n and not tracker.stack:
                break
    return out


@pytest.mark.parametrize("book", [NOVEL] + SHARED_BOOKS, ids=lambda p: p.stem)
def test_quotes_balanced_over_1000_generated_paragraphs(book):
    gen = MarkovGenerator(train([(book, 1.0)], order=3))
    tokens = paragraphs_of(gen, 1000, seed=1)
    assert balance_problems(tokens) == []
    # the text a user reads is balanced too: re-tokenized, it tells the same story
    assert balance_problems(tok.tokenize(gen.model.detokenize(tokens))) == []
    # and so are 1,000 markovify-style sentences
    rng = random.Random(2)
    sentences = [s for s in (gen.make_sentence(rng=rng) for _ in range(1000)) if s]
    assert len(sentences) > 900
    assert [s for s in sentences if balance_problems(tok.tokenize(s))] == []
    # and dialogue is not thrown away: about as much text is quoted as in the book
    corpus = [gen.model.vocab[i] for i in gen.model.text_ids]
    expected = quote_share(corpus)
    if expected > 0.05:
        assert 0.6 * expected <= quote_share(tokens) <= 1.4 * expected


def test_short_budgets_close_open_quotes(novel):
    for seed in range(200):
        ids = walk(novel, 1 + seed % 12, Sampling(seed=seed, temperature=1.0))
        assert balance_problems([novel.model.vocab[i] for i in ids]) == [], seed


def test_prompt_inside_a_quotation_is_continued_and_closed(novel):
    out = text(novel, "“I never said", seed=2, max_tokens=40)
    assert balance_problems(tok.tokenize("“I never said" + out)) == []
    assert "”" in out


def test_no_closing_quote_without_an_opener(novel):
    out = text(novel, "He walked on", seed=4, max_tokens=300)
    assert balance_problems(tok.tokenize("He walked on" + out)) == []


# --- markovify-style sentences ------------------------------------------------------------------


def test_make_sentence_respects_length_and_overlap(novel):
    rng = random.Random(0)
    index = RunIndex(novel.model.text_ids[novel._is_word[novel.model.text_ids]])
    made = [novel.make_sentence(rng=rng, min_words=5, max_words=30) for _ in range(200)]
    made = [s for s in made if s]
    assert len(made) > 150
    for s in made:
        words = [novel.model.index.get(w, -1) for w in tok.tokenize(s) if any(c.isalnum() for c in w)]
        assert 5 <= len(words) <= 30
        allowed = min(15, round(0.7 * len(words)))
        assert index.longest_copied_run(words) <= allowed, s
        assert balance_problems(tok.tokenize(s)) == []


def test_overlap_guard_can_be_tightened_and_switched_off(novel):
    rng = random.Random(1)
    index = RunIndex(novel.model.text_ids[novel._is_word[novel.model.text_ids]])
    strict = [novel.make_sentence(rng=rng, max_overlap_total=4, tries=50) for _ in range(30)]
    for s in filter(None, strict):
        words = [novel.model.index.get(w, -1) for w in tok.tokenize(s) if any(c.isalnum() for c in w)]
        assert index.longest_copied_run(words) <= 4
    loose = [novel.make_sentence(rng=rng, test_output=False) for _ in range(50)]
    assert all(loose)


def test_make_sentence_keeps_quoted_sentences(novel):
    rng = random.Random(2)
    made = [novel.make_sentence(rng=rng) for _ in range(300)]
    assert sum(1 for s in made if s and s.startswith("“")) > 50


def test_make_sentence_from_start_words(novel):
    s = novel.make_sentence("Nell", rng=random.Random(3), tries=50)
    assert s is not None and s.startswith("Nell")


# --- character chains ---------------------------------------------------------------------------


def test_character_chain_generates_balanced_text():
    model = train([(NOVEL, 1.0)], order=6, unit="char")
    gen = MarkovGenerator(model)
    assert all(len(u) == 1 or tok.quote_role(u) or u == tok.PARAGRAPH for u in model.vocab)
    out = text(gen, "“Well,” said", seed=1, max_tokens=400)
    assert len(out) > 300
    assert balance_problems(tok.tokenize("“Well,” said" + out)) == []
    assert gen.make_sentence(rng=random.Random(1), tries=50)


# --- model files users might hand us ------------------------------------------------------------


def test_newer_format_is_refused_clearly(novel_model, tmp_path):
    path = save(novel_model, tmp_path / "m.markov")
    newer = tmp_path / "newer.markov"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(newer, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "meta.npy":
                with np.load(path, allow_pickle=False) as z:
                    meta = json.loads(z["meta"].tobytes())
                meta["format_version"] = FORMAT_VERSION + 1
                import io

                buf = io.BytesIO()
                np.lib.format.write_array(buf, np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
                data = buf.getvalue()
            dst.writestr(item, data)
    with pytest.raises(GenlabError, match="newer genlab"):
        load(newer)


def test_truncated_and_foreign_files_are_refused(novel_model, tmp_path):
    path = save(novel_model, tmp_path / "m.markov")
    data = path.read_bytes()
    (tmp_path / "cut.markov").write_bytes(data[: len(data) // 2])
    with pytest.raises(GenlabError, match="truncated or corrupt|not a genlab"):
        load(tmp_path / "cut.markov")
    (tmp_path / "text.markov").write_text("hello, I am not a model\n")
    with pytest.raises(GenlabError, match="not a genlab Markov model"):
        load(tmp_path / "text.markov")
    np.savez(tmp_path / "other.npz", x=np.arange(3))
    with pytest.raises(GenlabError, match="not a genlab Markov model"):
        load(tmp_path / "other.npz")
