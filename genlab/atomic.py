"""Write a file so that it is whole or absent: never half-written (Ctrl-C, kill, a full disk).

Every file genlab makes (models, GGUFs, reports, plots, config) goes through `replacing`: the
data goes to a temporary file beside the target, which then takes the target's place in one
rename, after an fsync. The new file gets the mode a plain open() would give it (the umask), or
the mode of the file it replaces; a symlinked target is written through its link.

A temporary name carries the writer's process id (".NAME.PID.RANDOM.tmp"), so the temporary
files of a process that was killed (kill -9, a power cut) are known as such and removed by the
next write beside them.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

from genlab.errors import GenlabError, cannot


@contextlib.contextmanager
def replacing(path: str | os.PathLike[str], *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside `path` to write; on success it replaces `path`, on any
    failure (KeyboardInterrupt included) it is removed. An OSError becomes one GenlabError
    naming `path`. With overwrite=False an existing `path` is an error (checked again at the end)."""
    path = Path(path)
    try:
        if path.is_symlink():
            path = path.resolve()
        if not overwrite and path.exists():
            raise GenlabError(f"{path} already exists (use --force to overwrite it)")
        path.parent.mkdir(parents=True, exist_ok=True)
        mode = _mode_for(path)
        remove_stale_temporaries(path)
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise cannot("write", path, exc) from None
    tmp = Path(name)
    try:
        yield tmp
        if not overwrite and path.exists():
            raise GenlabError(f"{path} already exists (use --force to overwrite it)")
        os.chmod(tmp, mode)
        _fsync(tmp)
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise cannot("write", path, exc) from None
        raise


def write_text(path: str | os.PathLike[str], text: str, *, overwrite: bool = True) -> None:
    """Replace `path` with `text` (UTF-8, line ends as given), synced to disk. Text that cannot be
    written as UTF-8 (a lone surrogate) is an error naming `path`, and `path` is left as it was."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise GenlabError(f"cannot write {os.fspath(path)}: the text holds {exc.object[exc.start:exc.end]!a}, "
                          "which is not valid Unicode") from None
    with replacing(path, overwrite=overwrite) as tmp, tmp.open("w", encoding="utf-8", newline="") as fh:
        fh.write(text)


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Remove the temporary files left beside `path` by writers that no longer run; return them."""
    removed = []
    prefix = f".{path.name}."
    try:
        candidates = [p for p in path.parent.iterdir() if p.name.startswith(prefix) and p.name.endswith(".tmp")]
    except OSError:
        return removed
    for candidate in candidates:
        pid = candidate.name[len(prefix):].split(".", 1)[0]
        if pid.isdigit() and not _running(int(pid)):
            try:
                candidate.unlink()
                removed.append(candidate)
            except OSError:
                pass
    return removed


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, someone else's
    return True


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _mode_for(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
