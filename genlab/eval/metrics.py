"""Style metrics: how generated text differs from human text, one small function per number.

Every metric takes `texts`, a list of samples (strings), and pools them: the human reference
goes through the same functions after `reference_samples` cuts it into paragraph-sized samples.
`style_metrics` gathers every number into one flat dict (one CSV row per backend): diversity
(genlab.eval.diversity), form (genlab.eval.form) and, here, novelty against the training
corpus. Words, sentences and nan follow the conventions of genlab.eval.words. `style_parts`
gives the same numbers as per-sample parts (genlab.eval.parts), for the bootstrap intervals.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from genlab.eval.diversity import distinct_parts, mattr_parts, repetition_parts, self_bleu_parts, zipf_parts
from genlab.eval.form import (PUNCTUATION_KEYS, dialogue_parts, emoji_parts, punctuation_parts, quote_balance_parts,
                              quotes_balanced, sentence_length_parts, word_length_parts)
from genlab.eval.parts import Parts, max_parts, ratio_parts, undefined
from genlab.eval.words import WORD, words
from genlab.ngrams import count_sorted
from genlab.overlap import RunIndex

__all__ = [
    "CorpusIndex",
    "Novelty",
    "STYLE_KEYS",
    "novelty",
    "novelty_parts",
    "reference_samples",
    "style_metrics",
    "style_parts",
]

# -- novelty against the training corpus -------------------------------------------------------


class CorpusIndex:
    """The training corpus prepared once for `novelty`, reusable across backends.

    The corpus becomes one sequence of word ids (`words`, across paragraph breaks). Whether a
    run of k words occurs in it is exact:
    - k <= 3: each k-gram of the corpus is packed into one int64 (id1 * V^2 + id2 * V + id3,
      V = vocabulary size), kept sorted and unique; a lookup is a binary search (numpy
      searchsorted, all windows of a sample at once). Built on first use.
    - k >= 4: genlab.overlap.RunIndex, the Markov chain's anti-plagiarism index: a
      sorted array of (hash of the first 4 words << 32 | position), 8 bytes per corpus word;
      candidates found by binary search are compared word by word, so hash collisions never
      give a wrong answer.
    A ~1 MB corpus (~180,000 words) indexes in well under a second.
    """

    def __init__(self, text: str):
        vocab: dict[str, int] = {}
        ids = array("q")
        for m in WORD.finditer(text):
            w = m.group().lower().replace("’", "'")
            ids.append(vocab.setdefault(w, len(vocab)))
        self.vocab = vocab
        self.ids = np.frombuffer(ids, dtype=np.int64) if ids else np.zeros(0, dtype=np.int64)
        self.runs = RunIndex(self.ids)
        self._short: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def encode(self, tokens: Sequence[str]) -> np.ndarray:
        """Word ids of `tokens` (from `words`); -1 for a word the corpus never has."""
        return np.array([self.vocab.get(w, -1) for w in tokens], dtype=np.int64)

    def _pack(self, ids: np.ndarray, starts: np.ndarray, k: int) -> np.ndarray:
        code = np.zeros(len(starts), dtype=np.int64)
        for j in range(k):
            code = code * len(self.vocab) + ids[starts + j]
        return code

    def _short_grams(self, k: int) -> np.ndarray:
        if k not in self._short:
            starts = np.arange(max(len(self.ids) - k + 1, 0))
            self._short[k] = count_sorted(np.sort(self._pack(self.ids, starts, k)))[0]  # (np.unique: slower)
        return self._short[k]

    def occurs(self, ids: np.ndarray, starts: np.ndarray, k: int) -> np.ndarray:
        """For each start s, does ids[s:s+k] occur in the corpus? (bool array)"""
        ids, starts = np.asarray(ids, dtype=np.int64), np.asarray(starts, dtype=np.int64)
        if k >= 4 or len(self.vocab) ** k >= 2**63:
            return self.runs.count_runs(ids, starts, k) > 0
        known = np.ones(len(starts), dtype=bool)
        for j in range(k):
            known &= ids[starts + j] >= 0
        grams, found = self._short_grams(k), np.zeros(len(starts), dtype=bool)
        codes = self._pack(ids, starts[known], k)
        pos = np.minimum(grams.searchsorted(codes), max(len(grams) - 1, 0))
        found[known] = grams[pos] == codes if len(grams) else False
        return found

    def longest_copy(self, ids: np.ndarray) -> int:
        """Length in words of the longest run of `ids` that occurs in the corpus.

        A run that occurs has every shorter prefix occurring at the same start, so "some run
        of L words occurs" is monotone in L and the starts that succeed at L include those that
        succeed at any longer length. The length doubles until no run occurs, then a binary
        search between the last success and the first failure finds the longest, only ever
        looking at the starts of the last success: O(log L) vectorised lookups per sample.
        """
        ids = np.asarray(ids, dtype=np.int64)
        best, starts, fail, growing = 0, np.arange(len(ids)), len(ids) + 1, True
        while fail - best > 1:  # invariant: a run of `best` words occurs, none of `fail` words
            length = min(max(2 * best, 1), len(ids)) if growing else (best + fail) // 2
            fits = starts[starts + length <= len(ids)]
            hits = fits[self.occurs(ids, fits, length)]
            if len(hits):
                best, starts = length, hits
            else:
                fail, growing = length, False
        return best


@dataclass(frozen=True)
class Novelty:
    copied_share: float  # share of the samples' word n-grams that occur in the corpus
    longest_copy_mean: float  # mean over samples with words of the longest copied run (words)
    longest_copy_max: float  # the longest copied run of any sample (words)
    longest_copies: tuple[int, ...]  # per sample with words

    @property
    def novel_share(self) -> float:
        return 1.0 - self.copied_share


def novelty(texts: Sequence[str], corpus: str | CorpusIndex, n: int = 4) -> Novelty:
    """How much of the samples is copied from the training corpus (`corpus`: its text or a
    `CorpusIndex` built once and reused).

    copied_share: of all word n-grams of all samples, the share that occur anywhere in the
    corpus (a Markov chain of order >= n - 1 copies nearly all of them). Longest copy: per
    sample, the longest run of consecutive words found verbatim in the corpus; mean and max
    over the samples that have words. Runs and n-grams are over `words` (case and punctuation
    ignored). nan when undefined (no n-grams; no sample with words).
    """
    copied, total, longest = _copies(texts, corpus, n)
    parts = _novelty_parts(copied, total, longest)
    return Novelty(ratio_parts(copied, total).estimate(), parts["longest_copy_mean"].estimate(),
                   parts["longest_copy_max"].estimate(), tuple(v for v in longest if v is not None))


def novelty_parts(texts: Sequence[str], corpus: str | CorpusIndex, n: int = 4) -> dict[str, Parts]:
    """`novelty` as parts, under the keys `style_metrics` gives it: each sample's (copied
    n-grams, n-grams) and its longest copy (none for a sample without words)."""
    return _novelty_parts(*_copies(texts, corpus, n))


def _copies(texts: Sequence[str], corpus: str | CorpusIndex, n: int) -> tuple[np.ndarray, np.ndarray, list]:
    """Per sample: n-grams found in the corpus, n-grams, and the longest copy (None: no words)."""
    index = corpus if isinstance(corpus, CorpusIndex) else CorpusIndex(corpus)
    copied, total, longest = np.zeros(len(texts)), np.zeros(len(texts)), []
    for i, t in enumerate(texts):
        ids = index.encode(words(t))
        if not len(ids):
            longest.append(None)
            continue
        starts = np.arange(max(len(ids) - n + 1, 0))
        copied[i], total[i] = int(index.occurs(ids, starts, n).sum()), len(starts)
        longest.append(index.longest_copy(ids))
    return copied, total, longest


def _novelty_parts(copied: np.ndarray, total: np.ndarray, longest: list) -> dict[str, Parts]:
    share = ratio_parts(copied, total)
    return {"novel_4gram_share": Parts(share.matrix, lambda sums: 1.0 - share.combine(sums)),
            "longest_copy_mean": ratio_parts([v or 0 for v in longest], [v is not None for v in longest]),
            "longest_copy_max": max_parts(longest)}


# -- all together ------------------------------------------------------------------------------


def reference_samples(text: str, min_words: int = 100) -> list[str]:
    """Cut a human text into samples comparable to generated ones: consecutive paragraphs
    (separated by blank lines) joined until a sample has at least `min_words` words and no
    speech left open (`quotes_balanced`: a speech running over several paragraphs stays in one
    sample; an unbalanced text still ends a sample at 4 x `min_words`). The last sample may be
    shorter. Paragraphs keep their blank-line separation."""
    samples, current, count = [], [], 0
    for p in re.split(r"\n[^\S\n]*\n", text):
        p = p.strip()
        if not p:
            continue
        current.append(p)
        count += len(words(p))
        joined = "\n\n".join(current)
        if count >= min_words and (quotes_balanced(joined) or count >= 4 * min_words):
            samples.append(joined)
            current, count = [], 0
    if current:
        samples.append("\n\n".join(current))
    return samples


def style_metrics(texts: Sequence[str], corpus_index: CorpusIndex | None = None) -> dict[str, float]:
    """Every style metric of `texts` as one flat {name: float} dict (a CSV row).

    The keys are always the same (STYLE_KEYS); the novelty ones are nan without a
    `corpus_index`. For the human reference pass `reference_samples(text)`; measured against
    its own corpus, a reference is all copy (novel share 0), so give it a held-out eval text to
    compare.
    """
    return {k: p.estimate() for k, p in style_parts(texts, corpus_index).items()}


def style_parts(texts: Sequence[str], corpus_index: CorpusIndex | None = None,
                keys: Sequence[str] = ()) -> dict[str, Parts]:
    """Every style metric of `texts` as per-sample parts (`keys`: only these; empty: all), in
    STYLE_KEYS order."""
    wanted = set(keys or STYLE_KEYS)
    parts: dict[str, Parts] = {}
    for names, build in _GROUPS:
        if wanted & set(names):
            parts |= build(texts, corpus_index)
    return {k: parts[k] for k in STYLE_KEYS if k in wanted}


def _novelty_or_nan(texts: Sequence[str], index: CorpusIndex | None) -> dict[str, Parts]:
    if index is None:
        return dict.fromkeys(_NOVELTY, undefined(len(texts)))
    return novelty_parts(texts, index)


_NOVELTY = ("novel_4gram_share", "longest_copy_mean", "longest_copy_max")
_GROUPS = (  # (keys, builder): the metrics one pass over the samples gives
    (("distinct_1",), lambda texts, _: {"distinct_1": distinct_parts(texts, 1)}),
    (("distinct_2",), lambda texts, _: {"distinct_2": distinct_parts(texts, 2)}),
    (("distinct_3",), lambda texts, _: {"distinct_3": distinct_parts(texts, 3)}),
    (("self_bleu_4",), lambda texts, _: {"self_bleu_4": self_bleu_parts(texts, 4)}),
    (("zipf",), lambda texts, _: {"zipf": zipf_parts(texts)}),
    (("repetition_rate",), lambda texts, _: {"repetition_rate": repetition_parts(texts)}),
    (("sentence_length_mean", "sentence_length_std"),
     lambda texts, _: dict(zip(("sentence_length_mean", "sentence_length_std"), sentence_length_parts(texts)))),
    (("word_length_mean", "word_length_std"),
     lambda texts, _: dict(zip(("word_length_mean", "word_length_std"), word_length_parts(texts)))),
    (("mattr",), lambda texts, _: {"mattr": mattr_parts(texts)}),
    (("quote_balance_rate",), lambda texts, _: {"quote_balance_rate": quote_balance_parts(texts)}),
    (("dialogue_share",), lambda texts, _: {"dialogue_share": dialogue_parts(texts)}),
    (("emoji_rate",), lambda texts, _: {"emoji_rate": emoji_parts(texts)}),
    (PUNCTUATION_KEYS, lambda texts, _: punctuation_parts(texts)),
    (_NOVELTY, _novelty_or_nan),
)
STYLE_KEYS: tuple[str, ...] = tuple(k for names, _ in _GROUPS for k in names)
