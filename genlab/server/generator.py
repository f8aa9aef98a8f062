"""ServerGenerator: any OpenAI-compatible endpoint (llama.cpp's server, llama-cpp-python's
server, vLLM, Ollama) behind the Generator interface.

Text streams from /completions and /chat/completions; scoring reads prompt log-probabilities
(genlab.server.scoring); tokens are counted by the server's tokenizer route where it has one.
Which request fields carry which sampling setting, and how scoring and counting work against
each server: docs/servers.md.

Thread safety: one request per call, a new connection per request, and the only shared state
is discovered facts (tokenizer route, context length) cached under a lock. Several threads can
stream from one ServerGenerator at once.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any, Iterator, Sequence

from genlab import score_parts
from genlab.errors import GenlabError
from genlab.generator import (Capabilities, Generator, Message, Score, check_messages as _check_messages, new_usage,
                              reported_counts)
from genlab.sampling import Sampling, reproducible_seed
from genlab.server.client import Client, Endpoint, ServerError
from genlab.server.limits import TokenCap
from genlab.server.scoring import EchoScorer

DEFAULT_TIMEOUT = 60.0  # seconds to connect, and for each part of an answer to arrive whole
KEY_ENV = "GENLAB_API_KEY"  # the key for openai:URL backends (aliases name their own variable)
BYTES_PER_TOKEN = 4  # count_tokens estimate when the server has no tokenizer route


def parse_spec(spec: str) -> tuple[str, str | None]:
    """"http://HOST:PORT/v1#MODEL" -> (url, model or None)."""
    url, sep, model = spec.partition("#")
    if not url:
        raise GenlabError("openai backend needs a server URL: openai:http://HOST:PORT/v1#MODEL (MODEL optional)")
    return url, (model.strip() or None) if sep else None


def request_fields(s: Sampling, extra: bool = True) -> dict[str, Any]:
    """The request fields for a Sampling (the table in docs/servers.md)."""
    if not isinstance(s, Sampling):
        raise GenlabError(f"sampling must be a Sampling, got {type(s).__name__}")
    out: dict[str, Any] = {"temperature": s.temperature, "top_p": s.top_p, "max_tokens": s.max_tokens}
    if s.seed is not None:
        out["seed"] = reproducible_seed(s.seed)
    if s.stop:
        out["stop"] = list(s.stop)
    if extra:
        out.update(top_k=s.top_k, min_p=s.min_p, repeat_penalty=s.repeat_penalty,
                   repetition_penalty=s.repeat_penalty, repeat_last_n=s.repeat_last_n)
    return out


class ServerGenerator(Generator):
    """A model served over HTTP by an OpenAI-compatible server.

    url: the API base, e.g. http://127.0.0.1:8080/v1 (a bare host means /v1). model: the
    "model" field sent (None: omitted; most single-model servers then use theirs). api_key:
    sent as a Bearer token; or api_key_env, the environment variable holding it (read now, an
    error if unset; a key with a control character is refused). timeout: seconds to wait for a
    connection, and for each part of an answer (its head, a JSON body, the next event of a
    stream) to arrive whole. retries: total attempts for 429/503 answers. Nothing is sent until
    the first call. A stream stops after sampling.max_tokens pieces whatever the server does.
    """

    kind = "openai"
    # the server's chat route applies the template; scoring needs prompt logprobs; one connection
    # per call, so genlab compare may run several at once
    capabilities = Capabilities(concurrent_requests=True)

    def __init__(self, url: str, model: str | None = None, *, api_key: str | None = None,
                 api_key_env: str | None = None, name: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT, retries: int = 4, extra_sampling: bool = True):
        self.endpoint = Endpoint.parse(url)
        self.url = self.endpoint.url
        if model is not None and (not isinstance(model, str) or not model.strip()):
            raise GenlabError(f"model must be a non-empty name, got {model!r}")
        self.model = model.strip() if model else None
        self.api_key_env = api_key_env
        self.client = Client.checked(self.endpoint, who=name or self.url, timeout=timeout, retries=retries,
                                     api_key=api_key, api_key_env=api_key_env)
        self._authenticated = self.client.authenticated
        self.extra_sampling = bool(extra_sampling)
        self.name = name or f"openai:{self.url}" + (f"#{self.model}" if self.model else "")
        self._lock = threading.Lock()
        self.scorer = EchoScorer(self.client, self.endpoint.base, self.model, self.url)
        self._facts: dict[str, Any] = {}  # discovered once: "tokenizer", "context_length", "bos_count"
        # last_usage: of the last generation in any thread (informative only)

    @classmethod
    def from_spec(cls, spec: str, **options: Any) -> "ServerGenerator":
        """From the part after "openai:": URL[#MODEL]. The key comes from $GENLAB_API_KEY if set."""
        url, model = parse_spec(spec)
        if "api_key" not in options and "api_key_env" not in options and os.environ.get(KEY_ENV):
            options["api_key_env"] = KEY_ENV
        return cls(url, model, **options)

    def __repr__(self) -> str:
        return f"ServerGenerator({self.url!r}, model={self.model!r})"  # never the key

    # --- generation ------------------------------------------------------------------------------

    def stream(self, prompt: str, sampling: Sampling) -> Iterator[str]:
        """Continue `prompt` over /completions; yields text as the server streams it."""
        if not isinstance(prompt, str):
            raise GenlabError(f"prompt must be a string, got {type(prompt).__name__}")
        body = self._body({"prompt": prompt}, sampling)
        return self._pieces("/completions", body, lambda c: c.get("text"), sampling.max_tokens)

    def chat(self, messages: Sequence[Message], sampling: Sampling) -> Iterator[str]:
        """The assistant's reply over /chat/completions (the server applies its chat template)."""
        body = self._body({"messages": _check_messages(messages)}, sampling)
        return self._pieces("/chat/completions", body, lambda c: (c.get("delta") or {}).get("content"),
                            sampling.max_tokens)

    def _body(self, what: dict[str, Any], sampling: Sampling) -> dict[str, Any]:
        body = {**({"model": self.model} if self.model else {}), **what}
        body.update(request_fields(sampling, self.extra_sampling))
        body["stream"] = True
        return body

    def _pieces(self, route: str, body: dict[str, Any], text_of: Any, max_tokens: int) -> Iterator[str]:
        """The text of a stream, stopped by the client after `max_tokens` pieces (TokenCap) even
        when the server ignores max_tokens; closing the stream closes the connection."""
        received: list[str] = []
        usage = self.last_usage = new_usage()  # the pieces are counted until the server says (few do)
        cap = TokenCap(max_tokens)
        try:
            with contextlib.closing(self.client.post_stream(self.endpoint.base + route, body)) as chunks:
                for chunk in chunks:
                    if not cap.object():
                        break
                    for choice in chunk.get("choices") or []:
                        if not isinstance(choice, dict):
                            continue
                        text = text_of(choice)
                        if isinstance(text, str) and text:
                            text = cap.take(text)
                            if text is None:
                                break
                            received.append(text)
                            usage["completion_tokens"] += 1
                            yield text
                        if isinstance(choice.get("finish_reason"), str) and choice["finish_reason"]:
                            usage["finish_reason"] = choice["finish_reason"]
                    if cap.reached:
                        break
                    if isinstance(chunk.get("usage"), dict):
                        reported_counts(usage, chunk["usage"])
            if cap.reached:  # the server went on past max_tokens: genlab stopped it
                usage.update(finish_reason="length", stopped_by_client=True)
        except ServerError as exc:
            got = "".join(received)
            if got:  # say how much arrived; the caller has it already
                raise ServerError(f"{exc} (after {len(got)} characters of text)", exc.status, got) from None
            raise

    # --- scoring ------------------------------------------------------------------------------

    def score(self, text: str, *, tokenized: bool = False) -> Score:
        """-sum ln p of the tokens of `text` from the server's prompt log-probabilities (see the
        genlab.server.scoring for the first token). The server tokenizes `text` (`tokenized` is
        accepted for the contract; there is no pre-tokenized input). Score.parts: each token's
        cost goes to the paragraph it starts in, by the answers' text_offset; a server whose
        answers have no usable offsets gives no parts (no interval over paragraphs)."""
        if not isinstance(text, str):
            raise GenlabError(f"text must be a string, got {type(text).__name__}")
        counts = dict(bytes=len(text.encode("utf-8", errors="surrogatepass")), words=len(text.split()))
        if not text:
            return Score(nats=0.0, tokens=0, **counts)
        echoed = self.scorer.score(text)
        parts: tuple[tuple[float, int], ...] = ()
        if echoed.offsets is not None and len(echoed.offsets) == len(echoed.costs):
            starts = score_parts.paragraph_starts(text)
            parts = score_parts.parts_of_tokens(echoed.offsets, echoed.costs, starts,
                                                score_parts.byte_sizes(text, starts))
        return Score(nats=echoed.nats, tokens=echoed.count, **counts, parts=parts)

    # --- tokens ---------------------------------------------------------------------------------

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` by the server's tokenizer (no BOS), or an estimate (docs/servers.md)."""
        if not isinstance(text, str):
            raise GenlabError(f"text must be a string, got {type(text).__name__}")
        route = self._facts.get("tokenizer")
        if route is None:
            for candidate in ("extras", "tokenize"):
                try:
                    n = self._count(candidate, text)
                except ServerError as exc:
                    if exc.status in (404, 405, 501):
                        continue  # no such route on this server
                    raise
                with self._lock:
                    self._facts["tokenizer"] = candidate
                return n
            with self._lock:
                self._facts["tokenizer"] = route = "estimate"
        if route == "estimate":
            return -(-len(text.encode("utf-8", errors="surrogatepass")) // BYTES_PER_TOKEN)
        return self._count(route, text)

    def _count(self, route: str, text: str) -> int:
        model = {"model": self.model} if self.model else {}
        if route == "extras":  # llama-cpp-python: tokenizes with BOS
            def count(t: str) -> int:
                data = self.client.post_json(self.endpoint.root + "/extras/tokenize/count", {**model, "input": t})
                return _int_field(data, "count", self.url)

            bos = self._facts.get("bos_count")
            if bos is None:
                bos = count("")
                with self._lock:
                    self._facts["bos_count"] = bos
            return max(0, count(text) - bos) if text else 0
        data = self.client.post_json(self.endpoint.root + "/tokenize",
                                     {**model, "content": text, "prompt": text, "add_special": False,
                                      "add_special_tokens": False})
        if isinstance(data, dict) and isinstance(data.get("count"), int):
            return data["count"]
        if isinstance(data, dict) and isinstance(data.get("tokens"), list):
            return len(data["tokens"])
        raise ServerError(f"{self.url} answered /tokenize without a token count")

    # --- reporting -----------------------------------------------------------------------------

    @property
    def context_length(self) -> int | None:
        """The server's context in tokens where it says (vLLM's max_model_len, llama.cpp's
        /props n_ctx), else None. Asked once."""
        if "context_length" not in self._facts:
            n = self._discover_context()
            with self._lock:
                self._facts["context_length"] = n
        return self._facts["context_length"]

    def _discover_context(self) -> int | None:
        try:
            for entry in self._models():
                if not self.model or entry.get("id") == self.model:
                    for key in ("max_model_len", "context_length", "n_ctx"):
                        if isinstance(entry.get(key), int) and entry[key] > 0:
                            return int(entry[key])
        except ServerError:
            return None
        try:
            props = self.client.get_json(self.endpoint.root + "/props")
        except ServerError:
            return None
        if isinstance(props, dict):
            settings = props.get("default_generation_settings")
            for src in (settings, props):
                if isinstance(src, dict) and isinstance(src.get("n_ctx"), int) and src["n_ctx"] > 0:
                    return int(src["n_ctx"])
        return None

    def served_models(self) -> list[str]:
        """The model names the server's /models route lists (ServerError when it cannot say)."""
        return [str(m.get("id")) for m in self._models()]

    def _models(self) -> list[dict[str, Any]]:
        data = self.client.get_json(self.endpoint.base + "/models")
        entries = data.get("data") if isinstance(data, dict) else data
        return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []

    def info(self) -> dict[str, object]:
        """What a report needs: where, which model, what /models says (never the API key)."""
        data: dict[str, object] = {"kind": self.kind, "name": self.name, "url": self.url, "model": self.model,
                                   "api_key_env": self.api_key_env, "authenticated": self._authenticated,
                                   "timeout": self.client.timeout, "extra_sampling": self.extra_sampling}
        try:
            models = self._models()
            data["models"] = [m.get("id") for m in models]
            data["server_models"] = models
        except ServerError as exc:
            data["models"] = None
            data["server_error"] = str(exc)
        data["context_length"] = self.context_length
        data["tokenizer"] = self._facts.get("tokenizer")
        return data


def _int_field(data: Any, key: str, url: str) -> int:
    if isinstance(data, dict) and isinstance(data.get(key), int):
        return int(data[key])
    raise ServerError(f"{url} answered without {key!r}")
