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
    """One llm model per genlab name, the other names genlab finds a model by (a package
    model's file name, ...) as its llm aliases; a name another plugin already took (llm's own
    models and aliases) stays theirs."""
    taken = _taken(model_aliases)
    models = [(name, source, others) for name, source, others in catalog_names() if name not in taken]
    taken.update(name for name, _, _ in models)
    seen: set[str] = set()
    for name, source, others in models:
        if name not in seen:
            seen.add(name)
            aliases = [a for a in dict.fromkeys(others) if a not in taken]
            taken.update(aliases)
            register(GenlabModel(name, source), aliases=aliases)


def catalog_names() -> list[tuple[str, str, tuple[str, ...]]]:
    """(name, where it comes from, other names) of every genlab model. A broken genlab.toml
    leaves its aliases out, with one line on stderr; nothing here may stop llm from starting."""
    from genlab import catalog
    from genlab.errors import GenlabError

    try:
        entries = catalog.entries()
    except GenlabError as exc:
        _warn(f"{exc} (its aliases are left out)")
        entries = None
    except Exception as exc:  # a bug in genlab must not take llm's other models down with it
        _warn(f"cannot list genlab's models: {type(exc).__name__}: {exc}")
        return []
    try:
        if entries is None:
            entries = catalog.chains() + catalog.found()
        others = _other_names()
        return [(e.name, e.source, others.get((e.name, e.source), ())) for e in entries]
    except Exception:
        return []


def _other_names() -> dict[tuple[str, str], tuple[str, ...]]:
    """The further names of each found model ((name, source) -> names), as --backend takes them."""
    from genlab.found import find_models

    return {(m.name, m.source): m.names[1:] for m in find_models()}


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
