"""Training checkpoints as safetensors: tensors plus JSON metadata, no pickle.

A checkpoint holds everything `--resume` needs to carry on as if never stopped: the
weights, AdamW's moments and step counts, the random generators' states, the vocabulary,
the configuration and the progress so far (steps, tokens, seconds).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from genlab.atomic import replacing
from genlab.errors import GenlabError
from genlab.llama.gguf_writer import SpmVocab
from genlab.llama.quiet import first_line

FORMAT = "genlab-train-checkpoint-1"  # its metadata's "sha256" (of all its contents) is checked when present


@dataclass
class Checkpoint:
    config: dict[str, Any]
    vocab: SpmVocab
    state: dict[str, Any]  # step, tokens, seconds, settings, corpus digest ...
    model: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    rng: dict[str, torch.Tensor]


def checkpoint_path(gguf_path: str | os.PathLike[str]) -> Path:
    """models/NAME.gguf -> models/NAME.ckpt.safetensors"""
    p = Path(gguf_path)
    return p.with_name(p.stem + ".ckpt.safetensors")


def _flatten_optimizer(opt_state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {}
    for idx, slots in opt_state["state"].items():
        for key, value in slots.items():
            if torch.is_tensor(value):
                tensors[f"opt.{idx}.{key}"] = value
            else:
                scalars[f"{idx}.{key}"] = value
    return tensors, {"scalars": scalars, "param_groups": opt_state["param_groups"]}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        _, idx, key = name.split(".", 2)
        state.setdefault(int(idx), {})[key] = value
    for name, value in meta.get("scalars", {}).items():
        idx, key = name.split(".", 1)
        state.setdefault(int(idx), {})[key] = value
    return {"state": state, "param_groups": meta["param_groups"]}


def save_checkpoint(path: str | os.PathLike[str], ckpt: Checkpoint) -> Path:
    """Write `ckpt` to `path`, whole or not at all."""
    path = Path(path)
    with replacing(path) as tmp:
        write_checkpoint(tmp, ckpt)
    return path


def write_checkpoint(path: str | os.PathLike[str], ckpt: Checkpoint) -> None:
    """Write `ckpt` to `path` as it is (a temporary file: see save_checkpoint), with a SHA-256 of
    its metadata and tensors, so a byte changed anywhere is found on loading."""
    from safetensors.torch import save_file

    opt_tensors, opt_meta = _flatten_optimizer(ckpt.optimizer)
    tensors = {f"model.{k}": v.detach().contiguous() for k, v in ckpt.model.items()}
    tensors.update({k: v.detach().contiguous() for k, v in opt_tensors.items()})
    tensors.update({f"rng.{k}": v.contiguous() for k, v in ckpt.rng.items()})
    v = ckpt.vocab
    metadata = {
        "format": FORMAT,
        "config": json.dumps(ckpt.config),
        "vocab": json.dumps({"tokens": list(v.tokens), "scores": list(v.scores), "types": list(v.types),
                             "eot": v.eot}),
        "state": json.dumps(ckpt.state),
        "optimizer": json.dumps(opt_meta),
    }
    metadata["sha256"] = _digest(metadata, tensors)
    save_file(tensors, os.fspath(path), metadata=metadata)


def _digest(metadata: dict[str, str], tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for key in sorted(k for k in metadata if k != "sha256"):
        h.update(f"{key}={len(metadata[key])}:".encode() + metadata[key].encode("utf-8", "surrogatepass"))
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{list(t.shape)}:".encode())
        h.update(memoryview(t.numpy().reshape(-1)).cast("B"))
    return h.hexdigest()


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """The checkpoint at `path`, checked whole before use: its size and structure (safetensors),
    its metadata by type and range, every tensor's type and shape against the config (before any
    tensor is read), and its SHA-256. Any fault is one GenlabError naming the file."""
    from safetensors import SafetensorError, safe_open

    from genlab.train import checkpoint_check as check

    path = Path(path)
    if not path.is_file():
        raise GenlabError(f"no checkpoint at {path} (train without --resume first)")
    source = str(path)
    try:
        with safe_open(source, framework="pt") as f:
            meta = f.metadata() or {}
            if meta.get("format") != FORMAT:
                raise GenlabError(f"{path} is not a genlab training checkpoint")
            config = check.config(check.metadata_json(meta, "config", source))
            vocab = check.vocab(check.metadata_json(meta, "vocab", source), config["vocab_size"])
            state = check.state(check.metadata_json(meta, "state", source))
            table = {k: (f.get_slice(k).get_dtype(), tuple(f.get_slice(k).get_shape())) for k in f.keys()}
            groups = check.tensor_table(table, config)
            opt_meta = check.optimizer(check.metadata_json(meta, "optimizer", source), groups)
            tensors = {k: f.get_tensor(k) for k in f.keys()}
        if "sha256" in meta and meta["sha256"] != _digest(meta, tensors):  # older files have none
            raise check.Damaged("its contents do not match their SHA-256 (a byte changed on disk?)")
    except check.Damaged as exc:
        raise GenlabError(f"{path} is a damaged training checkpoint: {exc}; train again without --resume") from None
    except (SafetensorError, OSError, ValueError) as exc:
        raise GenlabError(f"{path} is a damaged training checkpoint ({first_line(exc)}); "
                          "train again without --resume") from None
    groups_of: dict[str, dict[str, torch.Tensor]] = {"model": {}, "opt": {}, "rng": {}}
    for name, value in tensors.items():
        kind, rest = name.split(".", 1)
        groups_of[kind][rest if kind != "opt" else name] = value
    return Checkpoint(
        config=config,
        vocab=SpmVocab(vocab["tokens"], vocab["scores"], vocab["types"], eot=vocab["eot"]),
        state=state,
        model=groups_of["model"],
        optimizer=_unflatten_optimizer(groups_of["opt"], opt_meta),
        rng=groups_of["rng"],
    )

