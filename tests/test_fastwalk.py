"""The compiled sentence walk and overlap lookup must give exactly what the Python code gives.

MarkovGenerator.tokens() and RunIndex.any_run are the definitions; _fastwalk.c repeats them
step for step for make_sentence(). Same seed, same sentence, whichever runs.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from conftest import NOVEL, SHARED_CORPORA
from genlab import overlap
from genlab.markov import sentences as markov_sentences
from genlab.markov.generator import MarkovGenerator
from genlab.markov.model import train
from genlab.sampling import PURE, Sampling


@pytest.fixture(scope="module")
def fastwalk():
    from genlab.markov import _fastwalk  # built by pip install -e . (setup.py)

    return _fastwalk


def sentences(gen: MarkovGenerator, compiled: bool, seeds, **kwargs) -> list:
    markov_sentences.COMPILED_WALK = compiled
    try:
        gen._cache.clear()  # each side starts from a cold memo, as a user's first call does
        gen._cached = 0
        return [gen.make_sentence(rng=random.Random(seed), **kwargs) for seed in seeds]
    finally:
        markov_sentences.COMPILED_WALK = True


CORPORA = [(NOVEL, 1), (NOVEL, 2), (NOVEL, 3)] + [
    (SHARED_CORPORA / name, order)
    for name, order in [("alices-adventures-in-wonderland.txt", 2), ("phantom-of-the-opera.txt", 3),
                        ("adventures-of-sherlock-holmes.txt", 2)]
]


@pytest.mark.parametrize("path,order", CORPORA, ids=lambda v: v.stem if isinstance(v, Path) else str(v))
def test_make_sentence_is_the_same_with_the_compiled_walk(fastwalk, path, order):
    if not path.exists():
        pytest.skip(f"{path} is not here")
    gen = MarkovGenerator(train([(path, 1.0)], order=order))
    seeds = range(300)
    compiled = sentences(gen, True, seeds)
    assert compiled == sentences(gen, False, seeds)
    assert sum(s is not None for s in compiled) > 150  # the walk made sentences, not Nones
    assert any("“" in s or '"' in s for s in compiled if s)  # and quoted ones among them


def test_weighted_and_large_tables_walk_the_same(fastwalk, monkeypatch, tmp_path):
    """Float counts (corpus weights), and tables too big for the plain-Python copies (the
    compiled walk then asks _candidates for every new state)."""
    other = tmp_path / "other.txt"
    other.write_text("“Yes,” said the keeper. “The lamp is lit.” Nobody answered him.\n\n" * 20,
                     encoding="utf-8")
    weighted = MarkovGenerator(train([(NOVEL, 1.0), (other, 2.5)], order=2))
    assert sentences(weighted, True, range(200)) == sentences(weighted, False, range(200))
    from genlab.markov import ngrams

    monkeypatch.setattr(ngrams, "SMALL_TABLES", 0)
    large = MarkovGenerator(train([(NOVEL, 1.0)], order=3))
    assert large.model.counts._small_lists(1) is None
    assert sentences(large, True, range(200)) == sentences(large, False, range(200))


def test_states_memoised_by_the_compiled_walk_equal_candidates(fastwalk):
    gen = MarkovGenerator(train([(NOVEL, 1.0)], order=3))
    sentences(gen, True, range(200))
    memo = dict(gen._cache)
    assert len(memo) > 1000
    for key, entry in memo.items():
        if isinstance(key[0], tuple):
            continue  # a state on a closing budget: _candidates made it anyway
        again = gen._candidates(list(key), gen.track([]), False, key)
        assert (again[0], again[1], again[2:5], again[5]) == (entry[0], entry[1], entry[2:5], entry[5])


@pytest.mark.parametrize("kwargs", [
    {"start": "“Well,"},
    {"start": "She said"},
    {"start": "Never-seen-word and"},
    {"tries": 1, "min_words": 8, "max_words": 12},
    {"test_output": False},
    {"sampling": Sampling(max_tokens=6)},
])
def test_make_sentence_options_are_the_same_with_the_compiled_walk(fastwalk, kwargs):
    gen = MarkovGenerator(train([(NOVEL, 1.0)], order=2))
    assert sentences(gen, True, range(150), **kwargs) == sentences(gen, False, range(150), **kwargs)


def python_sentence(gen: MarkovGenerator, history, tracker, rng, budget):
    """What _sentence_units takes from tokens(): ids up to a break (left out) or an end."""
    out = []
    for t in gen.tokens(history, PURE.merged(max_tokens=budget), rng, tracker):
        if t == gen._para:
            return out
        out.append(t)
        if gen._is_end[t]:
            return out
    return None


@pytest.mark.parametrize("prompt", ["", "“Well,", "“I said, ‘no", '"Yes,'])
def test_the_walk_closes_quotes_on_a_tight_budget_as_tokens_does(fastwalk, prompt):
    """Budgets of 1 to 40 tokens after prompts that leave quotes open: the closing paths. Each
    side runs them all over one memo of its own, so a state memoised wrongly shows later."""
    gen = MarkovGenerator(train([(NOVEL, 1.0)], order=2))
    start = [gen._para] + gen.model.encode(gen.model.tokens_of(prompt))
    walker = gen._compiled_walker(PURE)
    results = []
    for compiled in (True, False):
        gen._cache.clear()
        results.append([])
        for budget in range(1, 41):
            for seed in range(10):
                history = list(start)
                tracker = gen.track(history)
                rng = random.Random(seed * 1000 + budget)
                gen._uniform = rng.random
                if compiled:
                    ids = walker.sentence(gen, history, tracker, rng.random, budget)
                else:
                    ids = python_sentence(gen, history, tracker, rng, budget)
                results[-1].append((budget, seed, ids, history, list(tracker.stack), rng.random()))
        results[-1].append(sorted(map(repr, gen._cache)))  # the same states memoised, under the same keys
    for a, b in zip(*results):
        assert a == b


def test_the_compiled_overlap_lookup_answers_as_python_does(fastwalk, monkeypatch):
    ids = train([(NOVEL, 1.0)], order=2).text_ids
    index = overlap.RunIndex(ids[ids != 0].astype(np.int64), compiled=fastwalk.any_run)
    text = index.words.tolist()
    rng = random.Random(5)
    queries = []
    for _ in range(400):
        at = rng.randrange(len(text) - 30)
        seq = text[at:at + rng.randrange(8, 30)]
        for _ in range(rng.randrange(3)):  # mutations, unknown words among them
            seq[rng.randrange(len(seq))] = rng.choice([-1, rng.randrange(max(text) + 1)])
        length = rng.randrange(4, len(seq) + 1)
        queries.append((seq, range(len(seq) - length + 1), length))
    compiled = [index.any_run(*q) for q in queries]
    monkeypatch.setattr(index, "compiled", None)
    assert compiled == [index.any_run(*q) for q in queries]
    assert 50 < sum(compiled) < 350  # both answers occur
