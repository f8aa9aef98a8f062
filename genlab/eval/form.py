"""Metrics of a text's form: sentence and word lengths, double quotes (balanced, dialogue
share), punctuation marks and emoji per 1,000 characters.

Quotation marks: curly double quotes and straight double quotes. Single quotes (‘ ’ ') are
ignored by the quote metrics, because ’ is also the apostrophe. Each metric is computed through
its per-sample parts (`*_parts`, genlab.eval.parts), which the bootstrap reweights.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

from genlab.eval.parts import Parts, moments_parts, ratio_parts
from genlab.eval.words import SENTENCE_END, words


def _sentences(text: str) -> list[int]:
    return [n for n in (len(words(piece)) for piece in SENTENCE_END.split(text)) if n]


def sentence_word_counts(texts: Sequence[str]) -> list[int]:
    """Words per sentence for every sentence of every sample (the sentence-length histogram)."""
    return [n for t in texts for n in _sentences(t)]


def sentence_lengths(texts: Sequence[str]) -> tuple[float, float]:
    """Mean and standard deviation (population) of words per sentence, over all sentences."""
    mean, std = sentence_length_parts(texts)
    return mean.estimate(), std.estimate()


def sentence_length_parts(texts: Sequence[str]) -> tuple[Parts, Parts]:
    return moments_parts([_sentences(t) for t in texts])


def word_lengths(texts: Sequence[str]) -> tuple[float, float]:
    """Mean and standard deviation (population) of characters per word, over all words; an
    apostrophe inside a word counts as a character ("don't" has 5)."""
    mean, std = word_length_parts(texts)
    return mean.estimate(), std.estimate()


def word_length_parts(texts: Sequence[str]) -> tuple[Parts, Parts]:
    return moments_parts([[len(w) for w in words(t)] for t in texts])


# -- quotes, punctuation, emoji ----------------------------------------------------------------

_QUOTED = re.compile(r'“[^“”\n]*”?|"[^"\n]*"?')
_CURLY_OR_BREAK = re.compile(r"[“”]|\n[^\S\n]*\n")


def quotes_balanced(text: str) -> bool:
    """Do the double quotes of `text` pair up?

    Straight " must come in an even number. Curly quotes must alternate “ ” starting with “
    and end closed, except the novel convention for a speech running over several
    paragraphs: a paragraph may end with its quote open when the next quote mark is a “. A
    text with no quote marks is balanced. Single quotes are ignored (’ is also the apostrophe).
    """
    if text.count('"') % 2:
        return False
    open_, continued = False, False
    for m in _CURLY_OR_BREAK.finditer(text):
        mark = m.group()
        if mark == "“":
            if open_ and not continued:
                return False
            open_, continued = True, False
        elif mark == "”":
            if not open_:
                return False
            open_ = False
        elif open_:
            continued = True
    return not open_


def quote_balance_rate(texts: Sequence[str]) -> float:
    """Share of samples whose double quotes are balanced (`quotes_balanced`).

    Word chains often open a quote and never close it. A sample cut off by the token limit
    inside a speech counts as unbalanced too. nan for no samples.
    """
    return quote_balance_parts(texts).estimate()


def quote_balance_parts(texts: Sequence[str]) -> Parts:
    return ratio_parts([quotes_balanced(t) for t in texts], np.ones(len(texts)))


def dialogue_share(texts: Sequence[str]) -> float:
    """Share of characters inside double quotation marks, over all characters of all samples.

    A quote runs from “ to the next ” or from " to the next ", and stops at the end of the line
    when it is not closed there (so a lost closing mark costs one paragraph, not the rest of
    the text). The marks themselves count as outside. Single quotes are ignored. nan for no
    characters.
    """
    return dialogue_parts(texts).estimate()


def _inside_quotes(text: str) -> int:
    inside = 0
    for m in _QUOTED.finditer(text):
        closed = len(m.group()) > 1 and m.group()[-1] in '”"'
        inside += len(m.group()) - 1 - closed
    return inside


def dialogue_parts(texts: Sequence[str]) -> Parts:
    return ratio_parts([_inside_quotes(t) for t in texts], [len(t) for t in texts])


_PUNCTUATION = {
    "ellipsis": r"…|\.\.\.",  # counted first: the dots of "..." are not also periods
    "period": r"\.",
    "comma": ",",
    "semicolon": ";",
    "colon": ":",
    "exclamation": "!",
    "question": r"\?",
    "dash": "—",  # the em dash only
    "paren_open": r"\(",
    "paren_close": r"\)",
    "quote_double": '[“”"]',
    "quote_single": "[‘’']",  # includes apostrophes: ’ is both
}
PUNCTUATION_KEYS = tuple(f"punct_{k}" for k in _PUNCTUATION)
_PUNCT_RE = re.compile("|".join(f"(?P<{k}>{v})" for k, v in _PUNCTUATION.items()))


def punctuation_profile(texts: Sequence[str]) -> dict[str, float]:
    """Occurrences per 1,000 characters of each mark, over all samples: {"punct_period": ...}.

    Marks: . , ; : ! ? — (em dash) … (or "...", not also counted as three periods) ( ) double
    quotes (“ ” " together) and single quotes (‘ ’ ' together, apostrophes included). nan
    for every mark when there are no characters.
    """
    return {k: p.estimate() for k, p in punctuation_parts(texts).items()}


def punctuation_parts(texts: Sequence[str]) -> dict[str, Parts]:
    counts = [Counter(m.lastgroup for m in _PUNCT_RE.finditer(t)) for t in texts]
    chars = [len(t) for t in texts]
    return {f"punct_{k}": ratio_parts([1000 * c[k] for c in counts], chars) for k in _PUNCTUATION}


_PICTOGRAPHS = (
    "\U0001F300-\U0001F3FA"  # Miscellaneous Symbols and Pictographs (before the skin tones)
    "\U0001F400-\U0001F5FF"
    "\U0001F600-\U0001F64F"  # Emoticons
    "\U0001F680-\U0001F6FF"  # Transport and Map Symbols
    "\U0001F900-\U0001F9FF"  # Supplemental Symbols and Pictographs
    "\U0001FA70-\U0001FAFF"  # Symbols and Pictographs Extended-A
    "\u2600-\u27BF"  # Miscellaneous Symbols, Dingbats
)
_MODIFIERS = "[\uFE0F\U0001F3FB-\U0001F3FF]*"  # emoji presentation selector, skin tones
_EMOJI = re.compile(
    f"[\U0001F1E6-\U0001F1FF]{{2}}"  # a flag: two regional indicator letters
    f"|[{_PICTOGRAPHS}]{_MODIFIERS}(?:\u200D[{_PICTOGRAPHS}]{_MODIFIERS})*"
)


def emoji_count(text: str) -> int:
    """Emoji in `text`: a pictograph from the blocks U+1F300-1F5FF, 1F600-1F64F, 1F680-1F6FF,
    1F900-1F9FF, 1FA70-1FAFF, 2600-27BF, with its skin-tone modifiers, U+FE0F and zero-width-
    joined pictographs (a ZWJ family is one emoji); or a flag (a pair of regional indicators).
    The 2600-27BF blocks also hold a few symbols that are not emoji (★, ✓): counted anyway."""
    return len(_EMOJI.findall(text))


def emoji_rate(texts: Sequence[str]) -> float:
    """Emoji (`emoji_count`) per 1,000 characters (code points) over all samples; nan for none."""
    return emoji_parts(texts).estimate()


def emoji_parts(texts: Sequence[str]) -> Parts:
    return ratio_parts([1000 * emoji_count(t) for t in texts], [len(t) for t in texts])
