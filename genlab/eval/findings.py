"""The "Findings" that open a comparison's report.md: a few sentences written from metrics.json
that claim a difference only where its paired interval excludes zero, so a reader's first minute
is not spent on differences another seed would undo.

    judge(metrics)     -> [Finding]  what the numbers say, metric by metric (for tests, notebooks)
    findings(metrics)  -> str        the "## Findings" markdown section

With a human text each headline metric names the backend nearest it (`closer`, `versus_human`);
without one the backends are set against each other (`differences`); bits per byte (lower is
better) always compares the backends. A comparison within noise says about how many samples
would likely settle it: an interval's half-width shrinks like 1/sqrt(n), so it would take about
n * (half-width / difference)**2.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from genlab.eval.bootstrap import excludes_zero
from genlab.eval.plots.reading import (HUMAN, interval_level, interval_pair, number, run_settings, section_rows,
                                       style_at_base)

BITS_PER_BYTE = "bits_per_byte"
# (key in the style rows, name in the text): one per question a reader asks; distinct-1/3 and the
# longest copy's max say little the ones here do not (a max has no stable interval)
HEADLINE = (
    ("distinct_2", "distinct-2"), ("self_bleu_4", "self-BLEU-4"), ("zipf", "Zipf s"),
    ("repetition_rate", "repetition"), ("sentence_length_mean", "words/sentence"), ("mattr", "MATTR"),
    ("quote_balance_rate", "quotes balanced"), ("dialogue_share", "dialogue"),
    ("novel_4gram_share", "novel 4-grams"), ("longest_copy_mean", "longest copy"),
)
LABELS = {BITS_PER_BYTE: "bits per byte", **dict(HEADLINE)}
NO_SIGN = 25  # needing more than this many times the run's units: no sign of a difference worth chasing


@dataclass(frozen=True)
class Finding:
    """One comparison of one metric at the base setting.

    kind: "lower" (bits per byte: `first` scores lower than `second`), "nearer" (`first` is
    nearer the human text than `second`), "higher" (no human text: `first`'s value is above
    `second`'s) or "human" (`first` less the human text; `second` is None). `difference` and
    `interval` are oriented so that a claim is positive, except for "human" (signed).
    claimed: the interval excludes zero. needed: units per backend that would likely settle an
    unclaimed one (None: claimed, no interval, or no sign of a difference)."""

    metric: str
    kind: str
    first: str
    second: str | None
    first_value: float | None
    second_value: float | None
    human: float | None
    difference: float
    interval: tuple[float, float] | None
    claimed: bool
    units: int | None
    unit: str  # "samples" or "paragraphs"
    needed: int | None


def has_intervals(metrics: Mapping[str, Any]) -> bool:
    """Whether the run was measured with intervals (run.bootstrap set; --bootstrap 0 leaves it null)."""
    return isinstance(run_settings(metrics).get("bootstrap"), Mapping)


level = interval_level  # the intervals' coverage, read as the plots read it
bounds = interval_pair  # an interval [low, high] of finite numbers in order, or None


def samples_needed(units: int | None, interval: tuple[float, float] | None, difference: float) -> int | None:
    """About how many units per backend would make `interval` exclude zero if the difference stayed
    as it is, rounded up to two significant digits; None when that is more than NO_SIGN times as
    many (a difference of (near) zero) or there is nothing to go on."""
    if not units or interval is None or not difference:
        return None
    half = (interval[1] - interval[0]) / 2
    need = units * (half / abs(difference)) ** 2
    if need > NO_SIGN * units:
        return None
    need = max(need, units + 1)
    step = 10 ** max(0, math.floor(math.log10(need)) - 1)
    return int(math.ceil(need / step) * step)


def judge(metrics: Mapping[str, Any]) -> list[Finding]:
    """Every comparison the Findings section speaks of, at the base setting (empty without intervals)."""
    if not has_intervals(metrics):
        return []
    backends = [b for b in metrics.get("backends") or [] if isinstance(b, str) and b != HUMAN]
    out = _bits_per_byte(metrics, backends)
    rows, _ = style_at_base(metrics)
    setting = next((rows[b].get("setting") for b in backends if b in rows), None)
    human = rows.get(HUMAN)
    for key, _ in HEADLINE:
        found = _rows(metrics, "versus_human", key, setting)
        near = {r["backend"]: r for r in found
                if r.get("backend") in backends and number(r.get("difference")) is not None}
        if human is not None and number(human.get(key)) is not None and near:
            out += _nearest(metrics, key, setting, [b for b in backends if b in near], near, rows)
        else:
            out += _higher(metrics, key, setting, backends, rows)
    return out


def _rows(metrics: Mapping[str, Any], section: str, key: str, setting: Any) -> list[dict[str, Any]]:
    """The rows of a section for one metric (at one setting, unless `setting` is None)."""
    return [r for r in section_rows(metrics, section)
            if r.get("metric") == key and (setting is None or r.get("setting", setting) == setting)]


def _pair(rows: list[dict[str, Any]], a: str, b: str, value: str) -> tuple[float, tuple[float, float] | None] | None:
    """(a's number less b's, its interval) from a row of a or b, turned round when it is (b, a)."""
    for r in rows:
        v = number(r.get(value))
        if v is None:
            continue
        iv = bounds(r.get("interval"))
        if (r.get("a"), r.get("b")) == (a, b):
            return v, iv
        if (r.get("a"), r.get("b")) == (b, a):
            return -v, (-iv[1], -iv[0]) if iv else None
    return None


def _finding(metric: str, kind: str, first: str, second: str | None, values: tuple[Any, Any], human: Any,
             compared: tuple[float, tuple[float, float] | None], units: Any, unit: str) -> Finding:
    difference, iv = compared
    n = units if isinstance(units, int) and not isinstance(units, bool) and units > 0 else None
    claimed = excludes_zero(iv) and (kind == "human" or iv[0] > 0)
    return Finding(metric, kind, first, second, number(values[0]), number(values[1]), number(human), difference,
                   iv, claimed, n, unit, None if claimed else samples_needed(n, iv, difference))


def _bits_per_byte(metrics: Mapping[str, Any], backends: list[str]) -> list[Finding]:
    """The lowest-scoring backend set against each other one (paired over the eval text's paragraphs)."""
    scored = {r["backend"]: r for r in section_rows(metrics, "perplexity")
              if r.get("backend") in backends and number(r.get(BITS_PER_BYTE)) is not None}
    if len(scored) < 2:
        return []
    names = [b for b in backends if b in scored]
    best = min(names, key=lambda b: scored[b][BITS_PER_BYTE])
    rows = _rows(metrics, "differences", BITS_PER_BYTE, None)
    out = []
    for other in names:
        pair = _pair(rows, other, best, "difference") if other != best else None
        if pair is None:
            continue
        units = next((r.get("units") for r in rows if {r.get("a"), r.get("b")} == {best, other}), None)
        units = units or scored[best].get("paragraphs")
        out.append(_finding(BITS_PER_BYTE, "lower", best, other, (scored[best][BITS_PER_BYTE],
                            scored[other][BITS_PER_BYTE]), None, pair, units, "paragraphs"))
    return out


def _samples(rows: Mapping[str, Mapping[str, Any]], *names: str) -> int | None:
    counts = [n for n in (rows.get(b, {}).get("samples") for b in names) if isinstance(n, int) and n > 0]
    return min(counts) if counts else None


def _nearest(metrics: Mapping[str, Any], key: str, setting: Any, names: list[str], near: dict[str, dict[str, Any]],
             rows: Mapping[str, Mapping[str, Any]]) -> list[Finding]:
    """The backend nearest the human text set against each other one, and against the human text."""
    best = min(names, key=lambda b: abs(near[b]["difference"]))
    human = rows[HUMAN].get(key)
    closer = _rows(metrics, "closer", key, setting)
    out = []
    for other in names:
        if other == best:
            continue
        pair = _pair(closer, best, other, "gap") or (0.0, None)
        out.append(_finding(key, "nearer", best, other, (near[best].get("value"), near[other].get("value")), human,
                            pair, _samples(rows, best, other), "samples"))
    mine = near[best]
    out.append(_finding(key, "human", best, None, (mine.get("value"), None), human,
                        (mine["difference"], bounds(mine.get("interval"))), _samples(rows, best), "samples"))
    return out


def _higher(metrics: Mapping[str, Any], key: str, setting: Any, backends: list[str],
            rows: Mapping[str, Mapping[str, Any]]) -> list[Finding]:
    """Without a human text: every pair of backends, the higher value first."""
    diffs = _rows(metrics, "differences", key, setting)
    out = []
    for i, a in enumerate(backends):
        for b in backends[i + 1:]:
            pair = _pair(diffs, a, b, "difference")
            if pair is None:
                continue
            first, second = (a, b) if pair[0] >= 0 else (b, a)
            if first == b:
                pair = (-pair[0], (-pair[1][1], -pair[1][0]) if pair[1] else None)
            values = (rows.get(first, {}).get(key), rows.get(second, {}).get(key))
            out.append(_finding(key, "higher", first, second, values, None, pair, _samples(rows, a, b), "samples"))
    return out


# --- the words -----------------------------------------------------------------------------------


def num(value: float | None, digits: int = 3) -> str:
    """A number as the Findings write it: three significant digits, at most `digits` decimals."""
    if value is None:
        return "–"
    if value == 0:
        return "0"
    places = min(digits, max(0, 2 - math.floor(math.log10(abs(value)))))
    return f"{value:.{places}f}".replace("-", "−")


def places(interval: tuple[float, float] | None, digits: int = 3) -> int:
    """Decimals that show an interval's spread (at least five steps of the last digit across it)."""
    if interval is None or interval[1] <= interval[0]:
        return digits
    return min(digits + 1, max(0, math.ceil(math.log10(5 / (interval[1] - interval[0])))))


def span(interval: tuple[float, float] | None, digits: int = 3) -> str:
    """[low–high] at the precision the interval's spread warrants."""
    if interval is None:
        return "[no interval]"
    low, high = interval
    p = places(interval, digits)
    sep = " to " if low < 0 else "–"
    return f"[{low:.{p}f}{sep}{high:.{p}f}]".replace("-", "−")


def by(difference: float, interval: tuple[float, float] | None, digits: int = 3) -> str:
    """"0.50 [0.44–0.56]": a difference at its interval's precision, then the interval."""
    return f"{difference:.{places(interval, digits)}f} {span(interval, digits)}".replace("-", "−")


def _name(backend: str) -> str:
    return f"`{backend}`"


def _claim(f: Finding) -> str:
    if f.kind == "lower":
        return (f"lower than {_name(f.second)} ({num(f.second_value, 4)}) by {by(f.difference, f.interval, 4)}")
    if f.kind == "nearer":
        return f"nearer than {_name(f.second)} ({num(f.second_value)}) by {by(f.difference, f.interval)}"
    return (f"{_name(f.first)} {num(f.first_value)} is higher than {_name(f.second)} {num(f.second_value)} by "
            f"{by(f.difference, f.interval)}")


def _versus_human(f: Finding) -> str:
    """`first` against the human text, as a clause."""
    if not f.claimed:
        return "within noise of the human text" if f.interval else "not judged against the human text (no interval)"
    way = "higher" if f.difference > 0 else "lower"
    iv = f.interval if f.difference > 0 else (-f.interval[1], -f.interval[0])
    return f"{way} than the human text by {by(abs(f.difference), iv)}"


def _bullet(metric: str, found: list[Finding]) -> str | None:
    """The sentence of one metric with at least one claim, else None."""
    claims = [f for f in found if f.claimed and f.kind != "human"]
    human = next((f for f in found if f.kind == "human"), None)
    pairs = [f for f in found if f.kind != "human"]
    if not claims and not (human and human.claimed and not pairs):
        return None
    label = LABELS[metric]
    ties = [f for f in pairs if not f.claimed]
    tie = ""
    if ties and claims[0].kind in ("lower", "nearer"):
        tie = "; within noise of " + ", ".join(
            f"{_name(f.second)} ({num(f.second_value, 4 if f.kind == 'lower' else 3)})" for f in ties)
    if metric == BITS_PER_BYTE:
        first = claims[0]
        return (f"- **Bits per byte** on the eval text (lower is better): {_name(first.first)} "
                f"{num(first.first_value, 4)} is " + " and ".join(_claim(f) for f in claims) + tie + ".")
    if claims and claims[0].kind == "nearer":
        first = claims[0]
        text = (f"- **{label}**: {_name(first.first)} {num(first.first_value)} is nearest the human text's "
                f"{num(first.human)}, " + " and ".join(_claim(f) for f in claims) + tie)
        return text + (f"; it is {_versus_human(human)}." if human else ".")
    if claims:
        return f"- **{label}**: " + "; ".join(_claim(f) for f in claims) + "."
    return f"- **{label}**: {_name(human.first)} {num(human.first_value)} is {_versus_human(human)}."


def _noise(unsettled: list[tuple[str, Finding]]) -> str | None:
    """One sentence for every metric without a claim: what would likely settle each."""
    if not unsettled:
        return None
    estimates, no_sign, unjudged = [], [], []
    for metric, f in unsettled:
        if f.interval is None:
            unjudged.append(LABELS[metric])
        elif f.needed is None:
            no_sign.append(LABELS[metric])
        else:
            estimates.append((LABELS[metric], f))
    parts = []
    per = {"samples": "samples per backend", "paragraphs": "paragraphs of eval text"}
    for k, (label, f) in enumerate(estimates):
        said = per[f.unit] if k == 0 or f.unit != estimates[k - 1][1].unit else ""
        now = f", now {f.units:,}," if said else ""
        parts.append(f"{label} (about {f.needed:,}{' ' + said if said else ''}{now}"
                     + (" would likely settle it)" if k == 0 else ")"))
    if no_sign:
        parts.append(f"no sign of a difference on {_series(no_sign)}")
    if unjudged:
        parts.append(f"no interval for {_series(unjudged)}")
    return "- **Within noise**: " + "; ".join(parts) + "."


def _series(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _unsettled(found: list[Finding]) -> Finding | None:
    """The comparison an unclaimed metric is judged by: the nearest call the run came to settling."""
    pairs = [f for f in found if f.kind != "human"] or found
    return min(pairs, key=lambda f: (f.interval is None, f.needed is None, f.needed or 0))


def _scope(metrics: Mapping[str, Any], found: list[Finding]) -> str:
    """Where the numbers come from, the level and the units, once."""
    run = run_settings(metrics)
    rows, at = style_at_base(metrics)
    prompts = run.get("prompts")
    n_prompts = len(prompts) if isinstance(prompts, list) else None
    each = run.get("samples")
    count = _samples(rows, *[b for b in rows if b != HUMAN])
    made = (f"{n_prompts} prompts × {each} samples" if n_prompts and isinstance(each, int) else
            f"{count} samples" if count else "its samples")
    swept = run.get("sweep")
    where = f"At {at} (the run's base setting; the tables hold the others)" if swept else f"At {at}"
    text = f"{where}, each backend made {made}"
    human = rows.get(HUMAN)
    if human is not None and isinstance(human.get("samples"), int):
        source = "the eval text" if run.get("eval_text") or not run.get("corpus") else "the corpus"
        text += f"; the human text is {human['samples']} passages of {source}"
    kinds = {f.kind for f in found}
    compared = {f.first for f in found} | {f.second for f in found if f.second}
    text += (". Each metric names the backend nearest the human text" if "nearer" in kinds else
             ". Each metric sets the backend against the human text" if "human" in kinds else "")
    paragraphs = next((f.units for f in found if f.metric == BITS_PER_BYTE and f.units), None)
    text += (f". Intervals are {level(metrics):.0%} bootstrap intervals over prompts and their samples"
             + (f" (bits per byte: over the eval text's {paragraphs:,} paragraphs)" if paragraphs else "")
             + ("; backends are compared paired (same prompts, seeds and paragraphs)" if len(compared) > 1 else "")
             + "; a difference is claimed only where its interval excludes zero.")
    return text


def findings(metrics: Mapping[str, Any]) -> str:
    """The "## Findings" section of report.md, from a run's metrics.json dict."""
    out = ["## Findings", ""]
    if not has_intervals(metrics):
        out.append("These numbers carry no intervals (the run was measured with `--bootstrap 0`, or by a genlab "
                   "from before intervals), so no difference is claimed: run the comparison again with "
                   "`--bootstrap 1000` to judge them.")
        return "\n".join(out) + "\n"
    found = judge(metrics)
    if not found:
        backends = [b for b in metrics.get("backends") or [] if b != HUMAN]
        out.append("One backend and no human text: nothing to set it against." if len(backends) < 2 else
                   "The metrics hold no paired comparisons to judge.")
        return "\n".join(out) + "\n"
    out += [_scope(metrics, found), ""]
    unsettled = []
    for metric in [BITS_PER_BYTE, *(k for k, _ in HEADLINE)]:
        mine = [f for f in found if f.metric == metric]
        if not mine:
            continue
        line = _bullet(metric, mine)
        if line:
            out.append(line)
        else:
            unsettled.append((metric, _unsettled(mine)))
    noise = _noise(unsettled)
    if noise:
        out.append(noise)
    return "\n".join(out) + "\n"
