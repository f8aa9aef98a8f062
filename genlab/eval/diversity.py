"""Diversity metrics: how varied a set of samples is (distinct n-grams, self-BLEU, the Zipf
exponent, repetition loops, the moving-average type-token ratio). Words as genlab.eval.words
defines them. Each metric is also given as per-sample parts (`*_parts`, genlab.eval.parts), which
is how its value is computed and how the bootstrap reweights it."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence

import numpy as np

from genlab.eval.parts import BLOCK, Parts, Sparse, ratio_parts
from genlab.eval.words import ngrams, words


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Distinct-n (Li et al. 2016): distinct word n-grams / all word n-grams, over all samples.

    Low values mean the samples say the same things over and over. The denominator is the number
    of n-grams (Li et al. divided by the number of words; the two agree for n = 1).
    """
    return distinct_parts(texts, n).estimate()


def distinct_parts(texts: Sequence[str], n: int) -> Parts:
    """Distinct-n as parts: each n-gram occurrence of a sample counts 1 / (how often the n-gram
    occurs in all the samples), so a sample's share of the distinct n-grams is what it brings,
    and the shares add up to the number of distinct n-grams; over its n-grams."""
    grams = [list(ngrams(words(t), n)) for t in texts]
    pooled = Counter(g for sample in grams for g in sample)
    return ratio_parts([sum(1 / pooled[g] for g in sample) for sample in grams], [len(sample) for sample in grams])


def self_bleu(texts: Sequence[str], n: int = 4, max_hypotheses: int = 200, seed: int = 0) -> float:
    """Self-BLEU-n (Zhu et al. 2018, Texygen): mean BLEU-n of each sample against all the others.

    High values mean the samples resemble each other (low diversity). nltk's `sentence_bleu`
    with uniform weights over 1..n-grams and `SmoothingFunction().method1` (a zero n-gram
    precision becomes 0.1 / the hypothesis's n-gram count; Texygen and Holtzman et al.'s code
    use the same). Tokens are `words`; samples without a word are left out. Each BLEU costs one
    pass over all the other samples, so at most `max_hypotheses` samples (drawn with
    random.Random(seed).sample, without replacement) are scored as hypotheses, each still
    against all the others: the work is at most max_hypotheses x samples (about 0.6 s for 50
    samples of 100 words). nan for fewer than two samples with words.
    """
    return self_bleu_parts(texts, n, max_hypotheses, seed).estimate()


def self_bleu_parts(texts: Sequence[str], n: int = 4, max_hypotheses: int = 200, seed: int = 0) -> Parts:
    """Self-BLEU as parts: a sample scored as a hypothesis brings (its BLEU against all the other
    samples, 1), any other sample (0, 0); the metric is the mean of the scores drawn."""
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    tokens = [words(t) for t in texts]
    with_words = [i for i, w in enumerate(tokens) if w]
    scores, scored = np.zeros(len(texts)), np.zeros(len(texts))
    if len(with_words) >= 2:
        samples = [tokens[i] for i in with_words]
        chosen = range(len(samples))
        if len(samples) > max_hypotheses:
            chosen = sorted(random.Random(seed).sample(chosen, max_hypotheses))
        weights = (1.0 / n,) * n
        smooth = SmoothingFunction().method1
        for i in chosen:
            scores[with_words[i]] = sentence_bleu(samples[:i] + samples[i + 1:], samples[i], weights, smooth)
            scored[with_words[i]] = 1
    return ratio_parts(scores, scored)


def word_frequencies(texts: Sequence[str]) -> np.ndarray:
    """Word counts over all samples, highest first (the rank-frequency curve of a Zipf plot)."""
    counts = Counter(w for t in texts for w in words(t))
    return np.array(sorted(counts.values(), reverse=True), dtype=np.int64)


def zipf_coefficient(texts: Sequence[str], max_rank: int = 5000) -> float:
    """Zipf exponent s in frequency ∝ rank^-s, as Holtzman et al. (2020) fit it.

    Word types ranked by count (rank 1 = most frequent), ranks 1..min(types, max_rank) kept;
    ordinary least squares of ln(count) on ln(rank) (natural logs, every rank weighted
    equally); s = -slope, positive for natural text (about 1). Larger s: a vocabulary more
    concentrated on its top words. nan for fewer than two word types.
    """
    return zipf_parts(texts, max_rank).estimate()


def zipf_parts(texts: Sequence[str], max_rank: int = 5000) -> Parts:
    """The Zipf exponent as parts: each sample's jackknife influence, (n - 1) x (s - s fitted
    without that sample); a replicate moves s by Σ (count - 1) x influence / n.

    Not a refit on the count-weighted word frequencies of the samples drawn: that is the
    resampling of texts genlab.eval.parts explains away. A sample left out takes its rare words
    out of the vocabulary and one drawn twice doubles them, which bends the tail the fit is made
    on: on 27 passages of each of six novels the refits ran 0.05-0.12 high and their interval
    missed the estimate in five.
    """
    vocab: dict[str, int] = {}
    rows, cols, values = [], [], []
    for i, t in enumerate(texts):
        for w, c in Counter(words(t)).items():
            rows.append(i)
            cols.append(vocab.setdefault(w, len(vocab)))
            values.append(c)
    n = len(texts)
    frequencies = Sparse(rows, cols, values, (n, len(vocab)))
    whole = float(zipf_fit(np.ones((1, n)) @ frequencies, max_rank)[0])
    step = max(1, BLOCK // max(n, len(vocab), frequencies.size, 1))
    without = np.concatenate([zipf_fit(_leave_one_out(n, i, min(i + step, n)) @ frequencies, max_rank)
                              for i in range(0, n, step)]) if n else np.zeros(0)
    influence = np.nan_to_num((n - 1) * (whole - without)) if np.isfinite(whole) else np.zeros(n)
    total = float(influence.sum())
    return Parts(influence.reshape(-1, 1), lambda sums: whole + (sums[:, 0] - total) / max(n, 1))


def _leave_one_out(n: int, start: int, stop: int) -> np.ndarray:
    """Counts (stop - start) x n: row j draws every sample once except sample start + j."""
    counts = np.ones((stop - start, n))
    counts[np.arange(stop - start), np.arange(start, stop)] = 0
    return counts


def zipf_fit(frequencies: np.ndarray, max_rank: int = 5000) -> np.ndarray:
    """`zipf_coefficient`'s fit on each row of word frequencies (rows x vocabulary, any order,
    zeros for words absent), all rows at once; nan for a row with fewer than two word types."""
    freqs = np.ascontiguousarray(np.sort(np.asarray(frequencies, dtype=np.float64), axis=1)[:, ::-1][:, :max_rank])
    present = freqs > 0  # sorted highest first: each row's words come before its zeros
    types = present.sum(axis=1)
    n = np.maximum(types, 1)[:, None]
    x = np.log(np.arange(1, freqs.shape[1] + 1))
    y = _log_counts(freqs)  # 0 for the zeros
    dx = np.where(present, x - np.concatenate([[0.0], np.cumsum(x)])[types][:, None] / n, 0.0)
    dy = y - y.sum(axis=1, keepdims=True) / n
    slope = (dx * dy).sum(axis=1) / np.where(types >= 2, (dx * dx).sum(axis=1), 1.0)
    return np.where(types >= 2, -slope, np.nan)


def _log_counts(freqs: np.ndarray) -> np.ndarray:
    """ln of each frequency, 0 for 0; whole counts (what a replicate gives) by a table, which is
    much faster than a log per cell."""
    whole = freqs.astype(np.int64)
    if whole.size and (whole == freqs).all() and whole.max() < 2**24:
        table = np.log(np.maximum(np.arange(whole.max() + 1), 1))
        return table[whole]
    return np.log(np.where(freqs > 0, freqs, 1.0))


def ends_in_loop(tokens: Sequence[str], min_phrase: int = 2, min_repeats: int = 3) -> bool:
    """Do `tokens` end with a phrase of at least `min_phrase` tokens repeated back to back at
    least `min_repeats` times, the last copy ending at the last token?

    Any phrase counts, so a loop cut off mid-phrase still counts through the rotated phrase
    that does end at the last token ("a b c a b c a b c a b" ends in "c a b" x 3).
    """
    for length in range(min_phrase, len(tokens) // min_repeats + 1):
        tail = tokens[len(tokens) - length:]
        if all(tokens[len(tokens) - (k + 1) * length:len(tokens) - k * length] == tail
               for k in range(1, min_repeats)):
            return True
    return False


def repetition_rate(texts: Sequence[str]) -> float:
    """Share of samples that end in a repetition loop (Holtzman et al. 2020): `ends_in_loop` on
    the sample's `words` (a phrase of >= 2 words repeated >= 3 times at the very end;
    punctuation ignored, so "No. No. No. No. No. No." is the phrase "no no" three times).

    This is genlab's rule. Holtzman et al.'s released script
    (ari-holtzman/degen, metrics/repetition.py) differs: GPT-2 tokens, and a sample counts when
    its most-repeated final phrase has >= 3 tokens and >= 2 copies (or > 50 copies). nan for
    no samples.
    """
    return repetition_parts(texts).estimate()


def repetition_parts(texts: Sequence[str]) -> Parts:
    return ratio_parts([ends_in_loop(words(t)) for t in texts], np.ones(len(texts)))


def mattr(texts: Sequence[str], window: int = 50) -> float:
    """Moving-average type-token ratio (Covington & McFall 2010): the mean, over every window of
    `window` consecutive words, of distinct words / `window`.

    Windows lie inside one sample (never across two); the mean pools the windows of all
    samples, so a long sample weighs more. Unlike the plain type-token ratio it does not fall
    as texts get longer. Samples shorter than the window add nothing; nan if no sample is as
    long as the window.
    """
    return mattr_parts(texts, window).estimate()


def mattr_parts(texts: Sequence[str], window: int = 50) -> Parts:
    """MATTR as parts: each sample's sum of window ratios and its number of windows."""
    totals, counts = np.zeros(len(texts)), np.zeros(len(texts))
    for i, t in enumerate(texts):
        tokens = words(t)
        if len(tokens) < window:
            continue
        seen = Counter(tokens[:window])
        ratios = [len(seen)]
        for old, new in zip(tokens, tokens[window:]):
            seen[old] -= 1
            if not seen[old]:
                del seen[old]
            seen[new] += 1
            ratios.append(len(seen))
        totals[i], counts[i] = sum(ratios) / window, len(ratios)
    return ratio_parts(totals, counts)
