"""Run the same prompts through several backends with the same sampling; save, measure, plot.

A run folder holds everything, so a comparison can be resumed, redrawn and shared:

  run.json        the settings (a resumed run must be the same comparison)
  samples.jsonl   one line per sample: backend, prompt, settings, seed, text, tokens, seconds
  scores.jsonl    bits per byte of the eval text, one line per backend
  metrics.json    every number the plots and the report use (see genlab.eval.plots)
  metrics.csv     the style metrics, one row per backend and setting (and the human text)
  plots/          PNG and SVG
  report.md       the tables and the plots

Samples are appended as they are made, so Ctrl-C loses at most the sample in progress and
running the same command again carries on. Every backend gets the same seed for the same
prompt and sample number.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator

from genlab.errors import GenlabError
from genlab.eval.prompts import BUILT_IN, Prompt
from genlab.sampling import Sampling

SAMPLES, SCORES, RUN, METRICS_JSON, METRICS_CSV, REPORT, PLOTS = (
    "samples.jsonl", "scores.jsonl", "run.json", "metrics.json", "metrics.csv", "report.md", "plots")
HUMAN = "human"
SWEEPABLE = ("temperature", "top_k", "top_p", "min_p", "repeat_penalty")


@dataclass(frozen=True)
class CompareSettings:
    backends: tuple[str, ...]
    prompts: tuple[Prompt, ...] = BUILT_IN
    samples: int = 3
    seed: int = 0
    sampling: Sampling = field(default_factory=lambda: Sampling(max_tokens=120))
    sweep: tuple[str, tuple[float, ...]] | None = None
    eval_text: Path | None = None
    corpus: Path | None = None  # the training text: novelty, the human reference, chains by order
    orders: tuple[int, ...] = ()

    def identity(self) -> dict[str, object]:
        """What must match for a run folder to be resumed."""
        s = asdict(self.sampling)
        s.pop("seed", None)
        return {"backends": list(self.backends), "prompts": [asdict(p) for p in self.prompts],
                "samples": self.samples, "seed": self.seed, "sampling": s,
                "sweep": [self.sweep[0], list(self.sweep[1])] if self.sweep else None}


def parse_sweep(spec: str) -> tuple[str, tuple[float, ...]]:
    """"temperature=0.5,1.0,1.5" -> ("temperature", (0.5, 1.0, 1.5))."""
    name, sep, values = spec.partition("=")
    name = name.strip().replace("-", "_")
    if not sep or name not in SWEEPABLE:
        raise GenlabError(f"--sweep takes NAME=V1,V2,... with NAME one of {', '.join(SWEEPABLE)}; got {spec!r}")
    try:
        numbers = tuple(float(v) for v in values.split(",") if v.strip())
    except ValueError:
        raise GenlabError(f"--sweep {name}: values must be numbers, got {values!r}") from None
    if len(numbers) < 2:
        raise GenlabError(f"--sweep {name}: give at least two values")
    if name == "top_k":
        numbers = tuple(float(int(v)) for v in numbers)
    return name, numbers


def settings_grid(s: CompareSettings) -> list[Sampling]:
    if not s.sweep:
        return [s.sampling]
    name, values = s.sweep
    return [replace(s.sampling, **{name: int(v) if name == "top_k" else v}) for v in values]


def setting_label(s: CompareSettings, sampling: Sampling) -> str:
    name = s.sweep[0] if s.sweep else "temperature"
    return f"{name}={getattr(sampling, name):g}"


@dataclass(frozen=True)
class Job:
    backend: str
    prompt_index: int
    prompt: Prompt
    sample: int
    sampling: Sampling
    label: str

    @property
    def key(self) -> tuple[str, str, str, int]:
        return (self.backend, self.label, self.prompt.id, self.sample)

    @property
    def seed(self) -> int:
        return self.sampling.seed  # type: ignore[return-value]


def jobs(s: CompareSettings) -> list[Job]:
    """Backend-major, so each model is loaded once; the same seed for the same prompt and
    sample number on every backend and setting."""
    out = []
    for backend in s.backends:
        for sampling in settings_grid(s):
            label = setting_label(s, sampling)
            for pi, prompt in enumerate(s.prompts):
                for i in range(s.samples):
                    seed = s.seed * 1_000_003 + pi * 1000 + i
                    out.append(Job(backend, pi, prompt, i, replace(sampling, seed=seed), label))
    return out


# --- the run folder ------------------------------------------------------------------------------


def read_jsonl(path: Path) -> list[dict]:
    """The complete lines of a JSONL file; a torn last line (from a kill) is cut off."""
    if not path.is_file():
        return []
    data = path.read_bytes()
    lines, good = [], 0
    for raw in data.split(b"\n"):
        if not raw.strip():
            good += len(raw) + 1
            continue
        try:
            lines.append(json.loads(raw))
        except ValueError:
            break
        good += len(raw) + 1
    if good < len(data):
        with open(path, "r+b") as f:
            f.truncate(min(good, len(data)))
    return lines


def append_jsonl(path: Path, record: dict) -> None:
    line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
    with open(path, "ab") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())


def open_run(out: Path, s: CompareSettings) -> None:
    """Create the run folder, or check that it holds this same comparison."""
    from genlab.atomic import replacing

    out.mkdir(parents=True, exist_ok=True)
    run = out / RUN
    ident = json.loads(json.dumps(s.identity()))  # as it reads back (tuples become lists)
    if run.is_file():
        try:
            saved = json.loads(run.read_text(encoding="utf-8"))
        except ValueError:
            raise GenlabError(f"{run} is damaged: remove the folder or choose another -o") from None
        if saved.get("identity") != ident:
            raise GenlabError(f"{out} holds a different comparison (other backends, prompts or settings): "
                              "choose another -o, or remove it")
        return
    with replacing(run) as tmp:
        tmp.write_text(json.dumps({"identity": ident, "created": time.strftime("%Y-%m-%d %H:%M:%S"),
                                   "eval_text": str(s.eval_text) if s.eval_text else None,
                                   "corpus": str(s.corpus) if s.corpus else None,
                                   "orders": list(s.orders)}, indent=1, ensure_ascii=False),
                       encoding="utf-8")


# --- generation -------------------------------------------------------------------------------------


def check_chat(s: CompareSettings, load: Callable[[str], object]) -> Callable[[str], object]:
    """With chat prompts, every backend must be able to chat: checked before any sample is made,
    so a run never stops half-way for it. Each backend is loaded for the check, one at a time;
    returns the loader for the run, which hands over the first backend's model (the first the
    run needs) instead of loading it again."""
    from genlab.generator import capabilities_of

    if not any(p.is_chat for p in s.prompts):
        return load
    kept: dict[str, object] = {}  # the last backend checked, still loaded

    def drop() -> None:
        for model in kept.values():
            close = getattr(model, "close", None)
            if close:
                close()
        kept.clear()

    for backend in reversed(s.backends):
        drop()
        kept[backend] = model = load(backend)
        if not capabilities_of(model).chat:
            drop()
            raise GenlabError(f"{backend} has no chat template, so it cannot answer the chat prompts: choose a "
                              "chat format with --chat-format (chatml, llama-3, ...), or give --prompts a file "
                              "without chat prompts")

    def load_checked(name: str) -> object:
        if name in kept:
            return kept.pop(name)
        drop()
        return load(name)

    return load_checked


def generate_one(gen, job: Job) -> tuple[str, int, float]:
    started = time.perf_counter()
    if job.prompt.is_chat:
        text = "".join(gen.chat([{"role": "user", "content": job.prompt.text}], job.sampling))
    else:
        text = "".join(gen.stream(job.prompt.text, job.sampling))
    seconds = time.perf_counter() - started
    return text, gen.count_tokens(text) if text else 0, seconds


def run_samples(s: CompareSettings, out: Path, load: Callable[[str], object],
                advance: Callable[[int], None] = lambda n: None,
                eval_text: str | None = None, concurrency: int = 1,
                log: Callable[[str], None] = lambda message: None) -> None:
    """Make every missing sample (and each backend's eval-text score), appending as it goes.

    `concurrency`: requests in flight at once for backends that allow it (a server backend
    sets `concurrent_requests = True`); an in-process model runs one sample at a time."""
    from genlab.eval.perplexity import perplexity
    from genlab.generator import capabilities_of

    done = {(r["backend"], r["setting"], r["prompt_id"], r["sample"]) for r in read_jsonl(out / SAMPLES)}
    scored = {r["backend"] for r in read_jsonl(out / SCORES)}
    todo = [j for j in jobs(s) if j.key not in done]
    advance(len(jobs(s)) - len(todo))
    for backend in s.backends:
        mine = [j for j in todo if j.backend == backend]
        need_score = eval_text is not None and backend not in scored
        if not mine and not need_score:
            continue
        gen = load(backend)
        try:
            width = concurrency if getattr(gen, "concurrent_requests", False) else 1
            for job, (text, tokens, seconds) in _generate_all(gen, mine, width):
                append_jsonl(out / SAMPLES, {
                    "backend": backend, "setting": job.label, "prompt_id": job.prompt.id,
                    "kind": job.prompt.kind, "prompt": job.prompt.text, "sample": job.sample,
                    "seed": job.seed, "settings": _sampling_dict(job.sampling), "text": text,
                    "tokens": tokens, "seconds": round(seconds, 4)})
                advance(1)
            if need_score and capabilities_of(gen).score:
                row = perplexity(gen, eval_text, name=backend)
                append_jsonl(out / SCORES, row.as_dict())
            elif need_score:
                log(f"{backend} cannot score text: no bits per byte for it")
        finally:
            close = getattr(gen, "close", None)
            if close:
                close()


def _generate_all(gen, todo: list[Job], width: int) -> Iterator[tuple[Job, tuple[str, int, float]]]:
    """(job, result) as each sample finishes; with width > 1, up to `width` at once. On an
    error or Ctrl-C, samples already finished have been yielded (and saved) first."""
    if width <= 1:
        for job in todo:
            yield job, generate_one(gen, job)
        return
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    pending = iter(todo)
    with ThreadPoolExecutor(max_workers=width) as pool:
        running = {pool.submit(generate_one, gen, job): job for job in itertools.islice(pending, width)}
        try:
            while running:
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    job = running.pop(future)
                    yield job, future.result()
                    nxt = next(pending, None)
                    if nxt is not None:
                        running[pool.submit(generate_one, gen, nxt)] = nxt
        finally:
            for future in running:
                future.cancel()


def _sampling_dict(s: Sampling) -> dict[str, object]:
    d = asdict(s)
    d["stop"] = list(d["stop"])
    return d


# --- measuring -----------------------------------------------------------------------------------


def sample_text(record: dict) -> str:
    """What a sample's style is measured on: the prompt and its continuation (a dialogue
    opener's quotation mark belongs to the text), or a chat reply alone."""
    if record.get("kind") == "chat":
        return record["text"]
    return record["prompt"] + record["text"]


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

    records = read_jsonl(out / SAMPLES)
    index = M.CorpusIndex(corpus_text) if corpus_text else None
    grid = settings_grid(s)
    labels = [setting_label(s, g) for g in grid]
    base_label = setting_label(s, s.sampling) if setting_label(s, s.sampling) in labels else labels[0]
    swept = s.sweep[0] if s.sweep else "temperature"
    style: list[dict] = []
    rank_frequency: dict[str, list[int]] = {}
    sentence_lengths: dict[str, list[int]] = {}
    for backend in s.backends:
        for sampling in grid:
            label = setting_label(s, sampling)
            texts = [sample_text(r) for r in records if r["backend"] == backend and r["setting"] == label]
            if not texts:
                continue
            row = {"backend": backend, "setting": label, swept: getattr(sampling, swept)}
            if swept != "temperature":
                row["temperature"] = sampling.temperature
            row.update(M.style_metrics(texts, corpus_index=index))
            row["samples"] = len(texts)
            style.append(row)
            if label == base_label:
                rank_frequency.setdefault(backend, [int(c) for c in M.word_frequencies(texts)[:2000]])
                sentence_lengths.setdefault(backend, M.sentence_word_counts(texts))
    reference = eval_text or corpus_text
    if reference:
        texts = human_samples(reference, max(len(s.prompts) * s.samples, 20), s.seed)
        row = {"backend": HUMAN, "setting": "", swept: None}
        row.update(M.style_metrics(texts, corpus_index=index if eval_text else None))
        row["samples"] = len(texts)
        style.append(row)
        rank_frequency[HUMAN] = [int(c) for c in M.word_frequencies(texts)[:2000]]
        sentence_lengths[HUMAN] = M.sentence_word_counts(texts)
    scores = read_jsonl(out / SCORES)
    by_backend = {r["backend"]: r for r in scores}
    perplexity_rows = [by_backend[b] for b in s.backends if b in by_backend]
    orders = chains_by_order(s, corpus_text, eval_text, index, log) if s.orders and corpus_text else []
    sampling = _sampling_dict(s.sampling)
    sampling.pop("seed", None)
    return {
        "run": {"name": out.name, "seed": s.seed, "samples": s.samples, "sampling": sampling,
                "sweep": {s.sweep[0]: list(s.sweep[1])} if s.sweep else None,
                "prompts": [asdict(p) for p in s.prompts],
                "eval_text": str(s.eval_text) if s.eval_text else None,
                "corpus": str(s.corpus) if s.corpus else None},
        "backends": list(s.backends),
        "style": _finite(style),
        "perplexity": _finite(perplexity_rows),
        "orders": _finite(orders),
        "rank_frequency": rank_frequency,
        "sentence_lengths": sentence_lengths,
    }


def chains_by_order(s: CompareSettings, corpus_text: str, eval_text: str | None, index,
                    log: Callable[[str], None]) -> list[dict]:
    """Markov chains of each order trained on the corpus: bits per byte on the eval text and
    how much of their output is copied from the corpus (the curve to set the LLMs against)."""
    from genlab.eval import metrics as M
    from genlab.eval.perplexity import perplexity
    from genlab.markov.generator import MarkovGenerator
    from genlab.markov.model import train

    rows = []
    for order in s.orders:
        log(f"chain of order {order} on {s.corpus.name if s.corpus else 'the corpus'}")
        chain = MarkovGenerator(train([(s.corpus or Path("corpus"), 1.0)], order=order, texts=[corpus_text]),
                                name=f"markov order {order}")
        row: dict[str, object] = {"order": order}
        if eval_text:
            row["bits_per_byte"] = perplexity(chain, eval_text).bits_per_byte
        texts = []
        for job in jobs(replace(s, backends=("chain",), sweep=None)):
            text, _, _ = generate_one(chain, job)
            texts.append(sample_text({"kind": job.prompt.kind, "prompt": job.prompt.text, "text": text}))
        m = M.style_metrics(texts, corpus_index=index)
        for key in ("longest_copy_mean", "longest_copy_max", "novel_4gram_share", "distinct_2"):
            if key in m:
                row[key] = m[key]
        rows.append(row)
    return rows


def _finite(rows: list[dict]) -> list[dict]:
    """JSON has no NaN: undefined numbers are written as null."""
    return [{k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in r.items()} for r in rows]


def write_metrics(out: Path, metrics: dict) -> None:
    from genlab.atomic import replacing

    with replacing(out / METRICS_JSON) as tmp:
        tmp.write_text(json.dumps(metrics, indent=1, ensure_ascii=False), encoding="utf-8")
    rows = metrics["style"]
    bpb = {r["backend"]: r.get("bits_per_byte") for r in metrics["perplexity"]}
    columns = ["backend", "setting"] + sorted({k for r in rows for k in r} - {"backend", "setting"})
    with replacing(out / METRICS_CSV) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(columns + ["bits_per_byte"])
            for r in rows:
                w.writerow([_cell(r.get(c)) for c in columns] + [_cell(bpb.get(r["backend"]))])


def _cell(v: object) -> object:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return v


def run_compare(s: CompareSettings, out: str | os.PathLike[str], *, load: Callable[[str], object],
                progress: bool | None = None, log: Callable[[str], None] = lambda m: None,
                concurrency: int = 1) -> dict:
    """The whole comparison: samples (resumed), scores, metrics, plots, report. Returns the
    metrics dict."""
    from genlab.eval.perplexity import prepare_text
    from genlab.eval.plots import draw_all
    from genlab.eval.report import write_report
    from genlab.progress import progress as bar
    from genlab.eval.texts import corpus_text as read_text

    if not s.backends:
        raise GenlabError("give at least one --backend")
    if s.samples < 1:
        raise GenlabError("--samples must be at least 1")
    load = check_chat(s, load)
    out = Path(out)
    corpus = read_text([s.corpus]) if s.corpus else None
    evaluation = prepare_text(read_text([s.eval_text])) if s.eval_text else None
    open_run(out, s)
    total = len(jobs(s))
    with bar(total, "comparing", unit="sample", enabled=progress) as advance:
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
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        raise GenlabError(f"{path} is not valid JSON") from None
    files = draw_all(metrics, run_dir / PLOTS)
    write_report(run_dir, metrics)
    return files
