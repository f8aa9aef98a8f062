"""Hostile Markov model files and corpus weights: each ends in one `genlab: error:` line naming
the file, in bounded memory, and the loader raises nothing but GenlabError.

A .markov file is a zip of .npy members (genlab/markov/store.py). The files here are built by
hand from a small real model, so a member's declared sizes, its .npy header and its stored
bytes can each say something different; the bombs are made by repeating compressed blocks
that are independent of each other (a few MB of file, gigabytes once inflated).
"""

from __future__ import annotations

import io
import json
import lzma
import math
import random
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

from conftest import NOVEL, one_line_error, ok, run_measured
from genlab.errors import GenlabError
from genlab.markov import store
from genlab.markov.model import train

GIB = 1 << 30
PEAK_MB = 500

# --- a small real model, and files built from its members -----------------------------------------


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    """A real order-3 word chain on the first paragraphs of the novel (about 60 KB)."""
    text = "\n\n".join(NOVEL.read_text(encoding="utf-8").split("\n\n")[:60])
    corpus = tmp_path_factory.mktemp("corpus") / "small.txt"
    corpus.write_text(text, encoding="utf-8")
    return store.save(train([(corpus, 1.0)], order=3), corpus.with_suffix(".markov"))


@pytest.fixture(scope="module")
def long_model_file(tmp_path_factory) -> Path:
    """An order-1 chain on the novel twenty times over (875,000 tokens): its stored text may
    take 1.75 MB, room for an LZMA stream that inflates to gigabytes."""
    corpus = tmp_path_factory.mktemp("corpus") / "long.txt"
    corpus.write_text("\n\n".join([NOVEL.read_text(encoding="utf-8")] * 20), encoding="utf-8")
    return store.save(train([(corpus, 1.0)], order=1), corpus.with_suffix(".markov"))


def members(path: Path) -> dict[str, bytes]:
    """Every member's .npy bytes, by name."""
    with zipfile.ZipFile(path) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


def npy_header(dtype: str, shape: tuple) -> bytes:
    """A .npy header alone: what the data after it claims to be."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def meta_of(m: dict[str, bytes]) -> dict:
    return json.loads(np.load(io.BytesIO(m["meta.npy"])).tobytes())


def with_meta(m: dict[str, bytes], **changes) -> dict[str, bytes]:
    meta = meta_of(m)
    meta.update(changes)
    return {**m, "meta.npy": npy(np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))}


def deflated(raw: bytes) -> tuple[int, int, bytes]:
    """(crc, inflated size, raw deflate stream) of a member's bytes."""
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return zlib.crc32(raw), len(raw), c.compress(raw) + c.flush()


def write_zip(path: Path, entries: dict[str, tuple[int, int, bytes]]) -> Path:
    """A zip written by hand (deflated members, zip64 sizes), so a member's declared size and
    its stored stream can disagree: entries are name -> (crc, declared size, deflate stream)."""
    out, central = bytearray(), bytearray()
    for name, (crc, size, data) in entries.items():
        n, far = name.encode(), 0xFFFFFFFF
        extra = struct.pack("<HHQQ", 1, 16, size, len(data))
        head = struct.pack("<IHHHHHIII", 0x04034B50, 45, 0, 8, 0, 0x21, crc, far, far)
        central_extra = struct.pack("<HHQQQ", 1, 24, size, len(data), len(out))
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 8, 0, 0x21, crc, far, far,
                               len(n), len(central_extra), 0, 0, 0, 0, far) + n + central_extra
        out += head + struct.pack("<HH", len(n), len(extra)) + n + extra + data
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central), len(out), 0)
    path.write_bytes(bytes(out + central + end))
    return path


def rebuild(m: dict[str, bytes], path: Path, **raw_members: tuple[int, int, bytes]) -> Path:
    """The members as a model file, some of them replaced by ready-made (crc, size, stream)."""
    entries = {name: deflated(data) for name, data in m.items()}
    entries.update({f"{name}.npy": entry for name, entry in raw_members.items()})
    return write_zip(path, entries)


def zeros_deflated(dtype: str, size: int) -> tuple[int, int, bytes]:
    """A .npy member of about `size` zero bytes: a full flush makes each 16 MiB of zeros
    compress to the same independent bytes, so gigabytes cost one compression."""
    block = 16 << 20
    header = npy_header(dtype, (size // block * block // np.dtype(dtype).itemsize,))
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    start = c.compress(header) + c.flush(zlib.Z_FULL_FLUSH)
    same = c.compress(bytes(block)) + c.flush(zlib.Z_FULL_FLUSH)
    return 0, len(header) + size // block * block, start + same * (size // block) + c.flush()


def lzma_zeros(size: int) -> bytes:
    """A raw LZMA2 stream (the model's text format) of about `size` zero bytes: 2 MiB chunks
    that each reset the dictionary, so one compressed chunk repeats."""
    chunk = lzma.compress(bytes(2 << 20), **store._LZMA)[:-1]  # without the end marker
    return chunk * (size // (2 << 20)) + b"\x00"


# --- memory bombs, through the CLI ----------------------------------------------------------------

def member_bomb(m: dict[str, bytes], path: Path) -> Path:
    """counts1.npy really inflates to 3 GiB (and says so in the zip directory)."""
    return rebuild(m, path, counts1=zeros_deflated("|u1", 3 * GIB))


def lying_member(m: dict[str, bytes], path: Path) -> Path:
    """next1.npy declares its true size in the zip directory, but its stream inflates to 3 GiB."""
    _, _, stream = zeros_deflated("<u2", 3 * GIB)
    return rebuild(m, path, next1=(0, len(m["next1.npy"]), stream))


def shape_bomb(m: dict[str, bytes], path: Path) -> Path:
    """counts1.npy's header claims 2**40 entries; its data is a few bytes."""
    return rebuild({**m, "counts1.npy": npy_header("<u2", (2**40,)) + bytes(64)}, path)


def lzma_bomb(size: int):
    """The stored training text inflates to `size` bytes (the header gives the real length)."""
    def build(m: dict[str, bytes], path: Path) -> Path:
        stream = lzma_zeros(size)
        assert len(stream) < 2 * meta_of(m)["text_length"]  # no bigger than the real text's ids
        return rebuild({**m, "text.npy": npy(np.frombuffer(stream, dtype=np.uint8))}, path)
    return build


BOMBS = {"member-3GiB": member_bomb, "member-lies-about-size": lying_member, "npy-shape-2**40": shape_bomb,
         "lzma-4.2GB": lzma_bomb(4200 * 10**6), "lzma-8GiB": lzma_bomb(8 * GIB)}


@pytest.mark.parametrize("command", ["generate", "perplexity"])
@pytest.mark.parametrize("bomb", BOMBS)
def test_memory_bombs_are_refused_in_bounded_memory(cli, model_file, long_model_file, bomb, command):
    source = long_model_file if bomb.startswith("lzma") else model_file
    path = BOMBS[bomb](members(source), cli.cwd / "bomb.markov")
    assert path.stat().st_size < 16 << 20
    (cli.cwd / "held-out.txt").write_text("“Well,” said the man. It was late.\n", encoding="utf-8")
    args = ["--backend", f"markov:{path}"] + (["held-out.txt"] if command == "perplexity" else [])
    r, peak = run_measured(cli, command, *args)
    line = one_line_error(r)
    assert "bomb.markov" in line
    assert peak < PEAK_MB, f"{bomb}: peak {peak:.0f} MB"


# --- metadata and tables of the wrong type or out of range ----------------------------------------

BAD_META = {
    "continue_rate-text": {"continue_rate": "x"}, "continue_rate-above-1": {"continue_rate": 2.5},
    "corpora-text": {"corpora": "x"}, "corpora-of-text": {"corpora": ["x"]},
    "corpus-weight-huge": {"corpora": [{"name": "a", "path": "a.txt", "weight": 1e300, "tokens": 5}]},
    "quote_span-text": {"quote_span": "x"}, "quote_span-negative": {"quote_span": -1},
    "quote_span-huge": {"quote_span": 10**30}, "order-text": {"order": "3"}, "order-true": {"order": True},
    "bits-0": {"bits": 0}, "bits-60": {"bits": 60}, "vocab_size-text": {"vocab_size": "many"},
    "text_length-negative": {"text_length": -1}, "text_length-huge": {"text_length": 2**62},
    "text_length-fraction": {"text_length": 10.5}, "text_dtype-object": {"text_dtype": "|O"},
    "text_dtype-float": {"text_dtype": "<f8"}, "text_dtype-junk": {"text_dtype": "x"},
    "reindexed-text": {"reindexed": "x"}, "tokenizer-number": {"tokenizer": 5},
    "genlab_version-list": {"genlab_version": [1]}, "unit-list": {"unit": ["word"]},
}


@pytest.mark.parametrize("case", BAD_META)
def test_metadata_of_the_wrong_type_or_range_is_one_line(cli, model_file, case):
    path = rebuild(with_meta(members(model_file), **BAD_META[case]), cli.cwd / "odd.markov")
    (cli.cwd / "held-out.txt").write_text("It was late.\n", encoding="utf-8")
    for command in (["generate", "--max-tokens", "20"], ["perplexity", "held-out.txt"]):
        line = one_line_error(cli(*command, "--backend", f"markov:{path}"))
        assert "odd.markov" in line


def table(m: dict[str, bytes], name: str) -> np.ndarray:
    return np.load(io.BytesIO(m[f"{name}.npy"])).copy()


def set_entry(name: str, value, dtype=None):
    """A change to one entry of one stored table (made float64 first when `dtype` says so)."""
    def change(m: dict[str, bytes]) -> dict[str, bytes]:
        a = table(m, name).astype(dtype or table(m, name).dtype)
        a[len(a) // 2] = value
        return {**m, f"{name}.npy": npy(a)}
    return change


BAD_TABLES = {
    "count-nan": set_entry("counts1", math.nan, np.float64), "count-zero": set_entry("counts2", 0),
    "count-negative": set_entry("counts1", -3.0, np.float64), "count-infinite": set_entry("counts0", math.inf, "<f8"),
    "next-id-beyond-vocabulary": set_entry("next2", 60000), "run-of-zero": set_entry("runs1", 0),
    "doc-start-beyond-text": set_entry("doc_starts", 10**9), "counts-as-text": lambda m: {
        **m, "counts1.npy": npy(np.array(["a"] * len(table(m, "counts1"))))},
    "doc-starts-unsorted": lambda m: {**m, "doc_starts.npy": npy(np.array([0, 50, 20], dtype=np.int64))},
}


@pytest.mark.parametrize("case", BAD_TABLES)
def test_tables_out_of_range_are_one_line(cli, model_file, case):
    path = rebuild(BAD_TABLES[case](members(model_file)), cli.cwd / "odd.markov")
    line = one_line_error(cli("generate", "--backend", f"markov:{path}", "--max-tokens", "200", "--seed", "3"))
    assert "odd.markov" in line and "corrupt" in line


def test_the_untouched_rebuild_still_loads(cli, model_file):
    """The hand-made zip is a good model file when nothing in it is changed."""
    path = rebuild(members(model_file), cli.cwd / "same.markov")
    assert ok(cli("generate", "--backend", f"markov:{path}", "--max-tokens", "20", "--seed", "1")).strip()


@pytest.mark.parametrize("order,unit,weights", [(1, "word", (1.0,)), (6, "word", (1.0, 1.0)),
                                                 (8, "word", (2.5, 1e-6)), (8, "char", (1e6, 1.0))])
def test_sound_models_of_every_layout_still_load(tmp_path, order, unit, weights):
    """The checks refuse no model genlab trains: weighted ones, and those whose long contexts
    were renumbered (order 6 and 8 words)."""
    text = NOVEL.read_text(encoding="utf-8")[:60000]
    corpora = []
    for n, weight in enumerate(weights):
        (tmp_path / f"{n}.txt").write_text(text[n * 30000:(n + 1) * 30000], encoding="utf-8")
        corpora.append((tmp_path / f"{n}.txt", weight))
    model = train(corpora, order=order, unit=unit)
    loaded = store.load(store.save(model, tmp_path / "m.markov"))
    assert loaded.vocab == model.vocab and np.array_equal(loaded.text_ids, model.text_ids)
    for a, b in zip(loaded.counts.keys + loaded.counts.counts, model.counts.keys + model.counts.counts):
        assert np.array_equal(a, b)
    assert (order == 8 and unit == "word") <= any(r is not None for r in loaded.counts.reindex)


# --- corpus weights -------------------------------------------------------------------------------

@pytest.mark.parametrize("weight", ["1e300", "1e7", "1e-300", "0.0000001"])
def test_corpus_weight_out_of_range_is_refused_before_training(cli, weight):
    (cli.cwd / "book.txt").write_text(NOVEL.read_text(encoding="utf-8")[:5000], encoding="utf-8")
    line = one_line_error(cli("train-markov", f"book.txt:{weight}", "-o", "book.markov"))
    assert "weight" in line and "1e+06" in line and weight in line
    assert not (cli.cwd / "book.markov").exists()


def test_extreme_weights_within_range_give_finite_counts(cli):
    (cli.cwd / "a.txt").write_text(NOVEL.read_text(encoding="utf-8")[:5000], encoding="utf-8")
    (cli.cwd / "b.txt").write_text(NOVEL.read_text(encoding="utf-8")[5000:10000], encoding="utf-8")
    ok(cli("train-markov", "a.txt:1e6", "b.txt:1e-6", "-o", "ab.markov"))
    model = store.load(cli.cwd / "ab.markov")
    assert all(np.all(np.isfinite(c.astype(np.float64))) and np.all(c > 0) for c in model.counts.counts)
    assert ok(cli("generate", "--backend", "markov:ab.markov", "--max-tokens", "20", "--seed", "2")).strip()


# --- random truncations and byte flips ------------------------------------------------------------

def damaged_copies(data: bytes, n: int, seed: int = 17):
    """`n` truncations and `n` copies with one to three bytes changed, at seeded random places."""
    rng = random.Random(seed)
    for _ in range(n):
        yield "cut", data[:rng.randrange(len(data))]
        copy = bytearray(data)
        for _ in range(rng.randint(1, 3)):
            copy[rng.randrange(len(copy))] ^= rng.randrange(1, 256)
        yield "flip", bytes(copy)


def test_damaged_files_load_or_raise_genlab_error(tmp_path, model_file):
    from genlab.markov.generator import MarkovGenerator
    from genlab.sampling import Sampling

    data, loaded, path = model_file.read_bytes(), 0, tmp_path / "damaged.markov"
    for kind, damaged in damaged_copies(data, 400):
        path.write_bytes(damaged)
        try:
            model = store.load(path)
        except GenlabError as e:
            assert "damaged.markov" in str(e), (kind, str(e))
            continue
        loaded += 1  # a change the zip's checksums do not cover (a date, a spare field): it must still work
        "".join(MarkovGenerator(model).stream("It was", Sampling(max_tokens=30, seed=1)))
    assert loaded < 400


def test_damaged_files_through_the_cli_are_one_line(cli, model_file):
    copies = list(damaged_copies(model_file.read_bytes(), 3, seed=5))
    for n, (kind, damaged) in enumerate(copies):
        (cli.cwd / f"damaged{n}.markov").write_bytes(damaged)
        r = cli("generate", "--backend", f"markov:damaged{n}.markov", "--max-tokens", "10")
        if r.returncode:
            assert f"damaged{n}.markov" in one_line_error(r), kind
        else:
            ok(r)


# --- zips genlab never writes ---------------------------------------------------------------------

def bzip2_members(m: dict[str, bytes], path: Path) -> Path:
    """bzip2 inflates without a limit inside zipfile: a member so compressed is refused unread."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_BZIP2) as zf:
        for name, data in m.items():
            zf.writestr(name, data)
    return path


def many_members(m: dict[str, bytes], path: Path) -> Path:
    return rebuild({**m, **{f"extra{n}.npy": b"" for n in range(60)}}, path)


@pytest.mark.parametrize("odd,expected", [(bzip2_members, "method 12"), (many_members, "members")])
def test_zips_genlab_never_writes_are_one_line(cli, model_file, odd, expected):
    path = odd(members(model_file), cli.cwd / "odd.markov")
    line = one_line_error(cli("generate", "--backend", f"markov:{path}"))
    assert "odd.markov" in line and expected in line
