"""The texts models are trained and scored on: a corpus as prepared paragraphs, and the split
of a text into a training part and a held-out end.

One place for both, so `genlab train-llm --held-out`, `genlab corpus split`, `genlab compare`
and the benchmarks cut the same text at the same paragraph. Each file is read without Project
Gutenberg's header and licence (genlab.boilerplate), and says so in one line through `say`,
unless keep_gutenberg.
"""

from __future__ import annotations

import os
import stat
from typing import Callable, Sequence

from genlab.boilerplate import Cut, Say, left_out, record, tell
from genlab.corpus import iter_corpus, read_corpus
from genlab.errors import GenlabError
from genlab.folders import shown
from genlab.eval.perplexity import prepare_text, prepare_tokenized

# An eval text or a comparison's corpus is held whole, and scoring it with a word chain takes
# about 45 bytes of memory per byte of text: 32 MB of text is 1.5 GB. A bigger file is refused
# before it is read; `genlab perplexity --max-bytes` reads only the beginning it needs.
MAX_TEXT_BYTES = 32 * 2**20


def corpus_text(paths: Sequence[str | os.PathLike[str]], encoding: str | None = None, *,
                keep_gutenberg: bool = False, say: Say = tell, records: list | None = None) -> str:
    """The corpora as one prepared text (normalised paragraphs, as the scorer sees text).
    `records`, if given, gets what was left out of each corpus (see `said`), in order."""
    if not paths:
        raise GenlabError("no corpus given")
    texts = []
    for p in paths:
        cut = None if keep_gutenberg else Cut()
        texts.append(prepare_text(read_corpus(p, encoding, cut)))
        what = said(p, cut, say)
        if records is not None:
            records.append(what)
    return "\n\n".join(texts)


def said(path: str | os.PathLike[str], cut: Cut | None, say: Say = tell) -> dict[str, int] | str:
    """What was left out of the file `path` as a model file records it ("kept" without a cut),
    said in one line when anything was."""
    what = record(cut)
    line = left_out(shown(path), what)
    if line:
        say(line)
    return what


def bounded_text(path: str | os.PathLike[str], encoding: str | None = None, *, what: str = "a text",
                 hint: str = "cut it first", limit: int = MAX_TEXT_BYTES,
                 enough: Callable[[str], bool] | None = None, keep_gutenberg: bool = False,
                 say: Say = tell) -> str:
    """The text of a file as `read_corpus` reads it, refused in one line if it holds more than
    `limit` bytes (known from its size before reading, else when the limit is passed). With
    `enough`, reading stops as soon as enough(text so far) is true, or at the limit (a licence
    not reached is not said to be left out)."""
    try:
        info = os.stat(path)
        size = info.st_size if stat.S_ISREG(info.st_mode) else 0
    except (OSError, ValueError):
        size = 0  # read_corpus names what is wrong
    if enough is None and size > limit:
        raise _too_big(path, what, hint, limit, size)
    pieces: list[str] = []
    read, check_at = 0, 1 << 16
    cut = None if keep_gutenberg else Cut()
    for piece in iter_corpus(path, encoding, cut=cut):
        pieces.append(piece)
        read += len(piece.encode("utf-8"))
        if read > limit:
            if enough is None:
                raise _too_big(path, what, hint, limit)
            break
        if enough is not None and read >= check_at:
            pieces = ["".join(pieces)]
            if enough(pieces[0]):
                break
            check_at = 2 * read
    said(path, cut, say)
    return "".join(pieces)


def _too_big(path, what: str, hint: str, limit: int, size: int = 0) -> GenlabError:
    known = f" ({size / 2**20:,.0f} MB)" if size else ""
    return GenlabError(f"{shown(path)}{known} is bigger than the {limit // 2**20} MB genlab reads as {what}: "
                       f"{hint}")


def scored_text(path: str | os.PathLike[str], encoding: str | None = None, max_bytes: int | None = None,
                tokenized: bool = False, *, keep_gutenberg: bool = False, say: Say = tell) -> str:
    """The text `genlab perplexity` scores: the file prepared (see prepare_text), or its
    first `max_bytes` bytes. With max_bytes the file is read only as far as needed: a
    paragraph (or line) read in part is never kept, since reading stops only once the whole
    paragraphs before it exceed max_bytes."""
    prepare = prepare_tokenized if tokenized else prepare_text
    if max_bytes is None:
        return prepare(bounded_text(path, encoding, what="a text to score",
                                    hint="score its beginning with --max-bytes, or cut it first",
                                    keep_gutenberg=keep_gutenberg, say=say))

    def enough(text: str) -> bool:
        try:
            return len(prepare(text).encode("utf-8", "surrogatepass")) > max_bytes
        except GenlabError:  # nothing to score yet
            return False

    return prepare(bounded_text(path, encoding, enough=enough, keep_gutenberg=keep_gutenberg, say=say), max_bytes)


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
