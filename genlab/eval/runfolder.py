"""The run folder of a comparison: its file names, the JSONL files samples and scores are
appended to (a line torn by a kill is cut off on reading), and run.json, which a resumed run
must match."""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path

from genlab.atomic import write_text
from genlab.datafiles import load_json
from genlab.errors import GenlabError, cannot
from genlab.folders import checked_path
from genlab.eval.plan import CompareSettings

SAMPLES, SCORES, RUN, METRICS_JSON, METRICS_CSV, PLOTS = (
    "samples.jsonl", "scores.jsonl", "run.json", "metrics.json", "metrics.csv", "plots")


def read_jsonl(path: Path) -> list[dict]:
    """The complete lines of a JSONL file; a torn last line (from a kill) is cut off."""
    if not path.is_file():
        return []
    data = path.read_bytes()
    lines, good = [], 0
    for raw in data.split(b"\n"):
        if not raw.strip():
            good += len(raw) + 1
            continue
        try:
            lines.append(json.loads(raw))
        except ValueError:
            break
        good += len(raw) + 1
    if good < len(data):
        with open(path, "r+b") as f:
            f.truncate(min(good, len(data)))
    return lines


def append_jsonl(path: Path, record: dict) -> None:
    """Add one line to a JSONL file, synced; if it cannot be written whole (a full disk), the
    file is cut back to what it held, and the error names it."""
    line = memoryview((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    except OSError as exc:
        raise cannot("write", path, exc) from None
    try:
        size = os.fstat(fd).st_size
        try:
            while line:
                line = line[os.write(fd, line):]
            os.fsync(fd)
        except OSError:
            os.ftruncate(fd, size)  # no half line
            raise
    except OSError as exc:
        raise cannot("write", path, exc) from None
    finally:
        os.close(fd)


def open_run(out: Path, s: CompareSettings) -> None:
    """Create the run folder, or check that it holds this same comparison. A folder this call
    made is removed again if run.json cannot be written in it (a read-only or full disk)."""
    checked_path(out)
    run = out / RUN
    ident = json.loads(json.dumps(s.identity()))  # as it reads back (tuples become lists)
    if run.is_file():
        saved = load_json(_read(run), source=str(run))
        if not isinstance(saved, dict) or saved.get("identity") != ident:
            raise GenlabError(f"{out} holds a different comparison (other backends, prompts or settings): "
                              "choose another -o, or remove it")
        return
    made = _make_folder(out)
    try:
        write_text(run, json.dumps({"identity": ident, "created": time.strftime("%Y-%m-%d %H:%M:%S"),
                                    "eval_text": str(s.eval_text) if s.eval_text else None,
                                    "corpus": str(s.corpus) if s.corpus else None,
                                    "orders": list(s.orders)}, indent=1, ensure_ascii=False))
    except BaseException:
        for folder in made:
            with contextlib.suppress(OSError):
                folder.rmdir()  # only if still empty
        raise


def _make_folder(out: Path) -> list[Path]:
    """mkdir -p; returns the folders it made, deepest first."""
    missing = [p for p in (out, *out.parents) if not p.exists()]
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise cannot("create the run folder", out, exc) from None
    return missing


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise cannot("read", path, exc) from None


def sample_text(record: dict) -> str:
    """What a sample's style is measured on: the prompt and its continuation (a dialogue
    opener's quotation mark belongs to the text), or a chat reply alone."""
    if record.get("kind") == "chat":
        return record["text"]
    return record["prompt"] + record["text"]
