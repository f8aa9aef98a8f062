"""llama.cpp's flag spellings: a llama.cpp command line works in genlab as typed.

`-n` is tokens to predict (as llama.cpp's `-n`/`--n-predict`), `--temp`, `-s`, `-c`/`--ctx-size`,
`-t`, `-ngl`/`--n-gpu-layers` and `-m` are the same flags as genlab's long names, on every
command that has them, and `--help` shows each flag once with all its spellings.
"""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from conftest import CLI, NOVEL, isolated_env, ok, run_genlab
from genlab.cli import cli as genlab_cli
from genlab.markov.generator import MarkovGenerator
import tomllib

PROMPT = "“Well,” said"

# genlab's parameter name -> the llama.cpp spellings it must also take
LLAMA_CPP = {
    "temperature": {"--temp"},
    "seed": {"-s"},
    "max_tokens": {"-n", "--n-predict"},
    "n_ctx": {"-c", "--ctx-size"},
    "n_threads": {"-t"},
    "threads": {"-t"},
    "n_gpu_layers": {"-ngl", "--n-gpu-layers"},
    "backend": {"-m", "--model"},
    "backends": {"-m", "--model"},
}


@pytest.fixture(scope="module")
def chain_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with models/novel.markov trained by the CLI."""
    base = tmp_path_factory.mktemp("flags")
    ok(run_genlab(["train-markov", NOVEL], cwd=base, env=isolated_env(base)))
    return base


def run_in(folder: Path, *args) -> str:
    return ok(run_genlab(list(args), cwd=folder, env=isolated_env(folder)))


def every_command() -> list[tuple[str, click.Command]]:
    ctx = click.Context(genlab_cli)
    out = []

    def walk(group: click.Group, path: str) -> None:
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            if isinstance(command, click.Group):
                walk(command, f"{path} {name}")
            else:
                out.append((f"{path} {name}".strip(), command))

    walk(genlab_cli, "")
    return out


# --------------------------------------------------------------------------- the command line


def test_llama_cpp_flags_mean_what_llama_cpp_means(chain_dir: Path):
    """`--temp 0.7 -n 40 -s 3`: one sample of at most 40 tokens at temperature 0.7, seed 3 --
    the same text as genlab's long names give."""
    short = run_in(chain_dir, "generate", "-b", "markov:novel", "--temp", "0.7", "-n", "40", "-s", "3",
                   "--prompt", PROMPT)
    long = run_in(chain_dir, "generate", "--backend", "markov:novel", "--temperature", "0.7", "--max-tokens", "40",
                  "--seed", "3", "--prompt", PROMPT)
    assert short == long
    assert short.startswith(PROMPT) and short.count(PROMPT) == 1  # one sample, not 40
    chain = MarkovGenerator.load(chain_dir / "models" / "novel.markov")
    few = run_in(chain_dir, "generate", "-b", "markov:novel", "--temp", "0.7", "-n", "5", "-s", "3", "--prompt", PROMPT)
    tokens = [chain.count_tokens(text[len(PROMPT):]) for text in (few, short)]
    assert 0 < tokens[0] <= 5 < tokens[1] <= 40, tokens
    # the seed and the temperature are used: another seed, or greedy, walks elsewhere
    assert run_in(chain_dir, "generate", "-b", "markov:novel", "--temp", "0.7", "-n", "40", "-s", "4",
                  "--prompt", PROMPT) != short
    assert run_in(chain_dir, "generate", "-b", "markov:novel", "--temp", "0", "-n", "40", "-s", "3",
                  "--prompt", PROMPT) != short


def test_samples_has_its_own_flag(chain_dir: Path):
    two = run_in(chain_dir, "generate", "-b", "markov:novel", "--samples", "2", "-n", "6", "-s", "1", "-p", PROMPT)
    assert two.count(PROMPT) == 2
    firsts = [run_in(chain_dir, "generate", "-b", "markov:novel", "-n", "6", "-s", str(s), "-p", PROMPT)
              for s in (1, 2)]
    assert two == firsts[0] + "\n" + firsts[1]


def test_llama_loader_flags_on_a_real_model(cli: CLI, tiny_gguf: Path):
    """-m, -c, -t, -ngl reach llama.cpp as their long names do (same text), and -c is the context."""
    short = ok(cli("generate", "-m", f"llama:{tiny_gguf}", "-c", "256", "-t", "1", "-ngl", "0", "-n", "6", "-s", "2",
                   "--temp", "0.9", "-p", "The"))
    long = ok(cli("generate", "--backend", f"llama:{tiny_gguf}", "--n-ctx", "256", "--threads", "1",
                  "--gpu-layers", "0", "--max-tokens", "6", "--seed", "2", "--temperature", "0.9", "-p", "The"))
    assert short == long and short.startswith("The")
    # a prompt longer than -c 256 tokens does not fit: the context is the one asked for
    r = cli("generate", "-m", f"llama:{tiny_gguf}", "-c", "256", "-n", "4", "-p", "word " * 400)
    assert r.returncode != 0 and "256" in r.stderr and "Traceback" not in r.stderr


def test_models_add_takes_llama_cpp_spellings(cli: CLI, tiny_gguf: Path):
    ok(cli("models", "add", "tiny", str(tiny_gguf), "--local", "-c", "512", "-t", "1", "-ngl", "0", "--temp", "0.5",
           "-s", "9", "-n", "12"))
    table = tomllib.loads((cli.cwd / "genlab.toml").read_text(encoding="utf-8"))["models"]["tiny"]
    assert (table["n_ctx"], table["n_threads"]) == (512, 1)
    assert table["sampling"]["temperature"] == 0.5 and table["sampling"]["seed"] == 9
    assert table["sampling"]["max_tokens"] == 12


# --------------------------------------------------------------------------- every command, every help


@pytest.mark.parametrize("path, command", every_command(), ids=[p for p, _ in every_command()])
def test_every_command_takes_llama_cpp_spellings_once(path: str, command: click.Command):
    options = [p for p in command.params if isinstance(p, click.Option)]
    spellings = [s for p in options for s in p.opts + p.secondary_opts]
    assert len(spellings) == len(set(spellings)), f"{path}: a spelling is used twice"
    for option in options:
        wanted = LLAMA_CPP.get(option.name or "", set())
        assert wanted <= set(option.opts), f"{path} {option.opts}: lacks {wanted - set(option.opts)}"
        if "-n" in option.opts:
            assert option.name == "max_tokens", f"{path}: -n must be tokens to predict, as in llama.cpp"


def test_help_shows_both_spellings_once(chain_dir: Path):
    text = run_in(chain_dir, "generate", "--help")
    for line in ("--temperature, --temp FLOAT", "-s, --seed INTEGER", "-n, --max-tokens, --n-predict INTEGER",
                 "-c, --n-ctx, --ctx-size", "-t, --threads", "-ngl, --gpu-layers, --n-gpu-layers",
                 "-b, -m, --backend, --model NAME"):
        assert text.count(line) == 1, line
    for spelling in ("--temp ", "--n-predict", "--ctx-size", "--n-gpu-layers", " -ngl"):
        assert text.count(spelling) == 1, spelling
