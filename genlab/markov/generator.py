"""MarkovGenerator: a trained chain behind the common Generator interface.

It continues a prompt from the prompt's last units, answers a chat from one of the last
message's words, scores text by Kneser-Ney (scoring.py), and emits each unit's text as soon as
the walk (walk.py) chooses it; make_sentence comes from sentences.py.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from genlab.errors import GenlabError
from genlab.generator import Capabilities, Generator, Message, Score, Usage, new_usage
from genlab.markov.model import MarkovModel
from genlab.markov.sentences import SentenceWalk
from genlab.sampling import Sampling
from genlab.stops import cut_at_stops


class MarkovGenerator(SentenceWalk, Generator):
    # a chat answers the last message from its words: no persona prompt reaches the chain
    capabilities = Capabilities(chat=True, persona_prompts=False, score=True, pretokenized=True)

    def __init__(self, model: MarkovModel, name: str | None = None, path: Path | None = None):
        super().__init__(model)
        self.path = path
        self.name = name or f"markov:{path.stem if path else 'model'}"
        self.context_length: int | None = None
        self._freq: np.ndarray | None = None  # token counts in the training text (chat topics)

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
        usage = self.last_usage = new_usage(len(units))
        yield from self._emit(history, units, sampling, usage, prompt_ends_in_space=prompt[-1:].isspace())

    def chat(self, messages: Sequence[Message], sampling: Sampling) -> Iterator[str]:
        """Answer the last user message. A chain has no notion of turns, so the reply starts
        from one of that message's words the chain knows (rare words first: they carry the
        topic), or from a fresh paragraph when it knows none; quotes stay balanced as in
        `stream`. System prompts and earlier turns are not used."""
        last = next((m.get("content") for m in reversed(messages) if m.get("role") == "user"), None)
        if not isinstance(last, str):
            raise GenlabError("chat needs at least one user message")
        units = self._topic(last, random.Random(sampling.seed))
        usage = self.last_usage = new_usage()  # the chain reads no prompt: one word of it at most
        if not units:
            yield from self._emit([self._para], [], sampling, usage, prompt_ends_in_space=False)
            return
        opening = self.model.detokenize(units)
        usage["completion_tokens"] = len(units)
        yield opening[:1].upper() + opening[1:]
        if sampling.max_tokens > len(units):
            rest = sampling.merged(max_tokens=sampling.max_tokens - len(units))
            yield from self._emit([self._para] + self.model.encode(units), units, rest, usage,
                                  prompt_ends_in_space=False)
        else:
            usage["finish_reason"] = "length"

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
                known = all(i >= 0 for i in ids) and (not self.model.units.words or all(self._is_word[i] for i in ids))
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


    def _emit(self, history: list[int], prompt_units: list[str], sampling: Sampling, usage: Usage,
              prompt_ends_in_space: bool) -> Iterator[str]:
        """The text of the walk after `history`, spaced as the model's units say, cut at the
        first stop string. Each unit walked is counted in `usage`, and the walk's end is
        "length" (a chain has no end of text of its own), a stop string's "stop"."""
        vocab = self.model.vocab
        piece = self.model.units.spacer(prompt_units)

        def pieces() -> Iterator[str]:
            first = True
            for t in self.tokens(history, sampling):
                usage["completion_tokens"] += 1
                text = piece(vocab[t])
                if first:
                    if prompt_ends_in_space or not prompt_units:
                        text = text.lstrip(" ")
                    first = False
                yield text
            usage["finish_reason"] = "length"

        yield from cut_at_stops(pieces(), sampling.stop)
        if usage["finish_reason"] is None:  # the walk went on: a stop string ended the text
            usage["finish_reason"] = "stop"
