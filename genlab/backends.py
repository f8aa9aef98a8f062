"""The backend table: the one place that turns a backend name into a model.

A name is parsed once, here, into a `Target`: what to load, where it was found, and its
default sampling. Loading is a separate, explicit step (`Target.load`), so a command can show
or check a target (its defaults, whether it can chat) before spending time on a model.

    markov:NAME_OR_PATH          a chain from `genlab train-markov`
    llama:PATH.gguf              a GGUF file run in process by llama.cpp
    hf:OWNER/REPO/FILE.gguf      a GGUF file from the Hugging Face Hub (cached)
    openai:URL[#MODEL]           a model on an OpenAI-compatible server
    ollama:MODEL                 a model on a running Ollama server (its native API)
    NAME                         an alias (`genlab models add`), else a model another tool put on
                                 this machine (Ollama's store, the Hugging Face cache, LM Studio,
                                 a pip package, ./models): see genlab.found

Each kind is a `Kind` (genlab/kinds.py) that its own backend package defines
(genlab/markov/backend.py, ...); kinds.BUILT_IN names the built-in ones by import path, so the table
imports no backend until a name needs one. Another package adds a kind through the entry-point
group ``genlab.backends`` (each entry point is a `Kind`; its name is the prefix before the
colon).
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import replace
from typing import Any, Mapping

from genlab.errors import GenlabError
from genlab.generator import Generator
from genlab.kinds import BUILT_IN, Kind, Target, Trainer

__all__ = ["BUILT_IN", "ENTRY_POINT_GROUP", "Kind", "Target", "forms", "kinds", "load_backend", "register",
           "resolve", "trainer"]

ENTRY_POINT_GROUP = "genlab.backends"


# --- the table -----------------------------------------------------------------------------------

_kinds: dict[str, Kind] | None = None


def kinds() -> dict[str, Kind]:
    """Every kind of backend: the built-in ones, then those of installed packages."""
    global _kinds
    if _kinds is None:
        table: dict[str, Kind] = {}
        for prefix, where in BUILT_IN.items():
            kind = _import(where)
            if kind is not None:
                table[prefix] = kind
        for prefix, kind in _plugin_kinds():
            table.setdefault(prefix, kind)  # a plugin cannot replace a built-in kind
        _kinds = table
    return _kinds


def _import(where: str) -> Kind | None:
    module, _, attr = where.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except ModuleNotFoundError as exc:  # that kind's package is not installed; any other error is a bug
        if exc.name and module.startswith(exc.name):
            return None
        raise


def _plugin_kinds() -> list[tuple[str, Kind]]:
    from importlib.metadata import entry_points

    out = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            kind = ep.load()
        except Exception:  # a broken plugin must not break genlab
            continue
        if isinstance(kind, Kind) and ep.name == kind.prefix:
            out.append((ep.name, kind))
    return out


def register(kind: Kind) -> None:
    """Add a kind at run time (a notebook, a test); an existing prefix is an error."""
    table = kinds()
    if kind.prefix in table:
        raise GenlabError(f"a backend kind {kind.prefix!r} exists already")
    table[kind.prefix] = kind


def trainer() -> tuple[str, Trainer]:
    """The first kind whose models train from a corpus in moments, with its prefix (the chains
    of compare's and perplexity's order curves)."""
    for prefix, kind in kinds().items():
        if kind.trainer is not None:
            return prefix, kind.trainer
    raise GenlabError("no installed backend kind trains from a corpus (the markov kind is missing)")


def forms() -> str:
    """How every kind of name is written, for messages."""
    return ", ".join(k.form for k in kinds().values())


# --- names ---------------------------------------------------------------------------------------


def resolve(name: str) -> Target:
    """The target of backend name `name` (see the module docstring); one clear GenlabError
    when nothing answers to it."""
    if not isinstance(name, str) or not name.strip():
        raise GenlabError(f"no backend given: use {forms()} or a model name ('genlab models list')")
    name = name.strip()
    prefix, sep, rest = name.partition(":")
    table = kinds()
    if sep and prefix in table:
        if not rest:
            raise GenlabError(f"{prefix}: needs a model after the colon: {table[prefix].form}")
        return table[prefix].resolve(rest, name)
    if not sep and name in table:
        raise GenlabError(f"{name!r} needs a model after the colon: {table[name].form}")
    target = _by_short_name(name)
    if target is not None:
        return target
    for suffix, prefix in ((".gguf", "llama"), (".markov", "markov")):  # a file named by its path alone
        if name.lower().endswith(suffix) and prefix in table:
            return table[prefix].resolve(name, name)
    close = difflib.get_close_matches(name.lower(), _catalog_names(), n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise GenlabError(f"no backend or model named {name!r}{hint} (use {forms()}, or a name from "
                      "'genlab models list')")


def _by_short_name(name: str) -> Target | None:
    """An alias first (the user named it on purpose), then a model found on this machine.

    Both stand for a name of a kind (`llama:PATH`, `openai:URL#MODEL`) with settings of their
    own, so the kind that loads them is the one that loads that name."""
    from genlab.aliases import ServerAlias, find_alias

    alias = find_alias(name) if ":" not in name else None
    if alias is not None:
        where = f"alias in {alias.source}"
        if isinstance(alias, ServerAlias):
            spec = f"openai:{alias.url}" + (f"#{alias.model}" if alias.model else "")
            server = {k: v for k, v in alias.server_options().items() if k not in ("url", "model", "name")}
            return _renamed(resolve(spec), name, where, alias.sampling, server)
        if not alias.path.exists():
            raise GenlabError(f"alias {name!r} ({alias.source}) points to {alias.path}, which does not exist")
        return _renamed(resolve(f"llama:{alias.path}"), name, where, alias.sampling, alias.options())
    from genlab.found import lookup

    found = lookup(name)
    if found is None:
        return None
    return _renamed(resolve(f"llama:{found.path}"), name, f"{found.source}: {found.where}", found.sampling,
                    found.options, found.notes)


def _renamed(target: Target, name: str, source: str, sampling: Mapping[str, Any], options: Mapping[str, Any],
             notes: tuple[str, ...] = ()) -> Target:
    return replace(target, name=name, source=source, sampling={**target.sampling, **sampling},
                   options={**target.options, **options}, notes=target.notes + tuple(notes))


def _catalog_names() -> list[str]:
    """Alias and found-model names, for suggestions (a broken config file gives none)."""
    from genlab.aliases import alias_names
    from genlab.found import find_models

    try:
        names = alias_names()
    except GenlabError:
        names = []
    return names + [m.name for m in find_models()]


def load_backend(name: str, **options: Any) -> Generator:
    """A ready Generator for `name` (notebook use); the target's default sampling is in
    `resolve(name).default_sampling()`."""
    return resolve(name).load(**options)
