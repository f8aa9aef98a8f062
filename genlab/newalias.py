"""A new alias, checked against what it names before it is saved (`genlab models add`).

A GGUF file must be one (its header is read, the weights are not loaded) and its chat format
known to llama.cpp; an hf: name is downloaded first; a server is asked for its models. Each
check can be skipped (the file may not exist yet, the server may be down), except the download.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genlab.aliases import Alias, add_alias, add_server_alias, check_name, config_path, find_alias_quietly
from genlab.errors import GenlabError
from genlab.folders import checked_path


@dataclass
class Added:
    """What `add_file` and `add_server` did: the alias, the file it went to, what the model or
    server turned out to be (notes), and what the user should know (warnings)."""

    alias: Alias
    points_to: str
    file: Path
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def add(name: str, spec: str, *, n_ctx: int | None = None, n_threads: int | None = None,
        n_gpu_layers: int | None = None, chat_format: str | None = None, api_key_env: str | None = None,
        timeout: float | None = None, **common: Any) -> Added:
    """Alias `name` for SPEC: a GGUF file (PATH, llama:PATH, hf:OWNER/REPO/FILE.gguf) with llama
    settings, or openai:URL#MODEL with server settings; `common`: scope, replace, check, sampling."""
    check_name(name)
    checked_path(spec)
    if spec.startswith("openai:"):
        file_flags = [flag for flag, value in (("--n-ctx", n_ctx), ("--threads", n_threads),
                                               ("--gpu-layers", n_gpu_layers), ("--chat-format", chat_format))
                      if value is not None]
        if file_flags:
            raise GenlabError(f"{file_flags[0]} is a setting of a llama.cpp file; a server alias has none "
                              "(the server decides)")
        return add_server(name, spec[len("openai:"):], api_key_env=api_key_env, timeout=timeout, **common)
    if api_key_env is not None or timeout is not None:
        raise GenlabError(f"{'--api-key-env' if api_key_env is not None else '--timeout'} is for a server "
                          "alias (PATH = openai:http://HOST:PORT/v1#MODEL)")
    return add_file(name, spec, n_ctx=n_ctx, n_threads=n_threads, n_gpu_layers=n_gpu_layers,
                    chat_format=chat_format, **common)


def add_file(name: str, path: str, *, scope: str, replace: bool = False, check: bool = True,
             sampling: dict[str, Any] | None = None, n_ctx: int | None = None, **settings: Any) -> Added:
    """Alias `name` for the GGUF file PATH, llama:PATH or hf:OWNER/REPO/FILE.gguf."""
    existing = find_alias_quietly(name)
    if path.startswith("llama:"):
        path = path[len("llama:"):]
    if path.startswith("hf:"):
        if not check:
            raise GenlabError("an hf: model has to be downloaded to be added: leave out --no-check")
        from genlab.llama.hub import hf_download

        path = str(hf_download(path[len("hf:"):]))
    if not path.strip():
        raise GenlabError("PATH must be a GGUF file")
    info = None
    if check:
        from genlab.llama.gguf_header import inspect_gguf

        info = inspect_gguf(path)
        if settings.get("chat_format"):
            _check_chat_format(settings["chat_format"])
    alias = add_alias(name, path, n_ctx=n_ctx, sampling=sampling, scope=scope, replace=replace, **settings)
    added = Added(alias, str(alias.location), config_path(scope))
    if info is not None:
        from genlab.describe import summary

        added.notes.append(f"model: {summary(info)}")
        if n_ctx and info.context_length and n_ctx > info.context_length:
            added.warnings.append(f"--n-ctx {n_ctx} is more than the {info.context_length} tokens "
                                  f"{info.path.name} was trained with; text past that point is usually poor")
    elif not Path(alias.location).exists():
        added.warnings.append(f"{alias.location} does not exist yet")
    return _shadowed(added, existing)


def add_server(name: str, spec: str, *, scope: str, replace: bool = False, check: bool = True,
               sampling: dict[str, Any] | None = None, api_key_env: str | None = None,
               timeout: float | None = None) -> Added:
    """Alias `name` for the model of openai:URL#MODEL (spec is what follows openai:)."""
    from genlab.server.client import ServerError
    from genlab.server.generator import ServerGenerator, parse_spec

    existing = find_alias_quietly(name)
    url, model = parse_spec(spec)
    served: list[str] | None = None
    if check:
        server = ServerGenerator(url, model, api_key_env=api_key_env, name=name,
                                 **({"timeout": timeout} if timeout is not None else {}))
        try:
            served = server.served_models()
        except ServerError as exc:
            raise GenlabError(f"{exc} (check the address, or add the alias anyway with --no-check)") from None
        url = server.url
    alias = add_server_alias(name, url, model=model, api_key_env=api_key_env, timeout=timeout,
                             sampling=sampling, scope=scope, replace=replace)
    added = Added(alias, f"openai:{alias.url}" + (f"#{alias.model}" if alias.model else ""), config_path(scope))
    if served is not None:
        added.notes.append(f"server models: {', '.join(served) if served else '(the server lists none)'}")
        if model and served and model not in served:
            added.warnings.append(f"the server does not list {model!r}; requests will name it anyway")
    return _shadowed(added, existing)


def _shadowed(added: Added, existing: Alias | None) -> Added:
    if added.alias.scope == "user" and existing is not None and existing.scope == "local":
        added.warnings.append(f"./genlab.toml also defines {added.alias.name!r}, and it wins in this folder")
    return added


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
