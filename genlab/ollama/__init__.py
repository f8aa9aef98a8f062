"""Models on a running Ollama server, through its native API (`ollama:MODEL`).

`OllamaGenerator` is the Generator; `api` holds what genlab knows of Ollama's API (host
forms, options, /api/show). The HTTP, streaming and retry layer is genlab.server.client's.
"""

from genlab.ollama.api import parse_host, parse_spec, request_options
from genlab.ollama.generator import OllamaGenerator

__all__ = ["OllamaGenerator", "parse_host", "parse_spec", "request_options"]
