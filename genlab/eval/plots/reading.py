"""Reading a comparison's metrics.json for the plots: every section may be missing, empty or
hold junk (null, NaN, text), which is left out rather than failing.

The schema, as genlab.eval.measure writes it:

    {
      "run": {"name": "first", "seed": 1, "samples": 4,
              "sampling": {"temperature": 0.8, "top_k": 40, ...},
              "sweep": {"temperature": [0.5, 1.0, 1.5]} or null,
              "bootstrap": {"replicates": 1000, "level": 0.95} or null},   # null: no intervals
      "backends": ["markov:novel", "llama:models/novel-llm.gguf"],   # order fixes each colour
      "style": [                                                     # one row per backend and setting
        {"backend": "markov:novel", "setting": "temperature=0.8", "temperature": 0.8,
         "distinct_1": 0.41, ..., "samples": 27,
         "interval": {"distinct_1": [0.38, 0.44], ...}},             # every metric; null: undefined
        {"backend": "human", "setting": "", "temperature": null, ...same keys...}],  # the human text
      "perplexity": [{"backend": "markov:novel", "bits_per_byte": 1.8, ..., "paragraphs": 210,
                      "interval": {"bits_per_byte": [1.75, 1.86]}}, ...],   # over paragraphs
      "orders": [{"order": 1, "bits_per_byte": 2.25, "longest_copy_mean": 3.1,
                  "novel_4gram_share": 0.8, "interval": {"bits_per_byte": [2.2, 2.3], ...}}, ...],
      "differences": [                      # paired: same prompts and seeds (same paragraphs for bits/byte)
        {"metric": "distinct_2", "setting": "temperature=0.8", "a": "markov:novel", "b": "llama3",
         "a_value": 0.77, "b_value": 0.73, "difference": 0.04, "interval": [0.01, 0.07], "units": 27}],
      "versus_human": [                     # each backend's number less the human text's
        {"metric": "distinct_2", "setting": "temperature=0.8", "backend": "llama3", "value": 0.73,
         "human": 0.78, "difference": -0.05, "interval": [-0.09, -0.01]}],
      "closer": [                           # which of two backends is nearer the human text, paired
        {"metric": "distinct_2", "setting": "temperature=0.8", "a": "markov:novel", "b": "llama3",
         "gap": 0.04, "interval": [0.01, 0.08]}],   # gap = |b - human| - |a - human|: > 0, a is nearer
      "rank_frequency": {"markov:novel": [120, 80, 44, ...], "human": [...]},  # word counts, descending
      "sentence_lengths": {"markov:novel": [12, 7, 30, ...], "human": [...]}   # words per sentence
    }

Intervals are 95% bootstrap percentile intervals (genlab.eval.bootstrap): over prompts and their
samples for style metrics, over paragraphs of the eval text for bits per byte, over passages for
the human text. A difference is claimed only where its interval excludes zero.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from genlab.eval.bootstrap import LEVEL

HUMAN = "human"



def number(value: Any) -> float | None:
    """A finite float, or None for anything else (null, NaN, inf, text, bool)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def section_rows(metrics: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
    """The list-of-dict section `key` (rows without a backend/order name are kept; callers check)."""
    section = metrics.get(key) if isinstance(metrics, Mapping) else None
    if not isinstance(section, list):
        return []
    return [row for row in section if isinstance(row, Mapping)]


def section_series(metrics: Mapping[str, Any], key: str) -> dict[str, list[float]]:
    """The {backend: [numbers]} section `key`, non-finite values dropped, empty series dropped."""
    section = metrics.get(key) if isinstance(metrics, Mapping) else None
    if not isinstance(section, Mapping):
        return {}
    out = {}
    for name, values in section.items():
        if isinstance(values, (list, tuple)):
            numbers = [v for v in map(number, values) if v is not None]
            if numbers:
                out[str(name)] = numbers
    return out



def run_settings(metrics: Mapping[str, Any]) -> Mapping[str, Any]:
    run = metrics.get("run") if isinstance(metrics, Mapping) else None
    return run if isinstance(run, Mapping) else {}


def plain(text: str) -> str:
    """`text` as matplotlib shows it literally: a "$" pair would be read as maths (and a bad
    formula fails the whole drawing)."""
    return text.replace("$", r"\$")


def run_name(metrics: Mapping[str, Any]) -> str:
    """The run named once for a title: ' — run “first”'; a name that already says run ("run",
    "run-3") stands alone (' — “run”'), so no title reads "run run"."""
    name = run_settings(metrics).get("name")
    if not isinstance(name, str) or not name.strip():
        return ""
    name = " ".join(name.split())
    name = name if len(name) <= 40 else name[:39] + "…"
    said = re.search(r"(?<![^\W_])run(?![^\W_])", name, re.IGNORECASE)
    return f" — “{plain(name)}”" if said else f" — run “{plain(name)}”"


def bounds(row: Mapping[str, Any], key: str) -> tuple[float, float] | None:
    """The interval (low, high) of metric `key` in `row` ("interval": {key: [low, high]}), or None
    when it is missing, null or not two finite numbers in order: a metrics.json from before
    intervals has no "interval" key, and an undefined interval is null."""
    section = row.get("interval") if isinstance(row, Mapping) else None
    return interval_pair(section.get(key) if isinstance(section, Mapping) else None)


def interval_pair(value: Any) -> tuple[float, float] | None:
    """(low, high) from a [low, high] of finite numbers in order, else None."""
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        return None
    low, high = number(value[0]), number(value[1])
    if low is None or high is None or low > high:
        return None
    return low, high


def interval_level(metrics: Mapping[str, Any]) -> float:
    """The intervals' coverage (run.bootstrap.level), 0.95 unless the run says otherwise."""
    boot = run_settings(metrics).get("bootstrap")
    level = number(boot.get("level")) if isinstance(boot, Mapping) else None
    return level if level is not None and 0 < level < 1 else LEVEL


def swept_setting(metrics: Mapping[str, Any]) -> str:
    """The sampling setting the style rows vary: the key of run.sweep (`genlab compare --sweep
    top_k=...` sweeps top_k), "temperature" when the run does not sweep."""
    sweep = run_settings(metrics).get("sweep")
    if isinstance(sweep, Mapping):
        for key in sweep:
            if isinstance(key, str) and key:
                return key
    return "temperature"


def base_setting(metrics: Mapping[str, Any]) -> tuple[str, float | None]:
    """(setting, value) the single-setting plots (distinct-n, LLM lines of copy_vs_order) use: the
    swept setting at run.sampling's value when some style row has it, else at the first value the
    style rows have (None without any)."""
    key = swept_setting(metrics)
    values = [v for v in (number(r.get(key)) for r in section_rows(metrics, "style") if r.get("backend") != HUMAN)
              if v is not None]
    sampling = run_settings(metrics).get("sampling")
    wanted = number(sampling.get(key)) if isinstance(sampling, Mapping) else None
    if wanted is not None and any(math.isclose(v, wanted, abs_tol=1e-9) for v in values):
        return key, wanted
    return key, values[0] if values else wanted


def style_at_base(metrics: Mapping[str, Any]) -> tuple[dict[str, dict[str, Any]], str]:
    """({backend: style row} at the base setting, a note naming it). The human row is taken
    whatever its setting; a backend with no row at the base value falls back to its first row."""
    key, base = base_setting(metrics)
    chosen: dict[str, dict[str, Any]] = {}
    exact: set[str] = set()
    for row in section_rows(metrics, "style"):
        name = row.get("backend")
        if not isinstance(name, str):
            continue
        v = number(row.get(key))
        at_base = name == HUMAN or (v is not None and base is not None and math.isclose(v, base, abs_tol=1e-9))
        if at_base and name not in exact:
            chosen[name] = dict(row)
            exact.add(name)
        elif name not in chosen:
            chosen[name] = dict(row)
    return chosen, f"{key} {base:g}" if base is not None else f"base {key}"
