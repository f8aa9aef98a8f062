"""The `genlab` group's table of commands, each imported only when it runs or when help lists it.

A command is written as "module:attribute", so `genlab --version` imports no command and
`genlab generate` imports one. The commands of a backend kind (Kind.commands: train-markov
belongs to the markov kind) come through the backend table, asked only for a name that
genlab's own table lacks.
"""

from __future__ import annotations

import importlib
from typing import Callable, Iterator, Mapping, MutableMapping

import click


class LazyCommands(MutableMapping[str, click.Command]):
    """{name: command} that imports a command the first time it is looked up. `more` gives
    further names, asked once and only when needed; a name in `paths` wins over them."""

    def __init__(self, paths: Mapping[str, str], more: Callable[[], Mapping[str, str]] = dict):
        self._paths = dict(paths)
        self._more = more
        self._more_paths: dict[str, str] | None = None
        self._loaded: dict[str, click.Command] = {}

    def _all_paths(self) -> dict[str, str]:
        if self._more_paths is None:
            self._more_paths = {k: v for k, v in self._more().items() if k not in self._paths}
        return {**self._more_paths, **self._paths}

    def _path(self, name: str) -> str | None:
        return self._paths.get(name) or self._all_paths().get(name)

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._loaded:
            path = None if not isinstance(name, str) else self._path(name)
            if path is None:
                raise KeyError(name)
            module, _, attr = path.partition(":")
            self._loaded[name] = getattr(importlib.import_module(module), attr)
        return self._loaded[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        if name not in self:
            raise KeyError(name)
        self._loaded.pop(name, None)
        self._paths.pop(name, None)
        if self._more_paths is not None:
            self._more_paths.pop(name, None)

    def __contains__(self, name: object) -> bool:
        return name in self._loaded or (isinstance(name, str) and self._path(name) is not None)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted({*self._all_paths(), *self._loaded}))

    def __len__(self) -> int:
        return len({*self._all_paths(), *self._loaded})


def kind_commands() -> dict[str, str]:
    """The commands every backend kind adds (the first kind to name a command keeps it)."""
    from genlab.backends import kinds

    out: dict[str, str] = {}
    for kind in kinds().values():
        for name, path in kind.commands.items():
            out.setdefault(name, path)
    return out
