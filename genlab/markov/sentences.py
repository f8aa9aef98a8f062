"""markovify-style sentences from a chain: one sentence at a time, tested before it is given.

A sentence is walked (by the compiled walk where it applies: _fastwalk.c repeats
ChainWalk.tokens() step for step), its words are counted, and it is refused when it is too
short, too long, or copies too long a run of the training text (genlab.overlap's index).
"""

from __future__ import annotations

import random

import numpy as np

from genlab.markov import tokenize as tok
from genlab.markov.model import MarkovModel
from genlab.markov.quotes import MAX_DEPTH
from genlab.markov.walk import CACHE_LIMIT, QUOTE_LIMIT, WIDE, ChainWalk, is_pure
from genlab.overlap import RunIndex, too_much_overlap
from genlab.sampling import PURE, Sampling

SENTENCE_LIMIT = 400  # units; a walk that never ends a sentence is given up
COMPILED_WALK = True  # False: make_sentence walks in Python alone (the tests compare the two)


def _compiled_lookup():
    """The overlap guard's four-word lookup compiled (_fastwalk.any_run), or None."""
    try:
        from genlab.markov import _fastwalk
    except ImportError:
        return None
    return _fastwalk.any_run


class SentenceWalk(ChainWalk):
    """A chain's walk that also makes markovify-style sentences."""

    def __init__(self, model: MarkovModel):
        super().__init__(model)
        self._runs: tuple[dict[str, int] | None, RunIndex] | None = None
        self._sentence_sampling: dict[Sampling, Sampling] = {}  # make_sentence's longer budgets
        self._walker = None  # the compiled sentence walk, built on first use (False: none)

    def make_sentence(self, start: str | None = None, *, tries: int = 10, min_words: int | None = None,
                      max_words: int | None = None, max_overlap_ratio: float = 0.7,
                      max_overlap_total: int = 15, test_output: bool = True,
                      sampling: Sampling = PURE, rng: random.Random | None = None) -> str | None:
        """One sentence, or None when `tries` attempts all fail the tests.

        Like markovify's: an attempt fails when it is shorter than min_words or longer than
        max_words, or (test_output) copies a run of more than
        min(max_overlap_total, round(max_overlap_ratio * words)) words of the training text.
        Unlike markovify, quoted sentences are kept, and quotes come out balanced.
        """
        rng = rng if rng is not None else random.Random(sampling.seed)
        start_units = self.model.tokens_of(start) if start else []
        if sampling.max_tokens < SENTENCE_LIMIT:
            longer = self._sentence_sampling.get(sampling)
            if longer is None:
                if len(self._sentence_sampling) > 64:
                    self._sentence_sampling.clear()
                longer = self._sentence_sampling[sampling] = sampling.merged(max_tokens=SENTENCE_LIMIT)
            sampling = longer
        start_ids = [self._para] + self.model.encode(start_units)
        walker = self._compiled_walker(sampling)
        for _ in range(tries):
            units = self._sentence_units(start_units, start_ids, sampling, rng, walker)
            if units is None:
                continue
            words = self._words(units)
            if min_words is not None and len(words) < min_words:
                continue
            if max_words is not None and len(words) > max_words:
                continue
            if test_output and self._copies_too_much(words, max_overlap_ratio, max_overlap_total):
                continue
            return self.model.detokenize(units)
        return None

    def _sentence_units(self, start_units: list[str], start_ids: list[int], sampling: Sampling,
                        rng: random.Random, walker) -> list[str] | None:
        history = list(start_ids)
        tracker = self.track(history)
        out = list(start_units)
        vocab = self.model.vocab
        if walker is not None and len(tracker.stack) <= MAX_DEPTH:
            self._uniform = rng.random  # as tokens() sets it, for _draw_wide
            ids = walker.sentence(self, history, tracker, rng.random, sampling.max_tokens)
            if ids is None:
                return None
            out += map(vocab.__getitem__, ids)
        elif not self.model.units.take_sentence(self.tokens(history, sampling, rng, tracker), vocab, out):
            return None
        if len(out) == len(start_units):
            return None
        return out + [vocab[self._closers[k]] for k in reversed(tracker.stack)]

    def _compiled_walker(self, sampling: Sampling):
        """The compiled walk (_fastwalk.c: tokens() step for step, several times faster), for
        the chain's own distribution and units whose sentences end at a sentence mark; else None."""
        if self._walker is None:
            self._walker = False
            try:
                from genlab.markov import _fastwalk
            except ImportError:
                return None
            counts = self.model.counts
            self._walker = _fastwalk.Walker(
                self.model.order, self._role_of, self._closers, self._openers, self._para, self._is_end,
                self._patience, QUOTE_LIMIT, MAX_DEPTH, float(self.model.continue_rate),
                counts.plain_tables(), counts.bits, WIDE, CACHE_LIMIT)
        if not (COMPILED_WALK and self._walker and is_pure(sampling) and self.model.units.marks_end_sentences):
            return None
        return self._walker

    def _words(self, units: list[str]) -> list[int]:
        """Ids of the words of a sentence in the run index (-1: a word the text never had)."""
        index, _ = self._run_index()
        if index is None:
            is_word = self._is_word_list
            return [i for i in map(self.model.index.get, units) if i is not None and is_word[i]]
        words = [w for w in tok.tokenize(self.model.detokenize(units)) if any(c.isalnum() for c in w)]
        return [index.get(w, -1) for w in words]

    def _copies_too_much(self, words: list[int], ratio: float, total: int) -> bool:
        _, runs = self._run_index()
        return too_much_overlap(runs, words, ratio, total)

    def _run_index(self) -> tuple[dict[str, int] | None, RunIndex]:
        """Word-by-word view of the training text (built once, on first use)."""
        if self._runs is None:
            m = self.model
            if m.units.words:
                ids = m.text_ids
                self._runs = (None, RunIndex(ids[self._is_word[ids]], compiled=_compiled_lookup()))
            else:
                text = m.detokenize([m.vocab[i] for i in m.text_ids])
                words = [w for w in tok.tokenize(text) if any(c.isalnum() for c in w)]
                index: dict[str, int] = {}
                ids = np.fromiter((index.setdefault(w, len(index)) for w in words), dtype=np.uint32)
                self._runs = (index, RunIndex(ids))
        return self._runs
