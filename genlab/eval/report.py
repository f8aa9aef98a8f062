"""report.md of a comparison run, from metrics.json: the settings, the Findings in words
(genlab.eval.findings), the tables with each number's interval, the plots, and a sample of each
kind of prompt."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from genlab.eval.findings import bounds, findings, has_intervals, level, places, span
from genlab.eval.plots.reading import HUMAN, number, style_at_base
from genlab.eval.prompts import KINDS

# (key in the style rows, column heading), the ones worth a reader's first look
STYLE_COLUMNS = (
    ("distinct_1", "distinct-1"), ("distinct_2", "distinct-2"), ("distinct_3", "distinct-3"),
    ("self_bleu_4", "self-BLEU-4"), ("zipf", "Zipf s"), ("repetition_rate", "repetition"),
    ("sentence_length_mean", "words/sentence"), ("mattr", "MATTR"),
    ("quote_balance_rate", "quotes balanced"), ("dialogue_share", "dialogue"),
    ("novel_4gram_share", "novel 4-grams"), ("longest_copy_mean", "longest copy (mean)"),
    ("longest_copy_max", "longest copy (max)"),
)

PLOT_TITLES = (
    ("bits_per_byte", "Bits per byte on the eval text"),
    ("perplexity_vs_order", "Bits per byte vs Markov order"),
    ("zipf", "Rank-frequency (Zipf)"),
    ("sentence_lengths", "Sentence lengths"),
    ("distinct_n", "Distinct n-grams"),
    ("metrics_vs_temperature", "Metrics vs the swept setting"),
    ("copy_vs_order", "Longest copied run vs Markov order"),
)


def _fmt(v: object, digits: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _cell(row: Mapping[str, Any], key: str, digits: int = 3) -> str:
    """A number with its interval: "0.732 [0.70–0.76]", "13.6 [11–19]" (the bounds as precise as
    their spread warrants, the number one digit more); the number alone when it has none."""
    value = row.get(key)
    intervals = row.get("interval")
    iv = bounds(intervals.get(key)) if isinstance(intervals, Mapping) and number(value) is not None else None
    if iv is None:
        return _fmt(value, digits)
    return f"{number(value):.{min(digits, places(iv, digits) + 1)}f} {span(iv, digits)}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    rule = "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"
    lines = ["| " + " | ".join(header) + " |", rule]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def _settings(metrics: dict, run_dir: Path) -> list[str]:
    """The title and the one paragraph of settings."""
    run = metrics.get("run", {})
    sampling = run.get("sampling") or {}
    out = [f"# Comparison: {run.get('name', run_dir.name)}", ""]
    out.append(f"Backends: {', '.join(f'`{b}`' for b in metrics.get('backends', []))}. "
               f"{len(run.get('prompts') or [])} prompts × {run.get('samples')} samples, seed {run.get('seed')}; "
               "sampling " + ", ".join(f"{k} {v}" for k, v in sampling.items() if k not in ("stop",)) + ".")
    if run.get("sweep"):
        (name, values), = run["sweep"].items()
        out.append(f"Swept: {name} = {', '.join(f'{v:g}' for v in values)}.")
    if run.get("eval_text"):
        out.append(f"Eval text: `{run['eval_text']}`.")
    if run.get("corpus"):
        out.append(f"Training corpus (novelty, chains by order): `{run['corpus']}`.")
    return out + [""]


def _style(metrics: dict) -> list[str]:
    """The style metrics, one row per metric and one column per backend (and the human text): one
    table per setting of a sweep."""
    style = [r for r in metrics.get("style") or [] if isinstance(r.get("backend"), str)]
    if not style:
        return []
    present = [(k, h) for k, h in STYLE_COLUMNS if any(r.get(k) is not None for r in style)]
    human = [r for r in style if r["backend"] == HUMAN]
    settings = list(dict.fromkeys(r.get("setting") or "" for r in style if r["backend"] != HUMAN))
    out = ["## Style", ""]
    for setting in settings or [""]:
        rows = [r for r in style if r["backend"] != HUMAN and (r.get("setting") or "") == setting] + human
        if len(settings) > 1:
            out += [f"### {setting}", ""]
        header = ["metric"] + [f"`{r['backend']}`" if r["backend"] != HUMAN else "human text" for r in rows]
        out += _table(header, [[h, *[_cell(r, k) for r in rows]] for k, h in present])
        out.append("")
    out += [_intervals_note(metrics) + "Every metric is defined in `genlab/eval/metrics.py`; the human text is "
            "passages of the eval text (or the corpus).", ""]
    return out


def _intervals_note(metrics: dict) -> str:
    if has_intervals(metrics):
        return f"Each number has its {level(metrics):.0%} interval [low–high] beside it. "
    return "These numbers carry no intervals (measured with `--bootstrap 0`, or by a genlab from before them). "


def render(metrics: dict, run_dir: Path) -> str:
    out = _settings(metrics, run_dir)
    out += findings(metrics).rstrip("\n").split("\n") + [""]

    if metrics.get("perplexity"):
        out += ["## Bits per byte on the eval text (lower is better)", ""]
        out += _table(["backend", "bits/byte", "token ppl", "tokens", "paragraphs", "OOV %"],
                      [[f"`{r['backend']}`", _cell(r, "bits_per_byte", 4), _fmt(r.get("token_perplexity"), 1),
                        f"{r.get('tokens', 0):,}", _fmt(r.get("paragraphs")),
                        _fmt(100 * r["oov_rate"] if r.get("oov_rate") is not None else None, 2)]
                       for r in metrics["perplexity"]])
        out.append("")

    out += _style(metrics)

    if metrics.get("orders"):
        out += ["## Markov chains by order, trained on the corpus", ""]
        keys = [("bits_per_byte", "bits/byte"), ("novel_4gram_share", "novel 4-grams"),
                ("longest_copy_mean", "longest copy (mean)"), ("longest_copy_max", "longest copy (max)")]
        out += _table(["order"] + [h for _, h in keys],
                      [[str(r["order"]), *[_cell(r, k) for k, _ in keys]] for r in metrics["orders"]])
        out.append("")

    plots = [(name, title) for name, title in PLOT_TITLES if (run_dir / "plots" / f"{name}.png").is_file()]
    if plots:
        out += ["## Plots", ""]
        for name, title in plots:
            out += [f"![{title}](plots/{name}.png)", ""]

    out += _samples(metrics, run_dir / "samples.jsonl")
    return "\n".join(out).rstrip() + "\n"


def _samples(metrics: dict, path: Path) -> list[str]:
    """Sample 0 of every backend for one prompt of each kind (story, dialogue, chat, list), at the
    base setting."""
    if not path.is_file():
        return []
    rows, _ = style_at_base(metrics)
    base = {b: r.get("setting") for b, r in rows.items() if b != HUMAN}
    kind_of = {p.get("id"): p.get("kind") for p in (metrics.get("run", {}).get("prompts") or [])
               if isinstance(p, Mapping)}
    shown: dict[tuple[str, str], dict] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            r = json.loads(line)
        except ValueError:
            continue
        if not isinstance(r, dict) or r.get("sample") != 0:
            continue
        key = (r.get("prompt_id"), r.get("backend"))
        if key not in shown or (r.get("setting") == base.get(r.get("backend")) != shown[key].get("setting")):
            shown[key] = r
    first: dict[str, str] = {}  # kind: its first prompt
    for pid in [*kind_of, *(p for p, _ in shown)]:
        record = next((r for (p, _), r in shown.items() if p == pid), None)
        if record is not None:
            first.setdefault(kind_of.get(pid) or record.get("kind") or "story", pid)
    order = [k for k in KINDS if k in first] + [k for k in first if k not in KINDS]
    if not order:
        return []
    out = ["## Samples: one prompt of each kind", ""]
    backends = list(metrics.get("backends") or [])
    for kind in order:
        pid = first[kind]
        records = sorted((r for (p, _), r in shown.items() if p == pid),
                         key=lambda r: backends.index(r["backend"]) if r["backend"] in backends else len(backends))
        out += [f"### {kind}", ""]
        for r in records:
            text = (r["prompt"] + r["text"]) if r.get("kind") != "chat" else f"[{r['prompt']}] {r['text']}"
            quoted = "\n".join("> " + line for line in text.strip().splitlines())
            out += [f"**`{r['backend']}`** ({r.get('setting')}, seed {r.get('seed')}):", "", quoted, ""]
    return out


def write_report(run_dir: Path, metrics: dict) -> Path:
    from genlab.atomic import replacing

    path = Path(run_dir) / "report.md"
    with replacing(path) as tmp:
        tmp.write_text(render(metrics, Path(run_dir)), encoding="utf-8")
    return path
