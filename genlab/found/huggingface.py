"""GGUF files in the Hugging Face cache (what `hf download`, `hf_hub_download`,
llama-cpp-python's `Llama.from_pretrained` and genlab's own `hf:` names leave behind).

Where the cache is, as huggingface_hub's constants.py decides it:
$HF_HUB_CACHE, else $HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub, else
$XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub (~ and $VARS expanded).

Its layout (file_download.py `repo_folder_name`, `_create_symlink`, `try_to_load_from_cache`):

    models--OWNER--REPO/
      blobs/HASH                   the files' contents (HASH.incomplete while downloading)
      refs/main                    the commit that the branch main pointed to
      snapshots/COMMIT/PATH        links into ../../blobs (real files where links are impossible)

A snapshot link is made only once its blob is complete, so what the snapshots hold is what was
downloaded whole. A file is taken from the snapshot refs/main names, else from the newest
snapshot that has it. Name: the file's stem in lower case; other names "OWNER/REPO/PATH" (the
`hf:` form without its prefix) and the file name.
"""

from __future__ import annotations

import os
from pathlib import Path

from genlab.found.model import FoundModel, entries, expand, gguf_model, home, is_dir, read_small

SOURCE = "huggingface"
PREFIX = "models--"


def cache_dir(problems: list[str]) -> Path | None:
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        value = os.environ.get(var)
        if value:
            return expand(os.path.expandvars(value), f"{SOURCE}: ${var}", problems)
    value = os.environ.get("HF_HOME")
    if value:
        base = expand(os.path.expandvars(value), f"{SOURCE}: $HF_HOME", problems)
        return base / "hub" if base else None
    value = os.environ.get("XDG_CACHE_HOME")
    if value:
        base = expand(os.path.expandvars(value), f"{SOURCE}: $XDG_CACHE_HOME", problems)
        return base / "huggingface" / "hub" if base else None
    user = home()
    return user / ".cache" / "huggingface" / "hub" if user else None


def find(problems: list[str]) -> list[FoundModel]:
    root = cache_dir(problems)
    if root is None:
        return []
    out = []
    for repo in entries(root, problems, SOURCE):
        if repo.name.startswith(PREFIX) and is_dir(repo):
            out += _repo(Path(repo.path), "/".join(repo.name[len(PREFIX):].split("--")), problems)
    return out


def _repo(folder: Path, repo_id: str, problems: list[str]) -> list[FoundModel]:
    snapshots = {e.name: Path(e.path) for e in entries(folder / "snapshots", problems, SOURCE) if is_dir(e)}
    if not snapshots:
        return []
    main = None
    if (folder / "refs" / "main").is_file():
        raw = read_small(folder / "refs" / "main", SOURCE, problems, limit=4096)
        main = raw.decode("utf-8", "replace").strip() if raw is not None else None
    order = sorted(snapshots, key=lambda rev: (rev != main, -_mtime(snapshots[rev]), rev))
    taken: set[str] = set()
    out = []
    for rev in order:
        for rel, path in _gguf_files(snapshots[rev], problems):
            if rel in taken:
                continue
            taken.add(rel)
            found = gguf_model(path, name=path.stem.lower(), source=SOURCE, where=repo_id,
                               other_names=(f"{repo_id}/{rel}",), problems=problems,
                               what=f"{SOURCE}: {repo_id}")
            if found is not None:
                out.append(found)
    return out


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _gguf_files(folder: Path, problems: list[str], prefix: str = "") -> list[tuple[str, Path]]:
    """(path inside the repository, path) of the .gguf files of one snapshot. Links to folders
    are not followed (a snapshot's folders are real ones), so a link loop cannot trap the walk."""
    out = []
    for entry in entries(folder, problems, SOURCE):
        try:
            inner = entry.is_dir(follow_symlinks=False)
        except OSError:
            continue
        if inner:
            out += _gguf_files(Path(entry.path), problems, f"{prefix}{entry.name}/")
        elif entry.name.lower().endswith(".gguf"):
            out.append((prefix + entry.name, Path(entry.path)))
    return out
