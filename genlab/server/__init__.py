"""Models behind an OpenAI-compatible HTTP server (llama.cpp, llama-cpp-python, vLLM, Ollama).

`ServerGenerator` is the Generator; `client` is the stdlib-only HTTP/SSE/retry layer under it.
Selected by `--backend openai:http://HOST:PORT/v1#MODEL` or by an alias with a `url` key.

The names below are imported when first used, so a module that needs only the HTTP layer
(genlab.gutenberg uses genlab.server.deadline) does not pay for numpy.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ServerError", "ServerGenerator", "parse_spec", "request_fields"]


def __getattr__(name: str) -> Any:
    if name == "ServerError":
        from genlab.server.client import ServerError

        return ServerError
    if name in __all__:
        from genlab.server import generator

        return getattr(generator, name)
    raise AttributeError(f"module 'genlab.server' has no attribute {name!r}")
