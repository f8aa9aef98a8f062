"""`genlab compare` and `genlab plot`: the same prompts through every backend, measured."""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

import click

from genlab.cli.options import (backend_option, keep_gutenberg_option, sampling_from, sampling_options,
                                scoring_llama_options)
from genlab.errors import GenlabError
from genlab.eval.compare import CompareSettings

_LIBRARY = CompareSettings(backends=())
DEFAULT_SAMPLING = _LIBRARY.sampling.merged(seed=_LIBRARY.seed)  # the library's defaults: shown in --help, used


@click.command()
@backend_option("A model to compare", multiple=True)
@click.option("--prompts", type=click.Path(dir_okay=False, path_type=Path),
              help="Prompts file: one per line (\\n for a line break, 'chat:' for a chat turn) or .jsonl. "
                   "[default: genlab's built-in story, dialogue, chat and list prompts]")
@click.option("--eval-text", type=click.Path(dir_okay=False, path_type=Path),
              help="Held-out text every backend is scored on (bits per byte); also the human reference. "
                   "At most 32 MB.")
@click.option("--corpus", type=click.Path(dir_okay=False, path_type=Path),
              help="The training text, for novelty (copied 4-grams, longest copied run) and chains by order; "
                   "at most 32 MB. [default: the first Markov backend's corpus]")
@click.option("--encoding", help="Text encoding of --eval-text and --corpus. [default: UTF-8]")
@keep_gutenberg_option
@click.option("--orders", default="1-6", show_default=True,
              help="Markov orders trained on --corpus for the curves against the LLMs ('none' to skip).")
@click.option("--samples", type=click.IntRange(min=1), default=3, show_default=True,
              help="Samples per prompt and backend (and per swept value); a run makes at most 100,000.")
@click.option("--sweep", metavar="NAME=V1,V2,...",
              help="Run every setting of one sampling parameter, e.g. temperature=0.5,1.0,1.5.")
@click.option("--bootstrap", type=click.IntRange(min=0, max=100_000), default=1000, show_default=True,
              help="Bootstrap replicates for the 95% intervals of every number (0: no intervals).")
@click.option("--concurrency", type=click.IntRange(min=1), default=4, show_default=True,
              help="Requests in flight at once to a server backend (local models run one at a time).")
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path),
              help="Run folder; running the same command again resumes it. [default: runs/compare-DATE-TIME]")
@sampling_options(defaults=DEFAULT_SAMPLING)
@scoring_llama_options
def compare(backends: tuple[str, ...], prompts: Path | None, eval_text: Path | None, corpus: Path | None,
            encoding: str | None, keep_gutenberg: bool, orders: str, samples: int, sweep: str | None, bootstrap: int,
            concurrency: int, output: Path | None, **kwargs) -> None:
    """Run the same prompts through several backends and compare them.

    Every backend gets the same prompts, sampling settings and seeds. Saves
    every sample (samples.jsonl), style metrics (metrics.csv, metrics.json),
    plots (plots/*.png, *.svg) and report.md in the run folder. Ctrl-C keeps
    the finished samples: run the same command again to carry on. Every
    option is checked before the run folder is made.

    \b
    Examples:
      genlab compare -b markov:novel -b llama:models/novel-llm.gguf -o runs/first
      genlab compare -b markov:novel -b llama3 --eval-text held-out.txt --sweep temperature=0.5,1.0,1.5 -o runs/temps
    """
    from genlab.backends import resolve
    from genlab.eval.compare import parse_sweep, run_compare
    from genlab.eval.orders import first_chain_corpus, parse_orders
    from genlab.eval.perplexity import load_scorer
    from genlab.eval.prompts import BUILT_IN, load_prompts

    sampling = sampling_from(kwargs, base=DEFAULT_SAMPLING)
    seed = sampling.seed
    for path, what in ((eval_text, "--eval-text"), (corpus, "--corpus"), (prompts, "--prompts")):
        if path is not None and not path.is_file():
            raise GenlabError(f"{what}: no such file: {path}")
    for name in dict.fromkeys(backends):
        resolve(name)  # every name answers (and holds no password) before run.json records it
    corpus = corpus or first_chain_corpus(backends)
    chosen_orders = () if orders.strip().lower() == "none" else tuple(parse_orders(orders))
    settings = CompareSettings(
        backends=tuple(dict.fromkeys(backends)),
        prompts=tuple(load_prompts(prompts)) if prompts else BUILT_IN,
        samples=samples, seed=seed, sampling=sampling,
        sweep=parse_sweep(sweep) if sweep else None, eval_text=eval_text, corpus=corpus,
        orders=chosen_orders if corpus else (), encoding=encoding, bootstrap=bootstrap,
        keep_gutenberg=keep_gutenberg,
    )
    out = output or Path("runs") / time.strftime("compare-%Y%m%d-%H%M%S")

    def log(msg: str) -> None:
        click.echo(msg, err=True)

    try:
        metrics = run_compare(settings, out, load=lambda name: load_scorer(name, **dict(kwargs)), log=log,
                              concurrency=concurrency,
                              chat_known=lambda name: resolve(name).can_chat(**dict(kwargs)))
    except KeyboardInterrupt:
        argv = " ".join(shlex.quote(a) for a in sys.argv[1:])
        if output is None:
            argv += f" -o {shlex.quote(str(out))}"
        click.echo(f"genlab: interrupted; finished samples are kept in {out}. Resume with: genlab {argv}", err=True)
        sys.exit(130)
    click.echo(f"wrote {out / 'report.md'}, {out / 'metrics.csv'}, {out / 'samples.jsonl'} "
               f"and plots in {out / 'plots'}")
    best = sorted((r for r in metrics["perplexity"] if r.get("bits_per_byte") is not None),
                  key=lambda r: r["bits_per_byte"])
    for r in best:
        bounds = (r.get("interval") or {}).get("bits_per_byte")
        within = f"  [{bounds[0]:.4f}, {bounds[1]:.4f}]" if bounds else ""
        click.echo(f"  {r['backend']:<36} {r['bits_per_byte']:.4f} bits/byte{within}")


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
def plot(run_dir: Path) -> None:
    """Redraw the plots and report.md of a 'genlab compare' run from its saved results.

    Nothing is generated or scored again.

    \b
    Example:
      genlab plot runs/first
    """
    from genlab.eval.compare import redraw

    files = redraw(run_dir)
    click.echo(f"redrew {len(files)} files in {run_dir / 'plots'} and {run_dir / 'report.md'}")

