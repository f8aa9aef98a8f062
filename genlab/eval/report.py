"""report.md of a comparison run: the settings, the tables and the plots, from metrics.json."""

from __future__ import annotations

import json
from pathlib import Path

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


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    rule = "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"
    lines = ["| " + " | ".join(header) + " |", rule]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def render(metrics: dict, run_dir: Path) -> str:
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
    out.append("")

    if metrics.get("perplexity"):
        out += ["## Bits per byte on the eval text (lower is better)", ""]
        out += _table(["backend", "bits/byte", "token ppl", "tokens", "OOV %"],
                      [[f"`{r['backend']}`", _fmt(r.get("bits_per_byte"), 4), _fmt(r.get("token_perplexity"), 1),
                        f"{r.get('tokens', 0):,}",
                        _fmt(100 * r["oov_rate"] if r.get("oov_rate") is not None else None, 2)]
                       for r in metrics["perplexity"]])
        out.append("")

    style = metrics.get("style") or []
    if style:
        present = [(k, h) for k, h in STYLE_COLUMNS if any(r.get(k) is not None for r in style)]
        out += ["## Style", ""]
        out += _table(["backend", "setting"] + [h for _, h in present],
                      [[f"`{r['backend']}`" if r["backend"] != "human" else "human text", r.get("setting") or "",
                        *[_fmt(r.get(k)) for k, _ in present]] for r in style])
        out += ["", "Every column is defined in `genlab/eval/metrics.py`; the human text is passages of "
                "the eval text (or the corpus).", ""]

    if metrics.get("orders"):
        out += ["## Markov chains by order, trained on the corpus", ""]
        keys = [("bits_per_byte", "bits/byte"), ("novel_4gram_share", "novel 4-grams"),
                ("longest_copy_mean", "longest copy (mean)"), ("longest_copy_max", "longest copy (max)")]
        out += _table(["order"] + [h for _, h in keys],
                      [[str(r["order"]), *[_fmt(r.get(k)) for k, _ in keys]] for r in metrics["orders"]])
        out.append("")

    plots = [(name, title) for name, title in PLOT_TITLES if (run_dir / "plots" / f"{name}.png").is_file()]
    if plots:
        out += ["## Plots", ""]
        for name, title in plots:
            out += [f"![{title}](plots/{name}.png)", ""]

    samples = run_dir / "samples.jsonl"
    if samples.is_file():
        shown: dict[tuple[str, str], dict] = {}
        for line in samples.read_text(encoding="utf-8").splitlines():
            try:
                r = json.loads(line)
            except ValueError:
                continue
            if r.get("sample") == 0:
                shown.setdefault((r["prompt_id"], r["backend"]), r)
        first_prompts = list(dict.fromkeys(pid for pid, _ in shown))[:3]
        if first_prompts:
            out += ["## A few samples", ""]
            for pid in first_prompts:
                for (p, backend), r in shown.items():
                    if p != pid:
                        continue
                    text = (r["prompt"] + r["text"]) if r.get("kind") != "chat" else f"[{r['prompt']}] {r['text']}"
                    quoted = "\n".join("> " + line for line in text.strip().splitlines())
                    out += [f"**`{backend}`** ({r['setting']}, seed {r['seed']}):", "", quoted, ""]
    return "\n".join(out).rstrip() + "\n"


def write_report(run_dir: Path, metrics: dict) -> Path:
    from genlab.atomic import replacing

    path = Path(run_dir) / "report.md"
    with replacing(path) as tmp:
        tmp.write_text(render(metrics, Path(run_dir)), encoding="utf-8")
    return path
