"""`markov:NAME_OR_PATH`: a chain trained by `genlab train-markov`, as a backend kind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genlab.kinds import Kind, Target
from genlab.generator import Generator


def _resolve(rest: str, name: str) -> Target:
    from genlab.markov.store import find_model

    return Target(name=name, kind="markov", location=str(find_model(rest)), source="path", load_with=_load)


def _load(target: Target, options: dict[str, Any]) -> Generator:
    from genlab.markov.generator import MarkovGenerator

    return MarkovGenerator.load(Path(target.location))  # llama settings mean nothing to a chain


KIND = Kind("markov", "markov:NAME_OR_PATH", "a chain from 'genlab train-markov'", _resolve)
