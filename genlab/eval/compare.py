"""Run the same prompts through several backends with the same sampling; save, measure, plot.

A run folder holds everything, so a comparison can be resumed, redrawn and shared:

  run.json        the settings (a resumed run must be the same comparison)
  samples.jsonl   one line per sample: backend, prompt, settings, seed, text, tokens, seconds
  scores.jsonl    bits per byte of the eval text, one line per backend
  metrics.json    every number the plots and the report use (see genlab.eval.plots.reading)
  metrics.csv     the style metrics, one row per backend and setting (and the human text)
  plots/          PNG and SVG
  report.md       the tables and the plots

Samples are appended as they are made, so Ctrl-C loses at most the sample in progress and
running the same command again carries on. Every backend gets the same seed for the same
prompt and sample number.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from genlab.datafiles import load_json
from genlab.errors import GenlabError, cannot
from genlab.eval.generate import ChatKnown, Loader, chat_checked, check_chat, run_samples
from genlab.folders import checked_path
from genlab.eval.plan import CompareSettings, jobs, parse_sweep
from genlab.eval.runfolder import METRICS_JSON, PLOTS, open_run

__all__ = ["CompareSettings", "check_chat", "parse_sweep", "redraw", "run_compare", "run_samples"]


def run_compare(s: CompareSettings, out: str | os.PathLike[str], *, load: Loader,
                progress: bool | None = None, log: Callable[[str], None] = lambda m: None,
                concurrency: int = 1, chat_known: ChatKnown | None = None) -> dict:
    """The whole comparison: samples (resumed), scores, metrics, plots, report. Returns the
    metrics dict. chat_known: whether a backend can chat, when known without loading it."""
    from genlab.eval.measure import measure, write_metrics
    from genlab.eval.perplexity import prepare_text
    from genlab.eval.plots import draw_all
    from genlab.eval.report import write_report
    from genlab.eval.texts import bounded_text
    from genlab.progress import progress as bar

    if not s.backends:
        raise GenlabError("give at least one --backend")
    out = Path(out)
    checked_path(out)
    hint = "give a shorter text (genlab corpus split, or head -c)"
    read = {"encoding": s.encoding, "hint": hint, "keep_gutenberg": s.keep_gutenberg, "say": log}
    corpus = prepare_text(bounded_text(s.corpus, what="a corpus", **read)) if s.corpus else None
    evaluation = prepare_text(bounded_text(s.eval_text, what="an eval text", **read)) if s.eval_text else None
    with chat_checked(s, load, chat_known) as load:
        open_run(out, s)
        with bar(len(jobs(s)), "comparing", unit="sample", enabled=progress) as advance:
            run_samples(s, out, load, advance, evaluation, concurrency, log)
    log("measuring")
    metrics = measure(s, out, corpus, evaluation, log)
    write_metrics(out, metrics)
    draw_all(metrics, out / PLOTS)
    write_report(out, metrics)
    return metrics


def redraw(run_dir: str | os.PathLike[str]) -> list[Path]:
    """`genlab plot`: the plots and the report again from metrics.json, generating nothing."""
    from genlab.eval.plots import draw_all
    from genlab.eval.report import write_report

    run_dir = Path(run_dir)
    path = run_dir / METRICS_JSON
    if not path.is_file():
        raise GenlabError(f"{run_dir} has no {METRICS_JSON}: is it a finished 'genlab compare' run?")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise cannot("read", path, exc) from None
    metrics = load_json(data, source=str(path))
    try:
        files = draw_all(metrics, run_dir / PLOTS)
        write_report(run_dir, metrics)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        raise GenlabError(f"cannot redraw from {path}: it does not hold the metrics of a 'genlab compare' run "
                          "(run the comparison again)") from None
    return files
