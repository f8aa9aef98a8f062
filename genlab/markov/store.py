"""Markov model files: one zip of plain numpy arrays plus JSON metadata. Never pickle.

Written atomically (temp file in the same folder, then rename), so an interrupted save never
leaves half a model. Loading checks the format name and version before trusting anything.
"""

from __future__ import annotations

import json
import lzma
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from genlab.errors import GenlabError
from genlab.atomic import replacing
from genlab.markov.model import MAX_ORDER, UNITS, MarkovModel
from genlab.markov.units import PRETOKENIZED
from genlab.markov.ngrams import NgramCounts
from genlab.ngrams import count_sorted
from genlab.folders import expand_user

FORMAT = "genlab-markov"
FORMAT_VERSION = 1
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
    path = Path(path)
    if not path.exists():
        raise GenlabError(f"{path}: no such model file")
    if path.is_dir():
        raise GenlabError(f"{path} is a directory, not a model file")
    try:
        with np.load(path, allow_pickle=False) as z:
            if "meta" not in z.files:
                raise GenlabError(f"{path} is not a genlab Markov model")
            meta = _read_meta(z["meta"], path)
            arrays = {k: z[k] for k in z.files if k != "meta"}
    except GenlabError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, zlib.error) as e:
        if not _starts_like_zip(path):
            raise GenlabError(f"{path} is not a genlab Markov model (unrecognised file format)") from None
        raise GenlabError(f"{path} is truncated or corrupt ({type(e).__name__})") from None
    return _assemble(meta, arrays, path)


def _starts_like_zip(path: Path) -> bool:
    """A model file (a zip) begins with a local file header, even when its end is cut off."""
    try:
        with path.open("rb") as fh:
            return fh.read(4) == b"PK\x03\x04"
    except OSError:
        return False


def _read_meta(raw: np.ndarray, path: Path) -> dict:
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise GenlabError(f"{path} is corrupt (unreadable metadata)") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise GenlabError(f"{path} is not a genlab Markov model")
    version = meta.get("format_version")
    if not isinstance(version, int):
        raise GenlabError(f"{path} is corrupt (no format version)")
    if version > FORMAT_VERSION:
        raise GenlabError(
            f"{path} was written by a newer genlab ({meta.get('genlab_version', '?')}, model format {version}); "
            f"this genlab reads format {FORMAT_VERSION}: upgrade genlab to use it"
        )
    return meta


def _assemble(meta: dict, a: dict[str, np.ndarray], path: Path) -> MarkovModel:
    def corrupt(why: str) -> GenlabError:
        return GenlabError(f"{path} is corrupt ({why})")

    try:
        order, unit, bits = int(meta["order"]), meta["unit"], int(meta["bits"])
        if not 1 <= order <= MAX_ORDER or unit not in UNITS:
            raise corrupt("bad order or unit")
        vocab = a["vocab"].tobytes().decode("utf-8", "surrogatepass").split("\n")
        if len(vocab) != meta["vocab_size"] or not 1 <= bits <= 32 or len(vocab) > 1 << bits:
            raise corrupt("vocabulary does not match its header")
        keys, counts, reindex, slices = [], [], [], []
        for d in range(order + 1):
            deltas, runs, nexts, c = a[f"contexts{d}"], a[f"runs{d}"], a[f"next{d}"], a[f"counts{d}"]
            if deltas.dtype != np.uint64 or len(deltas) != len(runs) or int(runs.sum()) != len(nexts) \
                    or len(nexts) != len(c):
                raise corrupt(f"count table {d} is damaged")
            contexts = np.cumsum(deltas, dtype=np.uint64)
            k = _join_keys(contexts, runs, nexts, bits)
            if len(k) > 1 and not np.all(k[1:] > k[:-1]):
                raise corrupt(f"count table {d} is out of order")
            keys.append(k)
            counts.append(c)
            reindex.append(a.get(f"reindex{d}"))
            slices.append((contexts, np.concatenate(([0], np.cumsum(runs, dtype=np.int64)))))
        if len(keys[0]) and int(keys[0][-1]) >= len(vocab):
            raise corrupt("token ids out of range")
        raw = lzma.decompress(a["text"].tobytes(), **_LZMA)
        text_ids, starts = np.frombuffer(raw, dtype=np.dtype(meta["text_dtype"])), a["doc_starts"]
        if len(text_ids) != meta["text_length"] or (len(text_ids) and int(text_ids.max()) >= len(vocab)):
            raise corrupt("training text does not match its header")
    except KeyError as e:
        raise corrupt(f"missing {e.args[0]}") from None
    except (ValueError, TypeError, UnicodeDecodeError, lzma.LZMAError, zlib.error) as e:
        raise corrupt(type(e).__name__) from None
    model = MarkovModel(order, unit, vocab, NgramCounts(order, bits, keys, counts, reindex, slices),
                        text_ids, starts, meta.get("corpora", []), float(meta.get("continue_rate", 0.0)),
                        int(meta.get("quote_span", 0)), meta.get("genlab_version", "?"),
                        pretokenized=meta.get("tokenizer") == PRETOKENIZED)
    return model


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
