"""`markov:NAME_OR_PATH`: a chain trained by `genlab train-markov`, as a backend kind, and the
kind's trainer (chains of any order, trained in moments, for the order curves)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genlab.generator import Generator
from genlab.kinds import Kind, Target


def _resolve(rest: str, name: str) -> Target:
    from genlab.markov.store import find_model

    return Target(name=name, kind="markov", location=str(find_model(rest)), source="path", load_with=_load)


def _load(target: Target, options: dict[str, Any]) -> Generator:
    from genlab.markov.generator import MarkovGenerator

    return MarkovGenerator.load(Path(target.location))  # llama settings mean nothing to a chain


class ChainTrainer:
    """Chains of each order on one corpus (see genlab.kinds.Trainer). A corpus read from its
    file is read without Project Gutenberg's header and licence unless keep_gutenberg, and says
    so once however many orders are trained on it."""

    def __init__(self) -> None:
        self._said: set[str] = set()

    @property
    def orders(self) -> range:
        from genlab.markov.model import MAX_ORDER

        return range(1, MAX_ORDER + 1)

    def train(self, corpus: Path, order: int, *, text: str | None = None, unit: str = "word",
              encoding: str | None = None, tokenized: bool = False, reuse_saved: bool = False,
              keep_gutenberg: bool = False) -> Generator:
        from genlab.markov.generator import MarkovGenerator
        from genlab.markov.model import train

        if reuse_saved:
            saved = self._saved(corpus, order, unit, tokenized, keep_gutenberg)
            if saved is not None:
                self._say(corpus, saved.model.corpora[0])
                return saved
        model = train([(corpus, 1.0)], order=order, unit=unit, encoding=encoding,
                      texts=None if text is None else [text], tokenized=tokenized, keep_gutenberg=keep_gutenberg)
        self._say(corpus, model.corpora[0])
        return MarkovGenerator(model, name=f"{corpus.stem}-o{order}")

    def _say(self, corpus: Path, record: dict) -> None:
        from genlab.boilerplate import left_out, tell
        from genlab.folders import shown

        line = left_out(shown(corpus), record.get("gutenberg"))
        if line and line not in self._said:
            self._said.add(line)
            tell(line)

    def _saved(self, corpus: Path, order: int, unit: str, tokenized: bool, keep_gutenberg: bool) -> Generator | None:
        """The chain train-markov saved for this corpus and these settings, when its corpus is
        unchanged and was read the same way (a file from before genlab left Project Gutenberg's
        boilerplate out has no record, and was read whole)."""
        from genlab.boilerplate import KEPT
        from genlab.corpus import sha256_file
        from genlab.markov.generator import MarkovGenerator
        from genlab.markov.store import MODELS_DIR, SUFFIX, default_name, load

        path = MODELS_DIR / f"{default_name(corpus.stem, order, unit)}{SUFFIX}"
        if not path.is_file():
            return None
        model = load(path)
        kept = [c.get("gutenberg", KEPT) == KEPT for c in model.corpora]
        if (model.order == order and model.unit == unit and model.pretokenized == tokenized
                and [c.get("sha256") for c in model.corpora] == [sha256_file(corpus)]
                and kept == [keep_gutenberg]):
            return MarkovGenerator(model, path=path)
        return None

    def corpus_of(self, name: str) -> Path | None:
        from genlab.errors import GenlabError
        from genlab.markov.store import find_model, load

        try:
            model = load(find_model(name))
        except GenlabError:
            return None
        for c in model.corpora:
            path = Path(c.get("path", ""))
            if path.is_file():
                return path
        return None


KIND = Kind("markov", "markov:NAME_OR_PATH", "a chain from 'genlab train-markov'", _resolve, trainer=ChainTrainer(),
            commands={"train-markov": "genlab.markov.commands:train_markov",
                      "export-arpa": "genlab.markov.commands:export_arpa"})
