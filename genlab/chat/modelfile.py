"""Ollama Modelfiles as personas: the SYSTEM, PARAMETER and MESSAGE lines people already keep.

The syntax is Ollama's (docs/modelfile.md, read as its parser/parser.go reads it):

- one instruction a line, in any letter case: FROM, SYSTEM, PARAMETER NAME, MESSAGE ROLE,
  TEMPLATE, ADAPTER, LICENSE (and Ollama's DRAFT, RENDERER, PARSER, REQUIRES); a line whose
  first character (after spaces) is ``#`` is a comment, a ``#`` later in a line is text;
- the value is the rest of the line, without the spaces around it. In ``"quotes"`` or
  ``\"\"\"triple quotes\"\"\"`` it keeps its spaces and may run over lines: it ends at the first
  line end where it ends with its closing quote(s). There are no escapes and no backslash line
  continuations; what is between the quotes is the text, line breaks and all.

What a persona takes from it: SYSTEM (and MESSAGE system lines, joined after it), the sampling
PARAMETERs genlab has (num_predict is max_tokens; every stop line adds a stop string),
MESSAGE user/assistant pairs as few-shot turns, and a last MESSAGE assistant that answers no
user as the greeting (Ollama too shows it as the chat's last turn, and the model sees it
there). The model is --backend's, so FROM, TEMPLATE and ADAPTER do not change it; the notes
returned with the persona say so where it matters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from genlab.errors import GenlabError
from genlab.folders import shown
from genlab.sampling import Sampling, parse_value
from genlab.text import normalize

INSTRUCTIONS = ("from", "system", "parameter", "message", "template", "adapter", "license",
                "draft", "renderer", "parser", "requires")
ROLES = ("system", "user", "assistant")
# Ollama's PARAMETER names that are genlab sampling settings (num_predict: tokens to predict)
PARAMETERS = {"temperature": "temperature", "top_k": "top_k", "top_p": "top_p", "min_p": "min_p",
              "repeat_penalty": "repeat_penalty", "repeat_last_n": "repeat_last_n", "seed": "seed",
              "num_predict": "max_tokens", "stop": "stop"}
NAMES = {field: name for name, field in PARAMETERS.items()}
# Ollama settings of the model's loading that a genlab flag sets instead
FLAGS = {"num_ctx": "-c/--ctx-size", "num_thread": "-t/--threads", "num_gpu": "-ngl/--n-gpu-layers"}
USAGE = {"parameter": "PARAMETER NAME VALUE", "message": "MESSAGE ROLE TEXT"}
_PARAMETER_NAME = re.compile(r"[A-Za-z0-9_]+")


@dataclass(frozen=True)
class Instruction:
    line: int  # where it starts
    name: str  # lower case: "system", "parameter", ...
    key: str  # PARAMETER's name or MESSAGE's role (lower case), else ""
    value: str


# --- which files are Modelfiles -------------------------------------------------------------------


def is_modelfile_name(path: str | Path) -> bool:
    """A file named Modelfile, or NAME.Modelfile (any letter case)."""
    name = Path(path).name.lower()
    return name == "modelfile" or (name.endswith(".modelfile") and len(name) > len(".modelfile"))


def looks_like_modelfile(text: str) -> bool:
    """The first line that is not blank or a comment is an instruction (TOML's `system = ...` is not)."""
    for line in normalize(text).split("\n"):
        line = line.strip(" \t")
        if not line or line.startswith("#"):
            continue
        word, rest = _split(line)
        return word.lower() in INSTRUCTIONS and rest is not None and not rest.startswith("=")
    return False


# --- reading --------------------------------------------------------------------------------------


def parse_modelfile(text: str, where: str) -> list[Instruction]:
    """The instructions of a Modelfile; a mistake is one error naming `where` and the line."""
    lines = normalize(text).split("\n")
    out: list[Instruction] = []
    i = 0
    while i < len(lines):
        start, line = i + 1, lines[i].lstrip(" \t")
        i += 1
        if not line or line.startswith("#"):
            continue
        word, rest = _split(line)
        name, key = word.lower(), ""
        if name not in INSTRUCTIONS:
            known = ", ".join(n.upper() for n in INSTRUCTIONS)
            raise _error(where, start, f"unknown instruction {word[:40]!r} (a Modelfile has {known})")
        if name in ("parameter", "message") and rest is not None:
            key, rest = _split(rest.lstrip(" \t"))
            _check_key(name, key, where, start)
        if rest is None:
            usage = USAGE.get(name, f"{name.upper()} VALUE")
            raise _error(where, start, f"{' '.join(filter(None, (name.upper(), key)))} has no value "
                                       f"(write {usage}, the value starting on the same line)")
        value, i = _value(rest, lines, i, where, start)
        out.append(Instruction(start, name, key.lower(), value))
    return out


def _split(line: str) -> tuple[str, str | None]:
    """The first word and what follows the spaces after it (None: nothing, not even a space)."""
    m = re.match(r"([^ \t]*)(?:[ \t]+(.*))?\Z", line, re.S)
    assert m is not None
    return m.group(1), m.group(2)


def _check_key(name: str, key: str, where: str, line: int) -> None:
    if name == "message" and key.lower() not in ROLES:
        raise _error(where, line, f"MESSAGE role must be system, user or assistant, got {key[:40]!r}")
    if name == "parameter" and not _PARAMETER_NAME.fullmatch(key):
        raise _error(where, line, f"{key[:40]!r} is not a parameter name "
                                  "(PARAMETER NAME VALUE, as in PARAMETER temperature 0.7)")


def _value(first: str, lines: list[str], i: int, where: str, start: int) -> tuple[str, int]:
    """A value that starts with `first`, running on over lines[i:] while a quote is open;
    returns it and the index of the line after it."""
    head = first.strip()
    quote = '"""' if head.startswith('"""') else '"' if head.startswith('"') else ""
    if not quote:
        return head, i
    parts, last = [first], head
    while not (last.rstrip().endswith(quote) and (len(parts) > 1 or len(head) >= 2 * len(quote))):
        if i >= len(lines):
            raise _error(where, start, f"the {quote} opened here is never closed "
                                       f"(a quoted value ends at the end of a line that ends with {quote})")
        last = lines[i]
        parts.append(last)
        i += 1
    text = "\n".join(parts).strip()
    return text[len(quote):-len(quote)], i


def _error(where: str, line: int, message: str) -> GenlabError:
    return GenlabError(f"{where}: line {line}: {message}")


# --- a persona from a Modelfile ---------------------------------------------------------------------


def read_modelfile(text: str, where: str, folder: Path | None = None) -> tuple[dict[str, Any], list[str]]:
    """The persona a Modelfile describes, as the data `Persona.from_dict` takes, and the notes
    for the user (one line each) on what genlab leaves out. `folder` is the Modelfile's, where
    a relative FROM path starts."""
    system: list[str] = []
    extra_system: list[str] = []
    turns: list[Instruction] = []
    overrides: dict[str, Any] = {}
    stops: list[str] = []
    ignored: dict[str, None] = {}  # PARAMETER names genlab has no setting for, in order
    skipped: dict[str, None] = {}  # TEMPLATE, ADAPTER ...
    notes: list[str] = []
    model = ""
    for ins in parse_modelfile(text, where):
        if ins.name == "system":
            system = [ins.value]  # the last SYSTEM wins, as in Ollama
        elif ins.name == "message" and ins.key == "system":
            extra_system.append(ins.value)  # Ollama sends it after SYSTEM's: genlab joins them
        elif ins.name == "message":
            turns.append(ins)
        elif ins.name == "parameter":
            if ins.key in PARAMETERS:
                _parameter(ins, overrides, stops, notes, where)
            else:
                ignored[ins.key] = None
        elif ins.name == "from":
            model = ins.value
        elif ins.name in ("template", "renderer", "parser", "adapter"):
            skipped[ins.name.upper()] = None
    if stops:
        overrides["stop"] = stops
    examples, greeting = _pairs(turns, where)
    notes[:0] = _notes(where, ignored, skipped, model, folder)
    data = {"description": f"Ollama Modelfile (FROM {_one_line(model)})" if model else "Ollama Modelfile",
            "system": "\n\n".join(t for t in system + extra_system if t),
            "examples": [{"user": u, "assistant": a} for u, a in examples], "sampling": overrides}
    if greeting:
        data["greeting"] = greeting
    return data, notes


def _parameter(ins: Instruction, overrides: dict[str, Any], stops: list[str], notes: list[str], where: str) -> None:
    """One sampling PARAMETER into `overrides` (or `stops`), checked now: a bad value names its line."""
    field = PARAMETERS[ins.key]
    try:
        value = parse_value(field, ins.value)
        if field == "stop":
            Sampling(stop=value)
            stops.extend(value)
            return
        if field == "seed" and value == -1:  # Ollama's "a random seed": genlab's default
            overrides.pop("seed", None)
            return
        if field == "max_tokens" and value in (-1, -2):  # Ollama: no limit / fill the context
            notes.append(f"{where}: line {ins.line}: PARAMETER num_predict {value} (no limit) is left out: "
                         "a reply stops after max_tokens (-n/--max-tokens sets it)")
            return
        if field == "repeat_last_n" and value == -1:
            raise GenlabError("-1 (Ollama's 'the whole context') has no genlab equivalent: give a number of tokens")
        Sampling(**{field: value})  # checked the way a TOML persona's value is
    except GenlabError as exc:
        raise _error(where, ins.line, f"PARAMETER {ins.key}: {exc}") from None
    overrides[field] = value


def _pairs(turns: list[Instruction], where: str) -> tuple[list[tuple[str, str]], str]:
    """(user, assistant) few-shot pairs in order, and the greeting: a last assistant turn alone."""
    pairs: list[tuple[str, str]] = []
    greeting = ""
    i = 0
    while i < len(turns):
        turn = turns[i]
        if turn.key == "user":
            if i + 1 == len(turns) or turns[i + 1].key != "assistant":
                raise _error(where, turn.line, "MESSAGE user has no MESSAGE assistant after it "
                                               "(few-shot turns are user/assistant pairs)")
            pairs.append((turn.value, turns[i + 1].value))
            i += 2
        elif i + 1 == len(turns):
            greeting = turn.value
            i += 1
        else:
            raise _error(where, turn.line, "MESSAGE assistant answers no MESSAGE user (few-shot turns are "
                                           "user/assistant pairs; only the last MESSAGE may be an assistant's "
                                           "alone: the greeting)")
    return pairs, greeting


def _notes(where: str, ignored: dict[str, None], skipped: dict[str, None], model: str,
           folder: Path | None) -> list[str]:
    notes = []
    if ignored:
        flags = "".join(f"; for {k} use {FLAGS[k]}" for k in ignored if k in FLAGS)
        notes.append(f"{where}: ignored PARAMETER {', '.join(ignored)} (genlab has no such sampling setting{flags})")
    formats = [s for s in skipped if s != "ADAPTER"]
    if formats:
        notes.append(f"{where}: ignored {', '.join(formats)} (genlab formats the chat with the model's own "
                     "chat template)")
    if "ADAPTER" in skipped:
        notes.append(f"{where}: ignored ADAPTER (genlab chats with the model --backend names, without adapters)")
    if model.lower().endswith(".gguf"):  # a file: the user meant that model, and genlab can load it
        try:
            path = Path(model).expanduser()
        except RuntimeError:  # ~user of nobody: shown as written
            path = Path(model)
        if folder is not None and not path.is_absolute():
            path = folder / path  # relative to the Modelfile, as Ollama reads it
        notes.append(f"{where}: FROM names {_one_line(model)}; genlab chats with the model --backend names "
                     f"(--backend llama:{_one_line(str(path))} for that one)")
    return notes


def _one_line(text: str) -> str:
    return " ".join(shown(text).split())[:200]


# --- writing --------------------------------------------------------------------------------------


def persona_modelfile(persona: Mapping[str, Any]) -> str:
    """A persona's data (`Persona.to_dict()`, what `read_modelfile` gives back) as a Modelfile
    that reads back to the same system prompt, few-shot turns, sampling overrides and greeting
    (Ollama reads it the same way too)."""
    description, greeting = persona.get("description", ""), persona.get("greeting", "")
    out = [f"# {line}".rstrip() for line in description.split("\n")] if description else []
    out += ["# Ollama needs a FROM line (FROM llama3.2, FROM ./model.gguf): genlab's --backend chooses the model",
            ""]
    if persona.get("system"):
        out.append(f"SYSTEM {_quoted(persona['system'], 'the system prompt')}")
    for field, value in persona.get("sampling", {}).items():
        for v in (value if field == "stop" else (value,)):
            if v is not None:
                out.append(f"PARAMETER {NAMES.get(field, field)} {_quoted(str(v), f'the {field} value')}")
    for turn in persona.get("examples", ()):
        out += [f"MESSAGE user {_quoted(turn['user'], 'a few-shot turn')}",
                f"MESSAGE assistant {_quoted(turn['assistant'], 'a few-shot turn')}"]
    if greeting:
        out += ["# the greeting: the chat opens with it (a last assistant MESSAGE, answering no user)",
                f"MESSAGE assistant {_quoted(greeting, 'the greeting')}"]
    return "\n".join(out) + "\n"


def _quoted(text: str, what: str) -> str:
    """`text` as a Modelfile value that reads back exactly: bare when it can be, else in quotes."""
    candidates = [f'"{text}"', f'"""{text}"""']
    if "\n" in text:
        candidates.reverse()  # triple quotes: what Modelfiles use for lines of text
    if text and "\n" not in text and text == text.strip() and not text.startswith('"'):
        candidates.insert(0, text)
    for candidate in candidates:
        try:
            read = parse_modelfile(f"SYSTEM {candidate}", "")
        except GenlabError:
            continue
        if len(read) == 1 and read[0].value == text:
            return candidate
    raise GenlabError(f"{what} cannot be written in a Modelfile: a line of it ends in quotes, which would "
                      "end the value there (keep the persona as TOML)")
