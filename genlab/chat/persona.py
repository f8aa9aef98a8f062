"""Personas: who the assistant is (system prompt, few-shot turns, sampling, greeting).

A persona is a small TOML file, so anyone can write one without code::

    description = "Playful: one funny sentence per reply."
    system = "You are Pogi, a playful chatbot ..."
    greeting = "hiii hooman"          # optional: the assistant speaks first
    [[examples]]                       # few-shot turns, shown to the model before the chat
    user = "hey"
    assistant = "hey 🤩😁 wut u doin? 🤔"
    [sampling]                         # over CHAT_DEFAULTS
    temperature = 0.9

Built-ins ship in genlab/chat/personas/; the user's own live in the personas folder of the
user data directory. SillyTavern Character Card V2 JSON files and Ollama Modelfiles
(genlab.chat.modelfile) are converted on load, so the personas people already keep work as
they are.
"""

from __future__ import annotations

import codecs
import re
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

from genlab.chat import modelfile
from genlab.datafiles import load_json
from genlab.errors import GenlabError
from genlab.folders import checked_path, expand_user, personas_dir, shown
from genlab.sampling import Sampling, parse_value
from genlab.text import strip_bom, valid_text
from genlab.tomledit import parse

# The original ChatBot's settings: livelier than llama-cpp-python's completion defaults.
CHAT_DEFAULTS = Sampling(temperature=1.2, top_k=40, top_p=0.95, repeat_penalty=1.1)
DEFAULT_PERSONA = "assistant"
KEYS = ("name", "description", "system", "greeting", "examples", "sampling")
SUFFIXES = (".toml", ".json", ".Modelfile")
MAX_BYTES = 2 * 2**20  # far more than any context holds: a bigger file is not a persona


@dataclass(frozen=True)
class Persona:
    name: str
    system: str = ""
    examples: tuple[tuple[str, str], ...] = ()  # (user, assistant) few-shot turns
    overrides: Mapping[str, Any] = field(default_factory=dict)  # sampling fields it sets
    greeting: str = ""
    description: str = ""
    source: str = ""  # "built-in" or the file it came from

    def sampling(self, base: Sampling = CHAT_DEFAULTS) -> Sampling:
        return base.merged(**self.overrides)

    def to_dict(self) -> dict[str, Any]:
        """The persona as TOML/JSON data (what `from_dict` and the TOML loader read)."""
        data: dict[str, Any] = {"name": self.name}
        if self.description:
            data["description"] = self.description
        data["system"] = self.system
        if self.greeting:
            data["greeting"] = self.greeting
        data["examples"] = [{"user": u, "assistant": a} for u, a in self.examples]
        data["sampling"] = {k: list(v) if isinstance(v, tuple) else v for k, v in self.overrides.items()}
        return data

    @classmethod
    def from_dict(cls, data: Any, where: str, name: str | None = None) -> "Persona":
        """Validate persona data (a TOML document, a saved chat); errors name `where`."""
        if not isinstance(data, Mapping):
            raise GenlabError(f"{where}: a persona must be a table of settings")
        unknown = sorted(set(data) - set(KEYS))
        if unknown:
            raise GenlabError(f"{where}: unknown persona key {unknown[0]!r} (known: {', '.join(KEYS)})")
        text = {k: _text(data, k, where) for k in ("name", "description", "system", "greeting")}
        examples = data.get("examples", [])
        if not isinstance(examples, list):
            raise GenlabError(f"{where}: examples must be a list of {{user = ..., assistant = ...}} tables")
        pairs = []
        for i, ex in enumerate(examples, 1):
            if not isinstance(ex, Mapping) or set(ex) != {"user", "assistant"} or not all(
                    isinstance(v, str) for v in ex.values()):
                raise GenlabError(f"{where}: example {i} must have exactly a user and an assistant text")
            pairs.append((valid_text(ex["user"]), valid_text(ex["assistant"])))
        table = data.get("sampling", {})
        if not isinstance(table, Mapping):
            raise GenlabError(f"{where}: sampling must be a table of settings")
        try:
            overrides = {k: parse_value(k, v) for k, v in table.items()}
            Sampling.from_dict(overrides, base=CHAT_DEFAULTS)  # every value checked now, not mid-chat
        except GenlabError as exc:
            raise GenlabError(f"{where}: {exc}") from None
        return cls(name=text["name"] or name or "persona", system=text["system"], examples=tuple(pairs),
                   overrides=overrides, greeting=text["greeting"], description=text["description"],
                   source=where)


def _text(data: Mapping[str, Any], key: str, where: str) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        raise GenlabError(f"{where}: {key} must be text, got {type(value).__name__}")
    return valid_text(value)


# --- finding personas ------------------------------------------------------------------------------


def builtin_names() -> list[str]:
    folder = resources.files("genlab.chat") / "personas"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_persona(name_or_path: str, notes: list[str] | None = None) -> Persona:
    """A built-in persona, else one from the user's personas folder, else a file (see
    `load_persona_file`). What a Modelfile has that genlab leaves out goes to `notes`, or when
    None to stderr as `genlab: note:` lines."""
    if not name_or_path:
        raise GenlabError("a persona name cannot be empty")
    checked_path(name_or_path)
    if "/" not in name_or_path and name_or_path in builtin_names():
        text = (resources.files("genlab.chat") / "personas" / f"{name_or_path}.toml").read_text("utf-8")
        return _from_toml(text, "built-in", name_or_path)
    if "/" not in name_or_path and not name_or_path.endswith(SUFFIXES):
        for suffix in SUFFIXES:
            path = personas_dir() / f"{name_or_path}{suffix}"
            if path.is_file():
                return load_persona_file(path, notes)
    path = expand_user(name_or_path)
    if path.exists():  # a folder or an unreadable file is an error naming it
        return load_persona_file(path, notes)
    known = ", ".join(p["name"] for p in list_personas())
    raise GenlabError(f"no persona named {name_or_path!r} (known: {known}; or give a .toml, .json or Modelfile file)")


def load_persona_file(path: Path, notes: list[str] | None = None) -> Persona:
    """A persona from a file; any fault is one line naming it. A .json file is a Character Card
    V2, a file named Modelfile or NAME.Modelfile an Ollama Modelfile, a .toml file TOML; a file
    of any other name is a Modelfile when its first instruction line reads like one, else TOML."""
    text = read_persona_text(checked_path(path))
    suffix = path.suffix.lower()
    if suffix == ".json":
        return card_to_persona(text, str(path))
    if modelfile.is_modelfile_name(path) or (suffix != ".toml" and modelfile.looks_like_modelfile(text)):
        data, told = modelfile.read_modelfile(text, str(path), path.parent)
        persona = Persona.from_dict(data, str(path), path.stem)
        if notes is not None:
            notes.extend(told)
        else:
            for line in told:
                print(f"genlab: note: {line}", file=sys.stderr)
        return persona
    return _from_toml(text, str(path), path.stem)


def read_persona_text(path: Path) -> str:
    """A persona file's text, reading at most MAX_BYTES of it: UTF-8 (or UTF-16 with a BOM, as
    Windows' shell writes `>`), without a BOM; a binary or huge file is one line naming it."""
    from genlab.corpus import read_at_most

    name = shown(path)
    data = read_at_most(path, "a persona file", MAX_BYTES, name=name)
    utf16 = next((codec for bom, codec in _UTF16 if data.startswith(bom)), None)
    if utf16 is None and b"\0" in data[:65536]:  # a model given as a persona: said before its size
        raise GenlabError(f"{name} looks like a binary file (a model?), not a persona")
    if len(data) > MAX_BYTES:
        raise GenlabError(f"{name} is over {MAX_BYTES // 2**20} MiB: too big to be a persona")
    if utf16 is not None:
        try:
            text = data[2:].decode(utf16)
        except UnicodeDecodeError:
            raise GenlabError(f"{name} starts as UTF-16 text but is not valid UTF-16") from None
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise GenlabError(f"{name}: line {line}: not UTF-8 text (save it as UTF-8)") from None
    if "\0" in text:
        raise GenlabError(f"{name} looks like a binary file (a model?), not a persona")
    return strip_bom(text)


_UTF16 = ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))


def _from_toml(text: str, where: str, name: str) -> Persona:
    return Persona.from_dict(parse(text, where), where, name)


def list_personas() -> list[dict[str, str]]:
    """name, source and description of every persona that `load_persona` finds by name."""
    out = []
    names = builtin_names()
    for n in names:
        out.append({"name": n, "source": "built-in", "description": load_persona(n).description})
    folder = personas_dir()
    suffixes = {s.lower() for s in SUFFIXES}
    files = sorted(p for p in folder.glob("*") if p.suffix.lower() in suffixes) if folder.is_dir() else []
    for path in files:
        if path.stem in names:
            continue  # shadowed by a built-in of the same name
        names.append(path.stem)
        try:
            description = load_persona_file(path, notes=[]).description
        except GenlabError as exc:
            description = f"(cannot be loaded: {exc})"
        out.append({"name": shown(path.stem), "source": shown(path), "description": description})
    return out


# --- SillyTavern Character Card V2 ---------------------------------------------------------------

# SillyTavern's default main prompt; a card's system_prompt may include it as {{original}}.
CARD_MAIN_PROMPT = "Write {{char}}'s next reply in a fictional chat between {{char}} and {{user}}."
_CARD_FIELDS = ("name", "description", "personality", "scenario", "first_mes", "mes_example", "system_prompt")


def card_to_persona(text: str, where: str) -> Persona:
    """A persona from the JSON of a Character Card V2 (spec chara_card_v2)."""
    card = load_json(text, source=where)
    if not isinstance(card, dict) or card.get("spec") != "chara_card_v2" or not isinstance(card.get("data"), dict):
        raise GenlabError(f"{where}: not a Character Card V2 "
                          "(expected \"spec\": \"chara_card_v2\" and a \"data\" object)")
    data = card["data"]
    for key in _CARD_FIELDS:
        if not isinstance(data.get(key, ""), str):
            raise GenlabError(f"{where}: card field {key!r} must be text, got {type(data[key]).__name__}")
    data = {key: valid_text(data.get(key, "")) for key in _CARD_FIELDS}
    name = data.get("name", "").strip()
    if not name:
        raise GenlabError(f"{where}: the card has no name")

    def fill(s: str) -> str:
        s = re.sub(r"\{\{char\}\}|<BOT>", lambda _: name, s, flags=re.I)
        return re.sub(r"\{\{user\}\}|<USER>", "User", s, flags=re.I).strip()

    main = data.get("system_prompt", "").replace("{{original}}", CARD_MAIN_PROMPT) or CARD_MAIN_PROMPT
    parts = [main, data.get("description", "")]
    if data.get("personality", "").strip():
        parts.append(f"{{{{char}}}}'s personality: {data['personality']}")
    if data.get("scenario", "").strip():
        parts.append(f"Scenario: {data['scenario']}")
    system = "\n\n".join(fill(p) for p in parts if p.strip())
    examples = tuple((fill(u), fill(a)) for u, a in _card_examples(data.get("mes_example", "")))
    return Persona(name=name, system=system, examples=examples, greeting=fill(data.get("first_mes", "")),
                   description=f"Character card: {name}", source=where)


def _card_examples(text: str) -> list[tuple[str, str]]:
    """(user, char) pairs from mes_example: <START> blocks of "{{user}}: ..." / "{{char}}: ..." lines."""
    pairs: list[tuple[str, str]] = []
    for block in re.split(r"<START>", text, flags=re.I):
        turns: list[list[str]] = []  # [role, text]
        for line in block.splitlines():
            m = re.match(r"\s*(\{\{user\}\}|<USER>|\{\{char\}\}|<BOT>)\s*:\s?(.*)", line, flags=re.I)
            if m:
                role = "user" if m.group(1).lower() in ("{{user}}", "<user>") else "assistant"
                if turns and turns[-1][0] == role:
                    turns[-1][1] += "\n" + m.group(2)
                else:
                    turns.append([role, m.group(2)])
            elif turns:
                turns[-1][1] += "\n" + line
        for (r1, t1), (r2, t2) in zip(turns, turns[1:]):
            if r1 == "user" and r2 == "assistant":
                pairs.append((t1.strip(), t2.strip()))
    return pairs
