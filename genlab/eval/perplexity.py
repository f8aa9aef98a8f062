"""Perplexity of any backend on one text, in units that compare across backends.

Why bits per byte: a word chain, a character chain and a BPE model cut the same text into
different tokens, so their token perplexities measure different things. Every backend here
scores the *same* normalised text (paragraphs separated by one blank line, whitespace inside
a paragraph collapsed to single spaces: the form genlab's tokenizer reproduces exactly), and
bits per byte divide the same total by the same byte count (lm-evaluation-harness's
definitions: bits_per_byte = -sum ln p / bytes / ln 2, byte perplexity exp(-sum ln p / bytes),
word perplexity exp(-sum ln p / words)).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, fields
from typing import Callable, Iterable, Iterator

from genlab.errors import GenlabError
from genlab.generator import Generator, Score


@dataclass(frozen=True)
class PerplexityRow:
    backend: str
    bits_per_byte: float
    byte_perplexity: float
    word_perplexity: float
    token_perplexity: float
    tokens: int
    bytes: int
    words: int
    oov: int
    oov_rate: float
    seconds: float
    parts: tuple[tuple[float, int], ...] = field(default=(), repr=False)  # Score.parts: (nats, bytes) a paragraph

    @classmethod
    def from_score(cls, backend: str, score: Score, seconds: float) -> "PerplexityRow":
        return cls(backend, score.bits_per_byte, score.byte_perplexity, score.word_perplexity,
                   score.token_perplexity, score.tokens, score.bytes, score.words, score.oov,
                   score.oov / score.tokens if score.tokens else math.nan, seconds, score.parts)

    def as_dict(self) -> dict[str, object]:
        """The row's numbers (without the per-paragraph parts)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "parts"}

    def record(self) -> dict[str, object]:
        """as_dict with each paragraph's nats and bytes: what scores.jsonl keeps, so a comparison
        can bootstrap bits per byte over paragraphs (genlab.eval.score_intervals), also on resume."""
        from genlab.eval.score_intervals import BYTES, NATS

        return {**self.as_dict(), NATS: [n for n, _ in self.parts], BYTES: [b for _, b in self.parts]}


def prepare_text(text: str, max_bytes: int | None = None) -> str:
    """The text every backend scores: normalised paragraphs, cut to at most `max_bytes` bytes
    at a paragraph end (or inside the first paragraph at a character boundary)."""
    from genlab.text import split_paragraphs

    paragraphs = split_paragraphs(text)
    if max_bytes is not None:
        if max_bytes < 1:
            raise GenlabError(f"--max-bytes must be at least 1, got {max_bytes}")
        kept, used = [], 0
        for p in paragraphs:
            size = len(p.encode("utf-8", "surrogatepass")) + (2 if kept else 0)
            if used + size > max_bytes:
                if not kept:
                    kept.append(p.encode("utf-8", "surrogatepass")[:max_bytes].decode("utf-8", "ignore").rstrip())
                break
            kept.append(p)
            used += size
        paragraphs = [p for p in kept if p]
    prepared = "\n\n".join(paragraphs)
    if not prepared:
        raise GenlabError("the text to score is empty")
    return prepared


def prepare_tokenized(text: str, max_bytes: int | None = None) -> str:
    """Pre-tokenized text (one sentence per line): its non-blank lines, cut at a line end."""
    lines = [" ".join(line.split()) for line in text.splitlines() if line.strip()]
    if max_bytes is not None:
        kept, used = [], 0
        for line in lines:
            used += len(line.encode("utf-8", "surrogatepass")) + (1 if kept else 0)
            if used > max_bytes:
                break
            kept.append(line)
        lines = kept
    if not lines:
        raise GenlabError("the text to score is empty")
    return "\n".join(lines)


def load_scorer(name: str, **options: object) -> Generator:
    """The backend `name`, loaded for scoring: a llama model keeps its KV cache in f32 unless
    `f32_cache=False` is given (llama.cpp's default f16 cache moves a model's bits per byte by a
    few tenths of a percent; f32 doubles the cache's memory). Other options as `genlab.backends.load_backend`."""
    from genlab.backends import load_backend

    if options.get("f32_cache") is None:
        options["f32_cache"] = True
    return load_backend(name, **options)


def perplexity(generator: Generator, text: str, name: str | None = None,
               tokenized: bool = False) -> PerplexityRow:
    """Score `text` (already prepared: see prepare_text) with one backend (load a llama model
    with `load_scorer` for exact scores).

    `tokenized`: a backend that takes pre-tokenized text (capabilities.pretokenized: a Markov
    chain) scores the text's own tokens (split by spaces, one sentence per line) instead of
    tokenizing it; other backends score the same text as it is."""
    started = time.perf_counter()
    if tokenized and generator.capabilities.pretokenized:
        score = generator.score(text, tokenized=True)
    else:
        score = generator.score(text)
    return PerplexityRow.from_score(name or generator.name, score, time.perf_counter() - started)


def score_each(scorers: Iterable[tuple[str, Callable[[], Generator]]], text: str,
               tokenized: bool = False) -> Iterator[PerplexityRow]:
    """The row of each (name, loader) as it is scored: one model loaded at a time, closed
    before the next is loaded."""
    for name, load in scorers:
        with load() as generator:
            row = perplexity(generator, text, name, tokenized)
        yield row


def scorers(backends: Iterable[str], **options: object) -> list[tuple[str, Callable[[], Generator]]]:
    """(name, loader) of each backend, for `score_each`; a backend whose kind cannot score
    text is refused here, before any work."""
    from genlab.backends import kinds, resolve

    names = list(backends)
    for name in names:
        kind = kinds().get(resolve(name).kind)
        if kind is not None and not kind.scores:
            raise GenlabError(f"{name} cannot score text ({kind.about} gives no log-probabilities of a given "
                              "text); score its GGUF file in process instead (genlab models list)")
    return [(name, lambda name=name: load_scorer(name, **dict(options))) for name in names]
