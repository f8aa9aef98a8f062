"""Words, sentences and the small arithmetic every style metric shares.

Conventions of every metric in genlab.eval:

- Words (`words`): maximal runs of letters and digits, joined by an apostrophe inside a word
  ("don't", "o’clock" are one word; "wheat-starch" and "4:15" are two), lower-cased, curly ’
  normalised to '. Punctuation is not a word. Every word-level metric uses these words.
- N-grams never cross a sample boundary.
- Sentences (`SENTENCE_END`): a sentence ends at a run of . ! ? (with any closing quotes or
  brackets after it) followed by whitespace or the end of the text, and at every blank line.
  Pieces without a word are dropped. No abbreviation list: "Mr. Pell" counts as two sentences,
  for generated and human text alike.
- Rates "per 1,000 characters" count Unicode code points, whitespace included.
- Undefined values (no samples, no words, too few samples) are math.nan, never an exception.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

import numpy as np

NAN = math.nan
WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
SENTENCE_END = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s|$)|\n[^\S\n]*\n")


def words(text: str) -> list[str]:
    """The words of `text`, lower-cased (see the module docstring for what a word is)."""
    return [w.lower().replace("’", "'") for w in WORD.findall(text)]


def ngrams(tokens: Sequence[str], n: int) -> Iterable[tuple[str, ...]]:
    return zip(*(tokens[i:] for i in range(n)))


def ratio(num: float, den: float) -> float:
    return num / den if den else NAN


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and population standard deviation (ddof = 0); (nan, nan) for no values."""
    if not len(values):
        return NAN, NAN
    a = np.asarray(values, dtype=np.float64)
    return float(a.mean()), float(a.std())

