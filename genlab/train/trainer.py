"""Train a small llama on a corpus, within a step or time budget, and export it as GGUF.

The loop is nanoGPT's (random windows, AdamW, warm-up then cosine decay, gradient clipping)
with three things a user at a terminal needs: the learning-rate schedule follows whichever
budget runs out first (steps or minutes), so a 10-minute run is a complete run and not the
first 10 minutes of a longer one; Ctrl-C finishes the current step and saves a checkpoint;
and the held-out text is scored by the same scorer as `genlab perplexity`, through
llama.cpp, on the exported file.
"""

from __future__ import annotations

import hashlib
import math
import os
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from genlab.errors import GenlabError
from genlab.train.console import Progress, StopFlag
from genlab.train.settings import TrainSettings

LN2 = math.log(2)


@dataclass
class TrainResult:
    path: Path
    checkpoint: Path
    steps: int
    tokens: int
    seconds: float
    train_loss: float
    held_out_bpb: float | None  # genlab's scorer, through llama.cpp, on the exported GGUF
    interrupted: bool
    parameters: int
    history: list[dict[str, float]] = field(default_factory=list)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def learning_rate(s: TrainSettings, step: int, fraction: float) -> float:
    """Linear warm-up over `warmup_steps`, then cosine decay to `min_learning_rate` at
    fraction 1 of the budget (steps or time, whichever is further along)."""
    if step < s.warmup_steps:
        return s.learning_rate * (step + 1) / s.warmup_steps
    f = min(max(fraction, 0.0), 1.0)
    return s.min_learning_rate + 0.5 * (s.learning_rate - s.min_learning_rate) * (1 + math.cos(math.pi * f))


def _cpu_has_bf16() -> bool:
    """Native bfloat16 on this CPU (AVX-512 BF16 or AMX): there mixed precision is ~1.4× faster;
    elsewhere it is emulated and slower."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


class Trainer:
    """One training run: `Trainer(corpora, out, settings).run()`.

    `log`: where one-line messages go (default: stderr). `progress`: draw a bar (default:
    when stderr is a terminal; otherwise a line per evaluation). keep_gutenberg: train on the
    files whole, Project Gutenberg's header and licence too (by default they are left out, and
    the GGUF's provenance says what was).
    """

    def __init__(self, corpora: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str],
                 settings: TrainSettings = TrainSettings(), *, resume: bool = False,
                 encoding: str | None = None, log: Callable[[str], None] | None = None,
                 progress: bool | None = None, keep_gutenberg: bool = False):
        from genlab.train.model import SIZES

        if settings.size is not None and settings.size not in SIZES:
            raise GenlabError(f"unknown size {settings.size!r}: choose from {', '.join(SIZES)}")
        if settings.minutes is None and settings.steps is None and not resume:  # resume: the checkpoint's
            raise GenlabError("give a budget: --minutes, --steps or both")
        if settings.minutes is not None and settings.minutes <= 0:
            raise GenlabError("--minutes must be positive")
        if settings.steps is not None and settings.steps < 1:
            raise GenlabError("--steps must be at least 1")
        if settings.context is not None and (settings.context < 256 or settings.context % 256):
            # llama.cpp rounds its context up to a multiple of 256: a model trained on shorter
            # windows would be scored and run on positions it never saw
            raise GenlabError(f"--context must be a multiple of 256 (llama.cpp's unit), got {settings.context}")
        self.out = Path(out)
        if self.out.suffix != ".gguf":
            raise GenlabError(f"the output must be a .gguf file, got {self.out}")
        self.corpora = [Path(p) for p in corpora]
        self.settings = settings
        self.resume = resume
        self.encoding = encoding
        self.keep_gutenberg = keep_gutenberg
        self.left_out: list[dict[str, int] | str] = []  # what was left out of each corpus
        self.log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
        self.progress = sys.stderr.isatty() if progress is None else progress
        self.save_id: str | None = None  # of the last pair saved (or resumed from)

    # --- setup --------------------------------------------------------------------------------

    def _prepare(self):
        import torch

        from genlab.eval.texts import corpus_text, split_held_out
        from genlab.llama.quiet import first_line
        from genlab.train.checkpoint import checkpoint_path, load_checkpoint
        from genlab.train.data import tokenize_texts
        from genlab.train.model import SIZES, Llama, LlamaConfig, decay_groups
        from genlab.train.resume import check_pair, new_run, resumed_run
        from genlab.train.vocab import learn_vocab

        self.ckpt_path = checkpoint_path(self.out)
        ckpt = None
        if self.resume:  # the checkpoint first: a wrong setting is refused before the corpus is read
            ckpt = load_checkpoint(self.ckpt_path)
            self.settings = resumed_run(self.settings, ckpt, self.ckpt_path)
        else:
            self.settings = new_run(self.settings)
        s = self.settings
        text = corpus_text(self.corpora, self.encoding, keep_gutenberg=self.keep_gutenberg, say=self.log,
                           records=self.left_out)
        if ckpt is not None:
            if ckpt.state["corpus_sha256"] != _digest(text):
                raise GenlabError(f"{self.ckpt_path} was trained on other text: resume with the same corpora "
                                  "(and --keep-gutenberg as before)")
            if s.minutes is None and s.steps is None:
                raise GenlabError(f"{self.ckpt_path} holds no budget: give --minutes or --steps")
            check_pair(self.out, ckpt, self.ckpt_path, self.log)
        train_text, held_text = split_held_out(text, s.held_out)
        self.held_text = held_text
        self.text_digest = _digest(text)

        if s.threads:
            torch.set_num_threads(s.threads)
        torch.manual_seed(s.seed)
        if ckpt is not None:
            vocab = ckpt.vocab
            cfg = LlamaConfig(**ckpt.config)
        else:
            self.log(f"learning a {s.vocab_size}-token vocabulary on {len(train_text.encode()):,} bytes")
            vocab = learn_vocab([train_text], s.vocab_size)
            shape = dict(SIZES[s.size])
            if s.context is not None:
                shape["context"] = s.context
            if s.dropout is not None:
                shape["dropout"] = s.dropout
            cfg = LlamaConfig(vocab_size=len(vocab.tokens), tied=s.tied, **shape)
        self.vocab = vocab
        train_ids, held_ids = tokenize_texts(vocab, [train_text, held_text])
        if len(train_ids) < cfg.context + 1:
            raise GenlabError(f"the training text is {len(train_ids)} tokens: too short for a context of "
                              f"{cfg.context} (use a longer corpus or --context)")
        self.train_ids = torch.from_numpy(train_ids)
        self.held_ids = torch.from_numpy(held_ids)
        self.held_bytes = len(held_text.encode("utf-8"))
        self.train_bytes = len(train_text.encode("utf-8"))

        model = Llama(cfg)
        decay, no_decay = decay_groups(model)
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": s.weight_decay},
                                 {"params": no_decay, "weight_decay": 0.0}],
                                lr=s.learning_rate, betas=(0.9, 0.95), eps=1e-8)
        self.sampler = torch.Generator().manual_seed(s.seed)
        self.step, self.tokens_seen, self.seconds = 0, 0, 0.0
        self.history: list[dict[str, float]] = []
        if ckpt is not None:
            try:
                model.load_state_dict(ckpt.model)
                opt.load_state_dict(ckpt.optimizer)
                torch.set_rng_state(ckpt.rng["torch"])
                self.sampler.set_state(ckpt.rng["sampler"])
            except (RuntimeError, ValueError, KeyError, TypeError) as exc:  # load_checkpoint checked; a net
                raise GenlabError(f"{self.ckpt_path} is a damaged training checkpoint ({first_line(exc)}); "
                                  "train again without --resume") from None
            self.save_id = ckpt.state.get("save_id")
            self.step = int(ckpt.state["step"])
            self.tokens_seen = int(ckpt.state["tokens"])
            self.seconds = float(ckpt.state["seconds"])
            self.history = list(ckpt.state.get("history", []))
            self.log(f"resuming {self.ckpt_path} at step {self.step:,} ({self.seconds / 60:.1f} min trained)")
        self.model, self.opt = model, opt
        self.bf16 = s.precision == "bf16" or (s.precision == "auto" and _cpu_has_bf16())
        self.log(f"model: {cfg.layers} layers × {cfg.dim}, {cfg.heads} heads, context {cfg.context}, "
                 f"vocabulary {cfg.vocab_size}: {model.parameter_count():,} parameters"
                 f"{' (bf16 matmuls)' if self.bf16 else ''}; "
                 f"{len(train_ids):,} training tokens ({self.train_bytes / max(len(train_ids), 1):.2f} bytes/token), "
                 f"{len(held_ids):,} held out; budget {s.budget_text()}")

    # --- the loop -------------------------------------------------------------------------------

    def fraction_done(self) -> float:
        s = self.settings
        f = 0.0
        if s.steps is not None:
            f = max(f, self.step / s.steps)
        if s.minutes is not None:
            f = max(f, self.seconds / (60 * s.minutes))
        return f

    def _batch(self):
        import torch

        ctx = self.model.cfg.context
        n = len(self.train_ids)
        starts = torch.randint(0, n - ctx + 1, (self.settings.batch_size,), generator=self.sampler)
        idx = starts[:, None] + torch.arange(ctx)[None, :]
        targets = self.train_ids[idx]
        bos = torch.full((len(starts), 1), self.vocab.bos, dtype=torch.long)
        inputs = torch.cat([bos, targets[:, :-1]], dim=1)  # BOS first, as every scoring window
        return inputs, targets

    def train_step(self) -> float:
        import torch
        import torch.nn.functional as F

        lr = learning_rate(self.settings, self.step, self.fraction_done())
        for group in self.opt.param_groups:
            group["lr"] = lr
        self.model.train()
        inputs, targets = self._batch()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            logits = self.model(inputs)
        loss = F.cross_entropy(logits.float().view(-1, logits.shape[-1]), targets.reshape(-1))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.opt.step()
        self.step += 1
        self.tokens_seen += targets.numel()
        return loss.item()

    def held_out_estimate(self) -> float | None:
        """Bits per byte of the held-out text in disjoint windows (BOS + context-1 tokens):
        a quick, slightly pessimistic estimate; the final score uses overlapping windows."""
        import torch
        import torch.nn.functional as F

        if not self.held_bytes or len(self.held_ids) == 0:
            return None
        ctx = self.model.cfg.context
        ids = self.held_ids
        nats = 0.0
        self.model.eval()
        with torch.no_grad():
            for lo in range(0, len(ids), ctx - 1):
                row = ids[lo: lo + ctx - 1]
                inputs = torch.cat([torch.tensor([self.vocab.bos]), row[:-1]])[None, :]
                nats += float(F.cross_entropy(self.model(inputs)[0], row, reduction="sum"))
        return nats / self.held_bytes / LN2

    def run(self) -> TrainResult:
        self._prepare()
        s = self.settings
        interrupted = False
        last_eval = last_save = self.seconds
        recent: list[float] = []
        with StopFlag() as flag, Progress(self, enabled=self.progress) as bar:
            started = time.perf_counter() - self.seconds
            while self.fraction_done() < 1.0:
                loss = self.train_step()
                recent = (recent + [loss])[-20:]
                self.seconds = time.perf_counter() - started
                bar.update(sum(recent) / len(recent))
                if self.seconds - last_eval >= s.eval_seconds:
                    self._evaluate(sum(recent) / len(recent), bar)
                    last_eval = self.seconds
                    started = time.perf_counter() - self.seconds  # evaluation is not training time
                if self.seconds - last_save >= s.checkpoint_seconds:
                    self.save(bar)
                    last_save = self.seconds
                    started = time.perf_counter() - self.seconds  # nor is saving
                if flag.stop:
                    interrupted = True
                    break
        path, ckpt = self.save()  # first: a second Ctrl-C from here on loses nothing
        if recent:
            self._evaluate(sum(recent) / len(recent), None)
        if interrupted:
            self.log(f"interrupted at step {self.step:,}: checkpoint saved to {ckpt}; "
                     "run the same command with --resume to continue")
        bpb = self.score_held_out(path)
        if bpb is not None:
            path = self.export(bpb)  # the score goes into the file's provenance
        return TrainResult(path, ckpt, self.step, self.tokens_seen, self.seconds,
                           sum(recent) / len(recent) if recent else math.nan, bpb, interrupted,
                           self.model.parameter_count(), self.history)

    def _evaluate(self, train_loss: float, bar) -> None:
        bpb = self.held_out_estimate()
        entry = {"step": self.step, "seconds": round(self.seconds, 1), "train_loss": train_loss,
                 "train_bpb": train_loss * len(self.train_ids) / self.train_bytes / LN2}
        if bpb is not None:
            entry["held_out_bpb"] = bpb
        self.history.append(entry)
        rate = self.tokens_seen / max(self.seconds, 1e-9)
        left = max(0.0, self.seconds * (1 - self.fraction_done()) / max(self.fraction_done(), 1e-9))
        msg = (f"step {self.step:,}  {self.seconds / 60:.1f} min  loss {train_loss:.3f} "
               f"(≈{entry['train_bpb']:.3f} bits/byte)  {rate:,.0f} tok/s  {left / 60:.1f} min left")
        if bpb is not None:
            msg += f"  held-out ≈{bpb:.3f} bits/byte"
        self._say(msg, bar)

    # --- outputs --------------------------------------------------------------------------------

    def save(self, bar: Progress | None = None) -> tuple[Path, Path]:
        """The GGUF and its checkpoint as a pair with a new save id (see genlab.train.pair):
        Ctrl-C during the save is acted on once both files are in place."""
        from genlab.train.checkpoint import write_checkpoint
        from genlab.train.pair import replacing_pair

        self.save_id = uuid.uuid4().hex
        with replacing_pair(self.out, self.ckpt_path) as (gguf_tmp, ckpt_tmp):
            self._say(f"saving step {self.step:,} to {self.out} and {self.ckpt_path}", bar)
            write_checkpoint(ckpt_tmp, self.checkpoint())
            self.export(path=gguf_tmp)
        return self.out, self.ckpt_path

    def checkpoint(self):
        import torch

        from genlab.train.checkpoint import Checkpoint

        s = self.settings
        state = {"step": self.step, "tokens": self.tokens_seen, "seconds": self.seconds,
                 "corpus_sha256": self.text_digest, "held_out": s.held_out, "seed": s.seed,
                 "minutes": s.minutes, "steps": s.steps, "history": self.history, "save_id": self.save_id,
                 "size": s.size, "vocab_size": s.vocab_size}
        return Checkpoint(self.model.cfg.as_dict(), self.vocab, state, self.model.state_dict(),
                          self.opt.state_dict(), {"torch": torch.get_rng_state(), "sampler": self.sampler.get_state()})

    def export(self, held_out_bpb: float | None = None, path: Path | None = None) -> Path:
        """The GGUF (to `path`, a temporary of a pair save, or the output), with its provenance:
        corpus, steps, save id, and the held-out score once known."""
        from genlab.train.export import export_gguf

        provenance = {"corpora": [p.name for p in self.corpora], "gutenberg": self.left_out,
                      "corpus_sha256": self.text_digest,
                      "held_out_fraction": self.settings.held_out, "steps": self.step,
                      "tokens": self.tokens_seen, "seconds": round(self.seconds, 1), "save_id": self.save_id}
        if held_out_bpb is not None:
            provenance["held_out_bits_per_byte"] = round(held_out_bpb, 5)
        return export_gguf(self.model, self.vocab, path or self.out, name=self.out.stem, provenance=provenance)

    def _say(self, message: str, bar: Progress | None) -> None:
        if bar is not None and bar.enabled:
            bar.write(message)
        else:
            self.log(message)

    def score_held_out(self, path: Path) -> float | None:
        """The held-out text's bits per byte under the exported GGUF, through llama.cpp and the
        scorer `genlab perplexity` uses."""
        from genlab.llama.generator import LlamaGenerator

        if not self.held_text:
            return None
        with LlamaGenerator(path, n_ctx=self.model.cfg.context) as gen:
            return gen.score(self.held_text, progress=self.progress).bits_per_byte
