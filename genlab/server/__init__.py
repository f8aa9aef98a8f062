"""Models behind an OpenAI-compatible HTTP server (llama.cpp, llama-cpp-python, vLLM, Ollama).

`ServerGenerator` is the Generator; `client` is the stdlib-only HTTP/SSE/retry layer under it.
Selected by `--backend openai:http://HOST:PORT/v1#MODEL` or by an alias with a `url` key.
"""

from genlab.server.client import ServerError
from genlab.server.generator import ServerGenerator, parse_spec, request_fields

__all__ = ["ServerError", "ServerGenerator", "parse_spec", "request_fields"]
