"""`genlab generate`: stream text from any backend."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from genlab.cli.options import backend_option, llama_options, sampling_from, sampling_options
from genlab.errors import GenlabError
from genlab.escapes import process_escapes
from genlab.generator import Generator
from genlab.kinds import Target
from genlab.sampling import Sampling


@click.command()
@backend_option()
@click.option("--prompt", "-p", metavar="TEXT",
              help="Text to continue; \\n, \\t, \\\\ ... are understood as llama.cpp does (see --no-escape). "
                   "[default: start a new paragraph]")
@click.option("--prompt-file", "-f", "--file", "prompt_file", metavar="FILE",
              help="Read the prompt from FILE ('-': stdin), as it is: its line breaks are real, so no escapes. "
                   "UTF-8, at most 4 MB.")
@click.option("--escape/--no-escape", default=True, show_default=True,
              help="Understand \\n, \\r, \\t, \\', \\\", \\\\ and \\xHH (a byte) in --prompt and --stop, "
                   "as llama.cpp's CLI does; --no-escape takes them as typed.")
@click.option("--samples", type=click.IntRange(min=1), default=1, show_default=True,
              help="How many independent samples (seeds SEED, SEED+1, ... when --seed is given); "
                   "-n is tokens to predict, as in llama.cpp.")
@click.option("--json", "as_json", is_flag=True,
              help="Print each sample as one JSON object on a line of its own (JSON Lines) once it is "
                   "finished: backend, prompt, settings, seed, text, tokens, finish_reason, seconds. "
                   "Nothing else goes to stdout; a sample given no seed gets one drawn, so its record "
                   "can be made again.")
@sampling_options(defaults=Sampling())
@llama_options
def generate(backend: str, prompt: str | None, prompt_file: str | None, escape: bool, samples: int,
             as_json: bool, **kwargs) -> None:
    """Generate text, streaming it to stdout as it is produced.

    The prompt is printed first (with its escapes processed), then its continuation.
    A model alias may bring its own sampling settings, used in place of the defaults shown.
    With --json, one JSON object a sample instead (jq reads them).

    \b
    Examples:
      genlab generate --backend markov:novel
      genlab generate --backend markov:novel --prompt "“Well,” said" --temperature 0.9 --seed 7
      genlab generate --backend llama:model.gguf --prompt "A list of reasons never to go outside:\\n\\n1."
      genlab generate --backend markov:novel --prompt-file opening.txt
      genlab generate --backend markov:novel --samples 3 --json | jq -r .text
    """
    from genlab.backends import resolve
    from genlab.sample_record import check_seeds, sampling_of

    prompt = read_prompt(prompt, prompt_file, escape)
    target = resolve(backend)
    sampling = sampling_from(kwargs, base=target.default_sampling(), escape=escape)  # flags over the model's own
    check_seeds(sampling, samples)
    model = target.load(**kwargs)
    if as_json:
        write_records(target, model, prompt, sampling, samples)
        return
    out = sys.stdout
    for i in range(samples):
        s = sampling_of(sampling, i)
        if i:
            out.write("\n")  # the previous sample ended its line: one blank line between
        out.write(prompt)
        out.flush()
        try:
            for piece in model.stream(prompt, s):
                out.write(piece)
                out.flush()
        finally:
            out.write("\n")
            out.flush()


def write_records(target: Target, model: Generator, prompt: str, sampling: Sampling, samples: int) -> None:
    """One JSON line a finished sample, written whole: Ctrl-C during a sample leaves the lines
    of those before it and nothing of that one; during a write, the line is finished first."""
    from genlab.interrupts import InterruptsHeld
    from genlab.sample_record import as_record, json_line, sampling_of, take_sample

    out = click.get_binary_stream("stdout")
    for i in range(samples):
        line = json_line(as_record(target, prompt, take_sample(model, prompt, sampling_of(sampling, i, draw=True))))
        with InterruptsHeld():
            out.write(line)
            out.flush()


def read_prompt(prompt: str | None, prompt_file: str | None, escape: bool) -> str:
    """The prompt as the model gets it: --prompt with its escapes processed, or a file's text."""
    if prompt is not None and prompt_file is not None:
        raise GenlabError("give the prompt with --prompt or --prompt-file, not both")
    if prompt_file is None:
        return process_escapes(prompt, "--prompt") if escape and prompt else (prompt or "")
    from genlab.eval.prompts import read_prompt_file

    return read_prompt_file(Path(prompt_file), "prompt file")
