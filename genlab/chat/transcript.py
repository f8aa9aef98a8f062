"""A chat on disk: the JSONL transcript written as it happens, and /save's JSON file.

Every change to a chat is one line appended to its transcript and flushed at once, so a crash
or a closed terminal loses nothing. `read_state` gives the chat a file describes, from /save's
JSON or by replaying a transcript's lines; `resume` and `/load` start from it.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

from genlab.errors import GenlabError, cannot
from genlab.generator import Message

FORMAT = "genlab-chat"
VERSION = 1


class Transcript:
    """Appends one JSON line per change to a chat and flushes it at once."""

    def __init__(self, path: Path):
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(path, "a", encoding="utf-8")
        except OSError as exc:
            raise cannot("write the chat transcript", path, exc) from None

    @classmethod
    def new(cls, folder: Path, label: str) -> "Transcript":
        """A new transcript in `folder`, named by the time and `label` (the persona)."""
        stamp = datetime.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
        safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in label)[:40] or "chat"
        path, n = folder / f"{stamp}_{safe}.jsonl", 1
        while path.exists():
            n += 1
            path = folder / f"{stamp}_{safe}-{n}.jsonl"
        return cls(path)

    @staticmethod
    def latest(folder: Path) -> Path:
        """The transcript written last in `folder`."""
        files = sorted(folder.glob("*.jsonl"), key=lambda p: p.stat().st_mtime) if folder.is_dir() else []
        if not files:
            raise GenlabError(f"no chat to resume (transcripts are kept in {folder})")
        return files[-1]

    def write(self, op: str, **data: Any) -> None:
        entry = {"op": op, "time": datetime.datetime.now().isoformat(timespec="seconds"), **data}
        self._fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


def read_state(path: Path) -> dict[str, Any]:
    """A chat's state from a /save JSON file, or by replaying a JSONL transcript."""
    from genlab.corpus import open_for_reading

    with open_for_reading(path, "a saved chat") as fh:
        data = fh.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GenlabError(f"cannot read {path}: {exc}") from None
    try:
        state = json.loads(text)
    except json.JSONDecodeError:
        return _replay(text, path)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise GenlabError(f"{path} is not a genlab chat (saved with /save or a transcript)")
    return state


def _replay(text: str, path: Path) -> dict[str, Any]:
    state: dict[str, Any] | None = None
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            op = entry.pop("op")
        except (json.JSONDecodeError, KeyError, AttributeError, TypeError):
            raise GenlabError(f"{path}: line {n} is not a genlab chat record (not JSON)") from None
        entry.pop("time", None)
        if op in ("start", "reset", "load", "resume"):
            state = entry
        elif state is None:
            raise GenlabError(f"{path} is not a genlab chat transcript (it does not start with a session)")
        elif op == "message":
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
    if state is None:
        raise GenlabError(f"{path} is empty: not a genlab chat")
    return state


def checked_history(messages: Any, where: str) -> list[Message]:
    """A saved chat's messages, checked: user and assistant turns with text."""
    if not isinstance(messages, list):
        raise GenlabError(f"{where}: messages must be a list")
    out: list[Message] = []
    for i, m in enumerate(messages, 1):
        if not (isinstance(m, dict) and m.get("role") in ("user", "assistant") and isinstance(m.get("content"), str)):
            raise GenlabError(f"{where}: message {i} must have a role (user or assistant) and a text content")
        out.append({"role": m["role"], "content": m["content"]})
    return out
