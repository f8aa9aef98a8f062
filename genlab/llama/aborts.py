"""What llama.cpp aborts on instead of reporting, checked in the GGUF header before it loads.

llama.cpp reports most problems of a model file as an error, which genlab shows in one line. A
few values reach a GGML_ASSERT or GGML_ABORT instead, which ends the whole process with SIGABRT
and no message of genlab's. Each was found by feeding llama.cpp (llama-cpp-python 0.3.36)
damaged copies of a tiny model (tests/test_robust_llama.py), and is refused here first:

- one token text twice in tokenizer.ggml.tokens, as llama.cpp reads it: up to a NUL byte
  (llama-vocab.cpp: `id_to_token.size() == token_to_id.size()`): one zeroed byte does it;
- a block count of 0 or over 512 (llama-model.cpp: `n_layer_all > 0 && <= LLAMA_MAX_LAYERS`);
- a norm epsilon below 0 or NaN (ggml-cpu ops.cpp: `eps >= 0.0f`), at the first token;
- tokenizer model "none" or "no_vocab": the model loads, then tokenizing any text asserts
  ("Tokenizer not initialized");
- a WordPiece ("bert") vocabulary holding byte tokens (llama-vocab.cpp: "fatal error").
"""

from __future__ import annotations

import math
import struct
from genlab.errors import GenlabError, cannot
from genlab.llama.gguf_header import GGUFHeader, GGUFInfo, read_header

MAX_LAYERS = 512  # LLAMA_MAX_LAYERS
BYTE_TOKEN = 6  # llama_token_type LLAMA_TOKEN_TYPE_BYTE
EPSILONS = ("attention.layer_norm_rms_epsilon", "attention.layer_norm_epsilon", "attention.group_norm_epsilon")
_U64 = struct.Struct("<Q")


def check(info: GGUFInfo) -> None:
    """One GenlabError for a model file llama.cpp would abort on (see the module's list)."""
    meta, arch = info.metadata, info.architecture
    layers = meta.get(f"{arch}.block_count")
    if isinstance(layers, int) and not 0 < layers <= MAX_LAYERS:
        _refuse(info, f"{arch}.block_count is {layers}; llama.cpp takes 1 to {MAX_LAYERS} layers")
    for name in EPSILONS:
        eps = meta.get(f"{arch}.{name}")
        if isinstance(eps, float) and not (math.isfinite(eps) and eps >= 0):
            _refuse(info, f"{arch}.{name} is {eps}, not a small positive number")
    model = meta.get("tokenizer.ggml.model")
    if model in ("none", "no_vocab"):
        raise GenlabError(f"{info.path} has no vocabulary (tokenizer.ggml.model is {model!r}): genlab needs one "
                          "to turn text into tokens")
    header = read_header(info.path)
    # llama.cpp reads a token as a C string: it ends at a NUL byte
    tokens = [t.partition(b"\0")[0] for t in _strings(info, header, "tokenizer.ggml.tokens")]
    if len(set(tokens)) != len(tokens):
        first: dict[bytes, int] = {}
        for i, token in enumerate(tokens):
            j = first.setdefault(token, i)
            if j != i:
                _refuse(info, f"its vocabulary has the token {token.decode('utf-8', 'replace')!r} twice "
                              f"(ids {j} and {i})")
    if model == "bert" and BYTE_TOKEN in _int32s(info, header, "tokenizer.ggml.token_type"):
        _refuse(info, "its WordPiece ('bert') vocabulary holds byte tokens, which only SentencePiece ones have")


def _refuse(info: GGUFInfo, why: str) -> None:
    raise GenlabError(f"{info.path} is damaged or badly written, and llama.cpp would crash on it: {why}")


def _read(info: GGUFInfo, start: int, end: int) -> bytes:
    try:
        with open(info.path, "rb") as fh:
            fh.seek(start)
            return fh.read(max(0, end - start))
    except OSError as exc:
        raise cannot("read", info.path, exc) from None


def _strings(info: GGUFInfo, header: GGUFHeader, key: str) -> list[bytes]:
    """The elements of a string array (the header reader has checked their lengths)."""
    small = info.metadata.get(key)
    if isinstance(small, list):
        return [str(v).encode("utf-8", "surrogatepass") for v in small]
    kind, offset = header.arrays.get(key), header.array_offsets.get(key)
    if kind is None or offset is None or kind[0] != "STRING":
        return []
    data = _read(info, offset, header.data_offset)
    out: list[bytes] = []
    append, unpack, pos, last = out.append, _U64.unpack_from, 0, len(data) - 8
    for _ in range(kind[1]):
        if pos > last:
            break
        n = unpack(data, pos)[0]
        pos += 8
        append(data[pos: pos + n])
        pos += n
    return out


def _int32s(info: GGUFInfo, header: GGUFHeader, key: str) -> set[int]:
    """The distinct values of an INT32 or UINT32 array (an empty set for anything else)."""
    small = info.metadata.get(key)
    if isinstance(small, list):
        return {v for v in small if isinstance(v, int)}
    kind, offset = header.arrays.get(key), header.array_offsets.get(key)
    if kind is None or offset is None or kind[0] not in ("INT32", "UINT32"):
        return set()
    data = _read(info, offset, offset + 4 * kind[1])
    return set(struct.unpack(f"<{len(data) // 4}i", data[: len(data) // 4 * 4]))
