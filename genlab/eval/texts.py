"""The texts models are trained and scored on: a corpus as prepared paragraphs, and the split
of a text into a training part and a held-out end.

One place for both, so `genlab train-llm --held-out`, `genlab corpus split`, `genlab compare`
and the benchmarks cut the same text at the same paragraph.
"""

from __future__ import annotations

import os
from typing import Sequence

from genlab.corpus import read_corpus
from genlab.errors import GenlabError
from genlab.eval.perplexity import prepare_text


def corpus_text(paths: Sequence[str | os.PathLike[str]], encoding: str | None = None) -> str:
    """The corpora as one prepared text (normalised paragraphs, as the scorer sees text)."""
    if not paths:
        raise GenlabError("no corpus given")
    return "\n\n".join(prepare_text(read_corpus(p, encoding)) for p in paths)


def split_held_out(text: str, fraction: float) -> tuple[str, str]:
    """(first part, last part) of prepared text, cut at the paragraph boundary where the last
    part holds about `fraction` of the bytes. fraction 0 keeps everything for training."""
    if not 0 <= fraction < 1:
        raise GenlabError(f"the held-out fraction must be in [0, 1), got {fraction}")
    if fraction == 0:
        return text, ""
    paragraphs = text.split("\n\n")
    total = len(text.encode("utf-8"))
    used, cut = 0, len(paragraphs)
    for i, p in enumerate(paragraphs):
        used += len(p.encode("utf-8")) + 2
        if used >= (1 - fraction) * total:
            cut = i + 1
            break
    head, tail = "\n\n".join(paragraphs[:cut]), "\n\n".join(paragraphs[cut:])
    if not tail:
        raise GenlabError("the text is one paragraph: there is nothing to hold out "
                          "(use --held-out 0, or a text with more paragraphs)")
    return head, tail
