"""The part of a chat the model sees, and how it moves when the context fills.

The model always sees the prefix (system prompt and few-shot turns), then the history from a
first message on: the window. When the prompt would leave no room for a reply, the window
moves past the oldest exchanges; the history itself keeps every message.
"""

from __future__ import annotations

from typing import Sequence

from genlab.generator import Generator, Message


def prompt_tokens(generator: Generator, messages: Sequence[Message]) -> int:
    """Tokens of the prompt `generator` gets for `messages`: exact when the backend can give
    its chat prompt (template and special tokens), else a count of the messages' text."""
    if not messages:
        return 0
    if generator.capabilities.exact_chat_tokens:
        return len(generator.chat_prompt_tokens(messages))  # type: ignore[attr-defined]
    return generator.count_tokens("\n\n".join(f"{m['role']}: {m['content']}" for m in messages))


def fit(generator: Generator, prefix: list[Message], history: list[Message], window: int, *,
        max_tokens: int, regrow: bool) -> int | None:
    """The window's new first message when the prompt would not leave room for a reply
    (max_tokens, at most half the context); None when it stays as it is and `regrow` is not
    used up. The last user message always stays (the one being answered).

    A move goes far enough to free half the space after the prefix, as llama.cpp and Ollama do
    when their context fills: the next turns then extend the same prompt, which a model that
    keeps its cache of the prompt does not read again. (Moving by one exchange a turn would
    change the start of the prompt, and so reread all of it, every turn.) `regrow`: messages
    were removed, so the window grows back to fill the room."""
    n_ctx = generator.context_length
    if n_ctx is None:
        return None
    room = n_ctx - min(max_tokens, n_ctx // 2)
    if prompt_tokens(generator, prefix + history[window:]) <= room and not (regrow and window):
        return None
    last_user = max((i for i, m in enumerate(history) if m["role"] == "user"), default=len(history) - 1)
    first = 0 if regrow else window + 1
    cuts = [i for i in range(first, last_user + 1) if history[i]["role"] == "user" or i == 0]
    if not cuts:
        return window
    fixed = prompt_tokens(generator, prefix)
    limit = room if regrow else fixed + (room - fixed) // 2
    lo, hi = 0, len(cuts) - 1  # the first cut that fits (fewer messages never need more tokens)
    while lo < hi:
        mid = (lo + hi) // 2
        if prompt_tokens(generator, prefix + history[cuts[mid]:]) <= limit:
            hi = mid
        else:
            lo = mid + 1
    return cuts[lo]
