"""What a comparison runs: its settings, the grid of sampling settings a sweep makes, and the
jobs (one per backend, setting, prompt and sample), each with its seed."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from genlab.errors import GenlabError
from genlab.folders import checked_path
from genlab.eval.prompts import BUILT_IN, Prompt
from genlab.sampling import Sampling

SWEEPABLE = ("temperature", "top_k", "top_p", "min_p", "repeat_penalty")
MAX_SAMPLES = 100_000  # samples in one comparison (backends x settings x prompts x --samples)


@dataclass(frozen=True)
class CompareSettings:
    backends: tuple[str, ...]
    prompts: tuple[Prompt, ...] = BUILT_IN
    samples: int = 3
    seed: int = 0
    sampling: Sampling = field(default_factory=lambda: Sampling(max_tokens=120))
    sweep: tuple[str, tuple[float, ...]] | None = None
    eval_text: Path | None = None
    corpus: Path | None = None  # the training text: novelty, the human reference, chains by order
    orders: tuple[int, ...] = ()
    encoding: str | None = None  # of the eval text and the corpus
    bootstrap: int = 1000  # replicates for the 95% intervals (genlab.eval.bootstrap); 0: none
    keep_gutenberg: bool = False  # read the eval text and corpus whole, Project Gutenberg's licence too

    def __post_init__(self) -> None:
        """Every setting is checked here, so a comparison that cannot run is refused before its
        run folder is made (a folder made first would refuse the corrected command)."""
        if not isinstance(self.samples, int) or self.samples < 1:
            raise GenlabError(f"--samples must be a whole number of at least 1, got {self.samples!r}")
        from genlab.eval.bootstrap import MAX_REPLICATES

        if isinstance(self.bootstrap, bool) or not isinstance(self.bootstrap, int) \
                or not 0 <= self.bootstrap <= MAX_REPLICATES:
            raise GenlabError(f"--bootstrap must be a whole number from 0 to {MAX_REPLICATES:,}, "
                              f"got {self.bootstrap!r}")
        grid = settings_grid(self)
        total = len(self.backends) * len(grid) * len(self.prompts) * self.samples
        if total > MAX_SAMPLES:
            raise GenlabError(f"this comparison would make {total:,} samples; genlab makes at most {MAX_SAMPLES:,} "
                              "in one run (fewer --samples, prompts, swept values or backends)")
        for name in (*self.backends, self.eval_text, self.corpus):
            if name is not None:
                checked_path(name)  # the run's files record them

    def identity(self) -> dict[str, object]:
        """What must match for a run folder to be resumed. --keep-gutenberg changes the text the
        saved scores were made on, so it is part of it (named only when given, so that folders
        made before the flag existed still resume)."""
        s = asdict(self.sampling)
        s.pop("seed", None)
        ident = {"backends": list(self.backends), "prompts": [asdict(p) for p in self.prompts],
                 "samples": self.samples, "seed": self.seed, "sampling": s,
                 "sweep": [self.sweep[0], list(self.sweep[1])] if self.sweep else None}
        if self.keep_gutenberg:
            ident["keep_gutenberg"] = True
        return ident


def parse_sweep(spec: str) -> tuple[str, tuple[float, ...]]:
    """"temperature=0.5,1.0,1.5" -> ("temperature", (0.5, 1.0, 1.5))."""
    name, sep, values = spec.partition("=")
    name = name.strip().replace("-", "_")
    if not sep or name not in SWEEPABLE:
        raise GenlabError(f"--sweep takes NAME=V1,V2,... with NAME one of {', '.join(SWEEPABLE)}; got {spec!r}")
    try:
        numbers = tuple(float(v) for v in values.split(",") if v.strip())
    except ValueError:
        raise GenlabError(f"--sweep {name}: values must be numbers, got {values!r}") from None
    if len(numbers) < 2:
        raise GenlabError(f"--sweep {name}: give at least two values")
    twice = sorted({v for v in numbers if numbers.count(v) > 1})
    if twice:
        raise GenlabError(f"--sweep {name}: {twice[0]:g} is given twice (each value is one setting)")
    if name == "top_k" and not all(v.is_integer() for v in numbers):
        raise GenlabError(f"--sweep top_k: values must be whole numbers, got {values!r}")
    return name, numbers


def settings_grid(s: CompareSettings) -> list[Sampling]:
    """The sampling settings of the run, one per swept value; a value out of its range is one
    error naming it (checked when the settings are made, before anything is written)."""
    if not s.sweep:
        return [s.sampling]
    name, values = s.sweep
    grid = []
    for v in values:
        try:
            grid.append(replace(s.sampling, **{name: int(v) if name == "top_k" else v}))
        except GenlabError as exc:
            raise GenlabError(f"--sweep {name}={v:g}: {exc}") from None
    return grid



def setting_label(s: CompareSettings, sampling: Sampling) -> str:
    name = s.sweep[0] if s.sweep else "temperature"
    return f"{name}={getattr(sampling, name):g}"


def sampling_dict(s: Sampling) -> dict[str, object]:
    """The sampling settings as JSON takes them."""
    d = asdict(s)
    d["stop"] = list(d["stop"])
    return d


@dataclass(frozen=True)
class Job:
    backend: str
    prompt_index: int
    prompt: Prompt
    sample: int
    sampling: Sampling
    label: str

    @property
    def key(self) -> tuple[str, str, str, int]:
        return (self.backend, self.label, self.prompt.id, self.sample)

    @property
    def seed(self) -> int:
        return self.sampling.seed  # type: ignore[return-value]


def jobs(s: CompareSettings) -> list[Job]:
    """Backend-major, so each model is loaded once; the same seed for the same prompt and
    sample number on every backend and setting."""
    out = []
    for backend in s.backends:
        for sampling in settings_grid(s):
            label = setting_label(s, sampling)
            for pi, prompt in enumerate(s.prompts):
                for i in range(s.samples):
                    seed = s.seed * 1_000_003 + pi * 1000 + i
                    out.append(Job(backend, pi, prompt, i, replace(sampling, seed=seed), label))
    return out
