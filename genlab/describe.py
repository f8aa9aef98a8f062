"""What a model is, for `genlab models show`: a GGUF file's header (read without loading the
weights), the alias or found model that names it and their settings, or what a server says of
itself. Each description is both rows of text and a JSON document.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genlab.aliases import RESERVED, Alias, FileAlias, ServerAlias, find_alias
from genlab.errors import GenlabError
from genlab.folders import checked_path, expand_user


@dataclass(frozen=True)
class Description:
    rows: list[tuple[str, str]]  # (field, value) lines
    data: dict[str, Any]  # the same as JSON


def describe(model: str) -> Description:
    """NAME_OR_PATH: an alias, a GGUF file (PATH or llama:PATH), hf:OWNER/REPO/FILE.gguf
    (downloaded first if it is not cached), or a model another tool put on this machine."""
    checked_path(model)
    alias: Alias | None = None
    found = None
    kind, sep, rest = model.partition(":")
    if sep and kind == "llama":
        path = expand_user(rest).absolute()
    elif sep and kind == "hf":
        from genlab.llama.hub import hf_download

        path = hf_download(rest)
    elif sep and kind in RESERVED:
        raise GenlabError(f"{model!r} is not a GGUF model: 'models show' reads llama.cpp model files")
    else:
        looks_like_path = "/" in model or "\\" in model or model.startswith("~")
        alias = None if looks_like_path or sep else find_alias(model)  # a name wins over a file
        if alias is None and not looks_like_path:
            from genlab.found import lookup

            found = lookup(model)
        if isinstance(alias, ServerAlias):
            return _server(alias)
        path = alias.path if isinstance(alias, FileAlias) else found.path if found else \
            expand_user(model).absolute()
        if alias is None and found is None and not looks_like_path and not model.endswith(".gguf") \
                and not path.exists():
            raise GenlabError(f"no alias, model or file named {model!r} (see 'genlab models list')")
        if alias is not None and not path.exists():
            raise GenlabError(f"alias {alias.name!r} ({alias.source}) points to {path}, which does not exist")
    return _gguf(path, alias, found)


def _gguf(path: Path, alias: FileAlias | None, found: Any) -> Description:
    from genlab.llama.gguf_header import inspect_gguf

    info = inspect_gguf(path)
    types = Counter(info.tensor_types)  # read with the header: no tensor data is touched
    data: dict[str, Any] = {"alias": _alias_json(alias) if alias else None, **_info_json(info, types)}
    if found is not None:
        data["found"] = {"name": found.name, "source": found.source, "where": found.where,
                         "sampling": dict(found.sampling), "settings": dict(found.options)}
    rows: list[tuple[str, str]] = []
    if alias is not None:
        rows.append(("alias", f"{alias.name} ({alias.scope}: {alias.source})"))
    if found is not None:
        rows.append(("found", f"{found.name} ({found.source}: {found.where})"))
    rows += [
        ("file", str(info.path)),
        ("file size", f"{human_bytes(info.size)} ({info.size:,} bytes)"),
        ("architecture", info.architecture),
    ]
    if info.name:
        rows.append(("model name", info.name))
    rows += [
        ("parameters", f"{human_count(info.parameters)} ({info.parameters:,} in {info.tensors} tensors)"),
        ("context length", f"{info.context_length:,} tokens (trained)" if info.context_length else "not recorded"),
        ("quantisation", _quantisation(info.file_type, types)),
        ("chat template", f"yes ({len(info.chat_template):,} characters)" if info.chat_template else "no"),
        ("GGUF version", str(info.version)),
    ]
    if alias is not None:
        settings = " ".join(f"{k}={v}" for k, v in alias.options().items())
        rows.append(("settings", settings or "none (the model's own defaults)"))
        if alias.sampling:
            rows.append(("sampling", _settings(alias.sampling)))
    if found is not None:
        for key, values in (("settings", found.options), ("sampling", found.sampling)):
            if values:
                rows.append((key, _settings(values)))
        for note in found.notes:
            rows.append(("note", note))
    return Description(rows, data)


def _server(alias: ServerAlias) -> Description:
    from genlab.server.generator import ServerGenerator

    info = ServerGenerator(**alias.server_options()).info()
    data = {"alias": {"name": alias.name, "scope": alias.scope, "source": str(alias.source),
                      "sampling": alias.sampling_json()},
            **{k: v for k, v in info.items() if k != "server_models"}}
    models = info.get("models")
    served = ", ".join(map(str, models)) if models else f"unknown ({info.get('server_error', 'none listed')})"
    context = info.get("context_length")
    rows = [
        ("alias", f"{alias.name} ({alias.scope}: {alias.source})"),
        ("server", str(info["url"])),
        ("model", str(info["model"] or "(not named: the server's own)")),
        ("API key", f"from ${info['api_key_env']}" if info.get("api_key_env") else "none"),
        ("timeout", f"{info['timeout']:g} s"),
        ("server models", served),
        ("context length", f"{context:,} tokens" if context else "not said by the server"),
    ]
    if info.get("tokenizer"):
        rows.append(("tokenizer", str(info["tokenizer"])))
    if alias.sampling:
        rows.append(("sampling", _settings(alias.sampling)))
    return Description(rows, data)


def summary(info: Any) -> str:
    """A GGUF file in one line: architecture, size in parameters, quantisation, context, ..."""
    parts = [info.architecture, f"{human_count(info.parameters)} parameters"]
    if info.file_type:
        parts.append(info.file_type)
    if info.context_length:
        parts.append(f"context {info.context_length:,}")
    parts.append("chat template" if info.chat_template else "no chat template")
    parts.append(human_bytes(info.size))
    return ", ".join(parts)


def _alias_json(a: FileAlias) -> dict[str, Any]:
    from genlab.catalog import file_size

    size = file_size(a.path)
    return {
        "name": a.name, "path": str(a.path), "exists": size is not None, "size_bytes": size,
        "scope": a.scope, "source": str(a.source), **a.options(), "sampling": a.sampling_json(),
    }


def _info_json(info: Any, types: Counter[str]) -> dict[str, Any]:
    return {
        "path": str(info.path), "size_bytes": info.size, "architecture": info.architecture,
        "model_name": info.name, "parameters": info.parameters, "tensors": info.tensors,
        "context_length": info.context_length, "file_type": info.file_type,
        "tensor_types": dict(types.most_common()), "chat_template": info.chat_template is not None,
        "gguf_version": info.version,
    }


def _quantisation(file_type: str | None, types: Counter[str]) -> str:
    total = sum(types.values())
    mix = ", ".join(f"{name} {100 * n / total:.0f}%" for name, n in types.most_common()) if total else ""
    if file_type:
        return f"{file_type} (weights: {mix})" if mix else file_type
    return f"{mix} (no general.file_type in the header)" if mix else "unknown"


def _settings(values: Any) -> str:
    return " ".join(f"{k}={_value(v)}" for k, v in values.items())


def _value(v: Any) -> str:
    if isinstance(v, tuple):
        return ",".join(json.dumps(x, ensure_ascii=False) for x in v)
    return str(v)


def human_bytes(n: int) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def human_count(n: int) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return str(n)
