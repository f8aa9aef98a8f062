"""What a backend package hands the backend table (genlab.backends): a `Kind` of name it
answers to, and the `Target` it makes of such a name.

These sit below the backends and the table alike, so a backend package (genlab's own or
another package's, through the ``genlab.backends`` entry-point group) imports only this and the
contract, never the table that looks names up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol

from genlab.generator import Generator
from genlab.sampling import Sampling


@dataclass(frozen=True)
class Target:
    """A backend name, resolved: enough to describe it and to load it, nothing loaded yet.

    name: as given (reports use it). kind: the Kind that loads it. location: its file or
    address. source: where the name was found ("path", "alias in ./genlab.toml", "ollama",
    ...). sampling: default sampling settings (Sampling field names) under the command line's
    flags. options: the loader's settings (a llama model's n_ctx, ...), under the command
    line's. load_with: (target, options) -> Generator. chat_with: (target, options) -> whether
    it can chat, for a kind that knows before loading (see can_chat).
    """

    name: str
    kind: str
    location: str
    source: str
    load_with: Callable[["Target", dict[str, Any]], Generator] = field(repr=False, compare=False)
    chat_with: Callable[["Target", dict[str, Any]], bool | None] | None = field(default=None, repr=False,
                                                                              compare=False)
    sampling: Mapping[str, Any] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def default_sampling(self, base: Sampling | None = None) -> Sampling:
        """`base` (default: Sampling()) with this target's own sampling settings on top."""
        return (base or Sampling()).merged(**self.sampling)

    def load(self, **options: Any) -> Generator:
        """The Generator. Options that are not None override the target's own settings;
        options a kind does not use (a llama model's n_ctx for a Markov chain) are ignored."""
        return self.load_with(self, self._merged(options))

    def can_chat(self, **options: Any) -> bool | None:
        """Whether the model will be able to chat with these options, when that is known without
        loading it (a GGUF header's chat template); None when only loading tells."""
        return None if self.chat_with is None else self.chat_with(self, self._merged(options))

    def _merged(self, options: dict[str, Any]) -> dict[str, Any]:
        return {**self.options, **{k: v for k, v in options.items() if v is not None}}


class Trainer(Protocol):
    """A kind whose models learn a corpus in moments (Markov chains), so compare and perplexity
    can draw a curve over its orders without a saved model."""

    orders: range  # the orders it takes

    def train(self, corpus: Path, order: int, *, text: str | None = None, unit: str = "word",
              encoding: str | None = None, tokenized: bool = False, reuse_saved: bool = False,
              keep_gutenberg: bool = False) -> Generator:
        """A model of `corpus` (its `text` when already read). reuse_saved: load the model that
        `train-markov` saved for this corpus and settings, when its corpus is unchanged.
        keep_gutenberg: read the file whole, Project Gutenberg's header and licence too."""
        ...

    def corpus_of(self, name: str) -> Path | None:
        """The training corpus of the saved model `name`, when that file is still there."""
        ...


@dataclass(frozen=True)
class Kind:
    """One kind of backend: `prefix:REST` names go to `resolve(rest, name)`.

    form: how such a name is written (help and error messages). about: a few words on it.
    scores: whether its models can score a text (known before loading: `genlab perplexity`
    refuses a kind that cannot in one line, before any work).
    trainer: set for a kind whose models train from a corpus in moments (see Trainer).
    commands: the `genlab` commands of this kind alone, {name: "module:attribute" of a click
    command}; a command's module is imported only when it runs or when help lists it.
    """

    prefix: str
    form: str
    about: str
    resolve: Callable[[str, str], Target]
    scores: bool = True
    trainer: Trainer | None = None
    commands: Mapping[str, str] = field(default_factory=dict)


# the kinds genlab ships, by import path (genlab.backends imports one only when a name needs it)
BUILT_IN: dict[str, str] = {
    "markov": "genlab.markov.backend:KIND",
    "llama": "genlab.llama.backend:LLAMA",
    "hf": "genlab.llama.backend:HF",
    "openai": "genlab.server.backend:KIND",
    "ollama": "genlab.ollama.backend:KIND",
}
