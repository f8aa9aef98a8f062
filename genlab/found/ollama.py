"""Models in Ollama's store, read straight from its files (no server, no network).

The layout, as Ollama's own code writes it (github.com/ollama/ollama: envconfig/config.go
`Models`, manifest/paths.go, manifest/manifest.go `Manifests`, types/model/name.go):

    $OLLAMA_MODELS, else ~/.ollama/models
      manifests/HOST/NAMESPACE/MODEL/TAG     JSON: {"schemaVersion": 2, "config": {...},
                                             "layers": [{"mediaType", "digest", "size"}, ...]}
      blobs/sha256-HEX                       one file per layer, named by its digest

A manifest's `application/vnd.ollama.image.model` layer is the GGUF file. The `.params` layer
is a JSON object of Modelfile PARAMETERs (api.Options names: temperature, top_k, num_ctx,
stop, ...), the `.system` layer a system prompt. Names follow Ollama's shortest form:
registry.ollama.ai/library/llama3:latest is "llama3", another tag "llama3:8b", another
namespace "user/model:tag", another host "host/namespace/model:tag"; the longer forms are
other names.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from genlab.found.model import FoundModel, check_gguf, entries, expand, home, is_dir, read_small, shown

SOURCE = "ollama"
DEFAULT_HOST, DEFAULT_NAMESPACE, DEFAULT_TAG = "registry.ollama.ai", "library", "latest"
MEDIA = "application/vnd.ollama.image."
_DIGEST = re.compile(r"sha256[:-]([0-9a-fA-F]{64})\Z")  # manifest.BlobsPath accepts only these

# Ollama parameter -> genlab Sampling field; num_predict and num_ctx are handled apart.
SAMPLING = ("temperature", "top_k", "top_p", "min_p", "repeat_penalty", "repeat_last_n", "seed", "stop")


def store(problems: list[str]) -> Path | None:
    """$OLLAMA_MODELS (trimmed of spaces and quotes, as envconfig.Var does), else ~/.ollama/models."""
    value = os.environ.get("OLLAMA_MODELS", "").strip().strip("\"'")
    if value:
        return expand(value, "ollama: $OLLAMA_MODELS", problems)
    base = home()
    return base / ".ollama" / "models" if base else None


def find(problems: list[str]) -> list[FoundModel]:
    root = store(problems)
    if root is None:
        return []
    out = []
    manifests = root / "manifests"
    for host in _folders(manifests, problems):
        for namespace in _folders(Path(host.path), problems):
            for model in _folders(Path(namespace.path), problems):
                for tag in entries(Path(model.path), problems, SOURCE):
                    found = _model(root, Path(tag.path), (host.name, namespace.name, model.name, tag.name),
                                   problems)
                    if found is not None:
                        out.append(found)
    return out


def _folders(folder: Path, problems: list[str]) -> list[os.DirEntry[str]]:
    return [e for e in entries(folder, problems, SOURCE) if is_dir(e)]


def names(host: str, namespace: str, model: str, tag: str) -> tuple[str, tuple[str, ...]]:
    """(short name, other names) of a manifest, after Name.DisplayShortest."""
    if host.lower() != DEFAULT_HOST:
        base = f"{host}/{namespace}/{model}"
    elif namespace.lower() != DEFAULT_NAMESPACE:
        base = f"{namespace}/{model}"
    else:
        base = model
    full = f"{host}/{namespace}/{model}:{tag}"
    forms = [f"{base}:{tag}", f"{namespace}/{model}:{tag}", full]
    if tag.lower() == DEFAULT_TAG:
        short = base
        forms.insert(1, f"{namespace}/{model}")
    else:
        short = f"{base}:{tag}"
    seen = {short.lower()}
    other = []
    for f in forms:
        if f.lower() not in seen and (host.lower() == DEFAULT_HOST or f.startswith(host + "/")):
            seen.add(f.lower())
            other.append(f)
    return short, tuple(other)


def _model(root: Path, manifest: Path, parts: tuple[str, str, str, str], problems: list[str]) -> FoundModel | None:
    name, other = names(*parts)
    what = f"ollama: {name}"
    data = read_small(manifest, what, problems)
    if data is None:
        return None
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        problems.append(f"{what}: manifest {shown(str(manifest))} is not JSON")
        return None
    layers = doc.get("layers") if isinstance(doc, dict) else None
    if not isinstance(layers, list) or not all(isinstance(x, dict) for x in layers):
        problems.append(f"{what}: manifest {shown(str(manifest))} has no list of layers")
        return None
    kinds: dict[str, list[str]] = {}
    for layer in layers:
        media, digest = layer.get("mediaType"), layer.get("digest")
        if isinstance(media, str) and media.startswith(MEDIA) and isinstance(digest, str):
            kinds.setdefault(media[len(MEDIA):], []).append(digest)
    if "model" not in kinds:
        return None  # a cloud model or a safetensors model: nothing for llama.cpp here
    blob = _blob(root, kinds["model"][-1], what, problems)  # the last one wins, as in server.GetModel
    if blob is None or not check_gguf(blob, what, problems):
        return None
    notes: list[str] = []
    sampling: dict[str, Any] = {}
    options: dict[str, Any] = {}
    for digest in kinds.get("params", [])[-1:]:
        params = _json_blob(root, digest, what, problems)
        if isinstance(params, dict):
            sampling, options, ignored = convert_params(params)
            notes += ignored
        else:
            notes.append("Ollama's parameters could not be read (see the problems of 'genlab models list')")
    system = None
    for digest in kinds.get("system", [])[-1:]:
        path = _blob(root, digest, what, problems)
        raw = read_small(path, what, problems) if path else None
        if raw is not None:
            system = raw.decode("utf-8", "replace")
    if kinds.get("adapter"):
        notes.append("its LoRA adapter layer is not applied: genlab runs the base model")
    if kinds.get("projector"):
        notes.append("its vision projector is not used: genlab runs the model on text only")
    return FoundModel(name=name, path=blob, source=SOURCE, where=str(manifest), other_names=other,
                      sampling=sampling, options=options, system=system, notes=tuple(notes))


def _blob(root: Path, digest: str, what: str, problems: list[str]) -> Path | None:
    m = _DIGEST.match(digest)
    if not m:
        problems.append(f"{what}: layer digest {shown(digest[:80])!r} is not a sha256 digest")
        return None
    return root / "blobs" / f"sha256-{m[1]}"


def _json_blob(root: Path, digest: str, what: str, problems: list[str]) -> Any:
    path = _blob(root, digest, what, problems)
    raw = read_small(path, what, problems) if path else None
    if raw is None:
        return None
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        problems.append(f"{what}: parameters {shown(str(path))} are not JSON")
        return None


def convert_params(params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """(sampling, options, notes) from an Ollama params object.

    Sampling fields keep their names (num_predict becomes max_tokens), num_ctx becomes the llama
    setting n_ctx; a value genlab would refuse (Ollama's -1 for "unlimited" or "random", say)
    and every other parameter is left out with a note."""
    from genlab.sampling import Sampling  # numpy comes with it: only when a model has parameters

    sampling: dict[str, Any] = {}
    options: dict[str, Any] = {}
    notes: list[str] = []
    for key in sorted(params):
        value = params[key]
        field = "max_tokens" if key == "num_predict" else key
        if field in SAMPLING or field == "max_tokens":
            if field == "stop" and isinstance(value, str):
                value = [value]
            if field == "stop" and not (isinstance(value, list) and all(isinstance(s, str) for s in value)):
                notes.append(f"Ollama parameter stop={value!r} ignored (not a list of strings)")
                continue
            try:
                checked = Sampling.from_dict({field: value})
            except Exception as exc:  # GenlabError, or a value of a type Sampling cannot take
                notes.append(f"Ollama parameter {key}={value!r} ignored ({exc})")
                continue
            sampling[field] = getattr(checked, field)
        elif key == "num_ctx":
            if isinstance(value, int) and not isinstance(value, bool) and value >= 8:
                options["n_ctx"] = value
            else:
                notes.append(f"Ollama parameter num_ctx={value!r} ignored (not a context size)")
        else:
            notes.append(f"Ollama parameter {key}={value!r} ignored (genlab has no such setting)")
    return sampling, options, notes
