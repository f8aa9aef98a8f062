"""Reading a chat's messages: from the keyboard through prompt_toolkit, or piped.

On a terminal, Enter sends, Alt-Enter or Esc-Enter adds a line, pasted text stays one
message and the input history is kept across sessions. Piped, messages come one per line or
in blank-line-separated blocks.
"""

from __future__ import annotations

import os
from typing import Iterable, Iterator


def read_messages(stream: Iterable[str], blocks: bool) -> Iterator[str]:
    """Messages from piped input: one per line, or blank-line-separated blocks."""
    block: list[str] = []
    for line in stream:
        line = line.rstrip("\r\n")
        if not blocks:
            yield line
        elif line.strip():
            block.append(line)
        elif block:
            yield "\n".join(block)
            block = []
    if block:
        yield "\n".join(block)


def prompt_session(history_file: os.PathLike[str] | None):  # -> prompt_toolkit.PromptSession
    """A multi-line prompt: Enter sends, Alt-Enter (or Esc, Enter) adds a line, Ctrl-C clears a
    half-typed message or interrupts at an empty one; history kept in `history_file`."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory, InMemoryHistory
    from prompt_toolkit.key_binding import KeyBindings

    keys = KeyBindings()

    @keys.add("enter")
    def _send(event) -> None:
        event.current_buffer.validate_and_handle()

    @keys.add("escape", "enter")  # Alt-Enter sends the same keys
    def _newline(event) -> None:
        event.current_buffer.insert_text("\n")

    @keys.add("c-c")
    def _interrupt(event) -> None:
        if event.current_buffer.text:
            event.current_buffer.reset()  # Ctrl-C on a half-typed message clears it
        else:
            event.app.exit(exception=KeyboardInterrupt, style="class:aborting")

    history = InMemoryHistory()
    if history_file is not None:
        try:
            os.makedirs(os.path.dirname(history_file), exist_ok=True)
            history = FileHistory(os.fspath(history_file))
        except OSError:
            pass
    return PromptSession(history=history, multiline=True, key_bindings=keys,
                         prompt_continuation=lambda width, line, wrap: "." * (width - 1) + " ")
