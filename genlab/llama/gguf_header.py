"""Read what a GGUF file says about itself, without touching its tensor data.

A GGUF file (llama.cpp's gguf.cpp, ggml's docs/gguf.md; all little-endian) is

    magic "GGUF" | version u32 | tensor count u64 | key-value count u64
    key-values:   key (string) | value type u32 | value
    tensor infos: name (string) | n_dims u32 | dims u64 x n_dims | ggml type u32 | offset u64
    padding to `general.alignment` (default 32), then the tensor data

where a string is a u64 byte length and the bytes, and an array value is an element type u32,
a u64 count and the elements. This reader walks those sections with `struct` over a buffered
file, reading the header in chunks of 1 MiB and never the tensor data: on SmolLM2-135M (98 MB,
a 49,152-token vocabulary and 48,900 merges in its header) it takes a few hundredths of a
second where `gguf.GGUFReader`, which maps every tensor and builds numpy views of every vocabulary
entry, takes seconds.

A damaged file must not make it spend memory or fail with something other than a GenlabError:
every size read from the file (string lengths, array lengths, the tensor and key-value counts,
tensor dimensions) is checked against the bytes left in the file before anything is allocated
or read, and large arrays (the vocabulary, the merges, token scores) are skipped over by their
lengths without building Python lists. Checks follow llama.cpp's loader where it refuses a file:
versions 2 and 3 only, no nested arrays, no duplicate keys or tensor names, at most 4 tensor
dimensions, a known tensor type whose block size divides the first dimension, aligned tensor
offsets, and tensor data that ends inside the file.
"""

from __future__ import annotations

import functools
import os
import struct
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from genlab.errors import GenlabError, cannot
from genlab.folders import expand_user

MAGIC = b"GGUF"
DEFAULT_ALIGNMENT = 32
SMALL_ARRAY = 64  # arrays up to this many elements are read into the metadata; longer ones are skipped
MAX_KEY = 65535  # bytes of a key (the GGUF spec's limit)
MAX_TENSOR_NAME = 63  # GGML_MAX_NAME - 1
MAX_DIMS = 4  # GGML_MAX_DIMS
_CHUNK = 1 << 20

# GGUF value types: (struct format, size) of the scalars; 8 is a string, 9 an array
_STRING, _ARRAY = 8, 9
_SCALARS: dict[int, struct.Struct] = {
    0: struct.Struct("<B"), 1: struct.Struct("<b"), 2: struct.Struct("<H"), 3: struct.Struct("<h"),
    4: struct.Struct("<I"), 5: struct.Struct("<i"), 6: struct.Struct("<f"), 7: struct.Struct("<B"),
    10: struct.Struct("<Q"), 11: struct.Struct("<q"), 12: struct.Struct("<d"),
}
_BOOL = 7
VALUE_TYPES = {0: "UINT8", 1: "INT8", 2: "UINT16", 3: "INT16", 4: "UINT32", 5: "INT32", 6: "FLOAT32",
               7: "BOOL", 8: "STRING", 9: "ARRAY", 10: "UINT64", 11: "INT64", 12: "FLOAT64"}

# ggml tensor types: id -> (name, elements per block, bytes per block); gguf-py's GGML_QUANT_SIZES
# as vendored by llama-cpp-python 0.3.36 (QK_K = 256)
GGML_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20), 6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 36), 10: ("Q2_K", 256, 84),
    11: ("Q3_K", 256, 110), 12: ("Q4_K", 256, 144), 13: ("Q5_K", 256, 176), 14: ("Q6_K", 256, 210),
    15: ("Q8_K", 256, 292), 16: ("IQ2_XXS", 256, 66), 17: ("IQ2_XS", 256, 74), 18: ("IQ3_XXS", 256, 98),
    19: ("IQ1_S", 256, 50), 20: ("IQ4_NL", 32, 18), 21: ("IQ3_S", 256, 110), 22: ("IQ2_S", 256, 82),
    23: ("IQ4_XS", 256, 136), 24: ("I8", 1, 1), 25: ("I16", 1, 2), 26: ("I32", 1, 4), 27: ("I64", 1, 8),
    28: ("F64", 1, 8), 29: ("IQ1_M", 256, 56), 30: ("BF16", 1, 2), 34: ("TQ1_0", 256, 54),
    35: ("TQ2_0", 256, 66), 39: ("MXFP4", 32, 17), 40: ("NVFP4", 64, 36), 41: ("Q1_0", 128, 18),
    42: ("Q2_0", 64, 18),
}

# general.file_type (llama_ftype) -> name, without llama.cpp's MOSTLY_ prefix
FILE_TYPES: dict[int, str] = {
    0: "ALL_F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
    11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M",
    18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S",
    25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M",
    32: "BF16", 36: "TQ1_0", 37: "TQ2_0", 38: "MXFP4_MOE", 39: "NVFP4", 40: "Q1_0", 41: "Q2_0",
    1024: "GUESSED",
}

_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_HEAD = struct.Struct("<4sIQQ")


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    ggml_type: int
    offset: int  # from the start of the tensor data
    n_elements: int
    n_bytes: int

    @property
    def type_name(self) -> str:
        return GGML_TYPES[self.ggml_type][0]


@dataclass(frozen=True)
class GGUFHeader:
    """The header of a GGUF file: its key-values and tensor infos, no tensor data.

    metadata: every key-value, except arrays longer than SMALL_ARRAY elements, whose
    (element type name, length) are in `arrays` instead, and the file offset of their first
    element in `array_offsets`. tensors: empty when read with tensors=False. data_end: the
    byte just past the last tensor's data (only with tensors).
    """

    version: int
    tensor_count: int
    metadata: dict[str, Any]
    arrays: dict[str, tuple[str, int]]
    tensors: tuple[TensorInfo, ...] = ()
    alignment: int = DEFAULT_ALIGNMENT
    data_offset: int = 0
    data_end: int = 0
    array_offsets: dict[str, int] = field(default_factory=dict)

    @property
    def parameters(self) -> int:
        return sum(t.n_elements for t in self.tensors)

    def tensor_types(self) -> dict[str, int]:
        """Parameters per tensor type (F32, Q4_1, ...), most first."""
        counts: Counter[str] = Counter()
        for t in self.tensors:
            counts[t.type_name] += t.n_elements
        return dict(counts.most_common())


class _Cursor:
    """A position in a file, with the bytes around it in memory; every read is checked against
    the file's size first."""

    def __init__(self, fh: BinaryIO, size: int, path: Path):
        self.fh, self.size, self.path = fh, size, path
        self.buf = b""
        self.start = 0  # file offset of buf[0]
        self.end = 0  # file offset just past buf
        self.pos = 0

    def damaged(self, why: str) -> GenlabError:
        return GenlabError(f"{self.path} is a damaged or truncated GGUF file ({why})")

    def left(self) -> int:
        return self.size - self.pos

    def need(self, n: int) -> None:
        """Make the n bytes at pos available in buf."""
        if n > self.size - self.pos:
            raise self.damaged(f"it ends early: {n} more bytes needed at offset {self.pos}, "
                               f"the file has {self.size}")
        if self.pos + n > self.end or self.pos < self.start:
            self.fh.seek(self.pos)
            data = self.fh.read(max(n, _CHUNK))
            if len(data) < n:
                raise self.damaged(f"it ended while being read, at offset {self.pos + len(data)}")
            self.buf, self.start, self.end = data, self.pos, self.pos + len(data)

    def unpack(self, fmt: struct.Struct) -> Any:
        self.need(fmt.size)
        value = fmt.unpack_from(self.buf, self.pos - self.start)[0]
        self.pos += fmt.size
        return value

    def string(self, what: str, limit: int | None = None) -> str:
        n = self.unpack(_U64)
        if n > self.left():
            raise self.damaged(f"{what} at offset {self.pos - 8} claims {n:,} bytes, only {self.left():,} are left")
        if limit is not None and n > limit:
            raise self.damaged(f"{what} at offset {self.pos - 8} claims {n:,} bytes, at most {limit} are allowed")
        self.need(n)
        i = self.pos - self.start
        self.pos += n
        return self.buf[i: i + n].decode("utf-8", errors="replace")

    def skip_strings(self, count: int, what: str) -> None:
        """Step over `count` strings, reading only their lengths. (A length past the end of the
        file is found at the next read, which `need` checks; skipping spends no memory.)"""
        unpack = _U64.unpack_from
        pos, buf, start = self.pos, self.buf, self.start
        limit = self.end - 8  # the last offset whose length field is in buf
        for _ in range(count):
            if pos > limit:
                self.pos = pos
                self.need(8)
                buf, start, limit = self.buf, self.start, self.end - 8
            pos += 8 + unpack(buf, pos - start)[0]
        self.pos = pos
        if pos > self.size:
            raise self.damaged(f"the strings of {what} run past the end of the file ({pos:,} > {self.size:,} bytes)")

    def skip(self, n: int) -> None:
        if n > self.left():
            raise self.damaged(f"it ends early: {n} more bytes needed at offset {self.pos}, the file has {self.size}")
        self.pos += n


def _value(cur: _Cursor, vtype: int, key: str) -> Any:
    if vtype == _STRING:
        return cur.string(f"the value of {key}")
    fmt = _SCALARS.get(vtype)
    if fmt is None:
        raise cur.damaged(f"{key} has an unknown value type {vtype}")
    value = cur.unpack(fmt)
    return bool(value) if vtype == _BOOL else value


def _array(cur: _Cursor, key: str, arrays: dict[str, tuple[str, int]], offsets: dict[str, int]) -> list[Any] | None:
    """The elements of a small array; a long one is skipped (None) and recorded in `arrays`
    and `offsets`."""
    etype = cur.unpack(_U32)
    count = cur.unpack(_U64)
    if etype == _ARRAY:
        raise cur.damaged(f"{key} is an array of arrays, which llama.cpp does not read")
    if etype == _STRING:
        least = 8
    elif etype in _SCALARS:
        least = _SCALARS[etype].size
    else:
        raise cur.damaged(f"{key} is an array of an unknown value type {etype}")
    if count > cur.left() // least:
        raise cur.damaged(f"{key} claims {count:,} elements, more than the {cur.left():,} bytes left can hold")
    if count <= SMALL_ARRAY:
        return [_value(cur, etype, key) for _ in range(count)]
    arrays[key] = (VALUE_TYPES[etype], count)
    offsets[key] = cur.pos
    if etype == _STRING:
        cur.skip_strings(count, key)
    else:
        cur.skip(count * least)
    return None


def _read(path: Path, size: int, tensors: bool) -> GGUFHeader:
    with open(path, "rb") as fh:
        cur = _Cursor(fh, size, path)
        if size < _HEAD.size:
            raise cur.damaged(f"it ends early: {size} bytes, the fixed header alone is {_HEAD.size}")
        cur.need(_HEAD.size)
        magic, version, n_tensors, n_kv = _HEAD.unpack_from(cur.buf, 0)
        cur.pos = _HEAD.size
        if magic != MAGIC:
            raise GenlabError(f"{path} is not a GGUF model file")
        if version & 0xFFFF == 0 and version:
            raise GenlabError(f"{path} is a big-endian GGUF file; llama.cpp on this machine reads little-endian ones")
        if version == 1:
            raise GenlabError(f"{path} is a GGUF version 1 file, which llama.cpp no longer reads; convert it again")
        if version not in (2, 3):
            raise cur.damaged(f"unknown GGUF version {version}; llama.cpp reads versions 2 and 3")
        if n_kv > cur.left() // 13:  # key length 8 + at least one byte + value type 4
            raise cur.damaged(f"it claims {n_kv:,} key-values, more than its {size:,} bytes can hold")
        if n_tensors > cur.left() // 24:  # name length 8 + n_dims 4 + type 4 + offset 8
            raise cur.damaged(f"it claims {n_tensors:,} tensors, more than its {size:,} bytes can hold")

        metadata: dict[str, Any] = {}
        arrays: dict[str, tuple[str, int]] = {}
        offsets: dict[str, int] = {}
        for _ in range(n_kv):
            key = cur.string("a key", MAX_KEY)
            if key in metadata or key in arrays:
                raise cur.damaged(f"the key {key!r} appears twice")
            vtype = cur.unpack(_U32)
            if vtype == _ARRAY:
                value = _array(cur, key, arrays, offsets)
                if value is not None:
                    metadata[key] = value
            else:
                metadata[key] = _value(cur, vtype, key)

        alignment = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
        if (not isinstance(alignment, int) or isinstance(alignment, bool) or alignment <= 0
                or alignment & (alignment - 1)):
            raise cur.damaged(f"general.alignment is {alignment!r}, not a power of two")
        if not tensors:
            return GGUFHeader(version, n_tensors, metadata, arrays, alignment=alignment, array_offsets=offsets)

        infos: list[TensorInfo] = []
        names: set[str] = set()
        end = 0
        for _ in range(n_tensors):
            name = cur.string("a tensor name", MAX_TENSOR_NAME)
            if name in names:
                raise cur.damaged(f"the tensor {name!r} appears twice")
            names.add(name)
            n_dims = cur.unpack(_U32)
            if n_dims > MAX_DIMS:
                raise cur.damaged(f"tensor {name!r} claims {n_dims} dimensions; ggml has at most {MAX_DIMS}")
            shape = tuple(cur.unpack(_U64) for _ in range(n_dims))
            ggml_type = cur.unpack(_U32)
            offset = cur.unpack(_U64)
            kind = GGML_TYPES.get(ggml_type)
            if kind is None:
                raise cur.damaged(f"tensor {name!r} has an unknown type {ggml_type}")
            _, block, block_bytes = kind
            n_elements = 1
            for d in shape:
                n_elements *= d
            if shape and shape[0] % block:
                raise cur.damaged(f"tensor {name!r} of type {kind[0]} has a first dimension {shape[0]} "
                                  f"that is not a multiple of its block size {block}")
            if offset % alignment:
                raise cur.damaged(f"tensor {name!r} starts at {offset}, not a multiple of the alignment {alignment}")
            n_bytes = n_elements // block * block_bytes
            infos.append(TensorInfo(name, shape, ggml_type, offset, n_elements, n_bytes))
            end = max(end, offset + n_bytes)
        data_offset = -(-cur.pos // alignment) * alignment
        return GGUFHeader(version, n_tensors, metadata, arrays, tuple(infos), alignment,
                          data_offset, data_offset + end, offsets)


def _stat(path: str | os.PathLike[str]) -> tuple[Path, os.stat_result]:
    p = expand_user(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise GenlabError(f"model file not found: {p}") from None
    except OSError as exc:
        raise cannot("read", p, exc) from None
    if p.is_dir():
        raise GenlabError(f"{p} is a directory, not a GGUF model file")
    return p, st


def read_header(path: str | os.PathLike[str], *, tensors: bool = True) -> GGUFHeader:
    """The header of the GGUF file at `path` (tensors=False: stop after the key-values).

    A missing, empty, foreign, damaged or truncated file is a GenlabError; nothing else is
    raised for any content of the file. Results are cached by path, size, mtime and inode.
    """
    p, st = _stat(path)
    if st.st_size == 0:
        raise GenlabError(f"{p} is empty, not a GGUF model file")
    return _cached(str(p), st.st_size, st.st_mtime_ns, st.st_ino, tensors)


@functools.lru_cache(maxsize=8)
def _cached(path: str, size: int, mtime_ns: int, ino: int, tensors: bool) -> GGUFHeader:
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            magic = fh.read(4)
        if magic != MAGIC:
            if len(magic) < 4 and magic == MAGIC[: len(magic)]:
                raise GenlabError(f"{p} is truncated: only {size} bytes")
            raise GenlabError(f"{p} is not a GGUF model file")
        return _read(p, size, tensors)
    except OSError as exc:
        raise cannot("read", p, exc) from None


def chat_template(path: str | os.PathLike[str]) -> str | None:
    """The file's tokenizer.chat_template, or None; reads only the key-values."""
    value = read_header(path, tensors=False).metadata.get("tokenizer.chat_template")
    return value if isinstance(value, str) and value.strip() else None


def has_chat_template(path: str | os.PathLike[str]) -> bool:
    """Whether the GGUF file carries a chat template (so `chat` works without a chat_format),
    known before loading the model: only the header's key-values are read."""
    return chat_template(path) is not None


# --- what genlab reports about a model file --------------------------------------------------------


@dataclass(frozen=True)
class GGUFInfo:
    """What the GGUF header says about a model file."""

    path: Path
    size: int
    version: int
    architecture: str
    name: str | None
    context_length: int | None
    parameters: int
    tensors: int
    file_type: str | None
    chat_template: str | None
    metadata: dict[str, Any] = field(default_factory=dict, repr=False)
    tensor_types: dict[str, int] = field(default_factory=dict, repr=False)  # parameters per tensor type
    vocabulary: int | None = None  # length of tokenizer.ggml.tokens


def inspect_gguf(path: str | os.PathLike[str]) -> GGUFInfo:
    """Validate a GGUF file and read its header (never its tensor data); any problem is a GenlabError."""
    p, st = _stat(path)
    h = read_header(p)
    if h.data_end > st.st_size:
        raise GenlabError(f"{p} is a damaged or truncated GGUF file: its tensors need {h.data_end} bytes "
                          f"but the file has {st.st_size}")
    if not h.tensors:
        raise GenlabError(f"{p} holds no tensors: it is not a model (a vocabulary-only file?)")
    meta = dict(h.metadata)
    arch = meta.get("general.architecture")
    if not isinstance(arch, str) or not arch:
        raise GenlabError(f"{p} is a GGUF file without general.architecture: not a model llama.cpp can run")
    file_type = meta.get("general.file_type")
    if isinstance(file_type, int) and not isinstance(file_type, bool):
        file_type = FILE_TYPES.get(file_type, str(file_type))
    ctx = meta.get(f"{arch}.context_length")
    name = meta.get("general.name")
    template = meta.get("tokenizer.chat_template")
    vocab = h.arrays.get("tokenizer.ggml.tokens")
    tokens = meta.get("tokenizer.ggml.tokens")
    return GGUFInfo(
        path=p,
        size=st.st_size,
        version=h.version,
        architecture=arch,
        name=name if isinstance(name, str) else None,
        context_length=int(ctx) if isinstance(ctx, int) and not isinstance(ctx, bool) else None,
        parameters=h.parameters,
        tensors=len(h.tensors),
        file_type=file_type if isinstance(file_type, str) else None,
        chat_template=template if isinstance(template, str) else None,
        metadata=meta,
        tensor_types=h.tensor_types(),
        vocabulary=vocab[1] if vocab else (len(tokens) if isinstance(tokens, list) else None),
    )
