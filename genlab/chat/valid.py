"""Text a chat can always print, send and write: lone surrogates become U+FFFD.

A lone surrogate (from a card's JSON escape "\\ud800", undecodable bytes read with
surrogateescape, a server's reply) is not Unicode: UTF-8 cannot encode it, so the terminal, the
transcript and llama.cpp's tokenizer would fail on it. The chat replaces each with U+FFFD as
the text comes in, as a decoder does with a bad byte.
"""

from __future__ import annotations

from dataclasses import replace

from genlab.chat.persona import Persona
from genlab.text import valid_text

__all__ = ["valid_persona", "valid_text"]


def valid_persona(persona: Persona) -> Persona:
    """`persona` with valid text in every field the chat prints, sends or writes."""
    examples = tuple((valid_text(u), valid_text(a)) for u, a in persona.examples)
    return replace(persona, name=valid_text(persona.name), system=valid_text(persona.system),
                   greeting=valid_text(persona.greeting), description=valid_text(persona.description),
                   source=valid_text(persona.source), examples=examples)
