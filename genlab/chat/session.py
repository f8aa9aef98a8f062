"""A conversation with any Generator: history, settings, context budget, transcript.

The session keeps the whole history, but the model sees only a window of it: the system
prompt and the persona's few-shot turns always, then the newest messages that fit the
context with room for a reply. Older exchanges leave the window (never the history, the
saved file or the transcript), so a conversation can go on for ever.

Every change is one line appended to a JSONL transcript and flushed at once, so a crash or a
closed terminal loses nothing, and `resume` rebuilds the session by replaying the lines.
"""

from __future__ import annotations

import datetime
import json
import os
from dataclasses import fields, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from genlab.chat.persona import Persona
from genlab.errors import GenlabError
from genlab.generator import Generator, Message, capabilities_of
from genlab.sampling import Sampling, parse_value

FORMAT = "genlab-chat"
VERSION = 1
SETTINGS = tuple(f.name for f in fields(Sampling))


def answers_last_message_only(generator: Generator) -> bool:
    """The model answers the last message only (a Markov chain, from its words): the system
    prompt and few-shot turns do not reach it."""
    return not capabilities_of(generator).persona_prompts


def require_chat(generator: Generator) -> None:
    """One clear error for a model that cannot chat (a llama model without a chat template
    and no chat format chosen), before the conversation starts."""
    if not capabilities_of(generator).chat:
        raise GenlabError(f"{generator.name} has no chat template, so it cannot chat: choose a chat format "
                          "with --chat-format (chatml, llama-3, ...) or continue text with 'genlab generate'")


class Reply:
    """A reply being streamed. Whatever was produced is kept when it is stopped early
    (Ctrl-C: the caller closes it) or fails, because `close` always records it."""

    def __init__(self, pieces: Iterator[str], done: Callable[[str], None], dropped: int = 0):
        self._pieces = pieces
        self._done = done
        self._parts: list[str] = []
        self.dropped = dropped  # messages that left the model's window for this reply
        self.finished = False
        self.stopped = False  # closed before the model was done

    def __iter__(self) -> "Reply":
        return self

    def __next__(self) -> str:
        if self.finished:
            raise StopIteration
        try:
            piece = next(self._pieces)
        except StopIteration:
            self._finish(stopped=False)
            raise
        except BaseException:
            self._finish(stopped=True)
            raise
        self._parts.append(piece)
        return piece

    @property
    def text(self) -> str:
        return "".join(self._parts)

    def close(self) -> None:
        self._finish(stopped=True)

    def _finish(self, stopped: bool) -> None:
        if self.finished:
            return
        self.finished, self.stopped = True, stopped
        try:
            close = getattr(self._pieces, "close", None)
            if close is not None:
                close()
        finally:
            self._done(self.text)


class ChatSession:
    """One conversation. `send`, `retry` and `continue_reply` return a Reply to iterate::

        session = ChatSession(load_backend("markov:novel"), load_persona("pogi"))
        for piece in session.send("tell me about the lighthouse"):
            print(piece, end="")
    """

    def __init__(self, generator: Generator, persona: Persona, *, sampling: Sampling | None = None,
                 system: str | None = None, transcript: "Transcript | None" = None):
        require_chat(generator)
        self.generator = generator
        self.transcript = transcript
        self._restore(persona, sampling or persona.sampling(), persona.system if system is None else system,
                      self._greeting(persona))
        self._log("start", **self.state())

    @staticmethod
    def _greeting(persona: Persona) -> list[Message]:
        return [{"role": "assistant", "content": persona.greeting}] if persona.greeting else []

    def _restore(self, persona: Persona, sampling: Sampling, system: str, history: list[Message],
                 window: int = 0) -> None:
        self.persona = persona
        self.sampling = sampling
        self.system = system
        self.history: list[Message] = history
        unbounded = self.generator.context_length is None
        self.window = 0 if unbounded else min(window, len(history))  # the first message the model sees
        self.replies = 0  # replies started: with a fixed seed, reply k uses seed + k
        self._regrow = False  # messages were removed: older ones may fit in the window again

    # --- what the model sees --------------------------------------------------------------------

    @property
    def uses_persona_prompts(self) -> bool:
        return not answers_last_message_only(self.generator)

    def prefix(self) -> list[Message]:
        """System prompt and few-shot turns: always in the model's window."""
        if not self.uses_persona_prompts:
            return []
        out: list[Message] = [{"role": "system", "content": self.system}] if self.system else []
        for user, assistant in self.persona.examples:
            out += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
        return out

    def messages(self) -> list[Message]:
        return self.prefix() + self.history[self.window:]

    def context_used(self, messages: Sequence[Message] | None = None) -> int:
        """Tokens of the prompt the model gets for `messages` (default: the window)."""
        messages = self.messages() if messages is None else messages
        if not messages:
            return 0
        g = self.generator
        if capabilities_of(g).exact_chat_tokens:  # the exact prompt: chat template and special tokens
            return len(g.chat_prompt_tokens(messages))  # type: ignore[attr-defined]
        return g.count_tokens("\n\n".join(f"{m['role']}: {m['content']}" for m in messages))

    def _fit(self) -> int:
        """Move the window past the oldest exchanges when the prompt would not leave room for a
        reply (max_tokens, at most half the context); returns how many messages left the window.
        The last user message always stays (the one being answered).

        A move goes far enough to free half the space after the system prompt and examples, as
        llama.cpp and Ollama do when their context fills: the next turns then extend the same
        prompt, which a model that keeps its cache of the prompt does not read again. (Moving
        by one exchange a turn would change the start of the prompt, and so reread all of it,
        every turn.) After messages are removed the window grows back to fill the room."""
        n_ctx = self.generator.context_length
        if n_ctx is None:
            return 0
        room = n_ctx - min(self.sampling.max_tokens, n_ctx // 2)
        if self.context_used() <= room and not (self._regrow and self.window):
            return 0
        last_user = max((i for i, m in enumerate(self.history) if m["role"] == "user"), default=len(self.history) - 1)
        regrow, first = self._regrow, 0 if self._regrow else self.window + 1
        self._regrow = False
        cuts = [i for i in range(first, last_user + 1) if self.history[i]["role"] == "user" or i == 0]
        if not cuts:
            return 0
        prefix = self.prefix()
        fixed = self.context_used(prefix) if prefix else 0
        limit = room if regrow else fixed + (room - fixed) // 2
        lo, hi = 0, len(cuts) - 1  # the first cut that fits (fewer messages never need more tokens)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.context_used(prefix + self.history[cuts[mid]:]) <= limit:
                hi = mid
            else:
                lo = mid + 1
        old, self.window = self.window, cuts[lo]
        return max(self.window - old, 0)

    # --- turns ------------------------------------------------------------------------------------

    def send(self, text: str) -> Reply:
        """Add the user's message and stream the reply to it."""
        self._append({"role": "user", "content": text})
        try:
            return self._reply(self.generator.chat, self._add_reply)
        except GenlabError:
            self._drop(1)  # the model could not take it (too long): the message is not half-sent
            raise

    def retry(self) -> Reply:
        """A new reply to the last user message, in place of the last reply."""
        if not any(m["role"] == "user" for m in self.history):
            raise GenlabError("nothing to retry yet: send a message first")
        n = 0
        while self.history[len(self.history) - n - 1]["role"] == "assistant":
            n += 1
        removed = self.history[len(self.history) - n:]
        self._drop(n)
        try:
            return self._reply(self.generator.chat, self._add_reply)
        except GenlabError:
            for m in removed:  # the old reply comes back when no new one can be made
                self._append(m)
            raise

    def continue_reply(self) -> Reply:
        """More of the last reply (an empty message or /continue)."""
        if not self.history or self.history[-1]["role"] != "assistant":
            if self.history and self.history[-1]["role"] == "user":
                return self.retry()  # the last message has no reply yet: give it one
            raise GenlabError("nothing to continue yet: send a message first")

        def done(more: str) -> None:
            if not more:
                return
            self.history[-1] = {"role": "assistant", "content": self.history[-1]["content"] + more}
            self._log("extend", content=more)

        g = self.generator
        if capabilities_of(g).continue_chat:
            return self._reply(g.continue_chat, done)  # type: ignore[attr-defined]
        return self._reply(lambda messages, s: g.stream(messages[-1]["content"], s), done)

    def _reply(self, start: Callable[[list[Message], Sampling], Iterator[str]],
               done: Callable[[str], None]) -> Reply:
        dropped = self._fit()
        s = self.sampling
        if s.seed is not None:  # reproducible, yet /retry with a seed still gives a new reply
            s = s.merged(seed=(s.seed + self.replies) % 2**32)
        self.replies += 1
        return Reply(iter(start(self.messages(), s)), done, dropped)

    def undo(self) -> int:
        """Drop the last exchange (the last user message and what follows it); returns how
        many messages were removed."""
        users = [i for i, m in enumerate(self.history) if m["role"] == "user"]
        if not users:
            raise GenlabError("nothing to undo")
        n = len(self.history) - users[-1]
        self._drop(n)
        return n

    # --- settings -----------------------------------------------------------------------------

    def set(self, key: str, value: Any) -> Sampling:
        """Change one sampling setting (validated); it applies from the next reply."""
        key = key.replace("-", "_").lower()
        if key not in SETTINGS:
            raise GenlabError(f"unknown setting {key!r} (known: {', '.join(SETTINGS)})")
        if key == "stop" and str(value).lower() in ("", "none"):
            parsed: Any = ()
        elif key == "stop" and isinstance(value, str):
            parsed = (value.replace("\\n", "\n").replace("\\t", "\t"),)  # typed as "\n\nUser:"
        else:
            parsed = parse_value(key, value)
        self.sampling = replace(self.sampling, **{key: parsed})
        self._log("settings", sampling=self.sampling.to_dict())
        return self.sampling

    def set_system(self, text: str) -> None:
        self.system = text
        self._log("system", content=text)

    def reset(self) -> None:
        """Start the conversation over; persona, system prompt and settings stay."""
        self._restore(self.persona, self.sampling, self.system, self._greeting(self.persona))
        self._log("reset", **self.state())

    # --- files ---------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": VERSION, "backend": self.generator.name,
                "persona": self.persona.to_dict(), "persona_source": self.persona.source, "system": self.system,
                "sampling": self.sampling.to_dict(), "messages": list(self.history), "window": self.window}

    def save(self, path: str | os.PathLike[str]) -> Path:
        from genlab.atomic import write_text

        path = Path(path).expanduser()
        write_text(path, json.dumps(self.state(), ensure_ascii=False, indent=1) + "\n")
        return path

    def load(self, path: str | os.PathLike[str]) -> None:
        """Restore persona, settings and history from /save's JSON or a JSONL transcript."""
        state = read_state(Path(path).expanduser())
        self._apply_state(state, str(path))
        self._log("load", **self.state())

    def _apply_state(self, state: dict[str, Any], where: str) -> None:
        persona = Persona.from_dict(state.get("persona"), f"{where}: persona")
        source = state.get("persona_source")
        persona = replace(persona, source=source if isinstance(source, str) and source else where)
        try:
            sampling = Sampling.from_dict(state.get("sampling") or {})
        except GenlabError as exc:
            raise GenlabError(f"{where}: {exc}") from None
        messages = _check_history(state.get("messages"), where)
        system = state.get("system", persona.system)
        if not isinstance(system, str):
            raise GenlabError(f"{where}: system must be text")
        window = state.get("window", 0)
        window = window if isinstance(window, int) and window > 0 else 0
        # empty replies recorded by older versions (an interrupted reply) are left out, as now
        empty = [i for i, m in enumerate(messages) if m["role"] == "assistant" and not m["content"]]
        window -= sum(1 for i in empty if i < window)
        messages = [m for m in messages if m["role"] == "user" or m["content"]]
        self._restore(persona, sampling, system, messages, window)

    # --- the transcript -------------------------------------------------------------------------

    def _add_reply(self, text: str) -> None:
        # A reply that produced no text (Ctrl-C before the first token, an instant end) leaves no
        # assistant turn: an empty turn teaches the model to answer with nothing. The user's
        # message stays, answered by the next reply (/retry) or followed by the next message.
        if text:
            self._append({"role": "assistant", "content": text})

    def _append(self, message: Message) -> None:
        self.history.append(message)
        self._log("message", **message)

    def _drop(self, n: int) -> None:
        if n > 0:
            del self.history[len(self.history) - n:]
            self.window = min(self.window, len(self.history))
            self._regrow = self.window > 0
            self._log("drop", count=n)

    def _log(self, op: str, **data: Any) -> None:
        if self.transcript is not None:
            self.transcript.write(op, **data)

    @classmethod
    def resume(cls, generator: Generator, path: Path, transcript: "Transcript | None" = None) -> "ChatSession":
        """The session a transcript describes, continuing to write to `transcript`."""
        require_chat(generator)
        session = cls.__new__(cls)
        session.generator = generator
        session.transcript = None
        session._apply_state(read_state(path), str(path))
        session.transcript = transcript
        session._log("resume", **session.state())
        return session


def _check_history(messages: Any, where: str) -> list[Message]:
    if not isinstance(messages, list):
        raise GenlabError(f"{where}: messages must be a list")
    out: list[Message] = []
    for i, m in enumerate(messages, 1):
        if not (isinstance(m, dict) and m.get("role") in ("user", "assistant") and isinstance(m.get("content"), str)):
            raise GenlabError(f"{where}: message {i} must have a role (user or assistant) and a text content")
        out.append({"role": m["role"], "content": m["content"]})
    return out


def read_state(path: Path) -> dict[str, Any]:
    """A chat's state from a /save JSON file, or by replaying a JSONL transcript."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GenlabError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise GenlabError(f"{path} is a directory, not a saved chat") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise GenlabError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
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


class Transcript:
    """Appends one JSON line per change to a chat and flushes it at once."""

    def __init__(self, path: Path):
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(path, "a", encoding="utf-8")
        except OSError as exc:
            raise GenlabError(f"cannot write the chat transcript {path}: {exc.strerror or exc}") from None

    @classmethod
    def new(cls, folder: Path, label: str) -> "Transcript":
        stamp = datetime.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
        safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in label)[:40] or "chat"
        path, n = folder / f"{stamp}_{safe}.jsonl", 1
        while path.exists():
            n += 1
            path = folder / f"{stamp}_{safe}-{n}.jsonl"
        return cls(path)

    @staticmethod
    def latest(folder: Path) -> Path:
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
