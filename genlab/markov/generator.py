"""MarkovGenerator: a trained chain behind the common Generator interface.

Each step looks up the longest known context (backing off when the state is unseen, so
generation never fails), removes continuations that would unbalance quotes, runs the shared
sampler chain, and emits the token's text as soon as it is chosen.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from itertools import accumulate
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from genlab.errors import GenlabError
from genlab.generator import Capabilities, Message, Score
from genlab.markov import tokenize as tok
from genlab.markov.model import MarkovModel, quote_roles
from genlab.overlap import RunIndex, too_much_overlap
from genlab.markov.quotes import MAX_DEPTH, QuoteTracker
from genlab.sampling import PURE, Sampling, apply_chain, draw

SENTENCE_END = frozenset({".", "!", "?", "…", "...", "?!", "!?"})
SENTENCE_LIMIT = 400  # units; a walk that never ends a sentence is given up
CACHE_LIMIT = 1 << 20  # memoised continuations (summed over states) before the cache starts afresh
WIDE = 256  # states with more continuations are sampled from arrays, not memoised as tuples
QUOTE_LIMIT = 2000  # units a quotation may stay open before it is closed regardless
COMPILED_WALK = True  # False: make_sentence walks in Python alone (the tests compare the two)


def _compiled_lookup():
    """The overlap guard's four-word lookup compiled (_fastwalk.any_run), or None."""
    try:
        from genlab.markov import _fastwalk
    except ImportError:
        return None
    return _fastwalk.any_run


def _is_pure(s: Sampling) -> bool:
    """Sampling that leaves the chain's own distribution as it is (a fast path)."""
    return s is PURE or (s.temperature == 1.0 and s.top_k == 0 and s.top_p >= 1.0 and s.min_p == 0.0
                         and s.repeat_penalty == 1.0)


class MarkovGenerator:
    capabilities = Capabilities(persona_prompts=False)  # answers the last message from its words

    def __init__(self, model: MarkovModel, name: str | None = None, path: Path | None = None):
        self.model = model
        self.path = path
        self.name = name or f"markov:{path.stem if path else 'model'}"
        self.context_length: int | None = None
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
        self._runs: tuple[dict[str, int] | None, RunIndex] | None = None
        self._freq: np.ndarray | None = None  # token counts in the training text (chat topics)
        self._cache: dict[tuple, tuple[np.ndarray, np.ndarray, list[int], list[float]]] = {}
        self._special_cum: list[np.ndarray] | None = None
        self._cached = 0
        self._uniform = random.random
        self._sentence_sampling: dict[Sampling, Sampling] = {}  # make_sentence's longer budgets
        self._walker = None  # the compiled sentence walk, built on first use (False: none)

    @classmethod
    def load(cls, path: str | Path) -> "MarkovGenerator":
        from genlab.markov.store import load

        path = Path(path)
        return cls(load(path), path=path)

    # --- the Generator interface ---------------------------------------------------------------

    def stream(self, prompt: str, sampling: Sampling) -> Iterator[str]:
        """Continue `prompt`; the prompt's last units are the starting state."""
        units = self.model.tokens_of(prompt) if prompt.strip() else []
        history = [self._para] + self.model.encode(units)
        yield from self._emit(history, units, sampling, prompt_ends_in_space=prompt[-1:].isspace())

    def chat(self, messages: Sequence[Message], sampling: Sampling) -> Iterator[str]:
        """Answer the last user message. A chain has no notion of turns, so the reply starts
        from one of that message's words the chain knows (rare words first: they carry the
        topic), or from a fresh paragraph when it knows none; quotes stay balanced as in
        `stream`. System prompts and earlier turns are not used."""
        last = next((m.get("content") for m in reversed(messages) if m.get("role") == "user"), None)
        if not isinstance(last, str):
            raise GenlabError("chat needs at least one user message")
        units = self._topic(last, random.Random(sampling.seed))
        if not units:
            yield from self._emit([self._para], [], sampling, prompt_ends_in_space=False)
            return
        opening = self.model.detokenize(units)
        yield opening[:1].upper() + opening[1:]
        if sampling.max_tokens > len(units):
            rest = sampling.merged(max_tokens=sampling.max_tokens - len(units))
            yield from self._emit([self._para] + self.model.encode(units), units, rest, prompt_ends_in_space=False)

    def _topic(self, text: str, rng: random.Random) -> list[str]:
        """The units of one known word of `text`, drawn with weight 1/frequency² ([] if none)."""
        index = self.model.index
        if self._freq is None:
            self._freq = np.bincount(self.model.text_ids, minlength=len(self.model.vocab))
        choices: list[tuple[list[str], float]] = []
        for word in dict.fromkeys(w.strip(".,;:!?\"'“”‘’()[]—–…") for w in text.split()):
            for form in dict.fromkeys((word, word.lower(), word.capitalize())):
                units = self.model.tokens_of(form)
                ids = [index.get(u, -1) for u in units]
                known = all(i >= 0 for i in ids) and (self.model.unit == "char" or all(self._is_word[i] for i in ids))
                if form and known:
                    choices.append((units, float(self._freq[ids].min() or 1) ** -2))
                    break
        if not choices:
            return []
        r = rng.random() * sum(w for _, w in choices)
        for units, weight in choices:
            r -= weight
            if r < 0:
                return units
        return choices[-1][0]

    def score(self, text: str, *, tokenized: bool = False) -> Score:
        """Interpolated modified Kneser-Ney (as KenLM's lmplz), unknown words spelled out.

        `tokenized`: `text` is split into tokens by spaces already, one sentence per line."""
        from genlab.markov.scoring import score_text

        return score_text(self.model, text, tokenized=tokenized)

    def count_tokens(self, text: str) -> int:
        return len(self.model.tokens_of(text))

    def info(self) -> dict[str, object]:
        data = {"name": self.name, "path": str(self.path) if self.path else None}
        data.update(self.model.info())
        return data

    # --- walking the chain ---------------------------------------------------------------------

    def tokens(self, history: list[int], sampling: Sampling, rng: random.Random | None = None,
               tracker: QuoteTracker | None = None) -> Iterator[int]:
        """Token ids continuing `history` (which this extends in place), quotes kept balanced.

        Stops after sampling.max_tokens ids; quotations still open by then are closed within
        that budget.
        """
        rng = rng if rng is not None else random.Random(sampling.seed)
        tracker = tracker if tracker is not None else self.track(history)
        budget = sampling.max_tokens
        pure = _is_pure(sampling)
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

    # --- text out ------------------------------------------------------------------------------

    def _emit(self, history: list[int], prompt_units: list[str], sampling: Sampling,
              prompt_ends_in_space: bool) -> Iterator[str]:
        vocab = self.model.vocab
        piece = self._piece_maker(prompt_units)
        stops = sampling.stop
        hold = max((len(x) for x in stops), default=1) - 1
        pending = ""
        first = True
        for t in self.tokens(history, sampling):
            text = piece(vocab[t])
            if first:
                if prompt_ends_in_space or not prompt_units:
                    text = text.lstrip(" ")
                first = False
            if not stops:
                if text:
                    yield text
                continue
            pending += text
            cut = min((i for i in (pending.find(x) for x in stops) if i >= 0), default=-1)
            if cut >= 0:
                if pending[:cut]:
                    yield pending[:cut]
                return
            if len(pending) > hold:
                yield pending[: len(pending) - hold]
                pending = pending[len(pending) - hold:]
        if pending:
            yield pending

    def _piece_maker(self, prompt_units: list[str]):
        if self.model.pretokenized:
            first = [not prompt_units or prompt_units[-1] == tok.PARAGRAPH]

            def piece(t: str) -> str:
                if t == tok.PARAGRAPH:
                    first[0] = True
                    return "\n"
                text, first[0] = (t if first[0] else " " + t), False
                return text
            return piece
        if self.model.unit == "char":
            return lambda t: "\n\n" if t == tok.PARAGRAPH else tok.surface(t)
        detok = tok.Detokenizer()
        for u in prompt_units:
            detok.piece(u)
        return detok.piece

    # --- markovify-style sentences -------------------------------------------------------------

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
        para = self._para
        if self.model.unit == "char":
            for t in self.tokens(history, sampling, rng, tracker):
                if (t == para or vocab[t] == " ") and self._ends_sentence(out):
                    break  # a character chain's "." ends a sentence only before a space ("Mr.")
                if t == para:
                    break
                out.append(vocab[t])
            else:
                return None
        elif walker is not None and len(tracker.stack) <= MAX_DEPTH:
            self._uniform = rng.random  # as tokens() sets it, for _draw_wide
            ids = walker.sentence(self, history, tracker, rng.random, sampling.max_tokens)
            if ids is None:
                return None
            out += map(vocab.__getitem__, ids)
        else:
            is_end = self._is_end
            for t in self.tokens(history, sampling, rng, tracker):
                if t == para:
                    break
                out.append(vocab[t])
                if is_end[t]:
                    break
            else:
                return None
        if len(out) == len(start_units):
            return None
        return out + [vocab[self._closers[k]] for k in reversed(tracker.stack)]

    def _compiled_walker(self, sampling: Sampling):
        """The compiled walk (_fastwalk.c: tokens() step for step, several times faster), for
        the chain's own distribution and a word chain; else None."""
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
        if not (COMPILED_WALK and self._walker and _is_pure(sampling) and self.model.unit == "word"):
            return None
        return self._walker

    def _ends_sentence(self, units: list[str]) -> bool:
        i = len(units) - 1
        while i >= 0 and tok.quote_role(units[i]) is not None and tok.quote_role(units[i])[1] < 0:
            i -= 1
        return i >= 0 and units[i] in SENTENCE_END

    def _words(self, units: list[str]) -> list[int]:
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
            if m.unit == "word":
                ids = m.text_ids
                self._runs = (None, RunIndex(ids[self._is_word[ids]], compiled=_compiled_lookup()))
            else:
                text = m.detokenize([m.vocab[i] for i in m.text_ids])
                words = [w for w in tok.tokenize(text) if any(c.isalnum() for c in w)]
                index: dict[str, int] = {}
                ids = np.fromiter((index.setdefault(w, len(index)) for w in words), dtype=np.uint32)
                self._runs = (index, RunIndex(ids))
        return self._runs
