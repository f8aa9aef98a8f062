"""A small BPE vocabulary learned on the corpus, in the form llama.cpp's SPM tokenizer reads.

Why SPM ("llama") rather than GPT-2 BPE: llama.cpp's SPM tokenizer needs only pieces and
scores (no merge list, no pre-tokenizer regex) and falls back to the 256 byte tokens for
anything it has no piece for, so every string round-trips. Pieces are learned the BPE way
(merge the most frequent adjacent pair, within word-like chunks) and scored by merge rank, so
llama.cpp's "merge the best-scoring adjacent pair" replays the learned merges.

The training text is tokenized by llama.cpp itself (see `genlab.train.data`), never by a
Python re-implementation, so the model is trained on exactly the tokens it will see.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Iterable

from genlab.errors import GenlabError
from genlab.llama.gguf_writer import SpmVocab

SPACE = "\u2581"  # "▁", SentencePiece's visible space
SPECIAL = ("<unk>", "<s>", "</s>")
CONTROL = ("<|im_start|>", "<|im_end|>")  # for the ChatML template the trained model carries
FIXED = len(SPECIAL) + 256 + len(CONTROL)

# word-like chunks: a letter run, a digit run or a punctuation run, each with its leading
# space; whitespace runs on their own. Merges never cross chunks.
_CHUNK = re.compile(r" ?[^\W\d_]+| ?\d+| ?[^\w\s]+|\s+")


def _types():
    from gguf import TokenType

    return TokenType


def chunk_counts(texts: Iterable[str]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(m.replace(" ", SPACE) for m in _CHUNK.findall(text))
    return counts


def char_counts(counts: Counter[str]) -> Counter[str]:
    chars: Counter[str] = Counter()
    for chunk, n in counts.items():
        for ch in chunk:
            chars[ch] += n
    return chars


def learn_pieces(counts: Counter[str], chars: set[str], merges: int) -> list[str]:
    """At most `merges` merged pieces, in merge order, over the base characters `chars`.

    A word with a character outside `chars` takes no part (byte fallback splits it anyway).
    Ties between equally frequent pairs go to the pair seen first, so the same text always
    gives the same pieces.
    """
    known = chars
    # words as symbol lists; a rare character splits its word (byte fallback in between)
    words: list[list[str]] = []
    freq: list[int] = []
    for chunk, n in counts.items():
        symbols = list(chunk)
        if all(s in known for s in symbols) and len(symbols) > 1:
            words.append(symbols)
            freq.append(n)

    pair_count: Counter[tuple[str, str]] = Counter()
    where: dict[tuple[str, str], set[int]] = {}
    for i, symbols in enumerate(words):
        for pair in zip(symbols, symbols[1:]):
            pair_count[pair] += freq[i]
            where.setdefault(pair, set()).add(i)

    pieces: list[str] = []
    seen = set(chars) | set(SPECIAL) | set(CONTROL)
    if merges <= 0:
        return pieces
    while len(pieces) < merges and pair_count:
        best, n = max(pair_count.items(), key=lambda kv: kv[1])
        if n < 2:
            break
        a, b = best
        merged = a + b
        for i in where.pop(best, ()):
            symbols = words[i]
            f = freq[i]
            for pair in zip(symbols, symbols[1:]):
                pair_count[pair] -= f
                if pair_count[pair] <= 0:
                    del pair_count[pair]
            out: list[str] = []
            j = 0
            while j < len(symbols):
                if j + 1 < len(symbols) and symbols[j] == a and symbols[j + 1] == b:
                    out.append(merged)
                    j += 2
                else:
                    out.append(symbols[j])
                    j += 1
            words[i] = out
            for pair in zip(out, out[1:]):
                pair_count[pair] += f
                where.setdefault(pair, set()).add(i)
        pair_count.pop(best, None)
        if merged not in seen:
            seen.add(merged)
            pieces.append(merged)
    return pieces


def learn_vocab(texts: Iterable[str], size: int) -> SpmVocab:
    """An SPM vocabulary of at most `size` tokens learned on `texts`.

    Ids: 0 <unk>, 1 <s>, 2 </s>, 3..258 the byte tokens <0x00>..<0xFF>, two ChatML control
    tokens, then the corpus's characters and merged pieces.
    """
    if size < FIXED + 1:
        raise GenlabError(f"a vocabulary needs at least {FIXED + 1} tokens (bytes and specials), got {size}")
    t = _types()
    counts = chunk_counts(texts)
    freq = char_counts(counts)
    # characters seen at least twice, the commonest first when they do not all fit
    common = [ch for ch, n in sorted(freq.items(), key=lambda kv: (-kv[1], kv[0])) if n >= 2]
    chars = sorted(common[: size - FIXED])
    pieces = learn_pieces(counts, set(chars), size - FIXED - len(chars))

    tokens = list(SPECIAL) + [f"<0x{b:02X}>" for b in range(256)] + list(CONTROL)
    types = [t.UNKNOWN, t.CONTROL, t.CONTROL] + [t.BYTE] * 256 + [t.CONTROL] * len(CONTROL)
    scores = [0.0] * len(tokens)
    for ch in chars:
        tokens.append(ch)
        types.append(t.NORMAL)
        scores.append(0.0)
    for rank, piece in enumerate(pieces, start=1):
        tokens.append(piece)
        types.append(t.NORMAL)
        scores.append(-float(rank))
    return SpmVocab(tokens, scores, [int(x) for x in types], eot=tokens.index(CONTROL[1]))
