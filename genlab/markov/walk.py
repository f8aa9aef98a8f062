"""Walking a trained chain: token ids one after another, quotes kept balanced.

Each step looks up the longest known context (backing off when the state is unseen, so
generation never fails), absorbs continuations that would unbalance quotes, runs the shared
sampler chain, and yields the chosen id. States are memoised: chains revisit them a lot.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from itertools import accumulate
from typing import Iterator, Sequence

import numpy as np

from genlab.markov.model import MarkovModel, quote_roles
from genlab.markov.quotes import MAX_DEPTH, QuoteTracker
from genlab.markov.units import SENTENCE_END
from genlab.sampling import PURE, Sampling, apply_chain, draw

CACHE_LIMIT = 1 << 20  # memoised continuations (summed over states) before the cache starts afresh
WIDE = 256  # states with more continuations are sampled from arrays, not memoised as tuples
QUOTE_LIMIT = 2000  # units a quotation may stay open before it is closed regardless


def is_pure(s: Sampling) -> bool:
    """Sampling that leaves the chain's own distribution as it is (a fast path)."""
    return s is PURE or (s.temperature == 1.0 and s.top_k == 0 and s.top_p >= 1.0 and s.min_p == 0.0
                         and s.repeat_penalty == 1.0)


class ChainWalk:
    """A chain's walk: `tokens()` continues a history, `track()` reads a history's quotes."""

    def __init__(self, model: MarkovModel):
        self.model = model
        vocab = model.vocab
        self._roles = quote_roles(vocab)
        self._para = model.paragraph_id
        self._special = self._roles[:, 0] != 0
        self._special[self._para] = True
        self._openers: dict[int, int] = {}
        self._closers: dict[int, int] = {}
        for i, (kind, direction) in enumerate(self._roles):
            if kind:
                (self._openers if direction > 0 else self._closers).setdefault(int(kind), i)
        self._role_of = [(int(k), int(d)) for k, d in self._roles]
        self._patience = model.quote_span or QUOTE_LIMIT
        self._is_end = [t in SENTENCE_END for t in vocab]
        self._is_word_list = [any(c.isalnum() for c in t) for t in vocab]
        self._is_word = np.array(self._is_word_list)
        self._cache: dict[tuple, tuple[np.ndarray, np.ndarray, list[int], list[float]]] = {}
        self._special_cum: list[np.ndarray] | None = None
        self._cached = 0
        self._uniform = random.random

    def tokens(self, history: list[int], sampling: Sampling, rng: random.Random | None = None,
               tracker: QuoteTracker | None = None) -> Iterator[int]:
        """Token ids continuing `history` (which this extends in place), quotes kept balanced.

        Stops after sampling.max_tokens ids; quotations still open by then are closed within
        that budget.
        """
        rng = rng if rng is not None else random.Random(sampling.seed)
        tracker = tracker if tracker is not None else self.track(history)
        budget = sampling.max_tokens
        pure = is_pure(sampling)
        cached = self._cache.get
        order = self.model.order
        uniform = self._uniform = rng.random
        role_of, closers, para, is_end = self._role_of, self._closers, self._para, self._is_end
        feed = tracker.feed_role
        stack = tracker.stack  # the tracker changes this list in place
        queue: list[int] = []  # tokens already decided: closing marks, a break, a reopening
        open_for = 0  # tokens since the outermost quotation opened
        produced = steps = 0
        while produced < budget and steps < 4 * budget + 64:
            steps += 1
            remaining = budget - produced
            open_for = open_for + 1 if stack else 0
            if queue:
                t = queue.pop(0)
                if not (queue == [] and role_of[t][1] > 0 and stack):
                    feed(*role_of[t])  # (a reopening mark leaves the stack as is)
            elif remaining <= len(stack) or open_for > QUOTE_LIMIT:
                t = closers[stack[-1]]  # out of budget (or patience): close it
                feed(*role_of[t])
            else:
                tight = remaining <= len(stack) + 2
                key = tuple(history[-order:])
                if tight and stack:
                    key = (key, True)
                entry = cached(key)
                if entry is None:
                    entry = self._candidates(history, tracker, tight, key)
                id_list = entry[0]
                if id_list is None:  # a state with many continuations: not held as lists
                    t = self._draw_wide(entry) if pure else self._sample(history, sampling, rng, entry)
                elif len(id_list) == 1:
                    t = id_list[0]
                elif pure:
                    cumulative = entry[1]
                    t = id_list[bisect_right(cumulative, uniform() * cumulative[-1])]
                else:
                    t = self._sample(history, sampling, rng, entry)
                kind, direction = role_of[t]
                if t == para and stack:
                    if len(stack) == 1 and rng.random() < self.model.continue_rate:
                        queue = [self._openers[stack[-1]]]  # continued quotation: reopen, stack kept
                        open_for = 0
                    else:  # close what is open, then end the paragraph
                        queue = [closers[k] for k in reversed(stack[:-1])] + [para]
                        t = closers[stack[-1]]
                        feed(*role_of[t])
                elif kind and (direction < 0 and not stack or direction > 0 and (
                        tight or kind in stack or len(stack) >= MAX_DEPTH or kind not in closers)):
                    # A mark that would unbalance the text is absorbed: the chain's state moves
                    # on as the book did after it, but the mark is not written. (Forbidding it
                    # instead can trap the walk: "Horror! ... Horror! ..." whose only exit in
                    # the book is a closing quote.)
                    history.append(t)
                    continue
                elif kind:
                    if direction < 0 and kind != stack[-1]:
                        # closing another mark than the one open (the context came from a
                        # differently quoted passage): close the one that is open
                        t = closers[stack[-1]]
                    feed(*role_of[t])
                if is_end[t] and stack and open_for > self._patience:
                    # longer than the book's quotations usually run: close at this full stop
                    queue = [closers[k] for k in reversed(stack)]
            history.append(t)
            produced += 1
            yield t

    def track(self, history: Sequence[int]) -> QuoteTracker:
        """The quote state after `history` (the prompt), by the same rules as generation."""
        tracker = QuoteTracker()
        for t in history:
            if t < 0:
                continue
            if t == self._para:
                if len(tracker.stack) > 1:
                    tracker.stack.clear()
                continue
            kind, direction = self._roles[t]
            if kind and direction > 0 and kind in tracker.stack:
                continue  # a reopening mark of a continued quotation
            tracker.feed_role(int(kind), int(direction))
        return tracker

    def _sample(self, history: list[int], s: Sampling, rng: random.Random, entry: tuple) -> int:
        """Run the shared sampler chain over a state's continuations."""
        _, _, depth, lo, hi, ok = entry
        ids, cnt = self.model.counts.continuations(depth, lo, hi)
        if ok is not None:
            ids, cnt = ids[ok], cnt[ok]
        logp = np.log(cnt.astype(np.float64))
        logp -= np.log(cnt.sum(dtype=np.float64))
        chosen = apply_chain(logp, ids, s, history[-s.repeat_last_n:] if s.repeat_last_n else ())
        if isinstance(chosen, int):
            return int(ids[chosen])
        keep, probs = chosen
        return int(ids[keep[draw(rng, probs)]])

    def _draw_wide(self, entry: tuple) -> int:
        """Draw from a state with many continuations by one search in its cumulative counts."""
        _, cum, depth, lo, hi, _ = entry
        j = min(int(cum.searchsorted(self._uniform() * float(cum[-1]), side="right")), hi - lo - 1)
        return int(self.model.counts.keys[depth][lo + j] & np.uint64(self.model.counts.mask))

    def _candidates(self, history: list[int], tracker: QuoteTracker, tight: bool, key: tuple):
        """Continuations of the current state, memoised under `key` (the state, paired with
        True while a quotation must be closed soon): chains revisit states a lot.

        Returns (ids, cumulative counts, depth, lo, hi, allowed-mask or None). The only
        thing ever ruled out is a paragraph break while a quotation must still be closed
        within a nearly spent budget.
        """
        closing = tight and bool(tracker.stack)
        counts = self.model.counts
        depth, lo, hi = counts.context(history)
        ok = None
        while closing and self._has_special(depth, lo, hi):
            ids, _ = counts.continuations(depth, lo, hi)
            ok = ids != self._para
            if ok.any():
                break
            depth -= 1  # only a paragraph break follows: back off one step
            depth, lo, hi = counts.context(history[len(history) - depth:] if depth else [])
            ok = None
        if hi - lo > WIDE and ok is None:  # sampled from an array (see _draw_wide)
            entry = (None, np.cumsum(counts.counts[depth][lo:hi], dtype=np.float64), depth, lo, hi, None)
        else:
            id_list, cnt = counts.continuation_lists(depth, lo, hi)
            if ok is not None:
                keep = ok.tolist()
                id_list = [i for i, k in zip(id_list, keep) if k]
                cnt = [c for c, k in zip(cnt, keep) if k]
            # tuples of numbers, not lists: the garbage collector stops tracking them (and the
            # entry) at its first look, instead of walking every memoised state each full pass
            entry = (tuple(id_list), tuple(accumulate(cnt)), depth, lo, hi, ok)
        self._cached += hi - lo
        if self._cached >= CACHE_LIMIT:  # bounded memory: about 60 bytes per continuation
            self._cache.clear()
            self._cached = 0
        self._cache[key] = entry
        return entry

    def _has_special(self, depth: int, lo: int, hi: int) -> bool:
        """Can a quote mark or paragraph break follow this context? (two array reads)"""
        if self._special_cum is None:
            mask = np.uint64(self.model.counts.mask)
            self._special_cum = [np.concatenate(([0], np.cumsum(self._special[(k & mask).astype(np.int64)])))
                                 for k in self.model.counts.keys]
        cum = self._special_cum[depth]
        return bool(cum[hi] - cum[lo])
