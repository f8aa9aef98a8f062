"""A model file's header (meta.npy's JSON), checked by type and range before anything else in
the file is read: every later size, allocation and loop is bounded by what it says.

A value of the wrong type or out of range (continue_rate "x", corpora "x", a negative
quote_span, an order of True) is a Damaged reason here, not a ValueError or AttributeError
later in generation; the ceilings each member's bytes are held to come from here too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genlab.boilerplate import KEPT
from genlab.corpus import MAX_WEIGHT, MIN_WEIGHT
from genlab.datafiles import check_depth
from genlab.errors import GenlabError
from genlab.markov.archive import Damaged
from genlab.markov.model import MAX_ORDER, UNITS
from genlab.markov.ngrams import bits_for
from genlab.markov.units import PRETOKENIZED

FORMAT = "genlab-markov"
FORMAT_VERSION = 1
META_MOST = 1 << 20  # bytes of header JSON (a few hundred, plus about 200 a corpus)
TEXT_DTYPES = ("<u2", "<u4")  # what genlab stores the training text's ids as
MOST_TOKENS = 1 << 40
VOCAB_BYTES = (16 << 20, 4096)  # a vocabulary's bytes: at most the first plus the second per token


@dataclass(frozen=True)
class Header:
    order: int
    unit: str
    bits: int
    vocab_size: int
    text_length: int
    text_dtype: str
    continue_rate: float
    quote_span: int
    corpora: list[dict]
    reindexed: tuple[int, ...]
    pretokenized: bool
    version: str

    def most(self, member: str) -> int:
        """The most bytes of data `member` can hold in a model with this header (each count
        table has at most one entry per training token)."""
        n = self.text_length
        if member == "vocab":
            return VOCAB_BYTES[0] + VOCAB_BYTES[1] * self.vocab_size
        if member == "text":  # LZMA: incompressible ids grow by a chunk header per 64 KiB
            raw = n * int(self.text_dtype[-1])
            return raw + raw // 1024 + 4096
        if member.startswith(("runs", "next")):
            return 4 * n
        return 8 * n  # doc_starts, contexts, counts, reindex


def read_header(raw: bytes, path: Path) -> Header:
    """The checked header; GenlabError for a file of another kind or a newer format."""
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Damaged("unreadable metadata") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise GenlabError(f"{path} is not a genlab Markov model")
    version = meta.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise Damaged("no format version")
    if version > FORMAT_VERSION:
        raise GenlabError(
            f"{path} was written by a newer genlab ({_shown(meta.get('genlab_version', '?'))}, model format "
            f"{version}); this genlab reads format {FORMAT_VERSION}: upgrade genlab to use it")
    try:
        check_depth(meta, source="metadata", limit=4)
    except GenlabError:
        raise Damaged("metadata nested too deeply") from None
    order = _whole(meta, "order", 1, MAX_ORDER)
    vocab_size = _whole(meta, "vocab_size", 1, 1 << 32)
    bits = _whole(meta, "bits", bits_for(vocab_size), bits_for(vocab_size))
    text_length = _whole(meta, "text_length", 2, MOST_TOKENS)
    text_dtype = _choice(meta, "text_dtype", TEXT_DTYPES if vocab_size <= 1 << 16 else TEXT_DTYPES[1:])
    reindexed = meta.get("reindexed", [])
    if not isinstance(reindexed, list) or reindexed != sorted(set(reindexed)) or not all(
            type(d) is int and 1 <= d <= order for d in reindexed):
        raise Damaged(f"reindexed must list depths from 1 to {order}, not {_shown(reindexed)}")
    tokenizer = meta.get("tokenizer")
    if tokenizer is not None and not isinstance(tokenizer, str):
        raise Damaged(f"tokenizer must be a name, not {_shown(tokenizer)}")
    return Header(order=order, unit=_choice(meta, "unit", UNITS), bits=bits, vocab_size=vocab_size,
                  text_length=text_length, text_dtype=text_dtype,
                  continue_rate=_fraction(meta.get("continue_rate", 0.0)),
                  quote_span=_whole(meta, "quote_span", 0, text_length, default=0),
                  corpora=_corpora(meta.get("corpora", [])), reindexed=tuple(reindexed),
                  pretokenized=tokenizer == PRETOKENIZED, version=_text(meta, "genlab_version", "?"))


_MISSING = object()


def _whole(meta: dict, key: str, low: int, high: int, default: Any = _MISSING) -> int:
    value = meta.get(key, default)
    if value is _MISSING:
        raise Damaged(f"missing {key}")
    if type(value) is not int or not low <= value <= high:
        span = f"{low:,}" if low == high else f"from {low:,} to {high:,}"
        raise Damaged(f"{key} must be a whole number {span}, not {_shown(value)}")
    return value


def _fraction(value: Any) -> float:
    if type(value) not in (int, float) or not 0 <= value <= 1:  # (NaN is not)
        raise Damaged(f"continue_rate must be a number from 0 to 1, not {_shown(value)}")
    return float(value)


def _choice(meta: dict, key: str, allowed: tuple[str, ...]) -> str:
    value = meta.get(key, _MISSING)
    if value is _MISSING:
        raise Damaged(f"missing {key}")
    if not isinstance(value, str) or value not in allowed:
        raise Damaged(f"{key} must be {' or '.join(allowed)}, not {_shown(value)}")
    return value


def _text(meta: dict, key: str, default: str) -> str:
    value = meta.get(key, default)
    if not isinstance(value, str):
        raise Damaged(f"{key} must be text, not {_shown(value)}")
    return value


def _corpora(value: Any) -> list[dict]:
    """The corpora's provenance: a list of {name, path, sha256, weight, tokens, gutenberg}, each
    optional but of its type (files from before genlab recorded gutenberg have none), weights in
    the range train-markov takes."""
    if not isinstance(value, list) or not all(isinstance(c, dict) for c in value):
        raise Damaged(f"corpora must be a list of corpus records, not {_shown(value)}")
    for c in value:
        for key in ("name", "path", "sha256"):
            if c.get(key) is not None and not isinstance(c[key], str):
                raise Damaged(f"a corpus's {key} must be text, not {_shown(c[key])}")
        weight = c.get("weight", 1.0)
        if type(weight) not in (int, float) or not MIN_WEIGHT <= weight <= MAX_WEIGHT:
            raise Damaged(f"a corpus's weight must be a number from {MIN_WEIGHT:g} to {MAX_WEIGHT:g}, "
                          f"not {_shown(weight)}")
        tokens = c.get("tokens", 0)
        if type(tokens) is not int or tokens < 0:
            raise Damaged(f"a corpus's tokens must be a whole number, not {_shown(tokens)}")
        _gutenberg(c.get("gutenberg", KEPT))
    return value


_CUT_KEYS = ("books", "header_bytes", "footer_bytes")


def _gutenberg(value: Any) -> None:
    """What was left out of a corpus: "kept" (read whole), or the counts of a genlab.boilerplate.Cut."""
    if value == KEPT:
        return
    if not isinstance(value, dict) or set(value) != set(_CUT_KEYS) or not all(
            type(value[k]) is int and 0 <= value[k] <= MOST_TOKENS for k in _CUT_KEYS):
        raise Damaged(f"a corpus's gutenberg record must be {KEPT!r} or whole numbers of "
                      f"{', '.join(_CUT_KEYS)}, not {_shown(value)}")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
