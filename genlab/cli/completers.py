"""The click callbacks that give shell completion its names (see genlab.completion): the
`shell_complete=` of --backend, --persona and the NAME of `models show|remove` and `personas
show`. A module of its own, so a command that takes such a name does not import the `genlab
completion` command."""

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


def complete_gguf(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """`models show`: GGUF and server model names, llama: and hf:, .gguf files."""
    from genlab.completion import gguf_words

    return _items(gguf_words(incomplete))


def complete_alias(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """`models remove`: the aliases, only those of ./genlab.toml after --local (of the user
    file after --user)."""
    from genlab.completion import alias_words

    return _items(alias_words(incomplete, ctx.params.get("scope")))


def _items(words: list[Word]) -> list[CompletionItem]:
    return [CompletionItem(w.value, help=w.help or None) for w in words]
