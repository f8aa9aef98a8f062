"""How many tokens of context a model gets: bounded by what it was trained on and by memory.

llama.cpp allocates and clears the whole KV cache when a model loads, in one C call that Ctrl-C
cannot stop: `n_ctx=100000000000` on a 2 MB model grew to 10 GB before anything failed. So the
context is chosen here, from the GGUF header, before llama.cpp sees it:

- the default is the model's trained context (`<arch>.context_length`), at most 4096 tokens;
- any context, default or asked for, is refused when its KV cache (estimated from the header:
  layers x KV heads x key and value sizes x the cache's number type) and the model file need
  more than 3/4 of the memory available now (MemAvailable, a cgroup limit, RLIMIT_AS), with one
  line saying how much it would need and what the model was trained on;
- a context above the trained one is allowed when it fits (RoPE scaling, or a user who knows);
- a whole number from 8 to llama.cpp's limit (its positions are 32-bit), nothing else.
"""

from __future__ import annotations

import os
import resource
from pathlib import Path
from typing import Any

from genlab.errors import GenlabError

DEFAULT_MAX_CONTEXT = 4096  # the default context: the model's trained one, at most this
CONTEXT_STEP = 256  # llama.cpp rounds a context size up to a multiple of this
MIN_CONTEXT = 8
MAX_CONTEXT = 2**31 - CONTEXT_STEP  # llama_pos is int32; a larger uint32 n_ctx wraps in llama.cpp
KV_BYTES = {"f32": 4, "f16": 2}
MEMORY_SHARE = 0.75  # of the memory available: the rest stays for the system and the computation


def _count(meta: dict[str, Any], key: str) -> int | None:
    """A positive whole number from the header, or None (missing, wrong type, zero, negative)."""
    value = meta.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        return None
    return value


def trained_context(meta: dict[str, Any], arch: str) -> int | None:
    return _count(meta, f"{arch}.context_length")


def kv_bytes_per_token(meta: dict[str, Any], arch: str, kv_type: str) -> int | None:
    """Bytes of KV cache one token of context takes, from the header; None when the header
    does not say (a model llama.cpp then refuses to load for the same reason).

    Per layer: KV heads x (key length + value length), the lengths defaulting to
    embedding length / heads as in llama.cpp. A per-layer head count (an array) is summed.
    Sliding-window and latent-attention models need less: this is an upper bound."""
    layers = _count(meta, f"{arch}.block_count")
    embd = _count(meta, f"{arch}.embedding_length")
    heads = _heads(meta.get(f"{arch}.attention.head_count"), layers)
    kv_heads = _heads(meta.get(f"{arch}.attention.head_count_kv", meta.get(f"{arch}.attention.head_count")), layers)
    if layers is None or embd is None or heads is None or kv_heads is None:
        return None
    head = heads[1] or 1
    key = _count(meta, f"{arch}.attention.key_length") or embd // head
    value = _count(meta, f"{arch}.attention.value_length") or embd // head
    return kv_heads[0] * (key + value) * KV_BYTES[kv_type]


def _heads(value: Any, layers: int | None) -> tuple[int, int] | None:
    """(the sum over the layers, the most in a layer) of a head count: one number for every
    layer, or a list of one per layer."""
    def count(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and v >= 0

    if layers is None:
        return None
    if isinstance(value, list):
        return (sum(value), max(value)) if len(value) == layers and all(map(count, value)) else None
    return (value * layers, value) if count(value) else None


def _read_int(path: str) -> int | None:
    try:
        text = Path(path).read_text().split()
    except (OSError, UnicodeError):
        return None
    return int(text[0]) if text and text[0].isdigit() else None


def _meminfo(field: str) -> int | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_room() -> int | None:
    """What this process's cgroup (v2) still allows, when it has a limit."""
    try:
        with open("/proc/self/cgroup") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith("0::"):
            base = "/sys/fs/cgroup" + line[3:].rstrip("/")
            limit, used = _read_int(base + "/memory.max"), _read_int(base + "/memory.current")
            if limit is not None and used is not None:
                return max(0, limit - used)
    return None


def _address_room() -> int | None:
    """What RLIMIT_AS still allows this process to map, when it is set."""
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    size = None
    try:
        with open("/proc/self/statm") as fh:
            size = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        pass
    return max(0, soft - (size or 0))


def memory_available() -> int | None:
    """Bytes this process could still fill now: the least of the memory the system has
    available (MemAvailable), its cgroup's room and its address-space limit; None if unknown."""
    found = [_meminfo("MemAvailable"), _cgroup_room(), _address_room()]
    if found[0] is None:
        try:
            found[0] = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            pass
    known = [n for n in found if n is not None]
    return min(known) if known else None


def size_text(n: int) -> str:
    """Bytes as people read them: 512 bytes, 3.2 MiB, 47.7 TiB."""
    value = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if value < 1024 or unit == "EiB":
            return f"{n} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def choose_context(info: Any, n_ctx: int | None, *, kv_type: str, name: str,
                   check_memory: bool = True) -> int:
    """The context, in tokens (a multiple of 256), that `info` (a GGUFInfo) is loaded with.

    n_ctx None: the trained context, at most 4096. A context whose KV cache and model file need
    more than MEMORY_SHARE of memory_available() is one GenlabError (check_memory=False: not
    checked, when the cache goes to a GPU, whose memory is not known here)."""
    if n_ctx is not None and (isinstance(n_ctx, bool) or not isinstance(n_ctx, int) or n_ctx < MIN_CONTEXT):
        raise GenlabError(f"n_ctx (--n-ctx) must be a whole number of tokens, at least {MIN_CONTEXT}; got {n_ctx!r}")
    trained = trained_context(info.metadata, info.architecture)
    if n_ctx is None:
        n_ctx = min(trained or DEFAULT_MAX_CONTEXT, DEFAULT_MAX_CONTEXT)
    n_ctx = -(-n_ctx // CONTEXT_STEP) * CONTEXT_STEP  # why: docs/llama.md
    per_token = kv_bytes_per_token(info.metadata, info.architecture, kv_type)
    room = memory_available() if check_memory and per_token is not None else None
    told = (f"{name} was trained on a context of {trained:,} tokens" if trained
            else f"{name} names no trained context in its header")
    if room is not None and per_token is not None:
        need = n_ctx * per_token + info.size
        if need > room * MEMORY_SHARE:
            raise GenlabError(
                f"a context of {n_ctx:,} tokens needs about {size_text(need)} of memory ({size_text(per_token)} "
                f"of {kv_type} KV cache a token, and the model), more than the {size_text(int(room * MEMORY_SHARE))} "
                f"genlab lets it take of the {size_text(room)} available; {told}: "
                "choose a smaller n_ctx (--n-ctx), or leave it out")
    if n_ctx > MAX_CONTEXT:
        raise GenlabError(f"a context of {n_ctx:,} tokens is more than llama.cpp can address ({MAX_CONTEXT:,}); "
                          f"{told}: choose a smaller n_ctx (--n-ctx)")
    return n_ctx
