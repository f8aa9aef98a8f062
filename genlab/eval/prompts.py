"""The prompts a comparison runs: a built-in set, or the user's file.

The built-in set mixes what each kind of model is good and bad at: story openers (narration),
dialogue openers (quotation marks the model must close), chat questions (sent as a chat turn)
and one list prompt that shows whether a model can keep a numbered structure going.
"""

from __future__ import annotations

import codecs
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from genlab.datafiles import load_json
from genlab.errors import GenlabError
from genlab.folders import shown

KINDS = ("story", "dialogue", "chat", "list")
MAX_PROMPT_BYTES = 4 * 2**20  # a prompt file, or a file of prompts: far more than any model's context


@dataclass(frozen=True)
class Prompt:
    id: str
    kind: str
    text: str

    @property
    def is_chat(self) -> bool:
        return self.kind == "chat"


BUILT_IN: tuple[Prompt, ...] = (
    Prompt("story-harbour", "story", "The harbour was empty when the last boat came in, and"),
    Prompt("story-letter", "story", "Nobody in the house had opened the letter, because"),
    Prompt("story-road", "story", "It had rained for three days on the road out of town."),
    Prompt("dialogue-well", "dialogue", "“Well,” said"),
    Prompt("dialogue-late", "dialogue", "“You are late again,” she said. “"),
    Prompt("dialogue-door", "dialogue", "He stopped at the door. “"),
    Prompt("chat-sea", "chat", "What do you like best about the sea?"),
    Prompt("chat-advice", "chat", "Give me one piece of advice for a long journey."),
    Prompt("list-outside", "list", "A list of reasons never to go outside:\n\n1."),
)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:32] or "prompt"


def read_prompt_file(path: Path, what: str) -> str:
    """A prompt file's text as it is ("-": stdin), UTF-8 without its BOM, at most MAX_PROMPT_BYTES:
    one error line naming the file for a missing one, a folder, bytes that are not UTF-8, or a
    file too big."""
    from genlab.corpus import read_at_most

    name = "stdin" if str(path) == "-" else shown(path)
    if str(path) == "-":
        data = sys.stdin.buffer.read(MAX_PROMPT_BYTES + 1)
    else:
        data = read_at_most(path, f"a {what}", MAX_PROMPT_BYTES, name=name)
    if len(data) > MAX_PROMPT_BYTES:
        raise GenlabError(f"{name} is bigger than the {MAX_PROMPT_BYTES // 2**20} MB genlab reads as a {what}")
    start = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[start:].decode("utf-8")
    except UnicodeDecodeError as exc:
        where = start + exc.start
        raise GenlabError(f"{name} is not UTF-8 text: invalid byte 0x{data[where]:02X} at offset {where}") from None


def load_prompts(path: str | os.PathLike[str]) -> list[Prompt]:
    """Prompts from a file.

    `.jsonl`: one object per line with "text" and optionally "id" and "kind" (story,
    dialogue, chat, list). Any other file: one prompt per line, "\\n" standing for a line
    break; a line starting with "chat:" is sent as a chat turn. Blank lines and lines
    starting with "#" are skipped.
    """
    p = Path(path)
    raw = read_prompt_file(p, "prompts file")
    prompts: list[Prompt] = []
    for n, line in enumerate(raw.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if p.suffix == ".jsonl":
            obj = load_json(line, source=f"{shown(p)}:{n}")
            if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
                raise GenlabError(f"{shown(p)}:{n}: expected a JSON object with a \"text\" field holding text")
            text = obj["text"]
            kind = obj.get("kind", "story")
            pid = obj.get("id") or _slug(text)
            if not isinstance(pid, (str, int)) or isinstance(pid, bool):
                raise GenlabError(f"{shown(p)}:{n}: \"id\" must be text")
        else:
            kind, text = "story", line.replace("\\n", "\n")
            if text.startswith("chat:"):
                kind, text = "chat", text[5:].strip()
            pid = _slug(text)
        if not isinstance(kind, str) or kind not in KINDS:
            raise GenlabError(f"{shown(p)}:{n}: unknown prompt kind {kind!r:.40} (one of {', '.join(KINDS)})")
        if not text.strip():
            raise GenlabError(f"{shown(p)}:{n}: empty prompt")
        prompts.append(Prompt(str(pid), kind, text))
    if not prompts:
        raise GenlabError(f"{shown(p)} holds no prompts")
    if len({q.id for q in prompts}) < len(prompts):  # ids key the saved samples: make them unique by position
        prompts = [Prompt(f"{q.id}-{k}", q.kind, q.text) for k, q in enumerate(prompts, start=1)]
    return prompts
