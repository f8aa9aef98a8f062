"""Training text tokenized by llama.cpp itself (the text and its held-out split come from
genlab.eval.texts).

Why llama.cpp tokenizes: the model must be trained on exactly the token ids llama.cpp will
feed it at generation and scoring time; a Python re-implementation of the SPM merge order
could differ on some string and silently train the model on the wrong tokens.
"""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from genlab.llama.gguf_writer import LlamaShape, SpmVocab, layer_tensor_names, write_llama_gguf


def vocab_gguf(vocab: SpmVocab, path: Path) -> Path:
    """A minimal GGUF carrying `vocab` (one layer of width 8) for llama.cpp's tokenizer."""
    shape = LlamaShape(dim=8, layers=1, heads=1, ffn=8, context=64)
    n = len(vocab.tokens)
    zeros = {"token_embd.weight": (n, 8), "output_norm.weight": (8,), "output.weight": (n, 8)}
    for name, dims in zip(layer_tensor_names(0), [(8,), (8, 8), (8, 8), (8, 8), (8, 8), (8,), (8, 8), (8, 8), (8, 8)]):
        zeros[name] = dims
    return write_llama_gguf(path, shape, vocab, ((k, np.ones(v, np.float32)) for k, v in zeros.items()),
                            name="genlab-vocab")


@contextmanager
def llama_tokenizer(vocab: SpmVocab) -> Iterator[Callable[[str], list[int]]]:
    """A function text -> token ids (no BOS), computed by llama.cpp from `vocab`."""
    from genlab.llama.engine import llama_cpp as _llama_cpp
    from genlab.llama.quiet import Stderr as _Stderr

    llama_cpp = _llama_cpp()
    with tempfile.TemporaryDirectory(prefix="genlab-vocab-") as tmp:
        path = vocab_gguf(vocab, Path(tmp) / "vocab.gguf")
        with _Stderr(capture=True):
            llm = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
        try:
            yield lambda text: llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)
        finally:
            llm.close()


def tokenize_texts(vocab: SpmVocab, texts: Sequence[str]) -> list[np.ndarray]:
    with llama_tokenizer(vocab) as encode:
        return [np.asarray(encode(t) if t else [], dtype=np.int64) for t in texts]
