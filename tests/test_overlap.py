"""The run index behind the anti-plagiarism guard, against brute force."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genlab import overlap
from genlab.overlap import RunIndex, too_much_overlap


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def occurs(text, run):
    n = len(run)
    return any(list(text[i:i + n]) == list(run) for i in range(len(text) - n + 1))


@settings(max_examples=80, deadline=None)
@given(text=st.lists(st.integers(0, 4), min_size=1, max_size=3000),
       run=st.lists(st.integers(-1, 4), min_size=1, max_size=9))
def test_contains_and_longest_run_match_brute_force(text, run):
    index = RunIndex(np.array(text))
    assert index.contains(run) == occurs(text, run)
    longest = max((n for i in range(len(run)) for n in range(1, len(run) - i + 1) if occurs(text, run[i:i + n])),
                  default=0)
    assert index.longest_copied_run(run) == longest


def test_guard_follows_markovify_allowance():
    corpus = list(range(100))
    index = RunIndex(np.array(corpus))
    # 20 words: allowance min(15, round(0.7 * 20) = 14) = 14; a copied run of 15 is too much
    sentence = [500] * 5 + list(range(10, 25))
    assert too_much_overlap(index, sentence, 0.7, 15)
    sentence = [500] * 6 + list(range(10, 24))  # copies 14: allowed
    assert not too_much_overlap(index, sentence, 0.7, 15)
    # the total cap: 40 words allow only 15 copied
    assert too_much_overlap(index, [500] * 24 + list(range(16)), 0.7, 15)
    assert not too_much_overlap(index, [500] * 25 + list(range(15)), 0.7, 15)


@settings(max_examples=150, deadline=None)
@given(text=st.lists(st.integers(0, 5), min_size=1, max_size=400),
       seq=st.lists(st.integers(-1, 5), min_size=1, max_size=12),
       length=st.integers(1, 8), small=st.booleans())
def test_any_run_matches_brute_force_on_both_paths(monkeypatch_module, text, seq, length, small):
    # small: the plain-Python tables of a novel-sized text; else the numpy index of a big one
    monkeypatch_module.setattr(overlap, "SMALL_TEXT", 1 << 18 if small else 0)
    index = RunIndex(np.array(text))
    length = min(length, len(seq))
    starts = range(len(seq) - length + 1)
    expected = any(occurs(text, seq[s:s + length]) for s in starts)
    assert index.any_run(seq, starts, length) == expected


def test_any_run_with_a_common_first_word_and_large_ids():
    rng = np.random.default_rng(0)
    text = rng.integers(0, 3, size=5000)  # every word occurs over 256 times
    index = RunIndex(text)
    for run in ([0, 1], [2, 2, 2], [0, 1, 2, 0, 1, 2, 0]):
        assert index.any_run(run, [0], len(run)) == occurs(list(text), run)
    big = RunIndex(np.array([70000, 1, 2, 3, 70000, 1, 2, 3], dtype=np.uint32))  # ids past 16 bits
    assert big.any_run([9, 70000, 1, 2, 3], range(2), 4)
    assert not big.any_run([70000, 1, 2, 4], range(1), 4)
