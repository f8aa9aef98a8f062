"""Every model name a user can type right now, and where each comes from.

`genlab models list` prints this; it is also what suggestions ("did you mean ...?") and shell
completion draw on. Three places give names: model aliases (genlab.toml), genlab's own Markov
chains (./models and the user's models folder), and the models other tools put on this machine
(genlab.found: Ollama's store, the Hugging Face cache, LM Studio, pip packages, ./models/*.gguf).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from genlab.errors import GenlabError
from genlab.folders import shown


@dataclass(frozen=True)
class Entry:
    """One name: what to pass to --backend, its kind, where it was found, and what it points at."""

    name: str
    kind: str  # "llama", "openai" or "markov"
    source: str  # "alias:local", "alias:user", "chain", "ollama", "huggingface", "lmstudio", "package", "genlab"
    location: str  # a file or a server address
    size: int | None  # bytes of the file; None for a server or a missing file
    where: str = ""  # more about the source: the config file, the manifest, the package
    settings: Mapping[str, Any] = field(default_factory=dict)  # an alias of a file: its settings and sampling

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "source": self.source, "location": self.location,
                "exists": self.size is not None, "size_bytes": self.size, "where": self.where, **self.settings}


def entries(problems: list[str] | None = None) -> list[Entry]:
    """Aliases first (they win over a found model of the same name), then chains, then found
    models. A broken config file is an error (the user must fix it); an alias that cannot be
    read, or a broken store of another tool, is left out, with a line in `problems` (see
    genlab.found)."""
    from genlab.aliases import ServerAlias, list_aliases

    out: list[Entry] = []
    for a in list_aliases(problems=problems if problems is not None else []):
        if isinstance(a, ServerAlias):
            location = a.url + (f"#{a.model}" if a.model else "")
            out.append(Entry(a.name, "openai", f"alias:{a.scope}", location, None, str(a.source)))
        else:
            out.append(Entry(a.name, "llama", f"alias:{a.scope}", str(a.path), file_size(a.path), str(a.source),
                             {**a.options(), "sampling": a.sampling_json()}))
    out += chains(problems)
    out += found(problems)
    return out


def chains(problems: list[str] | None = None) -> list[Entry]:
    """genlab's Markov chains, by the name `markov:NAME` finds them under. A file whose name is
    not UTF-8 (no name to type or print) is left out, with a line in `problems`."""
    from genlab.markov.store import MODELS_DIR, SUFFIX, user_models_dir

    seen: set[str] = set()
    out: list[Entry] = []
    try:
        folders = [MODELS_DIR, user_models_dir()]
    except (GenlabError, RuntimeError):  # no home folder to find the user's one in
        folders = [MODELS_DIR]
    for folder in folders:
        try:
            files = sorted(folder.glob(f"*{SUFFIX}"))
        except OSError:
            continue
        for path in files:
            if not _printable(path.name):
                if problems is not None:
                    problems.append(f"chain: skipped {shown(path)} (name is not UTF-8)")
                continue
            if path.stem not in seen and path.is_file():
                seen.add(path.stem)
                out.append(Entry(f"markov:{path.stem}", "markov", "chain", str(path), file_size(path), str(folder)))
    return out


def found(problems: list[str] | None = None) -> list[Entry]:
    from genlab.found import find_models

    return [Entry(m.name, "llama", m.source, str(m.path), file_size(m.path), m.where) for m in find_models(problems)]


def names() -> list[str]:
    """Every name, for suggestions and completion (a broken config file gives none of its own,
    a broken alias is left out)."""
    try:
        return [e.name for e in entries()]
    except GenlabError:
        return [e.name for e in chains() + found()]


def _printable(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def file_size(path: Path) -> int | None:
    """Bytes of the file at `path`; None when there is no file there."""
    try:
        return path.stat().st_size if path.is_file() else None
    except OSError:
        return None
