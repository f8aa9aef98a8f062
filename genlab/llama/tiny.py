"""Build small llama-architecture GGUF models with numpy and the `gguf` package.

The models are random (weights drawn from a seeded generator), so their text is gibberish,
but they are real GGUF files that llama.cpp loads and runs exactly like a downloaded model:
the tests and the demo exercise the whole llama backend (loading, sampling, chat templates,
scoring, UTF-8 streaming) without downloading any weights.

The vocabulary is SentencePiece-style ("llama" tokenizer): <unk>, <s>, </s>, the 256 byte
tokens <0x00>..<0xFF> (byte fallback, so *any* UTF-8 text round-trips through
tokenize/detokenize), two ChatML control tokens, single characters, and common English
pieces such as "▁the" together with every prefix of them (the SPM tokenizer builds a piece
by merging adjacent symbols, so every prefix of a piece must itself be a piece).

Weights are f32 and scaled so that the output logits have a standard deviation of a few
units: the next-token distribution is neither uniform nor one-hot, which makes sampling
settings (temperature, top-k, ...) visibly matter.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from genlab.errors import GenlabError

SPACE = "\u2581"  # "▁", SentencePiece's visible space

# A ChatML-like template. `bos_token` comes first because llama-cpp-python tokenizes a rendered
# chat prompt without adding BOS itself (the template is expected to place it).
DEFAULT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

CONTROL_TOKENS = ("<|im_start|>", "<|im_end|>")

# Common English words (written with a leading space, as they appear mid-sentence),
# a few suffixes and some non-ASCII characters that get their own token.
DEFAULT_PIECES: tuple[str, ...] = tuple(
    " " + w
    for w in (
        "the of and to a in is it that was he she for on with as his her at by had not be "
        "but from they you this which or have an one were all we there their been when who "
        "so if would more no out up said what its about into them than can only other time "
        "new some could these two may first then do any like my now over such our man me "
        "even most made after also did many before must through back years where much your "
        "way well down should because each just those how too little state good very make "
        "world still own see men work long here get both between life being under never day "
        "same another know while last might us great old year off come since go against came "
        "right used take three The I He She It In A But And They We There This"
    ).split()
) + (
    "ing", "ed", "er", "ly", "es", "tion", "ment", "ness", "est", "en", "th", "he", "an",
    "re", "on", "at", "nd", "ou", "ha", "is", "or", "it", "ar", "te", "se", "hi", "ve",
    "é", "è", "à", "ç", "ü", "ö", "ñ", "’", "‘", "“", "”", "—", "–", "…", "\u00a0",
)


def _spm(piece: str) -> str:
    return piece.replace(" ", SPACE)


def build_vocab(pieces: Iterable[str] = DEFAULT_PIECES) -> tuple[list[str], list[float], list[int]]:
    """Tokens, scores and token types of an SPM vocabulary with byte fallback.

    Ids: 0 <unk>, 1 <s>, 2 </s>, 3..258 the byte tokens, then the control tokens, then
    printable ASCII, "▁", and `pieces` closed under prefixes. A piece's score is its negative
    rank (earlier and shorter pieces merge first), like the log-probabilities of a real SPM model.
    """
    from gguf import TokenType

    tokens = ["<unk>", "<s>", "</s>"]
    types = [TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL]
    tokens += [f"<0x{b:02X}>" for b in range(256)]
    types += [TokenType.BYTE] * 256
    tokens += list(CONTROL_TOKENS)
    types += [TokenType.CONTROL] * len(CONTROL_TOKENS)
    scores = [0.0] * len(tokens)

    normal: list[str] = [SPACE] + [chr(c) for c in range(0x21, 0x7F)]
    for piece in pieces:
        piece = _spm(piece)
        if not piece:
            continue
        # every prefix (by character) must exist for the SPM merges to reach the piece
        normal += [piece[:i] for i in range(1, len(piece) + 1)]
    seen = set(tokens)
    rank = 0
    for piece in sorted(dict.fromkeys(normal), key=lambda p: (len(p), normal.index(p))):
        if piece in seen:
            continue
        seen.add(piece)
        tokens.append(piece)
        types.append(TokenType.NORMAL)
        rank += 1
        scores.append(-float(rank))
    return tokens, scores, [int(t) for t in types]


def build_tiny_model(
    path: str | os.PathLike[str],
    *,
    seed: int = 0,
    layers: int = 2,
    dim: int = 64,
    heads: int = 4,
    context: int = 256,
    vocab: Sequence[str] | None = None,
    chat_template: str | None = DEFAULT_TEMPLATE,
    logit_scale: float = 3.0,
    name: str = "genlab-tiny",
) -> Path:
    """Write a small random llama-architecture GGUF model to `path` (atomically) and return it.

    `vocab`: extra text pieces (plain spaces allowed) on top of the byte/control tokens;
    defaults to `DEFAULT_PIECES`. `chat_template`: Jinja template stored as
    tokenizer.chat_template (None: no template). `logit_scale`: standard deviation of the
    output logits, roughly. The same arguments always give a byte-identical file.
    """
    if dim % heads or (dim // heads) % 2:
        raise GenlabError(f"dim ({dim}) must be a multiple of heads ({heads}) with an even head size")
    if layers < 1 or context < 8:
        raise GenlabError("a tiny model needs at least 1 layer and a context of 8 tokens")

    path = Path(path)
    tokens, scores, types = build_vocab(DEFAULT_PIECES if vocab is None else vocab)
    n_vocab = len(tokens)
    ffn = 4 * dim
    rng = np.random.default_rng(seed)

    def normal(shape: tuple[int, ...], std: float) -> np.ndarray:
        return (rng.standard_normal(shape) * std).astype(np.float32)

    def norm_weight() -> np.ndarray:
        return (1.0 + 0.1 * rng.standard_normal(dim)).astype(np.float32)

    from genlab.llama.gguf_writer import LlamaShape, SpmVocab, layer_tensor_names, write_llama_gguf

    tensors: list[tuple[str, np.ndarray]] = [("token_embd.weight", normal((n_vocab, dim), 1.0))]
    for i in range(layers):
        norm1, q, k, v, out, norm2, gate, up, down = layer_tensor_names(i)
        tensors += [
            (norm1, norm_weight()),
            (q, normal((dim, dim), dim ** -0.5)),
            (k, normal((dim, dim), dim ** -0.5)),
            (v, normal((dim, dim), dim ** -0.5)),
            (out, normal((dim, dim), 0.5 * dim ** -0.5)),
            (norm2, norm_weight()),
            (gate, normal((ffn, dim), dim ** -0.5)),
            (up, normal((ffn, dim), dim ** -0.5)),
            (down, normal((dim, ffn), 0.5 * ffn ** -0.5)),
        ]
    tensors += [
        ("output_norm.weight", norm_weight()),
        # the final hidden state is RMS-normalised (rms ~ 1), so logits ~ N(0, logit_scale^2)
        ("output.weight", normal((n_vocab, dim), logit_scale * dim ** -0.5)),
    ]
    shape = LlamaShape(dim=dim, layers=layers, heads=heads, ffn=ffn, context=context)
    spm = SpmVocab(tokens, scores, types, eot=tokens.index("<|im_end|>"))
    write_llama_gguf(path, shape, spm, tensors, name=name,
                     description=f"random tiny llama model for tests (seed {seed})",
                     chat_template=chat_template)
    return path
