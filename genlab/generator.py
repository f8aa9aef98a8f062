"""The one interface every text model in genlab implements.

The CLI, chat, perplexity and compare only talk to `Generator`, so a Markov chain trained a
minute ago and a llama.cpp model are interchangeable everywhere. What a backend can and cannot
do is declared in its `capabilities`, so callers ask instead of checking types.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator, Protocol, Sequence, TypedDict, runtime_checkable

from genlab.errors import GenlabError
from genlab.sampling import Sampling


class Message(TypedDict):
    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass(frozen=True)
class Score:
    """What a model thinks of a text, with every count needed to normalise it."""

    nats: float  # -sum of ln p over every byte of the scored text
    tokens: int  # in the backend's own units
    bytes: int  # UTF-8 bytes of the scored text
    words: int  # whitespace-separated words
    oov: int = 0

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
    persona_prompts: the system prompt and few-shot turns reach the model (a Markov chain
    answers the last message only). score: `score()` works (a server without prompt
    log-probabilities cannot). exact_chat_tokens: `chat_prompt_tokens(messages)` gives the exact
    prompt the model sees. continue_chat: `continue_chat(messages, s)` extends the last reply.
    """

    chat: bool = True
    persona_prompts: bool = True
    score: bool = True
    exact_chat_tokens: bool = False
    continue_chat: bool = False


def capabilities_of(generator: object) -> Capabilities:
    """A generator's declared capabilities (the defaults for one that declares none)."""
    caps = getattr(generator, "capabilities", None)
    return caps if isinstance(caps, Capabilities) else Capabilities()


@runtime_checkable
class Generator(Protocol):
    name: str
    context_length: int | None  # None: unbounded (a Markov chain)

    def stream(self, prompt: str, sampling: Sampling) -> Iterator[str]: ...

    def chat(self, messages: Sequence[Message], sampling: Sampling) -> Iterator[str]: ...

    def score(self, text: str) -> Score: ...

    def count_tokens(self, text: str) -> int: ...

    def info(self) -> dict[str, object]: ...

    # optional: `capabilities: Capabilities` (see capabilities_of)
