"""A conversation with any Generator: its history, settings and turns.

The session keeps the whole history; the model sees the window of it (genlab.chat.window),
so a conversation can go on for ever. Every change goes to the transcript
(genlab.chat.transcript) as it happens, and `resume` rebuilds a session from one.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from genlab.chat import window as context
from genlab.chat.persona import Persona
from genlab.chat.reply import Reply
from genlab.chat.settings import changed
from genlab.chat.transcript import FORMAT, VERSION, Transcript, checked_history, read_state
from genlab.chat.valid import valid_persona, valid_text
from genlab.errors import GenlabError
from genlab.generator import Generator, Message
from genlab.sampling import Sampling, nth_reply
from genlab.folders import expand_user
from genlab.secrets import redact

__all__ = ["ChatSession", "Reply", "Transcript", "read_state", "require_chat"]


def require_chat(generator: Generator) -> None:
    """One clear error for a model that cannot chat (a llama model without a chat template
    and no chat format chosen), before the conversation starts."""
    if not generator.capabilities.chat:
        raise GenlabError(f"{generator.name} has no chat template, so it cannot chat: choose a chat format "
                          "with --chat-format (chatml, llama-3, ...) or continue text with 'genlab generate'")


class ChatSession:
    """One conversation. `send`, `retry` and `continue_reply` return a Reply to iterate::

        session = ChatSession(load_backend("markov:novel"), load_persona("pogi"))
        for piece in session.send("tell me about the lighthouse"):
            print(piece, end="")
    """

    def __init__(self, generator: Generator, persona: Persona, *, sampling: Sampling | None = None,
                 system: str | None = None, transcript: Transcript | None = None):
        require_chat(generator)
        self.generator = generator
        self.transcript = transcript
        self.notes: list[str] = []  # for the user: a line of a file left out, ...
        self._lost_told = False
        self._restore(persona, sampling or persona.sampling(), persona.system if system is None else system,
                      self._greeting(persona))
        self._log("start", **self.state())

    @classmethod
    def resume(cls, generator: Generator, path: Path, transcript: Transcript | None = None) -> "ChatSession":
        """The session a transcript describes, continuing to write to `transcript`."""
        require_chat(generator)
        session = cls.__new__(cls)
        session.generator = generator
        session.transcript = None
        session.notes, session._lost_told = [], False
        session._apply_state(read_state(path, session.notes), str(path))
        session.transcript = transcript
        session._log("resume", **session.state())
        return session

    @staticmethod
    def _greeting(persona: Persona) -> list[Message]:
        return [{"role": "assistant", "content": persona.greeting}] if persona.greeting else []

    def _restore(self, persona: Persona, sampling: Sampling, system: str, history: list[Message],
                 window: int = 0) -> None:
        self.persona = valid_persona(persona)
        self.sampling = sampling
        self.system = valid_text(system)
        self.history: list[Message] = history
        unbounded = self.generator.context_length is None
        self.window = 0 if unbounded else min(window, len(history))  # the first message the model sees
        self.replies = 0  # replies started: with a fixed seed, reply k uses seed + k
        self._regrow = False  # messages were removed: older ones may fit in the window again

    # --- what the model sees --------------------------------------------------------------------

    @property
    def uses_persona_prompts(self) -> bool:
        """The system prompt and few-shot turns reach the model (a Markov chain answers from
        the last message's words only)."""
        return self.generator.capabilities.persona_prompts

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
        return context.prompt_tokens(self.generator, self.messages() if messages is None else messages)

    def _fit(self) -> int:
        """Move the window when the context is full (see genlab.chat.window.fit); returns how
        many messages left it."""
        first = context.fit(self.generator, self.prefix(), self.history, self.window,
                            max_tokens=self.sampling.max_tokens, regrow=self._regrow)
        if first is None:
            return 0
        self._regrow = False
        old, self.window = self.window, first
        return max(self.window - old, 0)

    # --- turns ------------------------------------------------------------------------------------

    def send(self, text: str) -> Reply:
        """Add the user's message and stream the reply to it. When the reply fails (an error, not
        Ctrl-C) the message goes too: no half turn stays in the chat or its transcript."""
        self._append({"role": "user", "content": valid_text(text)})
        try:
            return self._reply(self.generator.chat, self._add_reply, lambda: self._drop(1))
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

        def restore() -> None:  # the old reply comes back when no new one can be made
            for m in removed:
                self._append(m)

        try:
            return self._reply(self.generator.chat, self._add_reply, restore)
        except GenlabError:
            restore()
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
        if g.capabilities.continue_chat:
            return self._reply(g.continue_chat, done)  # type: ignore[attr-defined]
        return self._reply(lambda messages, s: g.stream(messages[-1]["content"], s), done)

    def _reply(self, start: Callable[[list[Message], Sampling], Iterable[str]],
               done: Callable[[str], None], failed: Callable[[], None] = lambda: None) -> Reply:
        dropped = self._fit()
        s = nth_reply(self.sampling, self.replies)  # reproducible, yet /retry still gives a new reply
        self.replies += 1
        return Reply(start(self.messages(), s), done, dropped, failed=failed)

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
        """Change one sampling setting (validated, see genlab.chat.settings); it applies from
        the next reply."""
        self.sampling = changed(self.sampling, key, value)
        self._log("settings", sampling=self.sampling.to_dict())
        return self.sampling

    def set_system(self, text: str) -> None:
        self.system = valid_text(text)
        self._log("system", content=text)

    def reset(self) -> None:
        """Start the conversation over; persona, system prompt and settings stay."""
        self._restore(self.persona, self.sampling, self.system, self._greeting(self.persona))
        self._log("reset", **self.state())

    # --- files ---------------------------------------------------------------------------------

    @property
    def backend(self) -> str:
        """The backend's name, fit to print or write: no key or URL password in it."""
        return redact(self.generator.name)

    def state(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": VERSION, "backend": self.backend,
                "persona": self.persona.to_dict(), "persona_source": self.persona.source, "system": self.system,
                "sampling": self.sampling.to_dict(), "messages": list(self.history), "window": self.window}

    def save(self, path: str | os.PathLike[str]) -> Path:
        from genlab.atomic import write_text

        path = expand_user(path)
        write_text(path, json.dumps(self.state(), ensure_ascii=False, indent=1) + "\n")
        return path

    def load(self, path: str | os.PathLike[str]) -> None:
        """Restore persona, settings and history from /save's JSON or a JSONL transcript."""
        state = read_state(expand_user(path), self.notes)
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
        messages = checked_history(state.get("messages"), where)
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

    # --- the history, recorded -----------------------------------------------------------------

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

    def take_notes(self) -> list[tuple[str, str]]:
        """What the user should be told since the last call: ("note", text) for what the chat did
        on its own, ("warning", text) once when the transcript can no longer be written."""
        out = [("note", text) for text in self.notes]
        self.notes.clear()
        t = self.transcript
        if t is not None:
            out += [("note", text) for text in t.notes]
            t.notes.clear()
            if t.lost and not self._lost_told:
                self._lost_told = True
                out.append(("warning", f"{t.lost}; the chat goes on without a transcript (/save PATH keeps it)"))
        return out
