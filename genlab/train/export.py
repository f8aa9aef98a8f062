"""PyTorch weights -> a GGUF that llama.cpp runs (and `LlamaGenerator` loads).

The model in `genlab.train.model` already uses llama.cpp's conventions (adjacent-pair rope,
(out, in) matrices), so export is a renaming: no permutation of Q and K.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from genlab.llama.gguf_writer import LlamaShape, SpmVocab, layer_tensor_names, write_llama_gguf
from genlab.llama.tiny import DEFAULT_TEMPLATE


def shape_of(cfg) -> LlamaShape:
    return LlamaShape(dim=cfg.dim, layers=cfg.layers, heads=cfg.heads, ffn=cfg.ffn, context=cfg.context,
                      rms_eps=cfg.rms_eps, rope_base=cfg.rope_base)


def gguf_tensors(model) -> list[tuple[str, np.ndarray]]:
    """(GGUF name, f32 array) for every weight of a `genlab.train.model.Llama`."""
    def arr(t) -> np.ndarray:
        return t.detach().to("cpu").float().numpy()

    out = [("token_embd.weight", arr(model.embed.weight))]
    for i, block in enumerate(model.blocks):
        names = layer_tensor_names(i)
        weights = [block.attn_norm.weight, block.attn.q.weight, block.attn.k.weight, block.attn.v.weight,
                   block.attn.out.weight, block.ffn_norm.weight, block.ffn.gate.weight, block.ffn.up.weight,
                   block.ffn.down.weight]
        out += [(n, arr(w)) for n, w in zip(names, weights)]
    out.append(("output_norm.weight", arr(model.norm.weight)))
    # llama.cpp would fall back to token_embd for a missing output matrix, but an explicit
    # copy keeps the file readable by every llama.cpp version and converter
    out.append(("output.weight", arr(model.embed.weight if model.output is None else model.output.weight)))
    return out


def export_gguf(model, vocab: SpmVocab, path: str | os.PathLike[str], *, name: str,
                provenance: dict[str, object] | None = None) -> Path:
    """Write `model` with `vocab` as an f32 llama GGUF (atomically). `provenance` (corpus,
    steps, held-out score ...) is stored as JSON under genlab.training."""
    meta = {"genlab.training": json.dumps(provenance, sort_keys=True)} if provenance else None
    return write_llama_gguf(path, shape_of(model.cfg), vocab, gguf_tensors(model), name=name,
                            description="a small llama trained by genlab train-llm",
                            chat_template=DEFAULT_TEMPLATE, metadata=meta)
