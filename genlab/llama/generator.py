"""LlamaGenerator: a GGUF model run in process by llama.cpp (llama-cpp-python) behind the Generator interface.

It loads a checked GGUF file, tokenizes, streams text from its own loop over llama.cpp's sampler
(exactly `max_tokens` tokens at most, whole characters, stop strings never partly shown) and
chats with the model's template, keeping the KV cache between turns. Why each of these is done
the way it is: docs/llama.md.
"""

from __future__ import annotations

import codecs
import os
import secrets
import sys
from typing import Any, Iterator, Sequence

import numpy as np

from genlab import score_parts
from genlab.errors import GenlabError
from genlab.generator import Capabilities, Generator, Message, Score, check_messages as _check_messages, new_usage
from genlab.llama import aborts, chat_prompt, scoring
from genlab.llama.engine import engine_class, llama_cpp
from genlab.llama.context import choose_context
from genlab.llama.gguf_header import inspect_gguf
from genlab.llama.quiet import NULL_TEXT, load, quiet
from genlab.llama.vocab import Vocab, whole_text
from genlab.sampling import Sampling, reproducible_seed
from genlab.stops import StopFilter

KV_CACHE_TYPES = {"f32": 0, "f16": 1}  # GGML type ids of the KV cache
MAX_THREADS = 512  # GGML_MAX_N_THREADS: llama.cpp crashed with 100,000 (an alias may ask for that)


class LlamaGenerator(Generator):
    """A GGUF model behind the Generator interface.

    path: the .gguf file. n_ctx: context length in tokens (None: the model's training context,
    at most 4096; any context whose KV cache does not fit in memory is refused, see
    genlab.llama.context). n_threads / n_gpu_layers: passed to llama.cpp. chat_format: a
    llama-cpp-python chat format name ("chatml", "llama-2", ...) overriding the GGUF's own
    template. verbose: let llama.cpp write its log to stderr. f32_cache: keep the KV cache in
    f32 instead of f16 (exact scoring; f32 doubles the cache's memory, f16 moves logits by
    ~1e-3 of their scale). score_stride: default stride of `score` windows (None: n_ctx // 2).
    prompt_cache: None (default) reuses the KV cache's common prefix in chat turns only; True
    in plain completions too; False never (every call evaluates its whole prompt).

    llama.cpp's context is single-use: run one stream, chat or score at a time (an interleaved
    stream raises GenlabError instead of continuing from the wrong state), and use one
    generator per thread. n_ctx is rounded up to a multiple of 256 (docs/llama.md);
    `context_length` is the size in use. `last_usage` is the last generation's Usage, with
    `cached_tokens`: the prompt tokens the KV cache held already.
    """

    kind = "llama"

    @property
    def capabilities(self) -> Capabilities:
        """A model chats when it has a chat template or a chat format was chosen; its chat
        prompt is then known to the token, and a reply can be continued."""
        can = self.chat_format is not None or self.header.chat_template is not None
        return Capabilities(chat=can, persona_prompts=True, score=True, exact_chat_tokens=can, continue_chat=can)

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        n_ctx: int | None = None,
        n_threads: int | None = None,
        n_gpu_layers: int = 0,
        chat_format: str | None = None,
        verbose: bool = False,
        name: str | None = None,
        f32_cache: bool = False,
        score_stride: int | None = None,
        prompt_cache: bool | None = None,
    ):
        self.header = inspect_gguf(path)
        aborts.check(self.header)  # what llama.cpp would crash on instead of reporting
        self.path = self.header.path
        self.name = name or f"llama:{self.path.stem}"
        self.verbose = bool(verbose)
        if prompt_cache is not None and not isinstance(prompt_cache, bool):
            raise GenlabError(f"prompt_cache must be True, False or None, got {prompt_cache!r}")
        self.prompt_cache = prompt_cache
        if n_threads is not None and (isinstance(n_threads, bool) or not isinstance(n_threads, int)
                                      or not 1 <= n_threads <= MAX_THREADS):
            raise GenlabError(f"n_threads must be a whole number from 1 to {MAX_THREADS}, got {n_threads!r}")
        if isinstance(n_gpu_layers, bool) or not isinstance(n_gpu_layers, int) or not -1 <= n_gpu_layers < 2**31:
            raise GenlabError(f"n_gpu_layers must be a whole number from -1 (all) to {2**31 - 1}, got {n_gpu_layers!r}")
        self._lib = llama_cpp()
        on_gpu = n_gpu_layers != 0 and bool(self._lib.llama_supports_gpu_offload())
        n_ctx = choose_context(self.header, n_ctx, kv_type="f32" if f32_cache else "f16", name=self.name,
                               check_memory=not on_gpu)
        self.chat_format = chat_prompt.check_format(chat_format)

        kwargs: dict[str, Any] = dict(
            model_path=str(self.path), n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads,
            n_gpu_layers=n_gpu_layers, chat_format=chat_format, logits_all=False, last_n_tokens_size=64,
        )
        if f32_cache:
            kwargs.update(type_k=KV_CACHE_TYPES["f32"], type_v=KV_CACHE_TYPES["f32"])
        self._llm = load(engine_class(), kwargs, path=self.path, verbose=self.verbose)
        self.vocab = Vocab(self._llm)
        # the token a text starts from when scoring, or generating from an empty prompt
        self.prefix_token = self.vocab.prefix_token
        self.f32_cache = bool(f32_cache)
        self.score_stride = self._check_stride(score_stride) if score_stride is not None else None
        self._sha256: str | None = None
        self._turn = 0  # bumped by every generation and score: a stale stream must not resume

    def close(self) -> None:
        llm, self._llm = getattr(self, "_llm", None), None
        if llm is not None:
            with quiet(self.verbose):
                llm.close()

    @property
    def llm(self) -> Any:
        """The underlying llama_cpp.Llama (for what this class does not cover)."""
        if self._llm is None:
            raise GenlabError(f"{self.name} has been closed")
        return self._llm

    @property
    def context_length(self) -> int:
        """Tokens of context in use: llama.cpp's and llama-cpp-python's sizes (they agree, as
        n_ctx is rounded up to a multiple of 256 before loading)."""
        llm = self.llm
        return min(int(llm.n_ctx()), len(llm.input_ids))

    # --- tokens -------------------------------------------------------------------------------

    def tokenize(self, text: str, *, add_bos: bool = False, special: bool = False) -> list[int]:
        """Token ids of `text`; BOS only when asked and the model uses one."""
        if not isinstance(text, str):
            raise GenlabError(f"text must be a string, got {type(text).__name__}")
        data = text.encode("utf-8", errors="surrogatepass")
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise GenlabError("text contains unpaired surrogates: it is not valid Unicode") from None
        if not data:
            return [self.vocab.bos] if add_bos and self.vocab.adds_bos else []
        with quiet(self.verbose):
            return list(self.llm.tokenize(data, add_bos=add_bos, special=special))

    def detokenize(self, tokens: Sequence[int], *, special: bool = False) -> str:
        """Text of token ids (invalid byte sequences dropped)."""
        return self.vocab.detokenize(tokens, special=special)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text))

    # --- generation -----------------------------------------------------------------------------

    def stream(self, prompt: str, sampling: Sampling) -> Iterator[str]:
        """Continue `prompt`; yields text pieces as the tokens are produced."""
        tokens = self.tokenize(prompt, add_bos=True)
        if not tokens:  # an empty prompt on a model that adds no BOS: start where scoring starts
            if self.prefix_token is None:
                raise GenlabError(f"{self.name} needs a non-empty prompt (it has no BOS or end-of-text token)")
            tokens = [self.prefix_token]
        self._check_fits(tokens, "prompt")
        # An empty prompt: the first piece's SentencePiece space is not text.
        lstrip = self.vocab.spm_space and prompt == ""
        return self._generate(tokens, sampling, sampling.stop, lstrip, reuse=self.prompt_cache is True)

    def chat(self, messages: Sequence[Message], sampling: Sampling) -> Iterator[str]:
        """The assistant's reply to `messages`, formatted with the model's chat template."""
        tokens, stops = chat_prompt.prompt_and_stops(self, messages)
        self._check_fits(tokens, "conversation")
        return self._generate(tokens, sampling, tuple(sampling.stop) + tuple(stops), self.vocab.spm_space,
                              reuse=self.prompt_cache is not False)

    def continue_chat(self, messages: Sequence[Message], sampling: Sampling) -> Iterator[str]:
        """More of the assistant's last message: the earlier messages are rendered with the
        chat template (ending in the assistant's generation prompt), the partial reply is
        appended as plain text, and the model completes it with the chat's stop strings."""
        msgs = _check_messages(messages)
        if msgs[-1]["role"] != "assistant":
            raise GenlabError("only an assistant message can be continued")
        tokens = self.continue_prompt_tokens(msgs)
        self._check_fits(tokens, "conversation")
        _, stops = chat_prompt.prompt_and_stops(self, msgs[:-1])
        return self._generate(tokens, sampling, tuple(sampling.stop) + stops, False,
                              reuse=self.prompt_cache is not False)

    def continue_prompt_tokens(self, messages: Sequence[Message]) -> list[int]:
        """The prompt `continue_chat` sends: template up to the reply, then the reply so far."""
        return chat_prompt.continue_tokens(self, messages)

    def format_chat(self, messages: Sequence[Message]) -> str:
        """The prompt text `chat` sends to the model for `messages` (the rendered template)."""
        return chat_prompt.rendered_text(self, messages)

    def chat_prompt_tokens(self, messages: Sequence[Message]) -> list[int]:
        """The exact prompt tokens `chat` evaluates for `messages`."""
        return chat_prompt.prompt_and_stops(self, messages)[0]

    def _check_fits(self, tokens: Sequence[int], what: str) -> None:
        n_ctx = self.context_length
        if len(tokens) >= n_ctx:
            raise GenlabError(
                f"the {what} is {len(tokens)} tokens but {self.name} has a context of {n_ctx} "
                f"(at most {n_ctx - 1} prompt tokens leave room for a reply); shorten it or load with a larger n_ctx")

    def _generate(self, tokens: list[int], sampling: Sampling, stops: Sequence[str],
                  lstrip: bool, reuse: bool) -> Iterator[str]:
        if not isinstance(sampling, Sampling):
            raise GenlabError(f"sampling must be a Sampling, got {type(sampling).__name__}")
        budget = min(sampling.max_tokens, self.context_length - len(tokens))
        seed = reproducible_seed(sampling.seed if sampling.seed is not None else secrets.randbits(32))
        return self._run(list(tokens), sampling, budget, seed, StopFilter(stops), lstrip, reuse)

    def cached_prefix(self, tokens: Sequence[int]) -> int:
        """How many leading `tokens` the KV cache holds from the previous call and a generation
        would not evaluate again (llama-cpp-python's `Llama.generate` rule: the longest common
        prefix with the evaluated tokens, less one when it covers the whole prompt, since the
        last prompt token must be evaluated for its logits, unless the cache holds exactly the
        prompt and its logits are current)."""
        llm = self.llm
        n = int(llm.n_tokens)
        if n == 0 or not tokens:
            return 0
        held = llm.input_ids[:n]
        common = 0
        for a, b in zip(held, tokens):
            if a != b:
                break
            common += 1
        if common == len(tokens):
            return common if n == len(tokens) and not getattr(llm, "_requires_eval", True) else common - 1
        return common

    def _run(self, tokens: list[int], s: Sampling, budget: int, seed: int,
             stops: StopFilter, lstrip: bool, reuse: bool) -> Iterator[str]:
        llm = self.llm
        self._turn += 1
        turn = self._turn
        usage = self.last_usage = new_usage(len(tokens))
        usage["cached_tokens"] = self.cached_prefix(tokens) if reuse else 0  # type: ignore[typeddict-unknown-key]
        vocab = self.vocab
        eog, is_eog = vocab.eog, vocab.is_eog  # the dict first: a lookup is cheaper than a call
        pieces, piece_of = vocab.pieces, vocab.piece
        texts = vocab.texts  # token -> its text when its bytes are whole UTF-8 (else None)
        verbose = self.verbose
        stopping = bool(stops.stops)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="ignore")
        partial = False  # the decoder holds the first bytes of a character
        produced = 0
        # Set-up and the first step (it evaluates the prompt) are where llama.cpp may write to
        # fd 2. Later steps only log through llama-cpp-python's callback, which prints to
        # sys.stderr: swapping that object costs nanoseconds, a fd redirect ~15 us a token.
        with quiet(self.verbose):
            if not reuse:
                llm.reset()  # the next eval starts at position 0: the cache is cleared
            llm.last_n_tokens_size = s.repeat_last_n  # read by Llama._init_sampler (penalty_last_n)
            llm.set_seed(seed)
            gen = llm.generate(
                tokens, top_k=s.top_k, top_p=s.top_p, min_p=s.min_p, typical_p=1.0,
                temp=s.temperature, repeat_penalty=s.repeat_penalty,
                frequency_penalty=0.0, presence_penalty=0.0, reset=True,
            )
            token = next(gen, None) if budget > 0 else None
        try:
            while budget > 0:
                if token is None or (eog[token] if token in eog else is_eog(token)):
                    usage["finish_reason"] = "stop"
                    break
                produced += 1
                text = None if partial else texts.get(token)
                if text is None:  # not seen yet, not whole UTF-8 on its own, or mid-character
                    piece = pieces.get(token) or piece_of(token)
                    if not partial and token not in texts:
                        texts[token] = whole_text(piece)
                        text = texts[token]
                    if text is None:
                        text = decoder.decode(piece)
                        partial = bool(decoder.getstate()[0])
                if text:  # else part of a multi-byte character, or a control token
                    if lstrip:
                        lstrip = False
                        text = text[1:] if text.startswith(" ") else text
                    if not stopping:
                        yield text
                    else:
                        out = stops.feed(text)
                        if out:
                            yield out
                        if stops.stopped:
                            usage["finish_reason"] = "stop"
                            return
                if produced >= budget:
                    break
                if self._turn != turn:  # the Llama's state now belongs to a later call
                    raise GenlabError(
                        f"{self.name} started another generation or score before this stream finished; "
                        "a model runs one stream at a time")
                if verbose:
                    token = next(gen, None)
                else:
                    saved, sys.stderr = sys.stderr, NULL_TEXT
                    try:
                        token = next(gen, None)
                    finally:
                        sys.stderr = saved
            if usage["finish_reason"] is None:
                usage["finish_reason"] = "length"
            out = stops.feed(decoder.decode(b"", final=True)) + stops.flush()  # a partial character is dropped
            if out:
                yield out
        finally:
            usage["completion_tokens"] = produced
            saved, sys.stderr = sys.stderr, NULL_TEXT  # closing only unwinds Python frames
            try:
                gen.close()
            finally:
                sys.stderr = saved

    # --- scoring ---------------------------------------------------------------------------------

    def _score_width(self) -> int:
        """Text tokens a scoring window holds: the context less the prefix token."""
        return self.context_length - (1 if self.prefix_token is not None else 0)

    def _check_stride(self, stride: int) -> int:
        return scoring.check_stride(stride, self._score_width())

    def score_windows(self, n_tokens: int, stride: int | None = None) -> list[tuple[int, int, int]]:
        """The (start, first_scored, end) text-token ranges `score` evaluates for `n_tokens` tokens.

        Each window is [prefix_token] + text[start:end] (at most n_ctx tokens) and scores the
        tokens [first_scored, end), every token exactly once. `prefix_token` is the model's BOS
        token when it has one, whether or not its tokenizer adds it by default (SmolLM2's does
        not), else its end-of-text token, so the first token is charged like every other. Later
        windows advance by `stride` tokens (default n_ctx // 2), so each token they score sees at
        least n_ctx - 1 - stride earlier tokens (see genlab.llama.scoring.windows).
        """
        stride = self._check_stride(stride if stride is not None else (self.score_stride or self.context_length // 2))
        return scoring.windows(n_tokens, self._score_width(), stride, self.prefix_token is not None)

    def score(self, text: str, *, tokenized: bool = False, stride: int | None = None,
              progress: bool | None = None) -> Score:
        """Total negative log-probability (nats) of every token of `text`, with the counts.

        `text` is always tokenized by the model (`tokenized` is accepted for the contract; a
        llama model has no pre-tokenized input). The first token is scored given
        `prefix_token`, each later one given the tokens before it; `Score.tokens` counts them
        all. Texts longer than the context are scored in overlapping windows (`score_windows`).
        Exact with f32_cache=True (docs/llama.md). Score.parts: each token's nats go to the
        paragraph its first byte lies in (the tokens' own bytes give where each starts; empty
        when they do not spell the text, as with a tokenizer that normalises it).
        """
        if not isinstance(text, str):
            raise GenlabError(f"text must be a string, got {type(text).__name__}")
        tokens = self.tokenize(text)
        windows = self.score_windows(len(tokens), stride)
        self._turn += 1  # an unfinished stream cannot continue after this
        self.llm.reset()  # and the next chat turn reuses nothing: the windows overwrite the KV cache
        each = np.zeros(len(tokens), dtype=np.float64)  # -ln p of each token (0: not scored)
        nats = 0.0
        scored = 0
        if windows:
            from genlab.progress import progress as bar

            with bar(total=len(tokens), desc=f"scoring with {self.name}", unit="tok", enabled=progress) as advance:
                for start, lo, end in windows:
                    each[lo:end] = self._window_nats(tokens, start, lo, end)
                    nats += float(each[lo:end].sum())
                    scored += end - lo
                    advance(end - lo)
        return Score(nats=float(nats), tokens=scored, bytes=len(text.encode("utf-8")), words=len(text.split()),
                     parts=self._parts(text, tokens, each))

    def _parts(self, text: str, tokens: list[int], each: np.ndarray) -> tuple[tuple[float, int], ...]:
        """Score.parts from each token's nats (see `score`)."""
        pieces = [self.vocab.piece(t) for t in tokens]
        data = text.encode("utf-8")
        skip = 0
        joined = b"".join(pieces)
        if joined != data:
            if not (self.vocab.spm_space and joined[:1] == b" " and joined[1:] == data):
                return ()
            skip = 1  # the space a SentencePiece tokenizer puts before the text
        lengths = np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces))
        offsets = np.maximum(np.cumsum(lengths) - lengths - skip, 0)
        starts = score_parts.paragraph_starts(text)
        return score_parts.parts_of_tokens(offsets, each, score_parts.byte_starts(text, starts),
                                           score_parts.byte_sizes(text, starts))

    def _score_window(self, tokens: list[int], start: int, lo: int, end: int) -> float:
        """-sum ln p(tokens[i] | window prefix) for i in [lo, end), the window being
        [prefix_token] + tokens[start:end]."""
        return float(self._window_nats(tokens, start, lo, end).sum())

    def _window_nats(self, tokens: list[int], start: int, lo: int, end: int) -> np.ndarray:
        """-ln p of each token i in [lo, end) given the window [prefix_token] + tokens[start:i]."""
        return scoring.score_window(self.llm, tokens, start, lo, end, prefix=self.prefix_token,
                                    n_vocab=self.vocab.size, verbose=self.verbose)

    # --- reporting ---------------------------------------------------------------------------

    def sha256(self) -> str:
        """SHA-256 of the model file (computed once)."""
        if self._sha256 is None:
            from genlab.corpus import sha256_file

            self._sha256 = sha256_file(self.path)
        return self._sha256

    def info(self, *, sha256: bool = True) -> dict[str, object]:
        """What a report needs. `sha256=False` skips hashing the file (seconds for a big model)."""
        h = self.header
        llm = self.llm
        return {
            "kind": self.kind, "name": self.name, "path": str(self.path), "size_bytes": h.size,
            "sha256": self.sha256() if sha256 else self._sha256,
            "architecture": h.architecture, "model_name": h.name, "parameters": h.parameters,
            "file_type": h.file_type, "gguf_version": h.version,
            "n_ctx": self.context_length, "n_ctx_train": h.context_length, "n_vocab": self.vocab.size,
            "bos": self.vocab.adds_bos, "prefix_token": self.prefix_token,
            "chat_template": h.chat_template is not None,
            "chat_format": self.chat_format or ("gguf template" if h.chat_template is not None else None),
            "f32_cache": self.f32_cache, "kv_cache": "f32" if self.f32_cache else "f16",
            "n_threads": int(llm.n_threads), "n_gpu_layers": int(llm.model_params.n_gpu_layers),
            "llama_cpp_python": getattr(self._lib, "__version__", None),
        }

    def __repr__(self) -> str:
        return f"LlamaGenerator({str(self.path)!r}, n_ctx={self.context_length if self._llm else None})"
