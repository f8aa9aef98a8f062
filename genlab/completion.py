"""What a shell offers at a TAB: backend names, model aliases, personas, and the files they can name.

The words come from what genlab already knows (genlab.catalog for model names, the config files
for aliases, the persona folders for personas), read the way `genlab models list` reads them:
no model is loaded and llama.cpp is not imported. Completing must never get in the way, so a
source that fails (a broken genlab.toml, an unreadable store) gives no words and prints
nothing; the others still give theirs.

    backend_words("markov:")   # [Word("markov:novel", "chain in models"), ...]
    alias_words("ll")          # [Word("llama3", "alias in /home/me/.config/genlab/genlab.toml")]
    persona_words("po")        # [Word("pogi", "Playful: ...")]
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Callable, Iterable, TypeVar

if TYPE_CHECKING:
    from pathlib import Path

    from genlab.catalog import Entry

T = TypeVar("T")

MAX_FILES = 500  # a folder of thousands of files is listed this far, so a TAB stays quick
KIND_HELP = "kind of backend: the model comes after the colon"


@dataclass(frozen=True)
class Word:
    """One completion: the text to put on the command line and a few words about it. A word
    that ends in ":" or "/" goes on (a kind prefix, a folder): the shell adds no space."""

    value: str
    help: str = ""


def backend_words(typed: str) -> list[Word]:
    """What --backend NAME can be, starting with `typed`: model names (aliases, chains, found
    models), kind prefixes (markov:, llama:, ...), after `markov:` the chains and .markov files,
    after `llama:` .gguf files, after `ollama:` the models in Ollama's store; a path of a
    .gguf or .markov file when `typed` looks like one or nothing else fits."""
    kinds = _kind_prefixes()
    prefix, sep, rest = typed.partition(":")
    if sep and prefix in kinds:
        return _after_prefix(prefix, rest)
    words = [Word(e.name, _about(e)) for e in _quietly(_catalog, []) if e.name.startswith(typed)]
    words += [Word(f"{p}:", KIND_HELP) for p in kinds if f"{p}:".startswith(typed)]
    if not words or _looks_like_path(typed):
        words += path_words(typed, lambda name: name.lower().endswith((".gguf", ".markov")))
    return _unique(words)


def _after_prefix(prefix: str, rest: str) -> list[Word]:
    typed = f"{prefix}:{rest}"
    words: list[Word] = []
    if prefix == "markov":
        from genlab.catalog import chains

        words = [Word(e.name, f"chain in {e.where}") for e in _quietly(chains, []) if e.name.startswith(typed)]
    elif prefix == "ollama":
        words = [Word(f"ollama:{e.name}", "in Ollama's store") for e in _quietly(_catalog, [])
                 if e.source == "ollama" and f"ollama:{e.name}".startswith(typed)]
    suffix = {"markov": ".markov", "llama": ".gguf"}.get(prefix)
    if suffix and (not words or _looks_like_path(rest)):
        words += path_words(rest, lambda name: name.lower().endswith(suffix), prefix=f"{prefix}:")
    return _unique(words)


def gguf_words(typed: str) -> list[Word]:
    """What `genlab models show` reads, starting with `typed`: the names of GGUF models and
    server models (aliases, found models; not chains), the kind prefixes llama: and hf:, after
    `llama:` .gguf files, and .gguf paths when `typed` looks like one or no name fits."""
    prefix, sep, rest = typed.partition(":")
    if sep and prefix == "llama":
        return _after_prefix(prefix, rest)
    words = [Word(e.name, _about(e)) for e in _quietly(_catalog, [])
             if e.kind != "markov" and e.name.startswith(typed)]
    words += [Word(f"{p}:", KIND_HELP) for p in ("llama", "hf") if f"{p}:".startswith(typed)]
    if not words or _looks_like_path(typed):
        words += path_words(typed, lambda name: name.lower().endswith(".gguf"))
    return _unique(words)


def alias_words(typed: str, scope: str | None = None) -> list[Word]:
    """The aliases `genlab models remove` can delete, starting with `typed`: those of ./genlab.toml
    and of the user file (with `scope`, of that file only). Each file is read on its own and an
    alias's settings are not checked, so a broken alias can still be named, and a file that is
    not TOML hides only its own aliases."""
    from genlab import aliases, tomledit

    def names_in(path: Path) -> list[str]:
        table = tomledit.load(path)[1].get("models", {})
        return [str(name) for name in table] if isinstance(table, dict) else []

    words: list[Word] = []
    for where, path in _quietly(aliases.config_files, []):
        if scope is None or where == scope:
            names = _quietly(partial(names_in, path), [])
            words += [Word(name, f"alias in {path}") for name in names if name.startswith(typed)]
    return _unique(words)


def persona_words(typed: str) -> list[Word]:
    """What --persona can be, starting with `typed`: the built-in personas and the user's,
    then persona files (.toml, .json, Modelfile, NAME.Modelfile) when `typed` looks like a
    path or no name fits."""
    from genlab.chat.persona import list_personas

    words = [Word(p["name"], p.get("description", "")) for p in _quietly(list_personas, [])
             if p["name"].startswith(typed)]
    if not words or _looks_like_path(typed):
        words += path_words(typed, is_persona_file)
    return _unique(words)


def is_persona_file(name: str) -> bool:
    """A file name --persona reads: TOML, a Character Card (.json), an Ollama Modelfile."""
    from genlab.chat.modelfile import is_modelfile_name
    from genlab.chat.persona import SUFFIXES

    return name.lower().endswith(tuple(s.lower() for s in SUFFIXES)) or is_modelfile_name(name)


def path_words(typed: str, wanted: Callable[[str], bool], prefix: str = "") -> list[Word]:
    """Folders (ending in "/") and the `wanted` files whose path starts with `typed`, spelled
    as typed (a leading ~ stays), each after `prefix`. Hidden ones only when `typed` names
    them; a folder that cannot be read has none."""
    cut = typed.rfind("/") + 1
    folder, start = typed[:cut], typed[cut:]
    words: list[Word] = []
    for name, is_dir in _quietly(lambda: _listing(folder, start), []):
        if is_dir:
            words.append(Word(f"{prefix}{folder}{name}/"))
        elif wanted(name):
            words.append(Word(f"{prefix}{folder}{name}"))
    return words


def _listing(folder: str, start: str) -> list[tuple[str, bool]]:
    """(name, is a folder) of the entries of `folder` (as typed) whose names start with `start`."""
    from genlab.folders import expand_user

    found: list[tuple[str, bool]] = []
    with os.scandir(expand_user(folder) if folder else ".") as it:
        for entry in it:
            name = entry.name
            # hidden names only when asked for; a name that is not printable text is never offered
            if not name.startswith(start) or (name.startswith(".") and not start.startswith(".")) \
                    or not name.isprintable():
                continue
            try:
                found.append((name, entry.is_dir()))
            except OSError:
                continue
            if len(found) == MAX_FILES:
                break
    return sorted(found)


def _catalog() -> list[Entry]:
    """Every named model; a broken genlab.toml gives no aliases, the rest still comes."""
    from genlab import catalog
    from genlab.errors import GenlabError

    try:
        return catalog.entries()
    except GenlabError:
        return catalog.chains() + catalog.found()


def _about(entry: Entry) -> str:
    if entry.source.startswith("alias"):
        return f"alias in {entry.where}"
    return "Markov chain" if entry.source == "chain" else f"found: {entry.source}"


def _kind_prefixes() -> list[str]:
    """The built-in kinds and those of installed plugins, by name only: importing a kind's
    package (llama.cpp's among them) is not needed to name it."""
    from genlab.backends import BUILT_IN, ENTRY_POINT_GROUP

    def plugins() -> list[str]:
        from importlib.metadata import entry_points

        return [ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)]

    return list(dict.fromkeys([*BUILT_IN, *_quietly(plugins, [])]))


def _looks_like_path(typed: str) -> bool:
    return typed.startswith((".", "/", "~")) or "/" in typed


def _unique(words: Iterable[Word]) -> list[Word]:
    """Each value once, the first one's help kept."""
    out: dict[str, Word] = {}
    for w in words:
        out.setdefault(w.value, w)
    return list(out.values())


def _quietly(source: Callable[[], T], fallback: T) -> T:
    """source(), or `fallback` when it fails; whatever it prints or warns goes nowhere, since the
    shell would show it in the middle of the line being typed."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        try:
            return source()
        except Exception:
            return fallback
