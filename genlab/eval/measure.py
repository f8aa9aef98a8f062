"""Measuring a comparison: metrics.json (every number the plots and the report use, with the
style metrics' intervals and paired comparisons, genlab.eval.uncertainty) and metrics.csv, from
the run folder's saved samples and scores."""

from __future__ import annotations

import csv
import json
import math
import random
from dataclasses import asdict
from pathlib import Path
from typing import Callable

from genlab.eval.plan import CompareSettings, sampling_dict, setting_label, settings_grid
from genlab.eval.runfolder import METRICS_CSV, METRICS_JSON, SAMPLES, SCORES, read_jsonl, sample_text

HUMAN = "human"


def human_samples(text: str, count: int, seed: int) -> list[str]:
    """`count` passages of the human text (whole paragraphs of 100 words or more, speeches not
    cut), picked at seeded random, to set beside the models' samples."""
    from genlab.eval.metrics import reference_samples

    passages = reference_samples(text)
    if len(passages) <= count:
        return passages
    return random.Random(seed).sample(passages, count)


def measure(s: CompareSettings, out: Path, corpus_text: str | None, eval_text: str | None,
            log: Callable[[str], None] = lambda m: None) -> dict:
    """Everything metrics.json holds, from the saved samples and scores."""
    from genlab.eval import metrics as M
    from genlab.eval.diversity import word_frequencies
    from genlab.eval.form import sentence_word_counts
    from genlab.eval.orders import chains_by_order
    from genlab.eval.uncertainty import bootstrap_run, comparisons, human_counts, measured, sample_counts
    from genlab.eval.score_intervals import perplexity_intervals

    index = M.CorpusIndex(corpus_text) if corpus_text else None
    grid = settings_grid(s)
    labels = [setting_label(s, g) for g in grid]
    base_label = setting_label(s, s.sampling) if setting_label(s, s.sampling) in labels else labels[0]
    swept = s.sweep[0] if s.sweep else "temperature"
    saved, grid_units = _samples_by_unit(s, read_jsonl(out / SAMPLES)), len(s.prompts) * s.samples
    counts = {label: sample_counts(s, label) for label in labels}
    style: list[dict] = []
    found: dict = {}
    rank_frequency: dict[str, list[int]] = {}
    sentence_lengths: dict[str, list[int]] = {}
    for backend in s.backends:
        for sampling in grid:
            label = setting_label(s, sampling)
            units = saved.get((backend, label))
            if not units:
                continue
            texts = list(units.values())
            parts = {k: p.spread(list(units), grid_units) for k, p in M.style_parts(texts, index).items()}
            found[backend, label] = m = measured(parts, counts[label], list(units))
            row = {"backend": backend, "setting": label, swept: getattr(sampling, swept)}
            if swept != "temperature":
                row["temperature"] = sampling.temperature
            row.update(m.estimates)
            row["samples"] = len(texts)
            row["interval"] = m.intervals()
            style.append(row)
            if label == base_label:
                rank_frequency.setdefault(backend, [int(c) for c in word_frequencies(texts)[:2000]])
                sentence_lengths.setdefault(backend, sentence_word_counts(texts))
    reference = eval_text or corpus_text
    human = None
    if reference:
        texts = human_samples(reference, max(len(s.prompts) * s.samples, 20), s.seed)
        row = {"backend": HUMAN, "setting": "", swept: None}
        human = measured(M.style_parts(texts, index if eval_text else None), human_counts(s, len(texts)))
        row.update(human.estimates)
        row["samples"] = len(texts)
        row["interval"] = human.intervals()
        style.append(row)
        rank_frequency[HUMAN] = [int(c) for c in word_frequencies(texts)[:2000]]
        sentence_lengths[HUMAN] = sentence_word_counts(texts)
    scores = read_jsonl(out / SCORES)
    by_backend = {r["backend"]: r for r in scores}
    perplexity_rows = [by_backend[b] for b in s.backends if b in by_backend]
    perplexity_rows, differences = perplexity_intervals(perplexity_rows, s.bootstrap, s.seed)
    orders = chains_by_order(s, corpus_text, eval_text, index, log) if s.orders and corpus_text else []
    compared = comparisons(s, found, human, labels)
    compared["differences"] += differences
    sampling = sampling_dict(s.sampling)
    sampling.pop("seed", None)
    return {
        "run": {"name": out.name, "seed": s.seed, "samples": s.samples, "sampling": sampling,
                "sweep": {s.sweep[0]: list(s.sweep[1])} if s.sweep else None,
                "prompts": [asdict(p) for p in s.prompts],
                "eval_text": str(s.eval_text) if s.eval_text else None,
                "corpus": str(s.corpus) if s.corpus else None,
                "bootstrap": bootstrap_run(s)},
        "backends": list(s.backends),
        "style": _finite(style),
        "perplexity": _finite(perplexity_rows),
        "orders": _finite(orders),
        **compared,
        "rank_frequency": rank_frequency,
        "sentence_lengths": sentence_lengths,
    }


def _samples_by_unit(s: CompareSettings, records: list[dict]) -> dict[tuple[str, str], dict[int, str]]:
    """{(backend, setting): {unit: text}}, units numbered in `jobs` order (prompt by prompt, its
    samples together), whatever order a resumed run saved them in; a sample not made yet is a
    unit left out."""
    unit = {(p.id, i): pi * s.samples + i for pi, p in enumerate(s.prompts) for i in range(s.samples)}
    out: dict[tuple[str, str], dict[int, str]] = {}
    for r in records:
        u = unit.get((r.get("prompt_id"), r.get("sample")))
        if u is not None:
            out.setdefault((r["backend"], r["setting"]), {})[u] = sample_text(r)
    return {key: dict(sorted(texts.items())) for key, texts in out.items()}


def _finite(rows: list[dict]) -> list[dict]:
    """JSON has no NaN: undefined numbers are written as null."""
    return [{k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in r.items()} for r in rows]


def write_metrics(out: Path, metrics: dict) -> None:
    """metrics.json, and metrics.csv: the style rows with each backend's bits per byte; with
    intervals, each metric column K is followed by K_low and K_high."""
    from genlab.atomic import replacing, write_text
    from genlab.eval.metrics import STYLE_KEYS

    write_text(out / METRICS_JSON, json.dumps(metrics, indent=1, ensure_ascii=False))
    rows = metrics["style"]
    scores = {r["backend"]: r for r in metrics["perplexity"]}
    bounds = metrics["run"].get("bootstrap") is not None
    columns = ["backend", "setting"] + sorted({k for r in rows for k in r} - {"backend", "setting", "interval"})
    header: list[str] = []
    for c in [*columns, "bits_per_byte"]:
        header += [c, f"{c}_low", f"{c}_high"] if bounds and (c in STYLE_KEYS or c == "bits_per_byte") else [c]

    def cells(row: dict, score: dict) -> list[object]:
        values = {**{c: row.get(c) for c in columns}, "bits_per_byte": score.get("bits_per_byte")}
        for key, source in [*((k, row) for k in STYLE_KEYS), ("bits_per_byte", score)]:
            low_high = (source.get("interval") or {}).get(key) or (None, None)
            values[f"{key}_low"], values[f"{key}_high"] = low_high
        return [_cell(values.get(c)) for c in header]

    with replacing(out / METRICS_CSV) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(header)
            for r in rows:
                w.writerow(cells(r, scores.get(r["backend"], {})))


def _cell(v: object) -> object:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return v
