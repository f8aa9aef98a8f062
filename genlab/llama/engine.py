"""llama-cpp-python as genlab loads it: imported with an install hint, and its `Llama` with one
hook that records a chat prompt instead of running it (see genlab.llama.chat_prompt)."""

from __future__ import annotations

import functools
from pathlib import Path
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


def tokens_of(vocab: Any, text: bytes, add_bos: bool, special: bool) -> list[int]:
    """llama.cpp's tokens of `text`, in a buffer sized by the text: a token holds at least one
    byte, and a few special ones may be added (a larger need is reported, and met once).

    llama-cpp-python sizes its buffer by the model's trained context instead, whatever the
    text: a 1 MB GGUF claiming a context of 2**29 tokens made every call allocate 2 GB, and one
    claiming 2**31 failed with a ValueError (llama.cpp reads the number as a signed int)."""
    lib = llama_cpp()
    size = len(text) + 8
    for _ in range(2):
        buffer = (lib.llama_token * size)()
        n = lib.llama_tokenize(vocab, text, len(text), buffer, size, add_bos, special)
        if n >= 0:
            return list(buffer[:n])
        size = -n
    raise GenlabError(f"llama.cpp could not tokenize a text of {len(text)} bytes")


@functools.lru_cache(maxsize=None)
def engine_class() -> type:
    """A `llama_cpp.Llama` whose chat templates run within limits, and whose `create_completion`
    can record its arguments instead of running.

    Templates: `Llama.__init__` compiles every chat template it finds in `self.metadata`, with
    no limit of time or memory. The metadata it sets is kept here without them, so it compiles
    none, and genlab.llama.templates installs them once the model is loaded (compiled within
    limits, as llama-cpp-python would have, under the same names, with the same default).

    Tokens: `tokenize` uses a buffer sized by the text (see tokens_of).

    Recording: `create_chat_completion` renders the prompt with the chat handler (the GGUF
    template or a named format), tokenizes it with `Llama.tokenize` and hands it to
    `create_completion`; while `_genlab_capture` is a dict, both calls are recorded and nothing
    is generated.
    """
    from genlab.llama import templates

    class _Engine(llama_cpp().Llama):  # type: ignore[misc, name-defined]
        _genlab_capture: dict[str, Any] | None = None
        _genlab_templates: dict[str, Any] = {}

        def __init__(self, model_path: str, *args: Any, chat_format: str | None = None, **kwargs: Any):
            super().__init__(model_path, *args, chat_format=chat_format, **kwargs)
            try:
                templates.install(self, self._genlab_templates, chat_format, Path(model_path).name)
            except BaseException:
                self.close()
                raise

        @property  # type: ignore[override]
        def metadata(self) -> dict[str, Any]:
            return self._genlab_metadata

        @metadata.setter
        def metadata(self, value: dict[str, Any]) -> None:
            self._genlab_templates = templates.template_keys(value)
            self._genlab_metadata = {k: v for k, v in value.items() if k not in self._genlab_templates}

        def tokenize(self, text: bytes, add_bos: bool = True, special: bool = False) -> list[int]:
            if self._genlab_capture is not None:
                self._genlab_capture.setdefault("rendered", []).append(bytes(text))
            return tokens_of(self._model.vocab, text, add_bos, special)

        def create_completion(self, prompt: Any, *args: Any, **kwargs: Any) -> Any:
            if self._genlab_capture is not None:
                self._genlab_capture.setdefault("calls", []).append((prompt, kwargs))
                return iter(())
            return super().create_completion(prompt, *args, **kwargs)

    return _Engine
