"""Diversity metrics: how varied a set of samples is (distinct n-grams, self-BLEU, the Zipf
exponent, repetition loops, the moving-average type-token ratio). Words as genlab.eval.words
defines them."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence

import numpy as np

from genlab.eval.words import NAN, ngrams, ratio, words


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Distinct-n (Li et al. 2016): distinct word n-grams / all word n-grams, over all samples.

    Low values mean the samples say the same things over and over. The denominator is the number
    of n-grams (Li et al. divided by the number of words; the two agree for n = 1).
    """
    grams: Counter[tuple[str, ...]] = Counter()
    for t in texts:
        grams.update(ngrams(words(t), n))
    return ratio(len(grams), sum(grams.values()))


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
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    samples = [w for w in map(words, texts) if w]
    if len(samples) < 2:
        return NAN
    chosen = range(len(samples))
    if len(samples) > max_hypotheses:
        chosen = sorted(random.Random(seed).sample(chosen, max_hypotheses))
    weights = (1.0 / n,) * n
    smooth = SmoothingFunction().method1
    scores = [sentence_bleu(samples[:i] + samples[i + 1:], samples[i], weights, smooth) for i in chosen]
    return float(np.mean(scores))


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
    freqs = word_frequencies(texts)[:max_rank]
    if len(freqs) < 2:
        return NAN
    ranks = np.arange(1, len(freqs) + 1)
    slope = np.polyfit(np.log(ranks), np.log(freqs), 1)[0]
    return float(-slope)


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
    return ratio(sum(ends_in_loop(words(t)) for t in texts), len(texts))


def mattr(texts: Sequence[str], window: int = 50) -> float:
    """Moving-average type-token ratio (Covington & McFall 2010): the mean, over every window of
    `window` consecutive words, of distinct words / `window`.

    Windows lie inside one sample (never across two); the mean pools the windows of all
    samples, so a long sample weighs more. Unlike the plain type-token ratio it does not fall
    as texts get longer. Samples shorter than the window add nothing; nan if no sample is as
    long as the window.
    """
    total, count = 0.0, 0
    for t in texts:
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
        total += sum(ratios) / window
        count += len(ratios)
    return ratio(total, count)
