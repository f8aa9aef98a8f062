"""A loaded model's vocabulary as llama.cpp sees it: special tokens, and each token's bytes and text.

Asked of llama.cpp a token at a time and kept, since generation looks the same few thousand
tokens up again and again (listing a 49k vocabulary up front costs ~16 ms).
"""

from __future__ import annotations

import ctypes
from typing import Any, Sequence

from genlab.llama.engine import llama_cpp


def whole_text(piece: bytes) -> str | None:
    """The text of a token whose bytes are complete UTF-8 by themselves (most tokens)."""
    try:
        return piece.decode("utf-8")
    except UnicodeDecodeError:
        return None


class Vocab:
    """The vocabulary of a loaded `llama_cpp.Llama`.

    size: tokens in it. bos: the BOS token (-1 when there is none). adds_bos: the tokenizer
    puts BOS before a text by default. prefix_token: the token a text starts from when scoring,
    or generating from an empty prompt: BOS when the model has one (added by default or not),
    else end-of-text, else None. spm_space: a SentencePiece tokenizer that puts a space before
    a text (so the first piece's space is not text).
    """

    def __init__(self, llm: Any):
        lib = self._lib = llama_cpp()
        self.handle = lib.llama_model_get_vocab(llm.model)
        self.size = int(lib.llama_vocab_n_tokens(self.handle))
        self.bos = int(llm.token_bos())
        self.adds_bos = bool(lib.llama_vocab_get_add_bos(self.handle)) and self.bos >= 0
        eos = int(llm.token_eos())
        self.prefix_token: int | None = self.bos if self.bos >= 0 else (eos if eos >= 0 else None)
        self.spm_space = (int(lib.llama_vocab_type(self.handle)) == lib.LLAMA_VOCAB_TYPE_SPM
                          and str(llm.metadata.get("tokenizer.ggml.add_space_prefix", "true")) != "false")
        self.pieces: dict[int, bytes] = {}  # token -> its bytes (~token when special)
        self.texts: dict[int, str | None] = {}  # token -> its text when its bytes are whole UTF-8, else None
        self.eog: dict[int, bool] = {}  # token -> it ends a generation

    def piece(self, token: int, special: bool = False) -> bytes:
        """The bytes of `token` (`special`: control tokens as their text, else as nothing)."""
        key = int(token) if not special else ~int(token)
        piece = self.pieces.get(key)
        if piece is None:
            lib = self._lib
            buf = ctypes.create_string_buffer(64)
            n = lib.llama_token_to_piece(self.handle, int(token), buf, len(buf), 0, special)
            if n < 0:  # a piece longer than the buffer: llama.cpp returns -(needed size)
                buf = ctypes.create_string_buffer(-n)
                n = lib.llama_token_to_piece(self.handle, int(token), buf, len(buf), 0, special)
            piece = buf.raw[: max(n, 0)]
            self.pieces[key] = piece
        return piece

    def is_eog(self, token: int) -> bool:
        """Whether `token` ends a generation (asked of llama.cpp the first time it is seen)."""
        eog = self.eog.get(token)
        if eog is None:
            eog = self.eog[token] = bool(self._lib.llama_vocab_is_eog(self.handle, token))
        return eog

    def detokenize(self, tokens: Sequence[int], *, special: bool = False) -> str:
        """Text of token ids (invalid byte sequences dropped)."""
        data = b"".join(self.piece(t, special) for t in tokens)
        if tokens and tokens[0] == self.bos and self.spm_space and data[:1] == b" ":
            data = data[1:]
        return data.decode("utf-8", errors="ignore")
