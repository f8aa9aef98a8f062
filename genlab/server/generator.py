"""ServerGenerator: any OpenAI-compatible endpoint (llama.cpp's server, llama-cpp-python's
server, vLLM, Ollama) behind the Generator interface.

Sampling -> request fields (what `request_fields` sends):

    Sampling        field(s)                      who reads it
    temperature     temperature                   every server (OpenAI standard)
    top_p           top_p                         every server
    max_tokens      max_tokens                    every server
    seed            seed (omitted when None)      every server; 4294967295 is sent as 4294967294
                                                  (llama.cpp reads 0xFFFFFFFF as "random"), as
                                                  LlamaGenerator does
    stop            stop (omitted when empty)     every server
    top_k           top_k                         llama.cpp, llama-cpp-python, vLLM
    min_p           min_p                         llama.cpp, llama-cpp-python, vLLM
    repeat_penalty  repeat_penalty                llama.cpp, llama-cpp-python
                    repetition_penalty            vLLM's name for the same thing
    repeat_last_n   repeat_last_n                 llama.cpp's server only (llama-cpp-python uses
                                                  its --last_n_tokens_size, default 64 = ours;
                                                  vLLM penalises the whole sequence)

The last four rows are "extra" fields: servers that do not know one ignore it (vLLM logs a
warning); a strict server (api.openai.com) rejects the request, which is reported in one
line naming the field; `extra_sampling=False` (alias key `extra_sampling = false`) then
sends only the standard fields.

Scoring reads prompt log-probabilities: POST /completions with "echo": true, "logprobs": 1,
"max_tokens": 1 (0 means "unlimited" to llama-cpp-python), temperature 0. The echoed entries
for the prompt are the first `len(token_logprobs) - usage.completion_tokens`.

The first token: the OpenAI API reports no log-probability for the first echoed token.
* vLLM echoes BOS as that first entry, so every text token is scored given BOS - exactly what
  LlamaGenerator.score does. Recognised by the remaining entries spelling the whole text.
* llama-cpp-python drops BOS from the echo and nulls the first *text* token (its value,
  p(t1 | BOS), is computed and thrown away). Its cost is then unknown; it is charged the mean
  cost of the other tokens of the same text, so `tokens` equals LlamaGenerator's count, every
  byte costs something (no free bytes, as with the Markov backends) and bits per byte stays an
  unbiased-looking estimate; the error vs LlamaGenerator is |c1 - mean| / n of the total for n
  tokens (measured in tests/test_server.py). A one-token text cannot be scored that way and is
  an error.
A text longer than the server's context (the server says so, and how many tokens the context
and the text hold) is scored in windows cut at spaces: each window is one part of the text, about
half a context long, after the part before it as context - LlamaGenerator's default stride. The
API takes text, not token ids, so a window's tokens are told apart by their text_offset: those
starting in its new part count (offsets run over the echoed tokens' text, which a tokenizer's
leading-space artefact lengthens; that artefact is measured and taken off). The first window is
scored as a whole text is. Cutting before a space keeps tokens from straddling a cut.

count_tokens: llama-cpp-python's POST /extras/tokenize/count (which adds BOS: the count of ""
is subtracted), else POST /tokenize (llama.cpp's server: "content"; vLLM: "prompt"), else an
estimate of one token per 4 UTF-8 bytes, rounded up (OpenAI's rule of thumb for English; real
counts vary, so the chat front end's budget is then approximate). info()["tokenizer"] says which.

Thread safety: one request per call, a new connection per request, and the only shared state
is discovered facts (tokenizer route, context length) cached under a lock. Several threads can
stream from one ServerGenerator at once.
"""

from __future__ import annotations

import math
import os
import re
import threading
from typing import Any, Iterator, Sequence

from genlab.errors import GenlabError
from genlab.generator import Capabilities, Generator, Message, Score, check_messages as _check_messages
from genlab.sampling import Sampling, reproducible_seed
from genlab.server.client import Client, Endpoint, ServerError, error_message

DEFAULT_TIMEOUT = 60.0  # seconds per network wait (connecting, or the next bytes of an answer)
KEY_ENV = "GENLAB_API_KEY"  # the key for openai:URL backends (aliases name their own variable)
BYTES_PER_TOKEN = 4  # count_tokens estimate when the server has no tokenizer route
_NO_SCORE = "this server cannot score text (it returns no prompt log-probabilities)"


def parse_spec(spec: str) -> tuple[str, str | None]:
    """"http://HOST:PORT/v1#MODEL" -> (url, model or None)."""
    url, sep, model = spec.partition("#")
    if not url:
        raise GenlabError("openai backend needs a server URL: openai:http://HOST:PORT/v1#MODEL (MODEL optional)")
    return url, (model.strip() or None) if sep else None


def request_fields(s: Sampling, extra: bool = True) -> dict[str, Any]:
    """The request fields for a Sampling (see the table in the module docstring)."""
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
    error if unset). timeout: seconds to wait for a connection or for the next bytes of an
    answer. retries: total attempts for 429/503 answers. Nothing is sent until the first call.
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
        self._facts: dict[str, Any] = {}  # discovered once: "tokenizer", "context_length", "bos_count"
        self.last_usage: dict[str, object] = {}  # of the last call in any thread (informative only)

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
        return self._pieces("/completions", body, lambda c: c.get("text"))

    def chat(self, messages: Sequence[Message], sampling: Sampling) -> Iterator[str]:
        """The assistant's reply over /chat/completions (the server applies its chat template)."""
        body = self._body({"messages": _check_messages(messages)}, sampling)
        return self._pieces("/chat/completions", body, lambda c: (c.get("delta") or {}).get("content"))

    def _body(self, what: dict[str, Any], sampling: Sampling) -> dict[str, Any]:
        body = {**({"model": self.model} if self.model else {}), **what}
        body.update(request_fields(sampling, self.extra_sampling))
        body["stream"] = True
        return body

    def _pieces(self, route: str, body: dict[str, Any], text_of: Any) -> Iterator[str]:
        received: list[str] = []
        usage: dict[str, object] = {"finish_reason": None}
        self.last_usage = usage
        try:
            for chunk in self.client.post_stream(self.endpoint.base + route, body):
                for choice in chunk.get("choices") or []:
                    if not isinstance(choice, dict):
                        continue
                    text = text_of(choice)
                    if isinstance(text, str) and text:
                        received.append(text)
                        yield text
                    if choice.get("finish_reason"):
                        usage["finish_reason"] = choice["finish_reason"]
                if isinstance(chunk.get("usage"), dict):
                    usage.update(chunk["usage"])
        except ServerError as exc:
            got = "".join(received)
            if got:  # say how much arrived; the caller has it already
                raise ServerError(f"{exc} (after {len(got)} characters of text)", exc.status, got) from None
            raise

    # --- scoring ------------------------------------------------------------------------------

    def score(self, text: str, *, tokenized: bool = False) -> Score:
        """-sum ln p of the tokens of `text` from the server's prompt log-probabilities (see the
        module docstring for the first token). The server tokenizes `text` (`tokenized` is
        accepted for the contract; there is no pre-tokenized input)."""
        if not isinstance(text, str):
            raise GenlabError(f"text must be a string, got {type(text).__name__}")
        counts = dict(bytes=len(text.encode("utf-8", errors="surrogatepass")), words=len(text.split()))
        if not text:
            return Score(nats=0.0, tokens=0, **counts)
        try:
            nats, tokens = self._read_logprobs(self._echo(text), text)
        except ServerError as exc:
            sizes = _context_overflow(exc)
            if sizes is None or sizes[0] < 32:  # (a context too small to hold two parts of any use)
                if exc.status == 400 and "context" in str(exc).lower():
                    raise ServerError(f"{exc} (this server does not say how many tokens its context and "
                                      "the text hold, so genlab cannot cut the text to fit: split it)",
                                      exc.status) from None
                raise
            nats, tokens = self._score_in_windows(text, *sizes)
        return Score(nats=nats, tokens=tokens, **counts)

    def _echo(self, text: str) -> Any:
        """The server's answer to an echoed completion of `text` with prompt log-probabilities."""
        body = {**({"model": self.model} if self.model else {}), "prompt": text, "echo": True,
                "logprobs": 1, "max_tokens": 1, "temperature": 0.0}
        try:
            return self.client.post_json(self.endpoint.base + "/completions", body)
        except ServerError as exc:
            msg = str(exc)
            if "logprob" in msg.lower() or "echo" in msg.lower():
                raise ServerError(f"{_NO_SCORE}: {msg}", exc.status) from None
            raise

    def _score_in_windows(self, text: str, n_ctx: int, n_tokens: int) -> tuple[float, int]:
        """Score a text longer than the context (see the module docstring): -sum ln p, tokens."""
        chars_per_token = len(text) / max(n_tokens, 1)
        scale = 0.9  # of half a context per part, by the text's own characters per token
        while True:
            size = max(8, int((n_ctx // 2 - 2) * chars_per_token * scale))
            cuts = _cuts_before_spaces(text, size)
            try:
                nats, tokens = self._read_logprobs(self._echo(text[:cuts[1]]), text[:cuts[1]])
                for k in range(1, len(cuts) - 1):
                    window = text[cuts[k - 1]:cuts[k + 1]]
                    n, t = self._read_new_part(self._echo(window), window, cuts[k] - cuts[k - 1])
                    nats, tokens = nats + n, tokens + t
                return nats, tokens
            except ServerError as exc:
                if _context_overflow(exc) is None or scale < 0.1:
                    raise
                scale *= 0.6  # this text packs more tokens into a part than the whole did: smaller parts

    def _read_new_part(self, data: Any, window: str, boundary: int) -> tuple[float, int]:
        """-sum ln p and count of the echoed tokens that start at or after `boundary` in `window`."""
        try:
            choice = data["choices"][0]
            logprobs = choice["logprobs"]
            values, pieces, offsets = logprobs["token_logprobs"], logprobs["tokens"], logprobs["text_offset"]
        except (KeyError, IndexError, TypeError):
            values = pieces = offsets = None
        if not all(isinstance(x, list) for x in (values, pieces, offsets)):
            raise ServerError(f"{self.url} cannot score a text longer than its context: its answers carry "
                              "no token offsets (split the text)")
        n = min(_prompt_entries(data, choice, values), len(pieces), len(offsets))
        shift = max(0, sum(len(str(p)) for p in pieces[:n]) - len(window))  # a leading-space artefact
        mine = [values[i] for i in range(n) if isinstance(offsets[i], int) and offsets[i] - shift >= boundary]
        self._check_values(mine)
        return -math.fsum(float(v) for v in mine), len(mine)

    def _check_values(self, values: list[Any]) -> None:
        if any(not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or v > 1e-6
               for v in values):
            raise ServerError(f"{self.url} sent incomplete or invalid prompt log-probabilities")

    def _read_logprobs(self, data: Any, text: str) -> tuple[float, int]:
        try:
            choice = data["choices"][0]
            logprobs = choice.get("logprobs")
        except (KeyError, IndexError, TypeError, AttributeError):
            raise ServerError(f"{self.url} answered the scoring request without choices: "
                              f"{error_message(data)[:120]}") from None
        values = logprobs.get("token_logprobs") if isinstance(logprobs, dict) else None
        if not isinstance(values, list) or not values or all(v is None for v in values):
            raise ServerError(f"{_NO_SCORE}: {self.url} sent no token_logprobs for an echoed prompt")
        pieces = logprobs.get("tokens") if isinstance(logprobs.get("tokens"), list) else []
        n = _prompt_entries(data, choice, values)
        prompt, strings = values[:n], [str(p) for p in pieces[:n]]
        first_missing = bool(prompt) and prompt[0] is None
        if first_missing and len(strings) == n and "".join(strings[1:]).lstrip(" ") == text.lstrip(" "):
            prompt, impute = prompt[1:], False  # the null entry is BOS: every text token is scored
        elif first_missing:
            prompt, impute = prompt[1:], True  # the first text token's value was not reported
        else:
            impute = False
        if not prompt:
            raise ServerError(f"the text is too short to score through {self.url}: the first token's "
                              "log-probability is never reported, so at least two tokens are needed")
        self._check_values(prompt)
        nats = -math.fsum(float(v) for v in prompt)
        count = len(prompt)
        if impute:
            nats += nats / count
            count += 1
        self.last_usage = {"score_first_token": "imputed" if impute else ("bos" if first_missing else "scored")}
        return nats, count

    # --- tokens ---------------------------------------------------------------------------------

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` by the server's tokenizer (no BOS), or an estimate (module docstring)."""
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


def _prompt_entries(data: dict[str, Any], choice: dict[str, Any], values: list[Any]) -> int:
    """How many of the echoed log-probability entries belong to the prompt (the rest were
    generated: usage.completion_tokens, or one when the answer stopped for length)."""
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    generated = usage.get("completion_tokens")
    if not isinstance(generated, int) or not 0 <= generated <= len(values):
        generated = 1 if choice.get("finish_reason") == "length" else 0
    return len(values) - generated


_OVERFLOW = (
    re.compile(r"maximum context length is (\d+) tokens.*?requested (\d+) tokens \((\d+) in your prompt", re.S),
    re.compile(r"Requested tokens \((\d+)\) exceed context window of (\d+)"),
)


def _context_overflow(exc: ServerError) -> tuple[int, int] | None:
    """(context tokens, prompt tokens) when the server refused a prompt as too long for its
    context and said both numbers (vLLM's and llama-cpp-python's wording), else None."""
    msg = str(exc)
    m = _OVERFLOW[0].search(msg)
    if m:
        return int(m.group(1)), int(m.group(3))
    m = _OVERFLOW[1].search(msg)
    if m:
        return int(m.group(2)), int(m.group(1))
    return None


def _cuts_before_spaces(text: str, size: int) -> list[int]:
    """0, then positions about `size` characters apart, each moved forward to a space (so the
    part after it starts with one), then len(text)."""
    cuts = [0]
    while len(text) - cuts[-1] > size:
        at = text.find(" ", cuts[-1] + size)
        if at < 0:
            break
        cuts.append(at)
    cuts.append(len(text))
    return cuts


def _int_field(data: Any, key: str, url: str) -> int:
    if isinstance(data, dict) and isinstance(data.get(key), int):
        return int(data[key])
    raise ServerError(f"{url} answered without {key!r}")
