"""What a found model is, and the small file checks every source shares.

Every check here is made to fail quietly: a source calls them on files other programs wrote,
so a missing, unreadable, oversized or foreign file becomes a line in `problems` (a list the
caller passes in) and the model is left out; nothing here raises on a bad file.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

GGUF_MAGIC = b"GGUF"
SMALL = 1 << 20  # manifests, parameter and settings files larger than this are refused unread
# llama.cpp names the parts of a split model PREFIX-00001-of-00003.gguf (llama_split_path)
_SPLIT = re.compile(r"(?P<prefix>.+)-(?P<part>\d{5})-of-(?P<count>\d{5})\.gguf\Z", re.IGNORECASE)


@dataclass(frozen=True)
class FoundModel:
    """A GGUF model another tool (or genlab itself) put on this machine.

    name: the short name users type ("llama3", "llama3:8b", "smollm2"). path: the GGUF file to
    load (for Ollama, the model blob). source: "ollama", "huggingface", "lmstudio", "package" or
    "genlab". where: where it came from, for a human (the manifest file, "OWNER/REPO", the
    package and its version). other_names: further names that find it (matched, like `name`,
    without regard to case). sampling: default sampling (genlab Sampling field names); options:
    llama settings (n_ctx); system: a system prompt the source ships (shown, not applied);
    notes: what genlab leaves out of the source's settings.
    """

    name: str
    path: Path
    source: str
    where: str
    other_names: tuple[str, ...] = ()
    sampling: Mapping[str, Any] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    system: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        """The name, then every other name, without repeats (compared without case)."""
        seen: set[str] = set()
        out = []
        for n in (self.name, *self.other_names):
            if n and n.lower() not in seen:
                seen.add(n.lower())
                out.append(n)
        return tuple(out)


# --- text and paths --------------------------------------------------------------------------


def shown(text: str) -> str:
    """`text` made safe to print: a name that is not UTF-8 shows replacement characters."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def text_ok(text: str) -> bool:
    """True when a file name is proper UTF-8 text (os.scandir hands undecodable bytes back as
    lone surrogates, which cannot be typed, printed or matched)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def home() -> Path | None:
    """The user's home folder, or None when it cannot be known (no $HOME, no password entry)."""
    expanded = os.path.expanduser("~")
    return None if expanded.startswith("~") else Path(expanded)


def expand(value: str, what: str, problems: list[str]) -> Path | None:
    """A folder named by a setting ($VAR or a settings file): ~ expanded. A ~user that cannot be
    expanded is a problem, not a relative folder called "~user"."""
    expanded = os.path.expanduser(value)
    if expanded.startswith("~"):
        problems.append(f"{what}: cannot expand {shown(value)!r} (no such user or no home folder)")
        return None
    return Path(expanded)


def entries(folder: Path, problems: list[str], what: str) -> list[os.DirEntry[str]]:
    """The entries of a folder, sorted by name; hidden names and names that are not UTF-8 are
    left out. A missing folder has no entries; an unreadable one is a problem."""
    try:
        with os.scandir(folder) as it:
            found = list(it)
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:
        problems.append(f"{what}: cannot read {shown(str(folder))} ({exc.strerror or exc})")
        return []
    out = []
    for entry in found:
        if entry.name.startswith("."):
            continue
        if not text_ok(entry.name):
            problems.append(f"{what}: skipped {shown(os.path.join(folder, entry.name))} (name is not UTF-8)")
            continue
        out.append(entry)
    return sorted(out, key=lambda e: e.name)


def is_dir(entry: os.DirEntry[str]) -> bool:
    """A folder, or a link to one (a link loop or a dangling link is not a folder)."""
    try:
        return entry.is_dir()
    except OSError:
        return False


def files_at_depth(folder: Path, depth: int, problems: list[str], what: str) -> Iterator[tuple[tuple[str, ...], Path]]:
    """(path parts below `folder`, path) of every .gguf file exactly `depth` levels down.

    Links to folders are followed (LM Studio users link publisher folders in); the depth is
    fixed, so a link loop ends at the bottom level instead of running forever."""
    for entry in entries(folder, problems, what):
        if depth > 1:
            if is_dir(entry):
                for parts, path in files_at_depth(Path(entry.path), depth - 1, problems, what):
                    yield (entry.name, *parts), path
        elif entry.name.lower().endswith(".gguf") and not is_dir(entry):
            yield (entry.name,), Path(entry.path)


def _read_start(path: Path, count: int, what: str, problems: list[str], limit: int | None = None) -> bytes | None:
    """The first `count` bytes of a file; None (with a problem) when it is missing, a folder, not a
    regular file, unreadable, or larger than `limit` (all checked before anything is read)."""
    try:
        st = os.stat(path)
        if stat.S_ISDIR(st.st_mode):
            problems.append(f"{what}: {shown(str(path))} is a folder, not a file")
        elif not stat.S_ISREG(st.st_mode):  # a pipe or a device would block or never end
            problems.append(f"{what}: {shown(str(path))} is not a regular file")
        elif limit is not None and st.st_size > limit:
            problems.append(f"{what}: {shown(str(path))} is {st.st_size} bytes, larger than {limit}: not read")
        else:
            with open(path, "rb") as fh:
                return fh.read(count)
    except FileNotFoundError:
        problems.append(f"{what}: {shown(str(path))} is missing (a broken link or a deleted file)")
    except OSError as exc:
        problems.append(f"{what}: cannot read {shown(str(path))} ({exc.strerror or exc})")
    return None


def read_small(path: Path, what: str, problems: list[str], limit: int = SMALL) -> bytes | None:
    """The bytes of a small file, or None (with a problem); a file over `limit` is not read."""
    data = _read_start(path, limit + 1, what, problems, limit)
    if data is not None and len(data) > limit:  # it grew while we looked
        problems.append(f"{what}: {shown(str(path))} is larger than {limit} bytes: not read")
        return None
    return data


def check_gguf(path: Path, what: str, problems: list[str]) -> bool:
    """True when `path` is a readable file that starts with the GGUF magic (only 4 bytes are
    read); otherwise a problem says why it is left out."""
    magic = _read_start(path, 4, what, problems)
    if magic is not None and magic != GGUF_MAGIC:
        problems.append(f"{what}: {shown(str(path))} is not a GGUF file")
    return magic == GGUF_MAGIC


def identity(path: Path) -> tuple[int, int] | str:
    """What makes two paths the same file: device and inode (links and hard links agree),
    else the resolved path."""
    try:
        st = os.stat(path)
        return st.st_dev, st.st_ino
    except OSError:
        return os.path.realpath(path)


# --- one GGUF file as a model ----------------------------------------------------------------


def gguf_model(path: Path, *, name: str, source: str, where: str, other_names: tuple[str, ...] = (),
               problems: list[str], what: str) -> FoundModel | None:
    """A FoundModel for a .gguf file, or None when it is not a model to offer.

    A vision projector (mmproj-*.gguf) is no language model: left out. Of a split model
    (PREFIX-00001-of-00003.gguf) only the first part is offered, under the prefix, and only when
    every part is there; llama.cpp loads the other parts itself."""
    file = path.name
    if file.lower().startswith("mmproj"):
        return None
    split = _SPLIT.match(file)
    if split:
        part, count = int(split["part"]), int(split["count"])
        if part != 1:
            return None
        missing = [f"{split['prefix']}-{i:05d}-of-{split['count']}.gguf" for i in range(2, count + 1)]
        missing = [m for m in missing if not os.path.exists(path.with_name(m))]
        if missing:
            problems.append(f"{what}: {shown(str(path))} is part 1 of {count} and {len(missing)} part(s) are "
                            f"missing (first: {missing[0]})")
            return None
        other_names = (*other_names, path.stem)
        if name.lower() == path.stem.lower():
            name = split["prefix"].lower() if name == path.stem.lower() else split["prefix"]
    if not check_gguf(path, what, problems):
        return None
    return FoundModel(name=name, path=path, source=source, where=where,
                      other_names=tuple(n for n in (*other_names, file) if n.lower() != name.lower()))
