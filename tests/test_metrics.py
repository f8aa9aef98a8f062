"""Style metrics on tiny texts whose values are worked out by hand in the comments."""

from __future__ import annotations

import math
import random

import pytest

from genlab.eval.diversity import distinct_n, ends_in_loop, mattr, repetition_rate, self_bleu, zipf_coefficient
from genlab.eval.form import (
    dialogue_share,
    emoji_count,
    emoji_rate,
    punctuation_profile,
    quote_balance_rate,
    quotes_balanced,
    sentence_lengths,
    sentence_word_counts,
    word_lengths,
)
from genlab.eval.metrics import CorpusIndex, novelty, reference_samples, style_metrics
from genlab.eval.words import words

approx = pytest.approx


def test_words():
    # letters/digits with apostrophes inside words; lower-cased; ’ -> '; hyphens and colons split
    assert words("Don’t stop—at 4:15, wheat-starch o'clock!") == [
        "don't", "stop", "at", "4", "15", "wheat", "starch", "o'clock"]


def test_distinct_n():
    texts = ["The cat sat.", "the cat ran"]
    # unigrams: the cat sat | the cat ran -> 6 in all, distinct {the, cat, sat, ran} = 4
    assert distinct_n(texts, 1) == approx(4 / 6)
    # bigrams: (the cat) (cat sat) | (the cat) (cat ran) -> 4, distinct 3 ("sat the" spans two samples: not one)
    assert distinct_n(texts, 2) == approx(3 / 4)
    # trigrams: (the cat sat) | (the cat ran) -> 2, distinct 2
    assert distinct_n(texts, 3) == approx(1.0)
    assert math.isnan(distinct_n([], 1)) and math.isnan(distinct_n(["one two"], 3))


def test_self_bleu():
    # "a b c d e" vs "a b c d f", same length (brevity penalty 1), clipped precisions
    # p1 = 4/5, p2 = 3/4, p3 = 2/3, p4 = 1/2 -> BLEU = (4/5 * 3/4 * 2/3 * 1/2) ** (1/4) = 0.2 ** 0.25;
    # symmetric, so both hypotheses score the same
    assert self_bleu(["a b c d e", "a b c d f"]) == approx(0.2 ** 0.25)
    # "a b c" vs "a b d": p1 = 2/3, p2 = 1/2, p3 = 0/1, p4 = 0/1 (no 4-gram); method1 smoothing turns each
    # zero precision into 0.1 / 1 -> BLEU = (2/3 * 1/2 * 0.1 * 0.1) ** (1/4) = (1/300) ** (1/4) = 0.2403
    assert self_bleu(["a b c", "a b d"]) == approx((1 / 300) ** 0.25)
    # identical samples: every precision 1 -> 1; an empty sample is left out
    assert self_bleu(["x y z w", "x y z w", ""]) == approx(1.0)
    assert math.isnan(self_bleu([])) and math.isnan(self_bleu(["only one", "  "]))


def test_self_bleu_caps_hypotheses_reproducibly():
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    rng = random.Random(1)
    texts = [" ".join(rng.choice("abcdef") for _ in range(12)) for _ in range(30)]
    # the cap scores 5 hypotheses drawn by random.Random(seed).sample, each against all 29 others
    samples = [t.split() for t in texts]
    chosen = random.Random(3).sample(range(30), 5)
    expected = sum(sentence_bleu(samples[:i] + samples[i + 1:], samples[i], (0.25,) * 4,
                                 SmoothingFunction().method1) for i in chosen) / 5
    assert self_bleu(texts, max_hypotheses=5, seed=3) == approx(expected)
    assert self_bleu(texts, max_hypotheses=5, seed=3) != approx(self_bleu(texts, max_hypotheses=5, seed=4))


def test_zipf_coefficient():
    # counts a:4, b:1 -> two points (ln 1, ln 4), (ln 2, ln 1): slope = (0 - ln 4) / ln 2 = -2 -> s = 2
    assert zipf_coefficient(["a a a a b"]) == approx(2.0)
    # counts 4, 2, 1 at ranks 1, 2, 3: x = (0, ln 2, ln 3), y = (2 ln 2, ln 2, 0);
    # x mean = (ln 2 + ln 3)/3 = 0.59725, y mean = ln 2 = 0.69315
    # Sxy = sum (x - xm)(y - ym) = (-0.59725)(0.69315) + 0 + (0.50136)(-0.69315) = -0.76150
    # Sxx = 0.35671 + 0.00920 + 0.25136 = 0.61727 -> slope = -1.23367 -> s = 1.23367
    assert zipf_coefficient(["a b a c a b a"]) == approx(1.23367, abs=1e-5)
    # only the top max_rank ranks are fitted: ranks 1-2 of the text above are (4, 2) -> s = ln 2 / ln 2 = 1
    assert zipf_coefficient(["a b a c a b a"], max_rank=2) == approx(1.0)
    assert math.isnan(zipf_coefficient([])) and math.isnan(zipf_coefficient(["same same"]))


def test_ends_in_loop():
    assert ends_in_loop(words("x y x y x y"))  # "x y" three times
    assert not ends_in_loop(words("x y x y"))  # twice only
    assert not ends_in_loop(words("no no no"))  # a one-word phrase is too short; "no no" needs six
    assert ends_in_loop(words("no no no no no no"))
    assert ends_in_loop(words("start a b c a b c a b c a b"))  # cut mid-loop: "c a b" three times
    assert not ends_in_loop(words("a b c a b c a b c end"))  # the loop must reach the end
    assert not ends_in_loop([])


def test_repetition_rate():
    texts = [
        "I don't know. I don't know. I don't know.",  # words: (i don't know) x 3 -> loop
        "No, no, no.",  # (no) x 3: phrase of one word -> not a loop
        "the end is near the end is near",  # phrase x 2 -> not a loop
        "And x y x y x y",  # (x y) x 3 -> loop
    ]
    assert repetition_rate(texts) == approx(2 / 4)
    assert repetition_rate([""]) == 0.0 and math.isnan(repetition_rate([]))


def test_sentence_lengths():
    texts = ["The cat sat. It ran away! Why?", "“Hi,” she said. “Mr. Pell”"]
    # sample 1: "The cat sat" 3, "It ran away" 3, "Why" 1
    # sample 2: "“Hi,” she said" 3, "“Mr" 1, "Pell”" 1 (no abbreviation list: "Mr." ends a sentence)
    assert sentence_word_counts(texts) == [3, 3, 1, 3, 1, 1]
    # mean 12/6 = 2; deviations 1, 1, -1, 1, -1, -1 -> variance 6/6 = 1 -> std 1
    assert sentence_lengths(texts) == approx((2.0, 1.0))
    # a blank line ends a sentence; a final piece without . ! ? still counts
    assert sentence_word_counts(["One two\n\nthree four five"]) == [2, 3]
    assert all(math.isnan(v) for v in sentence_lengths(["...", ""]))


def test_word_lengths():
    # "I am here" -> 1, 2, 4: mean 7/3; deviations -4/3, -1/3, 5/3 -> variance (16 + 1 + 25)/27 = 42/27
    assert word_lengths(["I am here"]) == approx((7 / 3, math.sqrt(42 / 27)))
    # "Don’t!" -> don't: 5 characters (the apostrophe counts), std 0
    assert word_lengths(["Don’t!"]) == approx((5.0, 0.0))
    assert all(math.isnan(v) for v in word_lengths([]))


def test_mattr():
    # window 3. "a b a c": windows (a b a) 2 types, (b a c) 3 types; "x y z": (x y z) 3; "a a" too short
    # -> mean over the three windows of types/3 = (2/3 + 3/3 + 3/3) / 3 = 8/9
    assert mattr(["a b a c", "a a", "x y z"], window=3) == approx(8 / 9)
    # windows never cross samples: "a b" + "c" would give a window (a b c) if they did
    assert math.isnan(mattr(["a b", "c"], window=3))
    assert math.isnan(mattr([]))


def test_quotes_balanced():
    assert quotes_balanced("“Hi,” she said.")
    assert not quotes_balanced("“Hi, she said.")  # never closed
    assert quotes_balanced('He said "no" and "yes".')
    assert not quotes_balanced('He said "no.')  # odd number of straight quotes
    assert quotes_balanced("Plain text, don’t worry.")  # no quotes; ’ is ignored
    assert quotes_balanced("“One.\n\n“Two.”")  # a speech over two paragraphs
    assert not quotes_balanced("“One. “Two.”")  # reopened inside one paragraph
    assert not quotes_balanced("”Backwards“")


def test_quote_balance_rate():
    texts = ["“Hi,” she said.", "“Hi, she said.", 'He said "no', "Plain."]
    # balanced: 1st and 4th -> 2/4
    assert quote_balance_rate(texts) == approx(0.5)
    assert math.isnan(quote_balance_rate([]))


def test_dialogue_share():
    # "“Hi,” she said." is 15 characters: “ H i , ” + " she said." (10); inside the quotes: "Hi," = 3
    # "No quotes here" is 14 characters, none inside -> 3 / (15 + 14) = 3/29
    assert dialogue_share(["“Hi,” she said.", "No quotes here"]) == approx(3 / 29)
    # straight quotes; an unclosed quote stops at the end of the line:
    # 'a "bc" d "ef\ngh' is 15 characters; inside: "bc" (2) + "ef" (2) = 4 -> 4/15
    assert dialogue_share(['a "bc" d "ef\ngh']) == approx(4 / 15)
    assert math.isnan(dialogue_share([""])) and math.isnan(dialogue_share([]))


def test_punctuation_profile():
    # "A, b. C!" is 8 characters: one comma, one period, one exclamation mark
    # 'So... “No”—(yes)?' is 17 characters: S o . . . ␣ “ N o ” — ( y e s ) ?
    #   one ellipsis (its dots are not periods), two double quotes, one dash, ( and ), one question mark
    # 25 characters in all -> one mark = 1000/25 = 40 per 1,000 characters
    profile = punctuation_profile(["A, b. C!", "So... “No”—(yes)?"])
    expected = dict.fromkeys(
        ["punct_comma", "punct_period", "punct_exclamation", "punct_ellipsis", "punct_dash",
         "punct_paren_open", "punct_paren_close", "punct_question"], 40.0)
    expected |= {"punct_quote_double": 80.0, "punct_semicolon": 0.0, "punct_colon": 0.0, "punct_quote_single": 0.0}
    assert profile == approx(expected)
    assert all(math.isnan(v) for v in punctuation_profile([""]).values())


def test_emoji():
    text = "hi 👍🏽 and 👨\u200d👩\u200d👧 in 🇫🇷"
    # thumbs up + skin tone (2 code points) = 1; man ZWJ woman ZWJ girl (5 code points) = 1; flag (2) = 1
    assert emoji_count(text) == 3
    # code points: "hi " 3 + 2 + " and " 5 + 5 + " in " 4 + 2 = 21 -> 3 * 1000 / 21
    assert len(text) == 21
    assert emoji_rate([text]) == approx(3000 / 21)
    assert emoji_count("plain — text “quoted” … ’") == 0
    assert math.isnan(emoji_rate([]))


CORPUS = "The cat sat on the mat, and the dog sat on the rug."


def test_novelty():
    texts = ["The dog sat on the mat.", "A cat sat on the rug.", "the cat", ""]
    # 1: 4-grams (the dog sat on) (dog sat on the) (sat on the mat): all in the corpus -> 3 of 3;
    #    longest copy "the dog sat on the" = 5 ("the dog sat on the mat" is not in the corpus)
    # 2: (a cat sat on) no ("a" is unknown), (cat sat on the) yes, (sat on the rug) yes -> 2 of 3;
    #    longest copy 4 ("cat sat on the", "sat on the rug"; "cat sat on the rug" is not there)
    # 3: no 4-gram; longest copy "the cat" = 2.   4: no words: left out
    # copied share (3 + 2) / 6 = 5/6; longest copies mean (5 + 4 + 2)/3 = 11/3, max 5
    result = novelty(texts, CORPUS)
    assert result.copied_share == approx(5 / 6) and result.novel_share == approx(1 / 6)
    assert result.longest_copies == (5, 4, 2)
    assert result.longest_copy_mean == approx(11 / 3) and result.longest_copy_max == 5
    empty = novelty([""], CorpusIndex(CORPUS))
    assert math.isnan(empty.copied_share) and math.isnan(empty.longest_copy_max)
    assert novelty(["unknown words only"], CORPUS).longest_copies == (0,)
    assert math.isnan(novelty(["the cat"], "").copied_share)


def test_longest_copy_matches_brute_force():
    rng = random.Random(7)
    corpus = [rng.choice("abcd") for _ in range(400)]
    index = CorpusIndex(" ".join(corpus))
    text = " ".join(corpus)

    def occurs(run):
        return f" {' '.join(run)} " in f" {text} "

    for _ in range(30):
        sample = [rng.choice("abcde") for _ in range(rng.randint(0, 30))]
        brute = max((j - i for i in range(len(sample)) for j in range(i + 1, len(sample) + 1)
                     if occurs(sample[i:j])), default=0)
        assert index.longest_copy(index.encode(sample)) == brute


def test_reference_samples():
    text = "one two\n\nthree\n\n\nfour five six\n \nseven"
    # paragraphs joined until a sample has >= 3 words: (one two | three) = 3, (four five six) = 3, (seven)
    assert reference_samples(text, min_words=3) == ["one two\n\nthree", "four five six", "seven"]
    assert reference_samples("") == []


def test_style_metrics_keys_and_values():
    texts = ["The cat sat on the mat.", "“Hello,” said the dog. “Hello again.”"]
    row = style_metrics(texts, CorpusIndex(CORPUS))
    assert row["distinct_1"] == approx(distinct_n(texts, 1))
    assert row["quote_balance_rate"] == 1.0 and row["repetition_rate"] == 0.0
    assert row["novel_4gram_share"] == approx(1 - novelty(texts, CORPUS).copied_share)
    assert row["longest_copy_max"] == 6.0  # "the cat sat on the mat"
    for key in ["distinct_2", "distinct_3", "self_bleu_4", "zipf", "sentence_length_mean", "sentence_length_std",
                "word_length_mean", "word_length_std", "mattr", "dialogue_share", "emoji_rate", "punct_comma",
                "longest_copy_mean"]:
        assert key in row
    assert all(isinstance(v, float) for v in row.values())
    assert math.isnan(style_metrics(texts)["longest_copy_mean"])  # no corpus: nan, same keys
    assert style_metrics(texts).keys() == row.keys()


def test_style_metrics_on_empty_input_is_nan():
    index = CorpusIndex(CORPUS)
    assert all(math.isnan(v) for v in style_metrics([], index).values())
    assert all(math.isnan(v) for v in style_metrics([], CorpusIndex("")).values())
    # empty samples: nothing loops and no quote is left open; every other number is undefined
    row = style_metrics([""], index)
    assert {k: v for k, v in row.items() if not math.isnan(v)} == {"repetition_rate": 0.0, "quote_balance_rate": 1.0}
    # blank samples have characters, so the per-character rates are defined (and zero)
    row = style_metrics(["   "], index)
    defined = {k: v for k, v in row.items() if not math.isnan(v)}
    assert defined == {"repetition_rate": 0.0, "quote_balance_rate": 1.0, "dialogue_share": 0.0, "emoji_rate": 0.0,
                       **{k: 0.0 for k in row if k.startswith("punct_")}}


def test_longest_copy_of_long_runs():
    corpus = " ".join(f"w{i}" for i in range(300))
    index = CorpusIndex(corpus)
    # a sample copying w10..w146 (137 words) between two unknown words, then w200..w209 (10 words)
    sample = ["new"] + [f"w{i}" for i in range(10, 147)] + ["new"] + [f"w{i}" for i in range(200, 210)]
    assert index.longest_copy(index.encode(sample)) == 137
    assert index.longest_copy(index.encode(corpus.split())) == 300
