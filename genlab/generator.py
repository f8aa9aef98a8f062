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


def generate(generator: Generator, prompt: str, sampling: Sampling) -> str:
    """The whole continuation as one string (for callers that do not stream)."""
    return "".join(generator.stream(prompt, sampling))


BACKEND_KINDS = ("markov", "llama", "hf", "openai")


def load_backend(name: str, **llama_options: object) -> Generator:
    """Turn a backend name into a ready Generator: "markov:novel", "llama:model.gguf",
    "hf:OWNER/REPO/FILE.gguf", "openai:http://HOST:PORT/v1#MODEL" (an OpenAI-compatible server,
    MODEL optional) or a model alias (a name without ':'; an alias with a `url` is a server).

    `llama_options` (n_ctx, n_threads, n_gpu_layers, chat_format, verbose) go to a llama
    model and are ignored by a Markov chain; None means "not given": the alias's setting, else
    the model's own default. An alias's default sampling is not applied here: merge
    `genlab.llama.registry.default_sampling(name)` under the sampling flags.
    """
    kind, sep, rest = name.partition(":")
    if sep and kind == "markov":
        if not rest:
            raise GenlabError("markov backend needs a model name or path: markov:NAME_OR_PATH")
        from genlab.markov.generator import MarkovGenerator
        from genlab.markov.store import find_model

        return MarkovGenerator.load(find_model(rest))
    if sep and kind == "openai":
        from genlab.server.generator import ServerGenerator

        return ServerGenerator.from_spec(rest)
    if not sep and name:
        from genlab.llama.registry import server_options

        server = server_options(name)  # None unless the alias has a url
        if server is not None:
            from genlab.server.generator import ServerGenerator

            return ServerGenerator(**server)
    if (sep and kind in ("llama", "hf")) or (not sep and name):
        try:
            from genlab.llama.generator import LlamaGenerator
        except ImportError:
            raise GenlabError("llama models need llama-cpp-python: pip install 'genlab[llama]'") from None
        from genlab.llama.registry import LLAMA_SETTINGS, resolve_llama

        given = {k: llama_options.pop(k, None) for k in LLAMA_SETTINGS}
        path, options, _ = resolve_llama(name, **given)  # command-line values override the alias's
        options.update({k: v for k, v in llama_options.items() if v is not None})
        if not sep:
            options.setdefault("name", name)  # reports say "llama3", not the file name
        return LlamaGenerator(path, **options)
    raise GenlabError(
        f"unknown backend {name!r}: use markov:NAME_OR_PATH (a model from 'genlab train-markov'), "
        f"llama:PATH.gguf, hf:OWNER/REPO/FILE.gguf, openai:http://HOST:PORT/v1#MODEL or a model alias "
        f"('genlab models list')"
    )
