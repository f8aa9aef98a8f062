"""The terminal front end of a ChatSession: streaming output, the /commands, Ctrl-C.

Messages are read by genlab.chat.prompt (the keyboard, or stdin so chats can be scripted).
Replies go to stdout; notes and errors to stderr, so a scripted chat's stdout holds replies only.
Piped, every message gets exactly one answer on stdout, ended by a NUL character (ANSWER_END):
its reply, what a command printed, or nothing (a failed message, /set). No answer can contain
NUL (control characters are shown as U+FFFD), so a script splits stdout at NUL and gets each
reply exactly, however many lines and blank lines it has; on a screen NUL shows as nothing.
Piped, an error is a `genlab: error: ...` line on stderr, as the CLI prints its own, and
`run_piped` returns how many messages failed (the command then exits 1).
"""

from __future__ import annotations

import os
import sys
from typing import Callable, Iterable, TextIO

from genlab.chat.prompt import prompt_session, read_messages
from genlab.chat.reply import Reply
from genlab.chat.session import ChatSession
from genlab.chat.settings import SETTINGS, setting_name
from genlab.chat.valid import valid_text
from genlab.errors import GenlabError
from genlab.secrets import redact

ANSWER_END = "\0"  # ends each answer in piped output (as `find -print0` ends each name)

HELP = """\
Enter sends; Alt-Enter (or Esc then Enter) starts a new line; Ctrl-C stops a reply; Ctrl-D leaves.
  /set KEY VALUE   change a setting from the next reply ({settings})
  /show            settings, backend, context in use
  /system [TEXT]   show or replace the system prompt
  /retry           a new reply in place of the last one
  /undo            drop the last exchange
  /continue        more of the last reply (an empty message does the same)
  /edit            write the next message in $EDITOR
  /save PATH       save the chat (JSON); /load PATH restores persona, settings and history
  /reset           start over (persona, system prompt and settings stay)
  /help            this list;  /quit leaves;  //text sends "/text" """

# C0/C1 control characters (a random model's bytes, an ANSI escape) would drive the terminal:
# shown as U+FFFD instead. Newlines and tabs are text.
_CONTROLS = {c: "\ufffd" for c in [*range(0x20), *range(0x7F, 0xA0)] if c not in (0x09, 0x0A)}


def printable(text: str) -> str:
    return valid_text(text).translate(_CONTROLS)


class ChatTerminal:
    def __init__(self, session: ChatSession, out: TextIO | None = None, err: TextIO | None = None):
        self.session = session
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.color = self.err.isatty() and not os.environ.get("NO_COLOR")
        self.label = self.out.isatty()
        self.piped = False  # errors as the CLI prints them, and counted
        self.failures = 0  # messages and commands that ended in an error
        self.commands: dict[str, Callable[[str], None]] = {
            "set": self.cmd_set, "show": self.cmd_show, "system": self.cmd_system,
            "retry": lambda _: self.stream(self.session.retry()), "undo": self.cmd_undo,
            "continue": lambda _: self.cmd_continue(), "edit": self.cmd_edit,
            "save": self.cmd_save, "load": self.cmd_load, "reset": self.cmd_reset, "help": self.cmd_help,
        }

    # --- output ---------------------------------------------------------------------------------

    def note(self, text: str) -> None:
        """One dim line on stderr: what the chat did on its own."""
        text = printable(redact(text))
        self.err.write(f"\x1b[2m{text}\x1b[0m\n" if self.color else f"{text}\n")
        self.err.flush()

    def error(self, text: str, kind: str = "error") -> None:
        """One line on stderr: `kind` is "error" (the message or command failed) or "warning"."""
        text = " ".join(printable(redact(text)).split())
        if self.piped:
            self.err.write(f"genlab: {kind}: {text}\n")
        else:
            colour = "31" if kind == "error" else "33"
            self.err.write(f"\x1b[{colour}m{kind}:\x1b[0m {text}\n" if self.color else f"{kind}: {text}\n")
        self.err.flush()

    def tell(self) -> None:
        """What the session has to say since the last time (a line left out of a file, a
        transcript that can no longer be written)."""
        for kind, text in self.session.take_notes():
            if kind == "warning":
                self.error(text, "warning")
            else:
                self.note(text)

    def say(self, text: str) -> None:
        self.out.write(printable(text) + "\n")
        self.out.flush()

    def stream(self, reply: Reply, more: bool = False) -> None:
        """Print a reply as it comes; Ctrl-C stops it and keeps what was said. `more`: the
        reply continues the previous one."""
        if reply.dropped:
            n = reply.dropped
            self.note(f"(dropped the oldest {f'{n} messages' if n > 1 else 'message'} to fit the context; "
                      "system prompt and examples kept)")
        if self.label:
            label = self.session.persona.name + ":"
            self.out.write(f"\x1b[1m{label}\x1b[0m " if self.color else f"{label} ")
            if more:
                self.out.write("…")  # the continuation brings its own space, or goes on mid-word
        held = ""  # newlines are written once text follows them: no blank lines after a reply
        wrote = self.label  # something is on the line: end it
        try:
            for piece in reply:
                text = held + printable(piece)
                body = text.rstrip("\n")
                held = text[len(body):]
                self.out.write(body)
                self.out.flush()
                wrote = wrote or bool(body)
        except KeyboardInterrupt:
            reply.close()
            if wrote:
                self.out.write("\n")
            self.note("(stopped; the reply so far is kept)" if reply.text else
                      "(stopped before the reply began; your message is kept: /retry asks again)")
            return
        except Exception:  # the backend failed: the reply is not kept, the error is told by handle
            if wrote:
                self.out.write("\n")
            raise
        finally:
            self.out.flush()
        if wrote:
            self.out.write("\n")
            self.out.flush()
        if not reply.text:
            self.note("(the model had nothing to add)" if more else
                      "(the model gave no reply; your message is kept: /retry asks again)")

    def opening(self) -> bool:
        """Notes, and the greeting or a resumed chat's last message; True when one was printed."""
        s = self.session
        self.tell()
        if not s.uses_persona_prompts and (s.persona.examples or s.system):
            self.note(f"({s.backend} answers from the words of your message only: it does not use "
                      "the persona's system prompt or few-shot turns)")
        if len(s.history) == 1 and s.history[0]["role"] == "assistant":
            self.reprint(s.history[0]["content"])
        elif s.history and s.history[-1]["role"] == "assistant":
            self.note(f"(resumed: {len(s.history)} messages)")
            self.reprint(s.history[-1]["content"])
        elif s.history:  # the last message was never answered (stopped before the reply began)
            self.note(f"(resumed: {len(s.history)} messages; the last one, yours, has no reply yet: /retry asks)")
            return False
        return bool(s.history)

    def reprint(self, text: str) -> None:
        self.stream(Reply(iter([text]), lambda _: None))

    # --- input ----------------------------------------------------------------------------------

    def handle(self, text: str) -> bool:
        """Act on one message or command; False when the user asked to leave."""
        try:
            if text.startswith("/") and not text.startswith("//"):
                name, _, arg = text[1:].strip().partition(" ")
                if name.lower() in ("quit", "exit", "bye", "q"):
                    return False
                command = self.commands.get(name.lower())
                if command is None:
                    self.error(f"unknown command /{name} (try /help)")
                else:
                    command(arg.strip())
            elif not text.strip():
                self.cmd_continue()
            else:
                self.stream(self.session.send(text[1:] if text.startswith("//") else text))
        except GenlabError as exc:
            self.failures += 1
            self.error(str(exc))
        except KeyboardInterrupt:  # before a reply started (while the prompt was prepared)
            self.note("(interrupted)")
        finally:
            self.tell()
        return True

    def run_piped(self, stream: Iterable[str], blocks: bool = False) -> int:
        """Messages from `stream`; each gets one answer on stdout ended by ANSWER_END (the
        greeting, or a resumed chat's last message, is an answer of its own before them).
        Returns how many messages (or commands) failed."""
        self.piped = True
        if self.opening():
            self.end_answer()
        for text in read_messages(stream, blocks):
            if not self.handle(text):
                break
            self.end_answer()
        return self.failures

    def end_answer(self) -> None:
        self.out.write(ANSWER_END)
        self.out.flush()

    def run_interactive(self, history_file: os.PathLike[str] | None = None) -> None:
        prompt = prompt_session(history_file)
        self.opening()
        self.note(f"(chatting with {self.session.persona.name} on {self.session.backend}; "
                  "/help for commands, Ctrl-D to leave)")
        armed = False  # Ctrl-C at an empty prompt asks once before leaving
        while True:
            try:
                text = prompt.prompt("> ")
            except KeyboardInterrupt:
                if armed:
                    return
                armed = True
                self.note("(press Ctrl-C again to leave, or Ctrl-D)")
                continue
            except EOFError:
                return
            armed = False
            if not self.handle(text):
                return

    # --- commands -------------------------------------------------------------------------------

    def cmd_continue(self) -> None:
        more = bool(self.session.history) and self.session.history[-1]["role"] == "assistant"
        self.stream(self.session.continue_reply(), more=more)

    def cmd_set(self, arg: str) -> None:
        key, _, value = arg.partition(" ")
        if not key or not value.strip():
            raise GenlabError(f"usage: /set KEY VALUE (keys: {', '.join(SETTINGS)})")
        s = self.session.set(key, value.strip())
        key = setting_name(key)
        self.note(f"({key} = {getattr(s, key)!r} from the next reply)")

    def cmd_show(self, _: str) -> None:
        s = self.session
        g = s.generator
        used = s.context_used()
        n_ctx = g.context_length
        rows = [
            ("persona", f"{s.persona.name} ({s.persona.source or 'saved chat'})"),
            ("backend", s.backend),
            ("system", s.system if s.uses_persona_prompts else f"{s.system} (not used by this model)"),
            ("examples", f"{len(s.persona.examples)} few-shot turns"
                         + ("" if s.uses_persona_prompts else " (not used)")),
            ("settings", " ".join(f"{k}={v!r}" for k, v in s.sampling.to_dict().items())),
            ("history", f"{len(s.history)} messages" + (f", the oldest {s.window} outside the model's window"
                                                        if s.window else "")),
            ("context", f"{used} of {n_ctx} tokens in use" if n_ctx else f"{used} tokens (no limit)"),
            ("transcript", _transcript_shown(s)),
        ]
        for name, value in rows:
            self.say(f"{name:<11} {value}")

    def cmd_system(self, arg: str) -> None:
        if not arg:
            self.say(self.session.system or "(no system prompt)")
            return
        self.session.set_system(arg)
        self.note("(system prompt replaced)")

    def cmd_undo(self, _: str) -> None:
        n = self.session.undo()
        self.note(f"(removed the last exchange: {n} messages)")

    def cmd_edit(self, _: str) -> None:
        import click

        try:
            text = click.edit("", extension=".txt", require_save=True)
        except click.ClickException as exc:
            raise GenlabError(f"cannot run the editor: {exc.format_message()}") from None
        if text is None or not text.strip():
            self.note("(nothing written: no message sent)")
            return
        self.stream(self.session.send(text.rstrip("\n")))

    def cmd_save(self, arg: str) -> None:
        if not arg:
            raise GenlabError("usage: /save PATH")
        self.note(f"(saved to {self.session.save(arg)})")

    def cmd_load(self, arg: str) -> None:
        if not arg:
            raise GenlabError("usage: /load PATH")
        self.session.load(arg)
        self.note(f"(loaded {arg}: persona {self.session.persona.name}, {len(self.session.history)} messages)")

    def cmd_reset(self, _: str) -> None:
        self.session.reset()
        self.note("(conversation cleared)")
        self.opening()

    def cmd_help(self, _: str) -> None:
        self.say(HELP.format(settings=", ".join(SETTINGS)))


def _transcript_shown(session: ChatSession) -> str:
    t = session.transcript
    if t is None:
        return "none"
    return f"none ({t.lost})" if t.lost else str(t.path)
