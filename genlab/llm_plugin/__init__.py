"""genlab's models inside simonw/llm: `llm -m markov:novel "“Well,” said"`, `llm chat -m smollm2`.

llm loads this package through its plugin entry point (pyproject.toml), so it runs only where llm
is installed. Every name `genlab models list` shows (aliases, Markov chains in ./models and the
user's models folder, models other tools put on this machine) becomes an llm model of the same
name, so what works with `genlab --backend` works with `llm -m`. Registration only lists names;
a model is loaded when a prompt first needs it (see model.py), so `llm models` stays quick and
never imports llama.cpp.
"""

from __future__ import annotations

import sys
from typing import Any

import llm

from genlab.llm_plugin.model import GenlabModel

__all__ = ["GenlabModel", "register_models"]


@llm.hookimpl
def register_models(register: Any, model_aliases: Any = None) -> None:
    """One llm model per genlab name, except a name another plugin already took (llm's own
    models and aliases: that name stays theirs)."""
    taken = _taken(model_aliases)
    seen: set[str] = set()
    for name, source in catalog_names():
        if name not in seen and name not in taken:
            seen.add(name)
            register(GenlabModel(name, source))


def catalog_names() -> list[tuple[str, str]]:
    """(name, where it comes from) of every genlab model. A broken genlab.toml leaves its
    aliases out, with one line on stderr; nothing here may stop llm from starting."""
    from genlab import catalog
    from genlab.errors import GenlabError

    try:
        return [(e.name, e.source) for e in catalog.entries()]
    except GenlabError as exc:
        _warn(f"{exc} (its aliases are left out)")
    except Exception as exc:  # a bug in genlab must not take llm's other models down with it
        _warn(f"cannot list genlab's models: {type(exc).__name__}: {exc}")
        return []
    try:
        return [(e.name, e.source) for e in catalog.chains() + catalog.found()]
    except Exception:
        return []


def _taken(model_aliases: Any) -> set[str]:
    """Model ids and aliases registered before genlab's (llm's built-in ones among them)."""
    taken: set[str] = set()
    for entry in model_aliases or ():
        for model in (getattr(entry, "model", None), getattr(entry, "async_model", None)):
            if model is not None:
                taken.add(model.model_id)
        taken.update(getattr(entry, "aliases", ()) or ())
    return taken


_warned: set[str] = set()


def _warn(message: str) -> None:
    """One line on stderr, once per process (llm asks for its models more than once)."""
    line = f"genlab: warning: {' '.join(message.split())}"
    if line not in _warned:
        _warned.add(line)
        print(line, file=sys.stderr)
