"""Training checkpoints as safetensors: tensors plus JSON metadata, no pickle.

A checkpoint holds everything `--resume` needs to carry on as if never stopped: the
weights, AdamW's moments and step counts, the random generators' states, the vocabulary,
the configuration and the progress so far (steps, tokens, seconds).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from genlab.atomic import replacing
from genlab.errors import GenlabError
from genlab.llama.gguf_writer import SpmVocab

FORMAT = "genlab-train-checkpoint-1"


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
    for name, value in meta["scalars"].items():
        idx, key = name.split(".", 1)
        state.setdefault(int(idx), {})[key] = value
    return {"state": state, "param_groups": meta["param_groups"]}


def save_checkpoint(path: str | os.PathLike[str], ckpt: Checkpoint) -> Path:
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
    path = Path(path)
    with replacing(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    return path


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise GenlabError(f"no checkpoint at {path} (train without --resume first)")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            if meta.get("format") != FORMAT:
                raise GenlabError(f"{path} is not a genlab training checkpoint")
            tensors = {k: f.get_tensor(k) for k in f.keys()}
        vocab = json.loads(meta["vocab"])
        groups: dict[str, dict[str, torch.Tensor]] = {"model": {}, "opt": {}, "rng": {}}
        for name, value in tensors.items():
            kind, rest = name.split(".", 1)
            groups[kind][rest if kind != "opt" else name] = value
        return Checkpoint(
            config=json.loads(meta["config"]),
            vocab=SpmVocab(vocab["tokens"], vocab["scores"], vocab["types"], eot=vocab["eot"]),
            state=json.loads(meta["state"]),
            model=groups["model"],
            optimizer=_unflatten_optimizer(groups["opt"], json.loads(meta["optimizer"])),
            rng=groups["rng"],
        )
    except (SafetensorError, OSError, KeyError, ValueError) as exc:
        raise GenlabError(f"{path} is a damaged training checkpoint ({exc})") from None
