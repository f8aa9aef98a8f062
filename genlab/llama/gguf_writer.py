"""Write llama-architecture GGUF files: one place that knows llama.cpp's names and layout.

Both the random test models (`genlab.llama.tiny`) and trained models (`genlab.train.export`)
go through `write_llama_gguf`, so a model genlab trains is laid out exactly like the models
the llama backend's tests already load.

Tensor conventions (llama.cpp's `llama` architecture): numpy arrays are (out, in) = (rows,
cols), which GGUF stores reversed, as llama.cpp expects; Q and K are used as they are, so the
model that made them must rotate *adjacent* pairs (x[2i], x[2i+1]), as genlab.train.model does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from genlab.atomic import replacing


@dataclass(frozen=True)
class LlamaShape:
    """The hyperparameters llama.cpp reads from a llama GGUF header."""

    dim: int
    layers: int
    heads: int
    ffn: int
    context: int
    kv_heads: int | None = None
    rms_eps: float = 1e-5
    rope_base: float = 10000.0

    @property
    def head_dim(self) -> int:
        return self.dim // self.heads


@dataclass(frozen=True)
class SpmVocab:
    """A SentencePiece-style ("llama") vocabulary: pieces use "▁" for a space."""

    tokens: Sequence[str]
    scores: Sequence[float]
    types: Sequence[int]
    unk: int = 0
    bos: int = 1
    eos: int = 2
    eot: int | None = None
    add_space_prefix: bool = True


def layer_tensor_names(layer: int) -> list[str]:
    b = f"blk.{layer}"
    return [f"{b}.attn_norm.weight", f"{b}.attn_q.weight", f"{b}.attn_k.weight", f"{b}.attn_v.weight",
            f"{b}.attn_output.weight", f"{b}.ffn_norm.weight", f"{b}.ffn_gate.weight",
            f"{b}.ffn_up.weight", f"{b}.ffn_down.weight"]


def write_llama_gguf(
    path: str | os.PathLike[str],
    shape: LlamaShape,
    vocab: SpmVocab,
    tensors: Iterable[tuple[str, np.ndarray]],
    *,
    name: str,
    description: str = "",
    chat_template: str | None = None,
    metadata: dict[str, str] | None = None,
) -> Path:
    """Write an f32 llama GGUF to `path`, whole or not at all, and return the path.

    `metadata`: extra string key/values (e.g. genlab.* provenance) stored in the header.
    """
    import gguf

    path = Path(path)
    with replacing(path) as tmp:
        w = gguf.GGUFWriter(str(tmp), "llama")
        w.add_name(name)
        if description:
            w.add_description(description)
        w.add_file_type(gguf.LlamaFileType.ALL_F32)
        w.add_context_length(shape.context)
        w.add_embedding_length(shape.dim)
        w.add_block_count(shape.layers)
        w.add_feed_forward_length(shape.ffn)
        w.add_head_count(shape.heads)
        w.add_head_count_kv(shape.kv_heads or shape.heads)
        w.add_layer_norm_rms_eps(shape.rms_eps)
        w.add_rope_dimension_count(shape.head_dim)
        w.add_rope_freq_base(shape.rope_base)
        w.add_vocab_size(len(vocab.tokens))

        w.add_tokenizer_model("llama")
        w.add_tokenizer_pre("default")
        w.add_token_list(list(vocab.tokens))
        w.add_token_scores([float(s) for s in vocab.scores])
        w.add_token_types([int(t) for t in vocab.types])
        w.add_unk_token_id(vocab.unk)
        w.add_bos_token_id(vocab.bos)
        w.add_eos_token_id(vocab.eos)
        if vocab.eot is not None:
            w.add_eot_token_id(vocab.eot)
        w.add_add_bos_token(True)
        w.add_add_eos_token(False)
        w.add_add_space_prefix(vocab.add_space_prefix)
        if chat_template is not None:
            w.add_chat_template(chat_template)
        for key, value in (metadata or {}).items():
            w.add_string(key, value)

        for tname, data in tensors:
            w.add_tensor(tname, np.ascontiguousarray(data, dtype=np.float32))
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
    return path
