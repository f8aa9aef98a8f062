"""Every source together: `find_models` lists, `lookup` finds one by name."""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

from genlab.errors import GenlabError
from genlab.found import huggingface, lmstudio, local, ollama, packages
from genlab.found.model import FoundModel, identity

# In this order: genlab's own files first (the working folder), then the other tools.
SOURCES: tuple[tuple[str, Callable[[list[str]], list[FoundModel]]], ...] = (
    (local.SOURCE, local.find),
    (ollama.SOURCE, ollama.find),
    (huggingface.SOURCE, huggingface.find),
    (lmstudio.SOURCE, lmstudio.find),
    (packages.SOURCE, packages.find),
)


def find_models(problems: list[str] | None = None) -> list[FoundModel]:
    """Every GGUF model found on this machine, without loading one or using the network.

    A missing folder has no models. A store, manifest or file that cannot be read is left out
    and, when `problems` is a list, described there in one line (duplicates dropped). The same
    file found twice with the same settings is one model (the first one's name, the other's
    names added to other_names)."""
    lines: list[str] = []
    found: list[FoundModel] = []
    for source, finder in SOURCES:
        try:
            found += finder(lines)
        except Exception as exc:  # a store laid out in a way nobody foresaw must not stop the others
            lines.append(f"{source}: left out ({type(exc).__name__}: {exc})")
    if problems is not None:
        problems += [line for i, line in enumerate(lines) if line not in lines[:i]]
    return _merge(found)


def _merge(models: list[FoundModel]) -> list[FoundModel]:
    out: list[FoundModel] = []
    index: dict[tuple, int] = {}
    for m in models:
        key = (identity(m.path), _settings(m))
        if key not in index:
            index[key] = len(out)
            out.append(m)
            continue
        first = out[index[key]]
        names = tuple(n for n in (*first.other_names, *m.names) if n.lower() != first.name.lower())
        out[index[key]] = replace(first, other_names=tuple(dict.fromkeys(names)))
    return out


def _settings(m: FoundModel) -> str:
    return repr((sorted(m.sampling.items()), sorted(m.options.items()), m.system))


def lookup(name: str, models: list[FoundModel] | None = None) -> FoundModel | None:
    """The model called `name` (its name or one of its other names, in any case), or None.

    A name that fits two different files is an error naming each candidate by a name that fits
    it alone. `models` is find_models() unless given."""
    key = name.strip().lower()
    if not key:
        return None
    models = find_models() if models is None else models
    hits = [m for m in models if key in (n.lower() for n in m.names)]
    if not hits:
        return None
    files = list(dict.fromkeys(identity(m.path) for m in hits))
    if len(files) == 1:
        return hits[0]
    firsts = [next(m for m in hits if identity(m.path) == f) for f in files]
    choices = "; ".join(f"{_unique_name(m, models)!r} ({m.source}: {m.where})" for m in firsts)
    raise GenlabError(f"{name!r} fits {len(firsts)} different models: {choices}; use one of those names")


def _unique_name(model: FoundModel, models: list[FoundModel]) -> str:
    """The shortest name of `model` that fits no other file, else its path as a llama: name."""
    own = identity(model.path)
    for n in sorted(model.names, key=len):
        if all(identity(m.path) == own for m in models if n.lower() in (x.lower() for x in m.names)):
            return n
    return f"llama:{model.path}"
