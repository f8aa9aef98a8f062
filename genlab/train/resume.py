"""What `train-llm --resume` takes from a checkpoint, and what it refuses.

A resumed run is the checkpoint's run: its model shape, vocabulary, held-out split and seed.
A setting given on the command line that differs from the checkpoint's is refused in one line
naming both (before, `--resume --size small` silently went on with a tiny model); a setting not
given is taken from the checkpoint. The GGUF beside the checkpoint should be from the same save;
when it is not (a save cut short by kill -9), the run says so and resumes from the checkpoint.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from genlab.errors import GenlabError

if TYPE_CHECKING:
    from genlab.train.checkpoint import Checkpoint
    from genlab.train.settings import TrainSettings

# a new run's settings when not given; a resumed run's come from its checkpoint
DEFAULTS: dict[str, Any] = {"size": "small", "vocab_size": 2048, "tied": True, "held_out": 0.1, "seed": 0}
SHAPE = ("dim", "layers", "heads", "ffn")


def new_run(s: "TrainSettings") -> "TrainSettings":
    """`s` with the defaults for every setting not given."""
    return replace(s, **{k: v for k, v in DEFAULTS.items() if getattr(s, k) is None})


def size_name(config: dict[str, Any]) -> str:
    """"tiny (2 layers × 64)": the size whose shape the config has, and the shape."""
    from genlab.train.model import SIZES

    name = next((n for n, shape in SIZES.items() if all(shape[k] == config[k] for k in SHAPE)), "custom")
    return f"{name} ({config['layers']} layers × {config['dim']})"


def resumed_run(s: "TrainSettings", ckpt: "Checkpoint", path: Path) -> "TrainSettings":
    """The checkpoint's settings, with the budget given (or the checkpoint's); any other setting
    given that differs from the checkpoint's is one error naming both."""
    from genlab.train.model import SIZES

    cfg, state = ckpt.config, ckpt.state
    saved_size = next((n for n, shape in SIZES.items() if all(shape[k] == cfg[k] for k in SHAPE)), None)
    differs: list[tuple[str, object, str]] = []  # (flag, value given, what the checkpoint has)
    if s.size is not None and s.size != saved_size:
        differs.append(("--size", s.size, f"holds a {size_name(cfg)} model"))
    for flag, given, saved in (("--context", s.context, cfg["context"]), ("--dropout", s.dropout, cfg["dropout"]),
                               ("--vocab-size", s.vocab_size, state.get("vocab_size", cfg["vocab_size"])),
                               ("--held-out", s.held_out, state["held_out"]), ("--seed", s.seed, state["seed"])):
        if given is not None and given != saved:
            differs.append((flag, given, f"was trained with {flag} {saved}"))
    if s.tied is not None and s.tied != cfg["tied"]:
        differs.append(("--untied" if not s.tied else "tied", "",
                        "has a tied output matrix" if cfg["tied"] else "was trained with --untied"))
    if differs:
        flag, given, saved = differs[0]
        raise GenlabError(f"{flag} {given}".rstrip() + f" does not match the checkpoint {path}, which "
                          f"{saved}: leave {flag} out to resume it, or train a new model without --resume")
    return replace(s, size=saved_size or s.size, context=cfg["context"], dropout=cfg["dropout"],
                   vocab_size=state.get("vocab_size", cfg["vocab_size"]), tied=cfg["tied"],
                   held_out=state["held_out"], seed=state["seed"],
                   minutes=s.minutes if s.minutes is not None else state.get("minutes"),
                   steps=s.steps if s.steps is not None else state.get("steps"))


def check_pair(gguf: Path, ckpt: "Checkpoint", ckpt_path: Path, log: Callable[[str], None]) -> None:
    """Say so, in one line, when the GGUF is not from the checkpoint's save; the resumed run
    goes on from the checkpoint and saves both together again."""
    step = ckpt.state["step"]
    mine = ckpt.state.get("save_id")
    theirs, their_step = _gguf_save(gguf)
    if theirs is not None and theirs == mine or (mine is None and their_step == step):
        return
    if their_step is None:
        what = f"{gguf} is missing or was not written by train-llm"
    else:
        what = f"{gguf} (step {their_step:,}) and {ckpt_path} (step {step:,}) are not from the same save"
    log(f"note: {what}; resuming from the checkpoint's step {step:,}, and both are saved together again")


def _gguf_save(gguf: Path) -> tuple[str | None, int | None]:
    """(save id, step) from a GGUF's genlab.training provenance, or (None, None)."""
    from genlab.datafiles import load_json
    from genlab.llama.gguf_header import read_header

    try:
        raw = read_header(gguf, tensors=False).metadata.get("genlab.training")
        provenance = load_json(raw, source=str(gguf)) if isinstance(raw, str) else None
    except GenlabError:
        return None, None
    if not isinstance(provenance, dict):
        return None, None
    save_id, step = provenance.get("save_id"), provenance.get("steps")
    return (save_id if isinstance(save_id, str) else None,
            step if isinstance(step, int) and not isinstance(step, bool) else None)
