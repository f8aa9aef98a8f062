"""Exact scoring of a text by a llama.cpp model: which windows to evaluate, and -ln p of their tokens.

Windows are decoded through the C API (`llama_decode` with per-token output flags) and
log-softmax is computed in float64 over only the rows that are scored, so memory is
O(batch x vocabulary), not the O(n_ctx x vocabulary) of `Llama(logits_all=True)`. Every token is
charged: the first is scored given a prefix token (BOS, else end-of-text), as
lm-evaluation-harness does for rolling log-likelihoods.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from genlab.errors import GenlabError
from genlab.llama.engine import llama_cpp
from genlab.llama.quiet import quiet

SCORE_FLOATS = 32 * 2**20  # cap on logits copied per decode call while scoring (128 MiB f32)


def check_stride(stride: object, width: int) -> int:
    """`stride` when it is a whole number from 1 to `width`, else one GenlabError."""
    if isinstance(stride, bool) or not isinstance(stride, int) or not 1 <= stride <= width:
        raise GenlabError(f"score stride must be a whole number from 1 to {width}, got {stride!r}")
    return stride


def windows(n_tokens: int, width: int, stride: int, has_prefix: bool) -> list[tuple[int, int, int]]:
    """The (start, first_scored, end) text-token ranges that score `n_tokens` tokens.

    Each window is [prefix] + text[start:end], text[start:end] at most `width` tokens (the
    context less the prefix), and scores the tokens [first_scored, end): every token is scored
    exactly once. Without a prefix the first token is not scored (nothing comes before it).
    The first window scores all of its tokens; later windows advance by `stride` tokens, so
    each token they score sees at least width - stride earlier tokens. Without that overlap,
    the first tokens of each window would be scored as if the text began there, and long texts
    would look worse than they are; the price is about width / stride times the work of
    disjoint windows.
    """
    first = 0 if has_prefix else 1
    out: list[tuple[int, int, int]] = []
    end = min(n_tokens, width)
    if first < end:
        out.append((0, first, end))
    while end < n_tokens:
        new_end = min(n_tokens, end + stride)
        out.append((new_end - width, end, new_end))
        end = new_end
    return out


def score_window(llm: Any, tokens: Sequence[int], start: int, lo: int, end: int, *,
                 prefix: int | None, n_vocab: int, verbose: bool = False) -> np.ndarray:
    """-ln p(tokens[i] | the window before it) for each i in [lo, end), the window being
    [prefix] + tokens[start:end] (each token's own cost, so a score can be split over the
    paragraphs of its text). The KV cache is cleared before and after."""
    lib = llama_cpp()
    head = [prefix] if prefix is not None else []
    window = head + list(tokens[start:end])
    offset = len(head) - start  # window position of text token i is i + offset
    want = np.zeros(len(window), dtype=bool)  # positions whose logits predict a scored token
    want[lo + offset - 1: end + offset - 1] = True
    chunk = max(1, min(int(llm.n_batch), SCORE_FLOATS // max(n_vocab, 1)))
    ctx = llm.ctx
    out = np.empty(end - lo, dtype=np.float64)
    filled = 0
    batch = lib.llama_batch_init(chunk, 0, 1)
    try:
        with quiet(verbose):
            llm.reset()  # the generation state no longer matches the KV cache
            lib.llama_memory_clear(lib.llama_get_memory(ctx), True)
            for c0 in range(0, len(window), chunk):
                part = window[c0: c0 + chunk]
                flags = want[c0: c0 + len(part)]
                batch.n_tokens = len(part)
                for j, tok in enumerate(part):
                    batch.token[j] = tok
                    batch.pos[j] = c0 + j
                    batch.n_seq_id[j] = 1
                    batch.seq_id[j][0] = 0
                    batch.logits[j] = int(flags[j])
                rc = lib.llama_decode(ctx, batch)
                if rc != 0:
                    raise GenlabError(f"llama.cpp failed to evaluate the text (llama_decode returned {rc})")
                n_out = int(flags.sum())
                if not n_out:
                    continue
                ptr = lib.llama_get_logits(ctx)
                logits = np.ctypeslib.as_array(ptr, shape=(n_out, n_vocab)).astype(np.float64)
                pos = np.flatnonzero(flags) + c0  # window positions of these rows
                targets = np.asarray([window[p + 1] for p in pos], dtype=np.int64)
                out[filled: filled + n_out] = -log_softmax_at(logits, targets)
                filled += n_out
            lib.llama_memory_clear(lib.llama_get_memory(ctx), True)
    finally:
        lib.llama_batch_free(batch)
    return out


def log_softmax_at(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """ln softmax(logits[r])[targets[r]] for every row r, in float64."""
    m = logits.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(logits - m).sum(axis=1))
    return logits[np.arange(len(targets)), targets] - lse
