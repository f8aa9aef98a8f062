"""The prompts a comparison runs: a built-in set, or the user's file.

The built-in set mixes what each kind of model is good and bad at: story openers (narration),
dialogue openers (quotation marks the model must close), chat questions (sent as a chat turn)
and one list prompt that shows whether a model can keep a numbered structure going.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from genlab.errors import GenlabError

KINDS = ("story", "dialogue", "chat", "list")


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


def load_prompts(path: str | os.PathLike[str]) -> list[Prompt]:
    """Prompts from a file.

    `.jsonl`: one object per line with "text" and optionally "id" and "kind" (story,
    dialogue, chat, list). Any other file: one prompt per line, "\\n" standing for a line
    break; a line starting with "chat:" is sent as a chat turn. Blank lines and lines
    starting with "#" are skipped.
    """
    p = Path(path)
    try:
        raw = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GenlabError(f"prompts file not found: {p}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise GenlabError(f"cannot read prompts from {p}: {exc}") from None
    prompts: list[Prompt] = []
    for n, line in enumerate(raw.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if p.suffix == ".jsonl":
            try:
                obj = json.loads(line)
                text = obj["text"]
            except (ValueError, KeyError, TypeError):
                raise GenlabError(f"{p}:{n}: expected a JSON object with a \"text\" field") from None
            kind = obj.get("kind", "story")
            pid = obj.get("id") or _slug(text)
        else:
            kind, text = "story", line.replace("\\n", "\n")
            if text.startswith("chat:"):
                kind, text = "chat", text[5:].strip()
            pid = _slug(text)
        if kind not in KINDS:
            raise GenlabError(f"{p}:{n}: unknown prompt kind {kind!r} (one of {', '.join(KINDS)})")
        if not isinstance(text, str) or not text.strip():
            raise GenlabError(f"{p}:{n}: empty prompt")
        prompts.append(Prompt(str(pid), kind, text))
    if not prompts:
        raise GenlabError(f"{p} holds no prompts")
    ids = [q.id for q in prompts]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:  # ids key the saved samples: make them unique by position
        prompts = [Prompt(f"{q.id}-{k}", q.kind, q.text) for k, q in enumerate(prompts, start=1)]
    return prompts
