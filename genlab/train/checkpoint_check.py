"""What a checkpoint file may hold, checked before any of its tensors is read.

A checkpoint read by `--resume` is data from disk: it may be truncated, bit-flipped or written
by hand. Its JSON metadata is read through genlab.datafiles and checked by type and range; the
model it describes is built on torch's "meta" device (no memory) to learn the shape every
tensor must have, and the file's tensor table must match it exactly, so a config asking for
a huge model is refused before memory is spent, and nothing fails later, mid-training.
"""

from __future__ import annotations

import math
import re
from dataclasses import fields
from typing import Any

from genlab.datafiles import load_json
from genlab.errors import GenlabError

# far beyond any size genlab trains; they keep a hand-written config from asking for a model
# whose mere description (layers, rope tables) takes memory
LIMITS = {"vocab_size": (1, 1 << 20), "dim": (2, 1 << 14), "layers": (1, 256), "heads": (1, 1 << 10),
          "ffn": (1, 1 << 16), "context": (1, 1 << 16)}
ADAM_KEYS = {"exp_avg", "exp_avg_sq", "step"}
RNG_BYTES = 5056  # torch's CPU generator state


class Damaged(Exception):
    """A checkpoint whose contents are not what genlab writes (the message says what)."""


def whole(value: Any, what: str, low: int = 0, high: int = 1 << 62) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise Damaged(f"{what} must be a whole number from {low} to {high}, not {_short(value)}")
    return value


def number(value: Any, what: str, low: float = -math.inf, high: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not low <= value <= high:
        raise Damaged(f"{what} must be a number from {low:g} to {high:g}, not {_short(value)}")
    return float(value)


def metadata_json(meta: dict[str, str], key: str, source: str) -> Any:
    if not isinstance(meta.get(key), str):
        raise Damaged(f"its metadata has no {key}")
    try:
        return load_json(meta[key], source=f"{source} ({key})")
    except GenlabError as exc:
        raise Damaged(str(exc)) from None


def config(value: Any) -> dict[str, Any]:
    from genlab.train.model import LlamaConfig

    known = {f.name for f in fields(LlamaConfig)}
    if not isinstance(value, dict) or set(value) - known or "vocab_size" not in value:
        raise Damaged("its config is not a model configuration")
    for key, (low, high) in LIMITS.items():
        if key in value:
            whole(value[key], f"config {key}", low, high)
    for key in ("rms_eps", "rope_base"):
        if key in value:
            number(value[key], f"config {key}", low=1e-12)
    if "dropout" in value:
        number(value["dropout"], "config dropout", 0.0, 0.99)
    if "tied" in value and not isinstance(value["tied"], bool):
        raise Damaged("config tied must be true or false")
    try:
        LlamaConfig(**value)
    except ValueError as exc:
        raise Damaged(f"its config is impossible ({exc})") from None
    return value


def vocab(value: Any, size: int) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Damaged("its vocabulary is not a table")
    tokens, scores, types = value.get("tokens"), value.get("scores"), value.get("types")
    for name, items in (("tokens", tokens), ("scores", scores), ("types", types)):
        if not isinstance(items, list) or len(items) != size:
            raise Damaged(f"its vocabulary needs {size} {name} (the config's vocab_size)")
    if not all(isinstance(t, str) and t for t in tokens):
        raise Damaged("its vocabulary holds a token that is not text")
    if not all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in scores):
        raise Damaged("its vocabulary holds a score that is not a number")
    if not all(isinstance(x, int) and not isinstance(x, bool) and 0 <= x < 8 for x in types):
        raise Damaged("its vocabulary holds a token type that is not one of GGUF's")
    if value.get("eot") is not None:
        whole(value["eot"], "the end-of-turn token", 0, size - 1)
    return value


def state(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Damaged("its training state is not a table")
    whole(value.get("step"), "step")
    whole(value.get("tokens"), "tokens")
    number(value.get("seconds"), "seconds", low=0)
    number(value.get("held_out"), "held_out", 0, 0.999999)
    whole(value.get("seed"), "seed", -(1 << 63), 1 << 64)
    if not isinstance(value.get("corpus_sha256"), str) or not re.fullmatch(r"[0-9a-f]{64}", value["corpus_sha256"]):
        raise Damaged("corpus_sha256 is not a SHA-256")
    if value.get("minutes") is not None:
        number(value["minutes"], "minutes", low=1e-9)
    if value.get("steps") is not None:
        whole(value["steps"], "steps", 1)
    for key in ("save_id", "size"):
        if value.get(key) is not None and not isinstance(value[key], str):
            raise Damaged(f"{key} is not text")
    if value.get("vocab_size") is not None:
        whole(value["vocab_size"], "vocab_size", 1)
    history = value.get("history", [])
    if not isinstance(history, list) or not all(
            isinstance(h, dict) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in h.values())
            for h in history):
        raise Damaged("its history is not a list of measurements")
    return value


def optimizer(value: Any, groups: list[list[int]]) -> dict[str, Any]:
    """AdamW's groups must list exactly the model's parameters, in the trainer's order."""
    if not isinstance(value, dict) or not isinstance(value.get("param_groups"), list):
        raise Damaged("its optimizer state is not AdamW's")
    saved = value["param_groups"]
    if len(saved) != len(groups) or not all(isinstance(g, dict) and g.get("params") == want
                                            for g, want in zip(saved, groups)):
        raise Damaged("its optimizer's parameter groups do not match the model")
    for g in saved:
        for key, v in g.items():
            if key in ("lr", "eps", "weight_decay"):
                number(v, f"optimizer {key}", low=0)
            elif key == "betas":
                if not isinstance(v, list) or len(v) != 2:
                    raise Damaged("optimizer betas must be two numbers")
                for b in v:
                    number(b, "optimizer beta", 0, 0.999999)
            elif key != "params" and v is not None and not isinstance(v, bool):
                raise Damaged(f"optimizer setting {key} must be true, false or null")
    scalars = value.get("scalars", {})
    if not isinstance(scalars, dict) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                for v in scalars.values()):
        raise Damaged("its optimizer's scalars are not numbers")
    n = sum(len(g) for g in groups)
    for name in scalars:
        idx, _, key = name.partition(".")
        if not idx.isdigit() or int(idx) >= n or key not in ADAM_KEYS:
            raise Damaged(f"its optimizer holds an unknown value {name!r:.40}")
    return value


def tensor_table(table: dict[str, tuple[str, tuple[int, ...]]], cfg: dict[str, Any]) -> list[list[int]]:
    """Check the file's tensors (name -> (dtype, shape)) against the model `cfg` describes;
    returns the optimizer's parameter groups (indices) for `optimizer`."""
    import torch

    from genlab.train.model import Llama, LlamaConfig, decay_groups

    with torch.device("meta"):
        model = Llama(LlamaConfig(**cfg))
    expected = {f"model.{k}": ("F32", tuple(v.shape)) for k, v in model.state_dict().items()}
    decay, no_decay = decay_groups(model)
    params = [*decay, *no_decay]
    for i, p in enumerate(params):
        for key in ("exp_avg", "exp_avg_sq"):
            expected[f"opt.{i}.{key}"] = ("F32", tuple(p.shape))
        expected[f"opt.{i}.step"] = ("F32", ())
    expected["rng.torch"] = expected["rng.sampler"] = ("U8", (RNG_BYTES,))
    for name, (dtype, shape) in table.items():
        want = expected.get(name)
        if want is None:
            raise Damaged(f"it holds a tensor the model has no place for ({name!r:.60})")
        if (dtype, tuple(shape)) != want:
            raise Damaged(f"tensor {name} is {dtype} {list(shape)}, the config needs {want[0]} {list(want[1])}")
    missing = sorted(k for k in expected if k not in table and not k.startswith("opt."))
    if missing:
        raise Damaged(f"tensor {missing[0]} is missing")
    return [list(range(len(decay))), list(range(len(decay), len(params)))]


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
