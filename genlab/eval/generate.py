"""Making a comparison's samples: every missing sample of every backend (and its eval-text
score), appended to the run folder as each finishes, each backend loaded once and one at a time.
With chat prompts, every backend is checked for chat before the first sample: from what is known
without loading it (a GGUF header), else by loading it and keeping it until its turn.

A backend that declares `capabilities.concurrent_requests` (a server) gets several requests in
flight at once; an in-process model makes one sample at a time.
"""

from __future__ import annotations

import itertools
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from genlab.errors import GenlabError
from genlab.eval.plan import CompareSettings, Job, jobs, sampling_dict
from genlab.eval.runfolder import SAMPLES, SCORES, append_jsonl, read_jsonl
from genlab.generator import Generator

Loader = Callable[[str], Generator]
ChatKnown = Callable[[str], "bool | None"]  # can backend NAME chat, known before loading it? None: not known


class _Checked:
    """A loader that hands over the models the chat check loaded (each once), and loads any
    other backend as `load` does; `close()` frees the models never handed over."""

    def __init__(self, load: Loader):
        self._load = load
        self._loaded: dict[str, Generator] = {}

    def keep(self, name: str) -> Generator:
        model = self._loaded[name] = self._load(name)
        return model

    def __call__(self, name: str) -> Generator:
        if name in self._loaded:
            return self._loaded.pop(name)
        return self._load(name)

    def holds(self) -> bool:
        return bool(self._loaded)

    def close(self) -> None:
        while self._loaded:
            self._loaded.popitem()[1].close()


def check_chat(s: CompareSettings, load: Loader, known: ChatKnown | None = None) -> Loader:
    """With chat prompts, every backend must be able to chat: checked before any sample is made,
    so a run never stops half-way for it. Returns the loader for the run: `load` itself when no
    backend had to be loaded for the check, else one that hands over the models it loaded."""
    return _check(s, load, known) or load


@contextmanager
def chat_checked(s: CompareSettings, load: Loader, known: ChatKnown | None = None) -> Iterator[Loader]:
    """`check_chat` for one run: a backend loaded for the check stays loaded until the run
    reaches it; those the run never asks for are closed on leaving."""
    checked = _check(s, load, known)
    if checked is None:
        yield load
        return
    try:
        yield checked
    finally:
        checked.close()


def _check(s: CompareSettings, load: Loader, known: ChatKnown | None) -> _Checked | None:
    if not any(p.is_chat for p in s.prompts):
        return None
    checked = _Checked(load)
    try:
        for backend in s.backends:
            can = known(backend) if known is not None else None
            if can is None:
                can = checked.keep(backend).capabilities.chat
            if not can:
                raise GenlabError(f"{backend} has no chat template, so it cannot answer the chat prompts: choose "
                                  "a chat format with --chat-format (chatml, llama-3, ...), or give --prompts a "
                                  "file without chat prompts")
    except BaseException:
        checked.close()
        raise
    return checked if checked.holds() else None


def generate_one(gen: Generator, job: Job) -> tuple[str, int, float]:
    """(text, its length in the model's tokens, seconds) of one job."""
    started = time.perf_counter()
    if job.prompt.is_chat:
        text = "".join(gen.chat([{"role": "user", "content": job.prompt.text}], job.sampling))
    else:
        text = "".join(gen.stream(job.prompt.text, job.sampling))
    seconds = time.perf_counter() - started
    return text, gen.count_tokens(text) if text else 0, seconds


def run_samples(s: CompareSettings, out: Path, load: Loader,
                advance: Callable[[int], None] = lambda n: None,
                eval_text: str | None = None, concurrency: int = 1,
                log: Callable[[str], None] = lambda message: None) -> None:
    """Make every missing sample (and each backend's eval-text score), appending as it goes.

    `concurrency`: requests in flight at once for backends that declare concurrent requests."""
    from genlab.eval.perplexity import perplexity

    done = {(r["backend"], r["setting"], r["prompt_id"], r["sample"]) for r in read_jsonl(out / SAMPLES)}
    scored = {r["backend"] for r in read_jsonl(out / SCORES)}
    todo = [j for j in jobs(s) if j.key not in done]
    advance(len(jobs(s)) - len(todo))
    for backend in s.backends:
        mine = [j for j in todo if j.backend == backend]
        need_score = eval_text is not None and backend not in scored
        if not mine and not need_score:
            continue
        with load(backend) as gen:
            width = concurrency if gen.capabilities.concurrent_requests else 1
            for job, (text, tokens, seconds) in _generate_all(gen, mine, width):
                append_jsonl(out / SAMPLES, {
                    "backend": backend, "setting": job.label, "prompt_id": job.prompt.id,
                    "kind": job.prompt.kind, "prompt": job.prompt.text, "sample": job.sample,
                    "seed": job.seed, "settings": sampling_dict(job.sampling), "text": text,
                    "tokens": tokens, "seconds": round(seconds, 4)})
                advance(1)
            if need_score and gen.capabilities.score:
                row = perplexity(gen, eval_text, name=backend)
                append_jsonl(out / SCORES, row.record())
            elif need_score:
                log(f"{backend} cannot score text: no bits per byte for it")


def _generate_all(gen: Generator, todo: list[Job], width: int) -> Iterator[tuple[Job, tuple[str, int, float]]]:
    """(job, result) as each sample finishes; with width > 1, up to `width` at once. On an
    error or Ctrl-C, samples already finished have been yielded (and saved) first."""
    if width <= 1:
        for job in todo:
            yield job, generate_one(gen, job)
        return
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    pending = iter(todo)
    with ThreadPoolExecutor(max_workers=width) as pool:
        running = {pool.submit(generate_one, gen, job): job for job in itertools.islice(pending, width)}
        try:
            while running:
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    job = running.pop(future)
                    yield job, future.result()
                    nxt = next(pending, None)
                    if nxt is not None:
                        running[pool.submit(generate_one, gen, nxt)] = nxt
        finally:
            for future in running:
                future.cancel()
