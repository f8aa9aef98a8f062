"""`openai:URL[#MODEL]`: a model on an OpenAI-compatible server, as a backend kind."""

from __future__ import annotations

from typing import Any

from genlab.kinds import Kind, Target
from genlab.generator import Generator

# the settings a server alias may add (genlab.aliases)
SETTINGS = ("api_key_env", "timeout", "extra_sampling")


def _resolve(rest: str, name: str) -> Target:
    from genlab.server.client import Endpoint
    from genlab.server.generator import parse_spec

    Endpoint.parse(parse_spec(rest)[0])  # a missing or bad URL is an error now, not at load time
    return Target(name=name, kind="openai", location=rest, source="address", load_with=_load)


def _load(target: Target, options: dict[str, Any]) -> Generator:
    from genlab.server.generator import ServerGenerator

    kwargs = {k: options[k] for k in SETTINGS if k in options}
    if not target.name.startswith("openai:"):
        kwargs["name"] = target.name
    return ServerGenerator.from_spec(target.location, **kwargs)


KIND = Kind("openai", "openai:URL[#MODEL]", "a model on an OpenAI-compatible server", _resolve)
