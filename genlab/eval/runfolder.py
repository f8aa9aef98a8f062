"""The run folder of a comparison: its file names, the JSONL files samples and scores are
appended to (a line torn by a kill is cut off on reading), and run.json, which a resumed run
must match."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from genlab.atomic import write_text
from genlab.errors import GenlabError
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
    line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
    with open(path, "ab") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())


def open_run(out: Path, s: CompareSettings) -> None:
    """Create the run folder, or check that it holds this same comparison."""
    out.mkdir(parents=True, exist_ok=True)
    run = out / RUN
    ident = json.loads(json.dumps(s.identity()))  # as it reads back (tuples become lists)
    if run.is_file():
        try:
            saved = json.loads(run.read_text(encoding="utf-8"))
        except ValueError:
            raise GenlabError(f"{run} is damaged: remove the folder or choose another -o") from None
        if saved.get("identity") != ident:
            raise GenlabError(f"{out} holds a different comparison (other backends, prompts or settings): "
                              "choose another -o, or remove it")
        return
    write_text(run, json.dumps({"identity": ident, "created": time.strftime("%Y-%m-%d %H:%M:%S"),
                                "eval_text": str(s.eval_text) if s.eval_text else None,
                                "corpus": str(s.corpus) if s.corpus else None,
                                "orders": list(s.orders)}, indent=1, ensure_ascii=False))


def sample_text(record: dict) -> str:
    """What a sample's style is measured on: the prompt and its continuation (a dialogue
    opener's quotation mark belongs to the text), or a chat reply alone."""
    if record.get("kind") == "chat":
        return record["text"]
    return record["prompt"] + record["text"]
