"""OllamaGenerator: a model on a running Ollama server, through Ollama's native API.

Raw /api/generate for completions (no template around the text), /api/chat for chat, Ollama's
"options" for every sampling setting; no scoring (Ollama gives log-probabilities only for the
tokens it generates). What is sent for each call and why: docs/servers.md.

Thread safety: one connection per request and only discovered facts shared (under a lock), so
several threads may stream from one OllamaGenerator (Ollama queues or batches them).
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

from genlab.errors import GenlabError
from genlab.generator import (Capabilities, Generator, Message, Score, check_messages as _check_messages, new_usage,
                              reported_counts)
from genlab.ollama.api import (DEFAULT_NUM_CTX, HOST_ENV, adds_bos, check_model, not_found_model, parse_host,
                               parse_parameters, parse_spec, request_options, trained_context)
from genlab.sampling import Sampling
from genlab.server.client import Client, ServerError
from genlab.server.limits import TokenCap

# Seconds to wait for a connection, and for each part of an answer (its head, a JSON body, the
# next object of a stream) to arrive whole. Ollama loads a model on its first request and
# answers nothing until it is loaded (its own load timeout is 5 minutes).
DEFAULT_TIMEOUT = 300.0
BYTES_PER_TOKEN = 4  # the estimate of count_tokens, as the openai: backend's
TOKEN_COUNTS = ("estimate", "server")
THINK_LEVELS = ("low", "medium", "high", "max")
NO_SCORE = ("cannot score text: Ollama's API gives log-probabilities only for the tokens it generates, "
            "never for a given text (score the model's GGUF file in process instead: llama:PATH.gguf)")


@dataclass(frozen=True)
class ModelFacts:
    """What POST /api/show says, read once."""

    show: dict[str, Any]
    parameters: dict[str, Any]  # Modelfile PARAMETERs by Ollama's names
    num_ctx: int  # the context genlab asks for
    trained: int | None  # the model's training context
    stop: tuple[str, ...]  # the Modelfile's stop strings
    bos: bool  # the tokenizer adds BOS to a raw prompt


class OllamaGenerator(Generator):
    """A model served by Ollama, behind the Generator interface.

    model: an Ollama model name ("llama3", "llama3:8b", "user/model:tag"). host: the server, in
    any form OLLAMA_HOST takes; None: $OLLAMA_HOST, else http://127.0.0.1:11434. num_ctx: the
    context to run the model with (None: the Modelfile's, else the model's own capped at
    4096). timeout: seconds to wait for a connection, and for each part of an answer. retries:
    total attempts for 429/503 answers. think: sent with chat requests when not None (True,
    False or "low"/"medium"/"high"/"max"). token_count: "estimate" or "server" (see
    count_tokens). api_key / api_key_env: a Bearer token for a server behind an authenticating
    proxy (or ollama.com), never printed. Nothing is sent until the first call.
    """

    kind = "ollama"
    # one connection per call, so genlab compare may run several at once
    capabilities = Capabilities(chat=True, persona_prompts=True, score=False, exact_chat_tokens=False,
                                continue_chat=False, concurrent_requests=True)

    def __init__(self, model: str, host: str | None = None, *, name: str | None = None,
                 num_ctx: int | None = None, timeout: float = DEFAULT_TIMEOUT, retries: int = 4,
                 think: bool | str | None = None, token_count: str = "estimate",
                 api_key: str | None = None, api_key_env: str | None = None):
        self.model = check_model(model)
        self.host_source = "given" if host is not None else (HOST_ENV if os.environ.get(HOST_ENV, "").strip()
                                                              else "default")
        self.endpoint = parse_host(host if host is not None else os.environ.get(HOST_ENV))
        self.url = self.endpoint.url
        if num_ctx is not None and (isinstance(num_ctx, bool) or not isinstance(num_ctx, int) or num_ctx < 8):
            raise GenlabError(f"num_ctx must be a whole number >= 8, got {num_ctx!r}")
        self.num_ctx = num_ctx
        if not (think is None or isinstance(think, bool) or think in THINK_LEVELS):
            raise GenlabError(f"think must be true, false or one of {', '.join(THINK_LEVELS)}, got {think!r}")
        self.think = think
        if token_count not in TOKEN_COUNTS:
            raise GenlabError(f"token_count must be one of {', '.join(TOKEN_COUNTS)}, got {token_count!r}")
        self.token_count = token_count
        self.api_key_env = api_key_env
        self.client = Client.checked(self.endpoint, who=name or self.model, timeout=timeout, retries=retries,
                                     api_key=api_key, api_key_env=api_key_env)
        self._authenticated = self.client.authenticated
        self.name = name or (f"ollama:{self.url}#{self.model}" if host is not None else f"ollama:{self.model}")
        self._lock = threading.Lock()
        self._facts: ModelFacts | None = None
        # last_usage: of the last generation in any thread (informative only)

    @classmethod
    def from_spec(cls, rest: str, **options: Any) -> "OllamaGenerator":
        """From the part after "ollama:": MODEL[:TAG] (on $OLLAMA_HOST or 127.0.0.1:11434) or
        URL#MODEL (any OLLAMA_HOST form before the '#')."""
        host, model = parse_spec(rest)
        return cls(model, host, **options)

    def __repr__(self) -> str:
        return f"OllamaGenerator({self.model!r}, host={self.url!r})"  # never the key

    # --- generation ------------------------------------------------------------------------------

    def stream(self, prompt: str, sampling: Sampling) -> Iterator[str]:
        """Continue `prompt` as it is (raw: no template); yields text as Ollama streams it."""
        if not isinstance(prompt, str):
            raise GenlabError(f"prompt must be a string, got {type(prompt).__name__}")
        if not prompt:
            raise GenlabError(f"{self.name} needs a non-empty prompt (Ollama answers an empty one by "
                              "loading the model, generating nothing)")
        _check_sampling(sampling)

        def body(facts: ModelFacts) -> dict[str, Any]:
            return {"model": self.model, "prompt": prompt, "raw": True, "stream": True, "think": False,
                    "options": request_options(sampling, facts.num_ctx, sampling.stop)}

        return self._pieces("/api/generate", body, lambda obj: obj.get("response"), sampling.max_tokens)

    def chat(self, messages: Sequence[Message], sampling: Sampling) -> Iterator[str]:
        """The assistant's reply over /api/chat (Ollama applies the model's chat template, and
        the Modelfile's system prompt when the messages start without one)."""
        msgs = _check_messages(messages)
        _check_sampling(sampling)

        def body(facts: ModelFacts) -> dict[str, Any]:
            stop = facts.stop + tuple(sampling.stop)
            out = {"model": self.model, "messages": msgs, "stream": True,
                   "options": request_options(sampling, facts.num_ctx, stop or None)}
            if self.think is not None:
                out["think"] = self.think
            return out

        return self._pieces("/api/chat", body, lambda obj: (obj.get("message") or {}).get("content"),
                            sampling.max_tokens)

    def _pieces(self, route: str, make_body: Callable[[ModelFacts], dict[str, Any]],
                text_of: Callable[[dict[str, Any]], Any], num_predict: int) -> Iterator[str]:
        """The text of a stream, stopped by the client after `num_predict` pieces (TokenCap) even
        when the server ignores num_predict; closing the stream closes the connection."""
        received: list[str] = []
        usage = self.last_usage = new_usage()  # the pieces are counted until Ollama's own counts come
        thinking = 0
        cap = TokenCap(num_predict)
        try:
            body = make_body(self.facts())
            with contextlib.closing(self.client.post_ndjson(self.endpoint.base + route, body)) as objects:
                for obj in objects:
                    text = text_of(obj)
                    text = text if isinstance(text, str) else ""
                    if not cap.object() or (text and (text := cap.take(text)) is None):
                        usage.update(finish_reason="length", stopped_by_client=True)  # the server went on: stopped
                        break
                    if text:
                        received.append(text)
                        usage["completion_tokens"] += 1
                        yield text
                    message = obj.get("message")
                    if isinstance(message, dict) and isinstance(message.get("thinking"), str):
                        thinking += len(message["thinking"])
                    if obj.get("done") is True:
                        if isinstance(obj.get("done_reason"), str) and obj["done_reason"]:
                            usage["finish_reason"] = obj["done_reason"]
                        reported_counts(usage, {"prompt_tokens": obj.get("prompt_eval_count"),
                                                "completion_tokens": obj.get("eval_count")})
            if thinking:
                usage["thinking_characters"] = thinking
        except ServerError as exc:
            exc = self._explain(exc)
            got = "".join(received)
            if got:  # say how much arrived; the caller has it already
                raise ServerError(f"{exc} (after {len(got)} characters of text)", exc.status, got, exc.detail) from None
            raise exc from None

    # --- scoring and tokens -----------------------------------------------------------------------

    def score(self, text: str, *, tokenized: bool = False) -> Score:
        raise GenlabError(f"{self.name} {NO_SCORE}")

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` (no BOS). token_count="estimate": one per 4 UTF-8 bytes, rounded up;
        "server": Ollama's prompt_eval_count of the raw text, which costs a model evaluation
        (a text longer than num_ctx counts max(num_ctx, the estimate); docs/servers.md)."""
        if not isinstance(text, str):
            raise GenlabError(f"text must be a string, got {type(text).__name__}")
        if not text:
            return 0
        if self.token_count == "estimate":
            return _estimate(text)
        bos = 1 if self.facts().bos else 0
        return self._prompt_tokens("/api/generate", {"prompt": text, "raw": True, "think": False}, _estimate(text), bos)

    def _count_chat_tokens(self, messages: Sequence[Message]) -> int:
        """Tokens of the whole prompt `chat(messages, ...)` sends the model: the chat template,
        the Modelfile's system prompt and BOS included. token_count="server": Ollama's
        prompt_eval_count of that chat with num_predict 1 (exact); "estimate": the estimate of
        the messages' "role: content" lines, as the chat front end counts them."""
        msgs = _check_messages(messages)
        estimate = _estimate("\n\n".join(f"{m['role']}: {m['content']}" for m in msgs))
        if self.token_count == "estimate":
            return estimate
        think = {"think": self.think} if self.think is not None else {}  # templates may render it
        return self._prompt_tokens("/api/chat", {"messages": msgs, **think}, estimate, 0)

    def _prompt_tokens(self, route: str, what: dict[str, Any], estimate: int, bos: int) -> int:
        """prompt_eval_count of a one-token answer, less `bos`; max(num_ctx, estimate) for a
        prompt longer than the context ("truncate": false makes Ollama refuse it, not cut it)."""
        facts = self.facts()
        options = request_options(Sampling(temperature=0.0, seed=0, max_tokens=1), facts.num_ctx, None)
        body = {"model": self.model, **what, "stream": False, "truncate": False, "shift": False, "options": options}
        try:
            data = self.client.post_json(self.endpoint.base + route, body)
        except ServerError as exc:
            if exc.status in (400, 500) and re.search(r"(?i)context", exc.detail):
                return max(facts.num_ctx, estimate)  # longer than the context: by how much is not known
            raise self._explain(exc) from None
        n = data.get("prompt_eval_count") if isinstance(data, dict) else None
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ServerError(f"{self.url} did not report prompt_eval_count for {self.model}, so its tokens cannot "
                              "be counted (use token_count='estimate')")
        return max(0, n - bos)

    # --- what the server says ---------------------------------------------------------------------

    def facts(self) -> ModelFacts:
        """What /api/show says of the model (asked once; a ServerError when it cannot say)."""
        if self._facts is None:
            try:
                show = self.client.post_json(self.endpoint.base + "/api/show",
                                             {"model": self.model, "name": self.model})  # "name": older servers
            except ServerError as exc:
                raise self._explain(exc) from None
            if not isinstance(show, dict):
                raise ServerError(f"{self.url} answered /api/show for {self.model} with something that is not "
                                  "a JSON object: is it an Ollama server?")
            params = parse_parameters(show.get("parameters"))
            trained = trained_context(show)
            wanted = params.get("num_ctx")
            if self.num_ctx is not None:
                num_ctx = self.num_ctx
            elif isinstance(wanted, int) and not isinstance(wanted, bool) and wanted >= 8:
                num_ctx = wanted
            else:
                num_ctx = min(trained or DEFAULT_NUM_CTX, DEFAULT_NUM_CTX)
            stop = tuple(s for s in params.get("stop", []) if isinstance(s, str) and s)
            facts = ModelFacts(show, params, num_ctx, trained, stop, adds_bos(show))
            with self._lock:
                self._facts = facts
        return self._facts

    @property
    def context_length(self) -> int | None:
        """The context the model runs with (num_ctx, as sent); None while the server cannot be asked."""
        if self.num_ctx is not None:
            return self.num_ctx
        try:
            return self.facts().num_ctx
        except GenlabError:
            return None

    def model_parameters(self) -> dict[str, Any]:
        """The model's Modelfile PARAMETERs by Ollama's names (temperature, top_k, stop, num_ctx ...):
        the defaults its author chose, which genlab's requests override."""
        return dict(self.facts().parameters)

    def served_models(self) -> list[str]:
        """The model names the server has (GET /api/tags)."""
        return [str(m.get("name") or m.get("model")) for m in self._tags()]

    def _tags(self) -> list[dict[str, Any]]:
        try:
            data = self.client.get_json(self.endpoint.base + "/api/tags")
        except ServerError as exc:
            raise self._explain(exc) from None
        models = data.get("models") if isinstance(data, dict) else None
        return [m for m in models if isinstance(m, dict)] if isinstance(models, list) else []

    def info(self) -> dict[str, object]:
        """What a report needs: where, which model (its digest, size, details), the context and
        how tokens are counted; never the API key. Server problems go in "server_error"."""
        data: dict[str, object] = {
            "kind": self.kind, "name": self.name, "url": self.url, "host_from": self.host_source,
            "model": self.model, "num_ctx": self.num_ctx, "timeout": self.client.timeout, "think": self.think,
            "tokenizer": "estimate" if self.token_count == "estimate" else "prompt_eval_count",
            "score": False, "api_key_env": self.api_key_env, "authenticated": self._authenticated,
        }
        try:
            facts = self.facts()
            show = facts.show
            data.update(context_length=facts.num_ctx, n_ctx_train=facts.trained, details=show.get("details"),
                        capabilities=show.get("capabilities"), parameters=facts.parameters,
                        system=show.get("system") or None, template=bool(show.get("template")))
            mine = [m for m in self._tags() if _same_model(str(m.get("name") or m.get("model")), self.model)]
            if mine:
                data.update(digest=mine[0].get("digest"), size_bytes=mine[0].get("size"),
                            modified_at=mine[0].get("modified_at"))
            version = self.client.get_json(self.endpoint.base + "/api/version")
            data["server_version"] = version.get("version") if isinstance(version, dict) else None
        except GenlabError as exc:
            data["server_error"] = str(exc)
        return data

    def _explain(self, exc: ServerError) -> ServerError:
        """The client's error, reworded where Ollama's answer says more (once)."""
        message = str(exc)
        if getattr(exc, "ollama", False):
            return exc
        if exc.status == 404:
            missing = not_found_model(exc.detail or message)
            if missing:
                message = (f"Ollama at {self.url} has no model {missing!r}: get it with `ollama pull {missing}` "
                           f"(HTTP 404: {exc.detail})")
            else:
                message = (f"{self.url} has no such Ollama API route (HTTP 404: {exc.detail or 'not found'}); "
                           "is it an Ollama server? (openai:URL is for OpenAI-compatible servers)")
        elif exc.status is None and "connection refused" in message:
            message = (f"cannot connect to Ollama at {self.url}: connection refused (is Ollama running? start it "
                       f"with `ollama serve`, or point ${HOST_ENV} at it)")
        out = ServerError(message, exc.status, exc.received, exc.detail)
        out.ollama = True
        return out


def _estimate(text: str) -> int:
    return -(-len(text.encode("utf-8", errors="surrogatepass")) // BYTES_PER_TOKEN)


def _check_sampling(sampling: object) -> None:
    if not isinstance(sampling, Sampling):
        raise GenlabError(f"sampling must be a Sampling, got {type(sampling).__name__}")


def _same_model(listed: str, model: str) -> bool:
    """Ollama's names: a missing tag means ":latest"."""
    def full(n: str) -> str:
        return n if ":" in n.rsplit("/", 1)[-1] else n + ":latest"

    return full(listed) == full(model)
