"""The click callbacks that give shell completion its backend and persona names (see
genlab.completion): `shell_complete=` of --backend and --persona. A module of its own, so a
command that has those options does not import the `genlab completion` command."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
from click.shell_completion import CompletionItem

if TYPE_CHECKING:
    from genlab.completion import Word


def complete_backend(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """--backend: names, kind prefixes, chain and model files."""
    from genlab.completion import backend_words

    return _items(backend_words(incomplete))


def complete_persona(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """--persona: persona names and persona files."""
    from genlab.completion import persona_words

    return _items(persona_words(incomplete))


def _items(words: list[Word]) -> list[CompletionItem]:
    return [CompletionItem(w.value, help=w.help or None) for w in words]
