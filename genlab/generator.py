"""The one interface every text model in genlab implements.

The CLI, chat, perplexity and compare only talk to `Generator`, so a Markov chain trained a
minute ago and a llama.cpp model are interchangeable everywhere. Each backend declares what it
can do in `capabilities`; callers ask that instead of checking types.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Sequence, TypedDict

from genlab.errors import GenlabError
from genlab.sampling import Sampling


class Message(TypedDict):
    role: str  # "system" | "user" | "assistant"
    content: str


class Usage(TypedDict):
    """What a generation (`stream`, `chat`, `continue_chat`) made and why it ended, in one shape
    on every backend, so a caller (genlab generate --json, the llm plugin) reads all alike.

    completion_tokens: what the model made, in the backend's own units (a stream closed early:
      what it made so far): a llama model's tokens; a chain's units (words or characters) as
      walked; a server's own count, else the pieces of text it streamed (one a token on
      llama.cpp's servers, fewer where a character spans tokens).
    prompt_tokens: the prompt's length in the same units; None where the backend is not told.
    finish_reason: "stop" (the model ended its text, or a stop string was reached), "length"
      (max_tokens or the context ran out; a chain has no end of its own, so it ends this way
      unless a stop string cuts it), or None while the stream runs, when it was closed early,
      or when the backend cannot tell.

    A backend may add keys of its own (a llama model's cached_tokens).
    """

    completion_tokens: int
    prompt_tokens: int | None
    finish_reason: str | None


def new_usage(prompt_tokens: int | None = None) -> Usage:
    """The Usage a generation starts with: nothing made yet, no reason to end."""
    return {"completion_tokens": 0, "prompt_tokens": prompt_tokens, "finish_reason": None}


def reported_counts(usage: Usage, reported: Mapping[str, Any]) -> None:
    """A server's own prompt_tokens and completion_tokens, taken into `usage` where they are
    whole numbers (what a server sends is checked, never trusted)."""
    for key in ("completion_tokens", "prompt_tokens"):
        value = reported.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            usage[key] = value  # type: ignore[literal-required]


@dataclass(frozen=True)
class Score:
    """What a model thinks of a text, with every count needed to normalise it."""

    nats: float  # -sum of ln p over every byte of the scored text
    tokens: int  # in the backend's own units
    bytes: int  # UTF-8 bytes of the scored text
    words: int  # whitespace-separated words
    oov: int = 0
    # (nats, bytes) of each paragraph of the text (genlab.score_parts: which bytes each owns),
    # summing to nats and bytes; empty when the backend cannot say which paragraph a nat came
    # from. Paragraphs are what bits per byte is bootstrapped over (genlab.eval.score_intervals).
    parts: tuple[tuple[float, int], ...] = field(default=(), repr=False)

    @property
    def bits_per_byte(self) -> float:
        return self.nats / self.bytes / math.log(2) if self.bytes else math.nan

    @property
    def byte_perplexity(self) -> float:
        return math.exp(self.nats / self.bytes) if self.bytes else math.nan

    @property
    def word_perplexity(self) -> float:
        return math.exp(self.nats / self.words) if self.words else math.nan

    @property
    def token_perplexity(self) -> float:
        return math.exp(self.nats / self.tokens) if self.tokens else math.nan


ROLES = ("system", "user", "assistant")


def check_messages(messages: Sequence[Message]) -> list[dict[str, str]]:
    """Plain {role, content} dicts of a chat, or one clear error about the first bad message."""
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
        raise GenlabError("messages must be a list of {'role': ..., 'content': ...} entries")
    out: list[dict[str, str]] = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or "role" not in m or "content" not in m:
            raise GenlabError(f"message {i + 1} must have a 'role' and a 'content'")
        if m["role"] not in ROLES:
            raise GenlabError(f"message {i + 1} has role {m['role']!r}; use one of {', '.join(ROLES)}")
        if not isinstance(m["content"], str):
            raise GenlabError(f"message {i + 1} content must be text, got {type(m['content']).__name__}")
        out.append({"role": m["role"], "content": m["content"]})
    if not out:
        raise GenlabError("a chat needs at least one message")
    return out


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do, declared so callers never test its type.

    chat: `chat()` turns messages into a prompt the model was made for (a chat template, a
      server's chat route, a chain answering the last message). False for a llama model without
      a chat template and no chat format chosen: callers refuse chat in one line up front.
    persona_prompts: the system prompt and few-shot turns reach the model (False: it answers
      the last message only, as a Markov chain does).
    score: `score()` works (a server without prompt log-probabilities cannot).
    pretokenized: `score(text, tokenized=True)` takes the text's own tokens (split at spaces,
      one sentence a line) instead of tokenizing it.
    exact_chat_tokens: `chat_prompt_tokens(messages)` gives the exact prompt the model sees.
    continue_chat: `continue_chat(messages, s)` extends the last reply.
    concurrent_requests: several calls may run at once (one connection each), so compare can
      keep a server busy.
    """

    chat: bool = True
    persona_prompts: bool = True
    score: bool = True
    pretokenized: bool = False
    exact_chat_tokens: bool = False
    continue_chat: bool = False
    concurrent_requests: bool = False


class Generator(ABC):
    """A text model: stream a continuation, chat, score a text.

    A backend subclasses this, declares `capabilities` (a class attribute, or a property when it
    depends on the loaded model) and sets `name` and `context_length` (None: unbounded, as a
    Markov chain is). Only `stream` must be written; the rest have honest defaults. Each
    generation sets `last_usage` to a fresh Usage (`new_usage`) and fills it in as it streams.
    """

    name: str = "generator"
    context_length: int | None = None
    capabilities: Capabilities = Capabilities(chat=False, score=False)
    # the Usage of the last generation, a new one each call, filled in as it streams; None
    # before the first (and on a backend that cannot tell)
    last_usage: Usage | None = None

    @abstractmethod
    def stream(self, prompt: str, sampling: Sampling) -> Iterator[str]:
        """The continuation of `prompt`, piece by piece as it is made."""

    def chat(self, messages: Sequence[Message], sampling: Sampling) -> Iterator[str]:
        """The next assistant reply to `messages`, piece by piece."""
        raise GenlabError(f"{self.name} cannot chat")

    def score(self, text: str, *, tokenized: bool = False) -> Score:
        """How well the model predicts `text` (see Capabilities.pretokenized for `tokenized`)."""
        raise GenlabError(f"{self.name} cannot score a text")

    def count_tokens(self, text: str) -> int:
        """`text`'s length in the model's own units."""
        return len(text.split())

    def info(self) -> dict[str, Any]:
        """What to record about the model in a report (JSON-ready)."""
        return {"name": self.name}

    def close(self) -> None:
        """Free what the model holds (memory, connections); using it afterwards is an error."""

    def __enter__(self) -> "Generator":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
