"""llama-cpp-python as genlab loads it: imported with an install hint, and its `Llama` with one
hook that records a chat prompt instead of running it (see genlab.llama.chat_prompt)."""

from __future__ import annotations

import functools
from typing import Any

from genlab.errors import GenlabError


def llama_cpp() -> Any:
    """The llama_cpp module, or one GenlabError saying how to install it."""
    try:
        import llama_cpp
    except ImportError:
        raise GenlabError(
            "the llama backend needs llama-cpp-python: pip install 'llama-cpp-python==0.3.36' gguf"
        ) from None
    return llama_cpp


@functools.lru_cache(maxsize=None)
def engine_class() -> type:
    """A `llama_cpp.Llama` whose `create_completion` can record its arguments instead of running.

    `create_chat_completion` renders the prompt with the chat handler (the GGUF template or a
    named format), tokenizes it with `Llama.tokenize` and hands it to `create_completion`; while
    `_genlab_capture` is a dict, both calls are recorded and nothing is generated.
    """

    class _Engine(llama_cpp().Llama):  # type: ignore[misc, name-defined]
        _genlab_capture: dict[str, Any] | None = None

        def tokenize(self, text: bytes, add_bos: bool = True, special: bool = False) -> list[int]:
            if self._genlab_capture is not None:
                self._genlab_capture.setdefault("rendered", []).append(bytes(text))
            return super().tokenize(text, add_bos, special)

        def create_completion(self, prompt: Any, *args: Any, **kwargs: Any) -> Any:
            if self._genlab_capture is not None:
                self._genlab_capture.setdefault("calls", []).append((prompt, kwargs))
                return iter(())
            return super().create_completion(prompt, *args, **kwargs)

    return _Engine
