"""N-gram tables against brute-force counting, including the renumbered (overflow) layout."""

from collections import Counter

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from genlab.markov.ngrams import NgramCounts


def brute_force(docs, order):
    """{depth: Counter((context tuple nearest-last, next))} never crossing a document start."""
    tables = {d: Counter() for d in range(order + 1)}
    for doc in docs:
        for i in range(1, len(doc)):
            for d in range(0, min(order, i) + 1):
                tables[d][(tuple(doc[i - d:i]), doc[i])] += 1
    return tables


def build(docs, order, vocab_size, weights=None, block=7):
    seq = np.concatenate([np.asarray(d, dtype=np.uint32) for d in docs])
    starts = np.cumsum([0] + [len(d) for d in docs[:-1]])
    w = None if weights is None else np.asarray(weights, dtype=float)
    return NgramCounts.build(seq, np.asarray(starts), order, vocab_size, w, block=block)


def as_counter(table, depth, history_by_context):
    """Read the table back through the public query API."""
    out = Counter()
    for ctx in history_by_context:
        d, lo, hi = table.context(list(ctx))
        if d != depth:
            continue
        ids, counts = table.continuations(d, lo, hi)
        for i, c in zip(ids, counts):
            out[(ctx, int(i))] += float(c)
    return out


@settings(max_examples=60, deadline=None)
@given(
    docs=st.lists(st.lists(st.integers(0, 5), min_size=1, max_size=30), min_size=1, max_size=3),
    order=st.integers(1, 5),
    big_vocab=st.booleans(),
)
def test_tables_match_brute_force(docs, order, big_vocab):
    vocab = (1 << 20) if big_vocab else 6  # a big vocabulary forces the renumbered layout
    table = build(docs, order, vocab)
    expected = brute_force(docs, order)
    for d in range(order + 1):
        contexts = {ctx for ctx, _ in expected[d]}
        assert as_counter(table, d, contexts) == expected[d]


def test_renumbering_happens_for_long_contexts_over_big_vocabularies():
    table = build([[1, 2, 3, 4, 5, 1, 2, 3, 4, 6]], order=4, vocab_size=1 << 20)
    assert any(r is not None for r in table.reindex)
    d, lo, hi = table.context([1, 2, 3, 4])
    assert d == 4
    ids, counts = table.continuations(d, lo, hi)
    assert sorted(zip(ids.tolist(), counts.tolist())) == [(5, 1), (6, 1)]


def test_unseen_context_backs_off_to_the_longest_known_suffix():
    table = build([[0, 1, 2, 3, 1, 2, 4]], order=3, vocab_size=5)
    d, lo, hi = table.context([4, 4, 1, 2])  # "4 1 2" never seen, "1 2" seen twice
    assert d == 2
    assert sorted(table.continuations(d, lo, hi)[0].tolist()) == [3, 4]
    assert table.context([4, 4, 4])[0] == 0  # "4" never has a successor: depth 0
    assert table.context([1, -1])[0] == 0  # unknown token: nothing to condition on


def test_weights_scale_counts_per_document():
    table = build([[0, 1, 2], [0, 1, 3]], order=1, vocab_size=4, weights=[2.0, 0.5])
    d, lo, hi = table.context([1])
    ids, counts = table.continuations(d, lo, hi)
    assert dict(zip(ids.tolist(), counts.tolist())) == {2: 2.0, 3: 0.5}


def test_no_ngram_crosses_a_document_start():
    table = build([[0, 1], [0, 2]], order=2, vocab_size=3)
    d, lo, hi = table.context([1, 0])  # "1" then "0" only happens across the boundary
    assert d == 1  # backs off: the pair (1, 0) never occurred inside a document
