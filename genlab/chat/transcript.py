"""A chat on disk: the JSONL transcript written as it happens, and /save's JSON file.

Every change to a chat is one line appended to its transcript at once, so a crash or a closed
terminal loses nothing. One process at a time appends to a transcript: it holds an flock on the
file while the chat runs, and a second `chat --resume` of the same chat goes on in a new
transcript of its own (`Transcript.continuing`). A transcript that cannot be written (a full
disk, a read-only folder) is given up with one warning and the chat goes on unsaved: a line
that failed is taken back and an empty file is removed, so the file holds whole lines only.

`read_state` gives the chat a file describes, from /save's JSON or by replaying a transcript's
lines; `resume` and `/load` start from it. A last line cut short (a crash while it was written)
is skipped with a note; any other damaged line is an error naming the file and the line.
"""

from __future__ import annotations

import datetime
import errno
import fcntl
import json
import os
import re
from pathlib import Path
from typing import Any

from genlab.chat.valid import valid_text
from genlab.datafiles import load_json
from genlab.errors import GenlabError, cannot
from genlab.generator import Message

FORMAT = "genlab-chat"
VERSION = 1
MAX_BYTES = 32 * 2**20  # no chat is this long; a bigger "chat" is not read into memory
_STAMPED = re.compile(r"^\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d_(?P<label>.+?)(?:-\d+)?$")


class TranscriptBusy(GenlabError):
    """Another process is writing this transcript."""


class Transcript:
    """Appends one JSON line per change to a chat, holding the file's lock while it is open.

    An existing file is opened (and locked) at once, so nothing is appended between reading it
    and writing to it; a new one is made at the first write, so a chat that never starts leaves
    no file. `notes` collects what the chat should tell the user (a line left out, a new file);
    `lost` says why the transcript is no longer written, or is None.
    """

    def __init__(self, path: str | os.PathLike[str], *, _exclusive: bool = False):
        self.path = Path(path)
        self.notes: list[str] = []
        self.lost: str | None = None
        self._fd: int | None = None
        self._created = False  # made by this process: removed again if nothing could be written
        self._exclusive = _exclusive  # a name chosen for a new chat: never someone else's file
        if self.path.exists():
            self._open_existing()

    @classmethod
    def new(cls, folder: Path, label: str) -> "Transcript":
        """A new transcript in `folder`, named by the time and `label` (the persona)."""
        return cls(_free_name(folder, label), _exclusive=True)

    @classmethod
    def continuing(cls, path: Path) -> "Transcript":
        """`path` to append to; when another chat holds it, a new transcript beside it (with a note)."""
        try:
            return cls(path)
        except TranscriptBusy:
            m = _STAMPED.match(path.stem)
            fork = cls.new(path.parent, m.group("label") if m else path.stem)
            fork.notes.append(f"({path.name} is open in another genlab chat: this chat goes on in a new "
                              f"transcript, {fork.path.name})")
            return fork

    @staticmethod
    def latest(folder: Path) -> Path:
        """The transcript written last in `folder`."""
        try:
            files = sorted(folder.glob("*.jsonl"), key=lambda p: p.stat().st_mtime) if folder.is_dir() else []
        except OSError as exc:
            raise cannot("read the chat folder", folder, exc) from None
        if not files:
            raise GenlabError(f"no chat to resume (transcripts are kept in {folder})")
        return files[-1]

    # --- opening ----------------------------------------------------------------------------------

    def _open_existing(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CLOEXEC)
            self._lock(fd)
            self._fd = fd
            self._mend_tail(fd)
        except OSError as exc:
            self._give_up(exc)

    def _create(self) -> None:
        while True:
            flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | (os.O_EXCL if self._exclusive else 0)
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                existed = not self._exclusive and self.path.exists()
                fd = os.open(self.path, flags, 0o666)
            except FileExistsError:  # another chat took this name a moment ago
                self.path = _free_name(self.path.parent, self.path.stem)
                continue
            self._lock(fd)
            self._fd, self._created = fd, not existed
            return

    def _lock(self, fd: int) -> None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise TranscriptBusy(f"{self.path} is open in another genlab chat") from None
            raise

    def _mend_tail(self, fd: int) -> None:
        """A last line without its newline is a write cut short: take it back (or end it, when it
        is a whole record), so what follows starts on a line of its own."""
        size = os.fstat(fd).st_size
        if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
            return
        start, tail = _tail_line(fd, size)
        try:
            load_json(tail, source=str(self.path))
        except GenlabError:
            os.ftruncate(fd, start)
            self.notes.append(_torn_note(self.path, _lines_before(fd, start)))
            return
        os.write(fd, b"\n")

    # --- writing ----------------------------------------------------------------------------------

    def write(self, op: str, **data: Any) -> None:
        """Append one record. A failure gives up the transcript (`lost` says why); it never raises."""
        if self.lost is not None:
            return
        entry = {"op": op, "time": datetime.datetime.now().isoformat(timespec="seconds"), **data}
        line = valid_text(json.dumps(entry, ensure_ascii=False)) + "\n"  # valid UTF-8, whatever came in
        size = None
        try:
            if self._fd is None:
                self._create()
            size = os.fstat(self._fd).st_size
            data_bytes = line.encode("utf-8")
            written = 0
            while written < len(data_bytes):
                written += os.write(self._fd, data_bytes[written:])
        except TranscriptBusy as exc:  # a file of that name, made and locked by another chat
            self.lost = str(exc)
        except OSError as exc:
            self._take_back(size)
            self._give_up(exc)

    def _take_back(self, size: int | None) -> None:
        """Remove a line that was only partly written; remove the file if this chat made it empty."""
        if self._fd is None or size is None:
            return
        try:
            os.ftruncate(self._fd, size)
            if self._created and size == 0:
                self.path.unlink(missing_ok=True)
        except OSError:
            pass

    def _give_up(self, exc: OSError) -> None:
        self.lost = str(cannot("write the chat transcript", self.path, exc))
        self.close()

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


def _free_name(folder: Path, label: str) -> Path:
    stamp = datetime.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    m = _STAMPED.match(label)
    label = m.group("label") if m else label
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in label)[:40] or "chat"
    path, n = folder / f"{stamp}_{safe}.jsonl", 1
    while path.exists():
        n += 1
        path = folder / f"{stamp}_{safe}-{n}.jsonl"
    return path


def _tail_line(fd: int, size: int) -> tuple[int, bytes]:
    """(offset, bytes) of the last line of a file that does not end with a newline."""
    end, chunk = size, 65536
    while end > 0:
        start = max(0, end - chunk)
        newline = os.pread(fd, end - start, start).rfind(b"\n")
        if newline >= 0:
            start += newline + 1
            break
        end = start
    else:
        start = 0
    return start, os.pread(fd, size - start, start)


def _lines_before(fd: int, offset: int) -> int:
    count, at = 0, 0
    while at < offset:
        block = os.pread(fd, min(1 << 20, offset - at), at)
        count += block.count(b"\n")
        at += len(block)
    return count + 1


def _torn_note(path: Path, line: int) -> str:
    return f"({path}: line {line}, the last, was cut short (a crash while it was written?) and is left out)"


# --- reading ----------------------------------------------------------------------------------------


def read_state(path: Path, notes: list[str] | None = None) -> dict[str, Any]:
    """A chat's state from a /save JSON file, or by replaying a JSONL transcript. What the user
    should be told (a skipped last line) is added to `notes`."""
    from genlab.corpus import read_at_most

    data = read_at_most(path, "a saved chat", MAX_BYTES)
    if len(data) > MAX_BYTES:
        raise GenlabError(f"{path} is over {MAX_BYTES // 2**20} MiB: too big to be a chat")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GenlabError(f"cannot read {path}: it is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if _is_transcript(text):
        return _replay(text, path, [] if notes is None else notes)
    state = load_json(text, source=str(path))
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise GenlabError(f"{path} is not a genlab chat (saved with /save or a transcript)")
    return state


def _is_transcript(text: str) -> bool:
    """A transcript's first line is a whole record; /save's JSON starts with a lone "{"."""
    first = text.lstrip().split("\n", 1)[0]
    try:
        record = json.loads(first)
    except (ValueError, RecursionError):
        return False
    return isinstance(record, dict) and "op" in record


def _replay(text: str, path: Path, notes: list[str]) -> dict[str, Any]:
    state: dict[str, Any] | None = None
    lines = text.split("\n")  # a last element that is not "" is a line without its newline
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = load_json(line, source=f"{path}, line {n}")
        except GenlabError:
            if n == len(lines):  # cut short: every record is written with its newline
                notes.append(_torn_note(path, n))
                break
            raise
        try:
            state = _apply(state, entry, path, n)
        except (KeyError, TypeError, AttributeError, IndexError):
            raise GenlabError(f"{path}: line {n} is not a genlab chat record") from None
    if state is None:
        raise GenlabError(f"{path} is empty: not a genlab chat")
    return state


def _apply(state: dict[str, Any] | None, entry: Any, path: Path, n: int) -> dict[str, Any] | None:
    op = entry.pop("op")
    entry.pop("time", None)
    if op in ("start", "reset", "load", "resume"):
        if not isinstance(entry.get("messages"), list):
            raise GenlabError(f"{path}: line {n} starts a chat without its messages")
        return entry
    if state is None:
        raise GenlabError(f"{path} is not a genlab chat transcript (it does not start with a session)")
    if op == "message":
        state["messages"].append(entry)
    elif op == "extend":
        state["messages"][-1]["content"] += entry["content"]
    elif op == "drop":
        del state["messages"][len(state["messages"]) - entry["count"]:]
        state["window"] = min(state.get("window", 0), len(state["messages"]))
    elif op == "settings":
        state["sampling"] = entry["sampling"]
    elif op == "system":
        state["system"] = entry["content"]
    return state


def checked_history(messages: Any, where: str) -> list[Message]:
    """A saved chat's messages, checked: user and assistant turns with text."""
    if not isinstance(messages, list):
        raise GenlabError(f"{where}: messages must be a list")
    out: list[Message] = []
    for i, m in enumerate(messages, 1):
        if not (isinstance(m, dict) and m.get("role") in ("user", "assistant") and isinstance(m.get("content"), str)):
            raise GenlabError(f"{where}: message {i} must have a role (user or assistant) and a text content")
        out.append({"role": m["role"], "content": valid_text(m["content"])})
    return out
