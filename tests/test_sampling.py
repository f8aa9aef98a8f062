"""The shared sampler chain: each transform, checked by hand on small distributions."""

import math

import numpy as np
import pytest

from genlab.errors import GenlabError
from genlab.sampling import PURE, Sampling, apply_chain, draw, parse_value

LOGP = np.log(np.array([0.5, 0.25, 0.15, 0.1]))
IDS = np.array([10, 11, 12, 13])


def kept(s, recent=()):
    keep, probs = apply_chain(LOGP, IDS, s, recent)
    return list(IDS[keep]), probs


def test_defaults_are_llama_cpp_python_completion_defaults():
    s = Sampling()
    assert (s.temperature, s.top_k, s.top_p, s.min_p, s.repeat_penalty, s.repeat_last_n, s.max_tokens) == (
        0.8, 40, 0.95, 0.05, 1.0, 64, 256)


def test_pure_sampling_keeps_the_distribution():
    ids, probs = kept(PURE)
    assert ids == [10, 11, 12, 13]
    assert np.allclose(probs, [0.5, 0.25, 0.15, 0.1])


def test_top_k():
    ids, probs = kept(PURE.merged(top_k=2))
    assert ids == [10, 11]
    assert np.allclose(probs, [2 / 3, 1 / 3])


def test_top_p_keeps_smallest_set_reaching_p():
    assert kept(PURE.merged(top_p=0.75))[0] == [10, 11]
    assert kept(PURE.merged(top_p=0.76))[0] == [10, 11, 12]
    assert kept(PURE.merged(top_p=0.1))[0] == [10]


def test_min_p_relative_to_the_likeliest():
    # 0.5 * 0.3 = 0.15: keeps 0.5, 0.25, 0.15
    assert kept(PURE.merged(min_p=0.3))[0] == [10, 11, 12]
    assert kept(PURE.merged(min_p=0.31))[0] == [10, 11]


def test_temperature_sharpens_and_flattens():
    _, cold = kept(PURE.merged(temperature=0.5))
    assert np.allclose(cold, np.array([0.5, 0.25, 0.15, 0.1]) ** 2 / np.sum(np.array([0.5, 0.25, 0.15, 0.1]) ** 2))
    _, hot = kept(PURE.merged(temperature=2.0))
    assert hot[0] < 0.5 and hot[-1] > 0.1


def test_temperature_zero_is_greedy():
    assert apply_chain(LOGP, IDS, PURE.merged(temperature=0)) == 0


def test_repeat_penalty_multiplies_negative_logits_like_llama_cpp():
    keep, probs = apply_chain(LOGP, IDS, PURE.merged(repeat_penalty=2.0), recent=[10])
    expected = np.array([0.5 ** 2, 0.25, 0.15, 0.1])
    assert np.allclose(probs, expected / expected.sum())
    # ln .5 * 3 = -2.08 < ln .25: greedy now prefers the runner-up; a mild penalty does not
    assert apply_chain(LOGP, IDS, PURE.merged(temperature=0, repeat_penalty=3.0), recent=[10]) == 1
    assert apply_chain(LOGP, IDS, PURE.merged(temperature=0, repeat_penalty=1.5), recent=[10]) == 0
    assert apply_chain(LOGP, IDS, PURE.merged(temperature=0, repeat_penalty=3.0, repeat_last_n=0), recent=[10]) == 0


def test_chain_order_top_k_before_top_p():
    # top_k=3 renormalises to .5/.9 = .556 before top_p sees it: top_p 0.5 keeps one token
    assert kept(PURE.merged(top_k=3, top_p=0.5))[0] == [10]


def test_draw_is_reproducible_and_follows_probabilities():
    probs = np.array([0.7, 0.2, 0.1])
    a = [draw(np.random.default_rng(5), probs) for _ in range(3)]
    b = [draw(np.random.default_rng(5), probs) for _ in range(3)]
    assert a == b
    rng = np.random.default_rng(0)
    hits = np.bincount([draw(rng, probs) for _ in range(20000)], minlength=3) / 20000
    assert np.allclose(hits, probs, atol=0.02)


@pytest.mark.parametrize("field,value", [
    ("temperature", -0.1), ("top_p", 0.0), ("top_p", 1.5), ("top_k", -1), ("min_p", 2.0),
    ("repeat_penalty", 0.0), ("max_tokens", 0), ("seed", -3), ("temperature", math.nan),
])
def test_invalid_values_are_clear_errors(field, value):
    with pytest.raises(GenlabError, match=field):
        Sampling(**{field: value})


def test_parse_value_converts_user_text():
    assert parse_value("temperature", "1.5") == 1.5
    assert parse_value("top_k", "7") == 7
    assert parse_value("seed", "none") is None
    with pytest.raises(GenlabError, match="whole number"):
        parse_value("top_k", "7.5")
    with pytest.raises(GenlabError, match="unknown"):
        parse_value("heat", "1")


def test_from_dict_rejects_unknown_keys():
    assert Sampling.from_dict({"temperature": 1.2, "top_k": 40}).temperature == 1.2
    with pytest.raises(GenlabError, match="unknown sampling setting 'temp'"):
        Sampling.from_dict({"temp": 1})
