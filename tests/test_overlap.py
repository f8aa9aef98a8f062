"""The run index behind the anti-plagiarism guard, against brute force."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from genlab.markov.overlap import RunIndex, too_much_overlap


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
