"""Markov model files: one zip of plain numpy arrays plus JSON metadata. Never pickle.

Written atomically (temp file in the same folder, then rename), so an interrupted save never
leaves half a model. Loading trusts nothing: the header is checked by type and range first
(header.py), every member's size is bounded by it before a byte is inflated (archive.py), and
every count table must be as sound as a trained one (tables.py).
"""

from __future__ import annotations

import json
import lzma
import math
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from genlab.atomic import replacing
from genlab.errors import GenlabError, cannot
from genlab.folders import expand_user
from genlab.markov.archive import READ_ERRORS, Archive, Damaged, opened
from genlab.markov.header import FORMAT, FORMAT_VERSION, META_MOST, Header, read_header
from genlab.markov.marks import PARAGRAPH
from genlab.markov.model import MarkovModel
from genlab.markov.ngrams import NgramCounts
from genlab.markov.tables import check_table
from genlab.ngrams import count_sorted

SUFFIX = ".markov"
MODELS_DIR = Path("models")


def save(model: MarkovModel, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = "\n".join(model.vocab).encode("utf-8", "surrogatepass")
    c = model.counts
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "genlab_version": model.version,
        "order": model.order,
        "unit": model.unit,
        "bits": c.bits,
        "vocab_size": len(model.vocab),
        "corpora": model.corpora,
        "continue_rate": model.continue_rate,
        "quote_span": model.quote_span,
        "tokenizer": model.info()["tokenizer"],
        "reindexed": [d for d, r in enumerate(c.reindex) if r is not None],
    }
    meta["text_dtype"] = model.text_ids.dtype.str
    meta["text_length"] = int(len(model.text_ids))
    arrays: dict[str, np.ndarray] = {
        "meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
        "vocab": np.frombuffer(blob, dtype=np.uint8),
        "text": np.frombuffer(lzma.compress(model.text_ids.tobytes(), **_LZMA), dtype=np.uint8),
        "doc_starts": model.doc_starts.astype(np.int64),
    }
    for d in range(model.order + 1):
        contexts, runs, nexts = _split_keys(c.keys[d], c.bits)
        arrays[f"contexts{d}"] = np.diff(contexts, prepend=np.uint64(0))
        arrays[f"runs{d}"] = runs
        arrays[f"next{d}"] = nexts
        arrays[f"counts{d}"] = _compact_counts(c.counts[d])
        if c.reindex[d] is not None:
            arrays[f"reindex{d}"] = c.reindex[d]
    with replacing(path) as tmp, tmp.open("wb") as fh, \
            zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, array in arrays.items():  # the .npz layout np.load reads, deflated quickly
            with zf.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)
    return path


# The training text: LZMA2 with xz -3's 4 MiB dictionary (about 30 MB to compress), fast preset.
_LZMA = {"format": lzma.FORMAT_RAW, "filters": [{"id": lzma.FILTER_LZMA2, "preset": 1, "dict_size": 4 << 20}]}


def _split_keys(keys: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(distinct contexts, continuations per context, next ids): half the bytes of the keys."""
    contexts, runs = count_sorted(keys >> np.uint64(bits))
    nexts = keys & np.uint64((1 << bits) - 1)
    return contexts, runs.astype(np.uint32), nexts.astype(np.uint16 if bits <= 16 else np.uint32)


def _join_keys(contexts: np.ndarray, runs: np.ndarray, nexts: np.ndarray, bits: int) -> np.ndarray:
    return (np.repeat(contexts, runs.astype(np.int64)) << np.uint64(bits)) | nexts.astype(np.uint64)


def _compact_counts(counts: np.ndarray) -> np.ndarray:
    if counts.dtype.kind == "f" and not np.all(counts == np.round(counts)):
        return counts.astype(np.float64)
    top = counts.max(initial=0)
    return counts.astype(np.uint16 if top < 1 << 16 else np.uint32 if top < 1 << 32 else np.uint64)


def load(path: str | Path) -> MarkovModel:
    """The model saved at `path`. A damaged or hostile file is one GenlabError naming it, in
    bounded memory: every size is checked against the header before it is read."""
    path = Path(path)
    if not path.exists():
        raise GenlabError(f"{path}: no such model file")
    if path.is_dir():
        raise GenlabError(f"{path} is a directory, not a model file")
    try:
        with opened(path) as archive:
            if "meta" not in archive.members:
                raise GenlabError(f"{path} is not a genlab Markov model")
            header = read_header(archive.array("meta", ("|u1",), META_MOST).tobytes(), path)
            return _assemble(header, archive)
    except Damaged as e:
        raise GenlabError(f"{path} is corrupt ({e})") from None
    except READ_ERRORS as e:
        if not _starts_like_zip(path):
            raise GenlabError(f"{path} is not a genlab Markov model (unrecognised file format)") from None
        why = "damaged compressed data" if isinstance(e, zlib.error) else type(e).__name__
        raise GenlabError(f"{path} is truncated or corrupt ({why})") from None
    except OSError as e:
        raise cannot("read", path, e) from None


def _starts_like_zip(path: Path) -> bool:
    """A model file (a zip) begins with a local file header, even when its end is cut off."""
    try:
        with path.open("rb") as fh:
            return fh.read(4) == b"PK\x03\x04"
    except OSError:
        return False


_COUNTS = ("<u2", "<u4", "<u8", "<f8")


def _assemble(h: Header, archive: Archive) -> MarkovModel:
    """The model from its checked header and members; tables are checked before the text is
    inflated, and the text is inflated no further than the header's length."""
    def member(name: str, *dtypes: str) -> np.ndarray:
        return archive.array(name, dtypes, h.most(name.rstrip("0123456789")))

    vocab = _vocabulary(member("vocab", "|u1"), h.vocab_size)
    starts = member("doc_starts", "<i8")
    _check_documents(starts, h)
    keys, counts, reindex, slices = [], [], [], []
    renumbered = (0, 1)  # the deepest renumbered depth so far, and its number of codes
    for d in range(h.order + 1):
        deltas, runs = member(f"contexts{d}", "<u8"), member(f"runs{d}", "<u4")
        nexts, c = member(f"next{d}", "<u2", "<u4"), member(f"counts{d}", *_COUNTS)
        table = member(f"reindex{d}", "<u8") if d in h.reindexed else None
        contexts = check_table(d, deltas, runs, nexts, c, table, h.bits, h.vocab_size, renumbered)
        if table is not None:
            renumbered = (d, len(table))
        keys.append(_join_keys(contexts, runs, nexts, h.bits))
        counts.append(c)
        reindex.append(table)
        slices.append((contexts, np.concatenate(([0], np.cumsum(runs, dtype=np.int64)))))
    _check_total(counts[0], starts, h)
    text_ids = np.frombuffer(_inflate_text(member("text", "|u1"), h), dtype=np.dtype(h.text_dtype))
    if int(text_ids.max()) >= len(vocab):
        raise Damaged("training text does not match its vocabulary")
    return MarkovModel(h.order, h.unit, vocab, NgramCounts(h.order, h.bits, keys, counts, reindex, slices),
                       text_ids, starts, h.corpora, h.continue_rate, h.quote_span, h.version,
                       pretokenized=h.pretokenized)


def _vocabulary(raw: np.ndarray, size: int) -> list[str]:
    """The vocabulary's tokens (the paragraph mark first, each once), counted before decoding."""
    if int(np.count_nonzero(raw == ord("\n"))) != size - 1:
        raise Damaged("vocabulary does not match its header")
    try:
        vocab = str(raw.data, "utf-8", "surrogatepass").split("\n")
    except UnicodeDecodeError:
        raise Damaged("vocabulary is not UTF-8") from None
    if vocab[0] != PARAGRAPH or len(set(vocab)) != len(vocab):
        raise Damaged("vocabulary does not match its header")
    return vocab


def _check_documents(starts: np.ndarray, h: Header) -> None:
    """One start per corpus, the first at 0, each document at least a mark and a token long."""
    if len(starts) == 0 or starts[0] != 0 or np.any(np.diff(starts) < 2) or int(starts[-1]) > h.text_length - 2:
        raise Damaged("document starts do not match the training text")
    if h.corpora and len(h.corpora) != len(starts):
        raise Damaged("document starts do not match the corpora")


def _check_total(unigrams: np.ndarray, starts: np.ndarray, h: Header) -> None:
    """Every training token but each document's first is counted once (times its corpus's
    weight) at depth 0: a text_length that lies is caught before the text is inflated."""
    lengths = np.diff(np.append(starts, h.text_length)) - 1
    weights = np.array([c.get("weight", 1.0) for c in h.corpora] if h.corpora else [1.0] * len(starts))
    if not math.isclose(float(unigrams.sum(dtype=np.float64)), float(lengths @ weights), rel_tol=1e-9):
        raise Damaged("count table 0 does not match the training text's length")


def _inflate_text(stored: np.ndarray, h: Header) -> bytes:
    """The training text's bytes, inflated to at most the length its header gives."""
    expected = h.text_length * np.dtype(h.text_dtype).itemsize
    inflater = lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=_LZMA["filters"])
    try:
        raw = inflater.decompress(stored.data, max_length=expected)
        if len(raw) == expected and not inflater.eof:
            raw += inflater.decompress(b"", max_length=1)
    except lzma.LZMAError:
        raise Damaged("training text is damaged") from None
    if len(raw) > expected:
        raise Damaged(f"training text is longer than the {h.text_length:,} tokens its header gives")
    if len(raw) < expected or not inflater.eof or inflater.unused_data:
        raise Damaged("training text does not match its header")
    return raw


def default_name(corpus_stem: str, order: int, unit: str) -> str:
    """novel (word, order 3), novel-o2, novel-char-o5: the name `markov:NAME` finds."""
    parts = [corpus_stem]
    if unit != "word":
        parts.append(unit)
    if order != 3 or unit != "word":
        parts.append(f"o{order}")
    return "-".join(parts)


def user_models_dir() -> Path:
    """The user's Markov models: see genlab.folders."""
    from genlab.folders import models_dir

    return models_dir()


def find_model(name_or_path: str) -> Path:
    """./models/NAME.markov, else the user's models folder, else a path as given.

    Names come first: `markov:novel` must find the model trained from novel.txt even when a
    file called `novel` happens to sit in the working folder.
    """
    direct = expand_user(name_or_path)
    candidates = [MODELS_DIR / f"{name_or_path}{SUFFIX}", user_models_dir() / f"{name_or_path}{SUFFIX}"]
    if "/" not in name_or_path and os.sep not in name_or_path:
        candidates.append(direct)
    else:
        candidates.insert(0, direct)
    for c in candidates:
        if c.is_file():
            return c
    if direct.is_dir():
        raise GenlabError(f"{direct} is a directory, not a model file")
    known = sorted({p.stem for d in (MODELS_DIR, user_models_dir()) if d.is_dir() for p in d.glob(f"*{SUFFIX}")})
    hint = f" (known: {', '.join(known)})" if known else " (train one with 'genlab train-markov CORPUS')"
    raise GenlabError(f"no Markov model named {name_or_path!r}{hint}")
