"""`ollama:MODEL[:TAG]` and `ollama:URL#MODEL`: a model on a running Ollama server, as a
backend kind. (A model Ollama has pulled is also a plain name: genlab.found runs its GGUF blob in
process; `ollama:` asks the server instead.)"""

from __future__ import annotations

from typing import Any

from genlab.kinds import Kind, Target
from genlab.generator import Generator

SETTINGS = ("num_ctx", "timeout", "retries", "think", "token_count", "api_key_env")


def _resolve(rest: str, name: str) -> Target:
    from genlab.ollama.api import parse_host, parse_spec

    host, _ = parse_spec(rest)  # a malformed name or server is an error now, not at load time
    if host is not None:
        parse_host(host)
    return Target(name=name, kind="ollama", location=rest, source="Ollama server", load_with=_load)


def _load(target: Target, options: dict[str, Any]) -> Generator:
    from genlab.ollama.generator import OllamaGenerator

    kwargs = {k: options[k] for k in SETTINGS if k in options}
    if options.get("n_ctx") is not None:  # --n-ctx: the context Ollama is asked to load
        kwargs.setdefault("num_ctx", options["n_ctx"])
    if not target.name.startswith("ollama:"):
        kwargs["name"] = target.name
    return OllamaGenerator.from_spec(target.location, **kwargs)


KIND = Kind("ollama", "ollama:MODEL[:TAG]", "a model on a running Ollama server (its native API)", _resolve,
            scores=False)  # Ollama gives log-probabilities of generated tokens only
