"""Style metrics: how generated text differs from human text, one small function per number.

Every metric takes `texts`, a list of samples (strings), and pools them: the human reference
goes through the same functions after `reference_samples` cuts it into paragraph-sized samples.
`style_metrics` gathers every number into one flat dict (one CSV row per backend).

Conventions shared by the metrics:

- Words (`words`): maximal runs of letters and digits, joined by an apostrophe inside a word
  ("don't", "o’clock" are one word; "wheat-starch" and "4:15" are two), lower-cased, curly ’
  normalised to '. Punctuation is not a word. Every word-level metric uses these words.
- N-grams never cross a sample boundary.
- Sentences (`sentence_word_counts`): a sentence ends at a run of . ! ? (with any closing quotes or
  brackets after it) followed by whitespace or the end of the text, and at every blank line.
  Pieces without a word are dropped. No abbreviation list: "Mr. Pell" counts as two sentences,
  for generated and human text alike.
- Rates "per 1,000 characters" count Unicode code points, whitespace included.
- Undefined values (no samples, no words, too few samples) are math.nan, never an exception.
- Quotation marks: curly double quotes and straight double quotes. Single quotes (‘ ’ ')
  are ignored by the quote metrics, because ’ is also the apostrophe.
"""

from __future__ import annotations

import math
import random
import re
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from genlab.ngrams import count_sorted
from genlab.overlap import RunIndex

__all__ = [
    "CorpusIndex",
    "Novelty",
    "dialogue_share",
    "distinct_n",
    "emoji_count",
    "emoji_rate",
    "ends_in_loop",
    "mattr",
    "novelty",
    "punctuation_profile",
    "quote_balance_rate",
    "quotes_balanced",
    "reference_samples",
    "repetition_rate",
    "self_bleu",
    "sentence_lengths",
    "sentence_word_counts",
    "style_metrics",
    "word_frequencies",
    "word_lengths",
    "words",
    "zipf_coefficient",
]

NAN = math.nan
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_SENTENCE_END = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s|$)|\n[^\S\n]*\n")


def words(text: str) -> list[str]:
    """The words of `text`, lower-cased (see the module docstring for what a word is)."""
    return [w.lower().replace("’", "'") for w in _WORD.findall(text)]


def _ngrams(tokens: Sequence[str], n: int) -> Iterable[tuple[str, ...]]:
    return zip(*(tokens[i:] for i in range(n)))


def _ratio(num: float, den: float) -> float:
    return num / den if den else NAN


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and population standard deviation (ddof = 0); (nan, nan) for no values."""
    if not len(values):
        return NAN, NAN
    a = np.asarray(values, dtype=np.float64)
    return float(a.mean()), float(a.std())


# -- diversity ---------------------------------------------------------------------------------


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Distinct-n (Li et al. 2016): distinct word n-grams / all word n-grams, over all samples.

    Low values mean the samples say the same things over and over. The denominator is the number
    of n-grams (Li et al. divided by the number of words; the two agree for n = 1).
    """
    grams: Counter[tuple[str, ...]] = Counter()
    for t in texts:
        grams.update(_ngrams(words(t), n))
    return _ratio(len(grams), sum(grams.values()))


def self_bleu(texts: Sequence[str], n: int = 4, max_hypotheses: int = 200, seed: int = 0) -> float:
    """Self-BLEU-n (Zhu et al. 2018, Texygen): mean BLEU-n of each sample against all the others.

    High values mean the samples resemble each other (low diversity). nltk's `sentence_bleu`
    with uniform weights over 1..n-grams and `SmoothingFunction().method1` (a zero n-gram
    precision becomes 0.1 / the hypothesis's n-gram count; Texygen and Holtzman et al.'s code
    use the same). Tokens are `words`; samples without a word are left out. Each BLEU costs one
    pass over all the other samples, so at most `max_hypotheses` samples (drawn with
    random.Random(seed).sample, without replacement) are scored as hypotheses, each still
    against all the others: the work is at most max_hypotheses x samples (about 0.6 s for 50
    samples of 100 words). nan for fewer than two samples with words.
    """
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    samples = [w for w in map(words, texts) if w]
    if len(samples) < 2:
        return NAN
    chosen = range(len(samples))
    if len(samples) > max_hypotheses:
        chosen = sorted(random.Random(seed).sample(chosen, max_hypotheses))
    weights = (1.0 / n,) * n
    smooth = SmoothingFunction().method1
    scores = [sentence_bleu(samples[:i] + samples[i + 1:], samples[i], weights, smooth) for i in chosen]
    return float(np.mean(scores))


def word_frequencies(texts: Sequence[str]) -> np.ndarray:
    """Word counts over all samples, highest first (the rank-frequency curve of a Zipf plot)."""
    counts = Counter(w for t in texts for w in words(t))
    return np.array(sorted(counts.values(), reverse=True), dtype=np.int64)


def zipf_coefficient(texts: Sequence[str], max_rank: int = 5000) -> float:
    """Zipf exponent s in frequency ∝ rank^-s, as Holtzman et al. (2020) fit it.

    Word types ranked by count (rank 1 = most frequent), ranks 1..min(types, max_rank) kept;
    ordinary least squares of ln(count) on ln(rank) (natural logs, every rank weighted
    equally); s = -slope, positive for natural text (about 1). Larger s: a vocabulary more
    concentrated on its top words. nan for fewer than two word types.
    """
    freqs = word_frequencies(texts)[:max_rank]
    if len(freqs) < 2:
        return NAN
    ranks = np.arange(1, len(freqs) + 1)
    slope = np.polyfit(np.log(ranks), np.log(freqs), 1)[0]
    return float(-slope)


def ends_in_loop(tokens: Sequence[str], min_phrase: int = 2, min_repeats: int = 3) -> bool:
    """Do `tokens` end with a phrase of at least `min_phrase` tokens repeated back to back at
    least `min_repeats` times, the last copy ending at the last token?

    Any phrase counts, so a loop cut off mid-phrase still counts through the rotated phrase
    that does end at the last token ("a b c a b c a b c a b" ends in "c a b" x 3).
    """
    for length in range(min_phrase, len(tokens) // min_repeats + 1):
        tail = tokens[len(tokens) - length:]
        if all(tokens[len(tokens) - (k + 1) * length:len(tokens) - k * length] == tail
               for k in range(1, min_repeats)):
            return True
    return False


def repetition_rate(texts: Sequence[str]) -> float:
    """Share of samples that end in a repetition loop (Holtzman et al. 2020): `ends_in_loop` on
    the sample's `words` (a phrase of >= 2 words repeated >= 3 times at the very end;
    punctuation ignored, so "No. No. No. No. No. No." is the phrase "no no" three times).

    This is the rule as issue 7 states it. Holtzman et al.'s released script
    (ari-holtzman/degen, metrics/repetition.py) differs: GPT-2 tokens, and a sample counts when
    its most-repeated final phrase has >= 3 tokens and >= 2 copies (or > 50 copies). nan for
    no samples.
    """
    return _ratio(sum(ends_in_loop(words(t)) for t in texts), len(texts))


def mattr(texts: Sequence[str], window: int = 50) -> float:
    """Moving-average type-token ratio (Covington & McFall 2010): the mean, over every window of
    `window` consecutive words, of distinct words / `window`.

    Windows lie inside one sample (never across two); the mean pools the windows of all
    samples, so a long sample weighs more. Unlike the plain type-token ratio it does not fall
    as texts get longer. Samples shorter than the window add nothing; nan if no sample is as
    long as the window.
    """
    total, count = 0.0, 0
    for t in texts:
        tokens = words(t)
        if len(tokens) < window:
            continue
        seen = Counter(tokens[:window])
        ratios = [len(seen)]
        for old, new in zip(tokens, tokens[window:]):
            seen[old] -= 1
            if not seen[old]:
                del seen[old]
            seen[new] += 1
            ratios.append(len(seen))
        total += sum(ratios) / window
        count += len(ratios)
    return _ratio(total, count)


# -- lengths -----------------------------------------------------------------------------------


def sentence_word_counts(texts: Sequence[str]) -> list[int]:
    """Words per sentence for every sentence of every sample (the sentence-length histogram)."""
    counts = []
    for t in texts:
        for piece in _SENTENCE_END.split(t):
            n = len(words(piece))
            if n:
                counts.append(n)
    return counts


def sentence_lengths(texts: Sequence[str]) -> tuple[float, float]:
    """Mean and standard deviation (population) of words per sentence, over all sentences."""
    return _mean_std(sentence_word_counts(texts))


def word_lengths(texts: Sequence[str]) -> tuple[float, float]:
    """Mean and standard deviation (population) of characters per word, over all words; an
    apostrophe inside a word counts as a character ("don't" has 5)."""
    return _mean_std([len(w) for t in texts for w in words(t)])


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
    return _ratio(sum(map(quotes_balanced, texts)), len(texts))


def dialogue_share(texts: Sequence[str]) -> float:
    """Share of characters inside double quotation marks, over all characters of all samples.

    A quote runs from “ to the next ” or from " to the next ", and stops at the end of the line
    when it is not closed there (so a lost closing mark costs one paragraph, not the rest of
    the text). The marks themselves count as outside. Single quotes are ignored. nan for no
    characters.
    """
    inside, total = 0, 0
    for t in texts:
        total += len(t)
        for m in _QUOTED.finditer(t):
            closed = len(m.group()) > 1 and m.group()[-1] in '”"'
            inside += len(m.group()) - 1 - closed
    return _ratio(inside, total)


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
_PUNCT_RE = re.compile("|".join(f"(?P<{k}>{v})" for k, v in _PUNCTUATION.items()))


def punctuation_profile(texts: Sequence[str]) -> dict[str, float]:
    """Occurrences per 1,000 characters of each mark, over all samples: {"punct_period": ...}.

    Marks: . , ; : ! ? — (em dash) … (or "...", not also counted as three periods) ( ) double
    quotes (“ ” " together) and single quotes (‘ ’ ' together, apostrophes included). nan
    for every mark when there are no characters.
    """
    counts = Counter(m.lastgroup for t in texts for m in _PUNCT_RE.finditer(t))
    chars = sum(map(len, texts))
    return {f"punct_{k}": _ratio(1000 * counts[k], chars) for k in _PUNCTUATION}


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
    return _ratio(1000 * sum(map(emoji_count, texts)), sum(map(len, texts)))


# -- novelty against the training corpus -------------------------------------------------------


class CorpusIndex:
    """The training corpus prepared once for `novelty`, reusable across backends.

    The corpus becomes one sequence of word ids (`words`, across paragraph breaks). Whether a
    run of k words occurs in it is exact:
    - k <= 3: each k-gram of the corpus is packed into one int64 (id1 * V^2 + id2 * V + id3,
      V = vocabulary size), kept sorted and unique; a lookup is a binary search (numpy
      searchsorted, all windows of a sample at once). Built on first use.
    - k >= 4: genlab.markov.overlap.RunIndex, the Markov chain's anti-plagiarism index: a
      sorted array of (hash of the first 4 words << 32 | position), 8 bytes per corpus word;
      candidates found by binary search are compared word by word, so hash collisions never
      give a wrong answer.
    A ~1 MB corpus (~180,000 words) indexes in well under a second.
    """

    def __init__(self, text: str):
        vocab: dict[str, int] = {}
        ids = array("q")
        for m in _WORD.finditer(text):
            w = m.group().lower().replace("’", "'")
            ids.append(vocab.setdefault(w, len(vocab)))
        self.vocab = vocab
        self.ids = np.frombuffer(ids, dtype=np.int64) if ids else np.zeros(0, dtype=np.int64)
        self.runs = RunIndex(self.ids)
        self._short: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def encode(self, tokens: Sequence[str]) -> np.ndarray:
        """Word ids of `tokens` (from `words`); -1 for a word the corpus never has."""
        return np.array([self.vocab.get(w, -1) for w in tokens], dtype=np.int64)

    def _pack(self, ids: np.ndarray, starts: np.ndarray, k: int) -> np.ndarray:
        code = np.zeros(len(starts), dtype=np.int64)
        for j in range(k):
            code = code * len(self.vocab) + ids[starts + j]
        return code

    def _short_grams(self, k: int) -> np.ndarray:
        if k not in self._short:
            starts = np.arange(max(len(self.ids) - k + 1, 0))
            self._short[k] = count_sorted(np.sort(self._pack(self.ids, starts, k)))[0]  # (np.unique: slower)
        return self._short[k]

    def occurs(self, ids: np.ndarray, starts: np.ndarray, k: int) -> np.ndarray:
        """For each start s, does ids[s:s+k] occur in the corpus? (bool array)"""
        ids, starts = np.asarray(ids, dtype=np.int64), np.asarray(starts, dtype=np.int64)
        if k >= 4 or len(self.vocab) ** k >= 2**63:
            return self.runs.count_runs(ids, starts, k) > 0
        known = np.ones(len(starts), dtype=bool)
        for j in range(k):
            known &= ids[starts + j] >= 0
        grams, found = self._short_grams(k), np.zeros(len(starts), dtype=bool)
        codes = self._pack(ids, starts[known], k)
        pos = np.minimum(grams.searchsorted(codes), max(len(grams) - 1, 0))
        found[known] = grams[pos] == codes if len(grams) else False
        return found

    def longest_copy(self, ids: np.ndarray) -> int:
        """Length in words of the longest run of `ids` that occurs in the corpus.

        A run that occurs has every shorter prefix occurring at the same start, so "some run
        of L words occurs" is monotone in L and the starts that succeed at L include those that
        succeed at any longer length. The length doubles until no run occurs, then a binary
        search between the last success and the first failure finds the longest, only ever
        looking at the starts of the last success: O(log L) vectorised lookups per sample.
        """
        ids = np.asarray(ids, dtype=np.int64)
        best, starts, fail, growing = 0, np.arange(len(ids)), len(ids) + 1, True
        while fail - best > 1:  # invariant: a run of `best` words occurs, none of `fail` words
            length = min(max(2 * best, 1), len(ids)) if growing else (best + fail) // 2
            fits = starts[starts + length <= len(ids)]
            hits = fits[self.occurs(ids, fits, length)]
            if len(hits):
                best, starts = length, hits
            else:
                fail, growing = length, False
        return best


@dataclass(frozen=True)
class Novelty:
    copied_share: float  # share of the samples' word n-grams that occur in the corpus
    longest_copy_mean: float  # mean over samples with words of the longest copied run (words)
    longest_copy_max: float  # the longest copied run of any sample (words)
    longest_copies: tuple[int, ...]  # per sample with words

    @property
    def novel_share(self) -> float:
        return 1.0 - self.copied_share


def novelty(texts: Sequence[str], corpus: str | CorpusIndex, n: int = 4) -> Novelty:
    """How much of the samples is copied from the training corpus (`corpus`: its text or a
    `CorpusIndex` built once and reused).

    copied_share: of all word n-grams of all samples, the share that occur anywhere in the
    corpus (a Markov chain of order >= n - 1 copies nearly all of them). Longest copy: per
    sample, the longest run of consecutive words found verbatim in the corpus; mean and max
    over the samples that have words. Runs and n-grams are over `words` (case and punctuation
    ignored). nan when undefined (no n-grams; no sample with words).
    """
    index = corpus if isinstance(corpus, CorpusIndex) else CorpusIndex(corpus)
    copied = total = 0
    longest = []
    for t in texts:
        ids = index.encode(words(t))
        if not len(ids):
            continue
        starts = np.arange(max(len(ids) - n + 1, 0))
        copied += int(index.occurs(ids, starts, n).sum())
        total += len(starts)
        longest.append(index.longest_copy(ids))
    mean, _ = _mean_std(longest)
    return Novelty(_ratio(copied, total), mean, float(max(longest)) if longest else NAN, tuple(longest))


# -- all together ------------------------------------------------------------------------------


def reference_samples(text: str, min_words: int = 100) -> list[str]:
    """Cut a human text into samples comparable to generated ones: consecutive paragraphs
    (separated by blank lines) joined until a sample has at least `min_words` words and no
    speech left open (`quotes_balanced`: a speech running over several paragraphs stays in one
    sample; an unbalanced text still ends a sample at 4 x `min_words`). The last sample may be
    shorter. Paragraphs keep their blank-line separation."""
    samples, current, count = [], [], 0
    for p in re.split(r"\n[^\S\n]*\n", text):
        p = p.strip()
        if not p:
            continue
        current.append(p)
        count += len(words(p))
        joined = "\n\n".join(current)
        if count >= min_words and (quotes_balanced(joined) or count >= 4 * min_words):
            samples.append(joined)
            current, count = [], 0
    if current:
        samples.append("\n\n".join(current))
    return samples


def style_metrics(texts: Sequence[str], corpus_index: CorpusIndex | None = None) -> dict[str, float]:
    """Every style metric of `texts` as one flat {name: float} dict (a CSV row).

    The keys are always the same; the novelty ones are nan without a `corpus_index`. For the
    human reference pass `reference_samples(text)`; measured against its own corpus, a
    reference is all copy (novel share 0), so give it a held-out eval text to compare.
    """
    sentence_mean, sentence_std = sentence_lengths(texts)
    word_mean, word_std = word_lengths(texts)
    row = {f"distinct_{n}": distinct_n(texts, n) for n in (1, 2, 3)}
    row |= {
        "self_bleu_4": self_bleu(texts, 4),
        "zipf": zipf_coefficient(texts),
        "repetition_rate": repetition_rate(texts),
        "sentence_length_mean": sentence_mean,
        "sentence_length_std": sentence_std,
        "word_length_mean": word_mean,
        "word_length_std": word_std,
        "mattr": mattr(texts),
        "quote_balance_rate": quote_balance_rate(texts),
        "dialogue_share": dialogue_share(texts),
        "emoji_rate": emoji_rate(texts),
    }
    row |= punctuation_profile(texts)
    found = novelty(texts, corpus_index) if corpus_index is not None else None
    row["novel_4gram_share"] = found.novel_share if found else NAN
    row["longest_copy_mean"] = found.longest_copy_mean if found else NAN
    row["longest_copy_max"] = found.longest_copy_max if found else NAN
    return {k: float(v) for k, v in row.items()}
