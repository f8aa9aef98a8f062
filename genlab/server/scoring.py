"""Scoring a text through an OpenAI-compatible server: the prompt log-probabilities of an echoed completion.

POST /completions with "echo": true, "logprobs": 1, "max_tokens": 1 (0 means "unlimited" to
llama-cpp-python), temperature 0; the entries for the prompt are the first
`len(token_logprobs) - usage.completion_tokens`. How the first token and texts longer than the
context are handled: docs/servers.md.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from genlab.server.client import Client, ServerError
from genlab.server.messages import error_message

NO_SCORE = "this server cannot score text (it returns no prompt log-probabilities)"


@dataclass(frozen=True)
class Echoed:
    """What an echoed answer says of a text's tokens: their total cost and count, each token's
    cost, and where each starts in the text (characters, from the answer's text_offset; None
    when the answer has no usable offsets, so the score cannot be split over paragraphs)."""

    nats: float
    count: int
    costs: tuple[float, ...]
    offsets: tuple[int, ...] | None


class EchoScorer:
    """Scores texts through one server.

    The OpenAI API reports no log-probability for the first echoed token: when it is BOS
    (vLLM) every text token is scored given BOS, as LlamaGenerator.score does; when it is the
    first text token (llama-cpp-python), that token is charged the mean cost of the others.
    `first_token` says which ("bos", "imputed" or "scored") for the last text read. A text
    longer than the context (the server says so, and how many tokens both hold) is scored in
    windows cut at spaces, each part after the part before it as context.
    """

    def __init__(self, client: Client, base: str, model: str | None, url: str):
        self.client, self.base, self.model, self.url = client, base, model, url
        self.first_token: str | None = None

    def score(self, text: str) -> Echoed:
        """-sum ln p of the tokens of a non-empty `text`, their count, and each token's share."""
        try:
            return self._read(self.echo(text), text)
        except ServerError as exc:
            sizes = context_overflow(exc)
            if sizes is None or sizes[0] < 32:  # (a context too small to hold two parts of any use)
                if exc.status == 400 and "context" in str(exc).lower():
                    raise ServerError(f"{exc} (this server does not say how many tokens its context and "
                                      "the text hold, so genlab cannot cut the text to fit: split it)",
                                      exc.status) from None
                raise
            return self._in_windows(text, *sizes)

    def echo(self, text: str) -> Any:
        """The server's answer to an echoed completion of `text` with prompt log-probabilities."""
        body = {**({"model": self.model} if self.model else {}), "prompt": text, "echo": True,
                "logprobs": 1, "max_tokens": 1, "temperature": 0.0}
        try:
            return self.client.post_json(self.base + "/completions", body)
        except ServerError as exc:
            msg = str(exc)
            if "logprob" in msg.lower() or "echo" in msg.lower():
                raise ServerError(f"{NO_SCORE}: {msg}", exc.status) from None
            raise

    def _in_windows(self, text: str, n_ctx: int, n_tokens: int) -> Echoed:
        """Score a text longer than the context (see the class docstring)."""
        chars_per_token = len(text) / max(n_tokens, 1)
        scale = 0.9  # of half a context per part, by the text's own characters per token
        while True:
            size = max(8, int((n_ctx // 2 - 2) * chars_per_token * scale))
            cuts = _cuts_before_spaces(text, size)
            try:
                parts = [self._read(self.echo(text[:cuts[1]]), text[:cuts[1]])]
                for k in range(1, len(cuts) - 1):
                    window = text[cuts[k - 1]:cuts[k + 1]]
                    parts.append(self._read_new_part(self.echo(window), window, cuts[k] - cuts[k - 1], cuts[k - 1]))
                return _joined(parts)
            except ServerError as exc:
                if context_overflow(exc) is None or scale < 0.1:
                    raise
                scale *= 0.6  # this text packs more tokens into a part than the whole did: smaller parts

    def _read_new_part(self, data: Any, window: str, boundary: int, at: int) -> Echoed:
        """The echoed tokens that start at or after `boundary` in `window` (which starts at
        character `at` of the text)."""
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
        shift = _shift(pieces[:n], window)
        mine = [i for i in range(n) if isinstance(offsets[i], int) and offsets[i] - shift >= boundary]
        self._check_values([values[i] for i in mine])
        costs = tuple(-float(values[i]) for i in mine)
        return Echoed(-math.fsum(float(values[i]) for i in mine), len(mine), costs,
                      _text_offsets([offsets[i] for i in mine], shift - at, at + len(window)))

    def _check_values(self, values: list[Any]) -> None:
        if any(not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or v > 1e-6
               for v in values):
            raise ServerError(f"{self.url} sent incomplete or invalid prompt log-probabilities")

    def read_logprobs(self, data: Any, text: str) -> tuple[float, int]:
        """-sum ln p and count of the text tokens in an echoed answer (the first one imputed
        when the server does not report it)."""
        echoed = self._read(data, text)
        return echoed.nats, echoed.count

    def _read(self, data: Any, text: str) -> Echoed:
        """read_logprobs, with each token's cost and offset (the imputed cost is the first token's)."""
        try:
            choice = data["choices"][0]
            logprobs = choice.get("logprobs")
        except (KeyError, IndexError, TypeError, AttributeError):
            raise ServerError(f"{self.url} answered the scoring request without choices: "
                              f"{error_message(data)[:120]}") from None
        values = logprobs.get("token_logprobs") if isinstance(logprobs, dict) else None
        if not isinstance(values, list) or not values or all(v is None for v in values):
            raise ServerError(f"{NO_SCORE}: {self.url} sent no token_logprobs for an echoed prompt")
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
        costs = [-float(v) for v in prompt]
        kept = self._offsets(logprobs.get("text_offset"), strings, n, n - len(prompt) - int(impute), text)
        if impute:
            costs.insert(0, nats / count)
            nats += nats / count
            count += 1
        self.first_token = "imputed" if impute else ("bos" if first_missing else "scored")
        return Echoed(nats, count, tuple(costs), kept)

    @staticmethod
    def _offsets(offsets: Any, strings: list[str], n: int, first: int, text: str) -> tuple[int, ...] | None:
        """Offsets in `text` of the scored entries first..n-1 of an answer (the imputed one, if any,
        is entry `first`): counted from entry `first`, the text's first token, less the
        leading-space artefact of the echoed pieces; None without usable offsets."""
        if not isinstance(offsets, list) or len(offsets) < n or len(strings) < n or first >= n:
            return None
        base = offsets[first]
        if not isinstance(base, int) or isinstance(base, bool):
            return None
        return _text_offsets(offsets[first:n], base + _shift(strings[first:n], text), len(text))


def _joined(parts: list[Echoed]) -> Echoed:
    """One text's Echoed from those of its consecutive windows."""
    offsets = None if any(p.offsets is None for p in parts) else tuple(o for p in parts for o in p.offsets or ())
    return Echoed(math.fsum(p.nats for p in parts), sum(p.count for p in parts),
                  tuple(c for p in parts for c in p.costs), offsets)


def _shift(pieces: list[Any], text: str) -> int:
    """How many characters the echoed tokens hold before the text (a leading-space artefact)."""
    return max(0, sum(len(str(p)) for p in pieces) - len(text))


def _text_offsets(offsets: list[Any], shift: int, end: int) -> tuple[int, ...] | None:
    """Offsets in the text of echoed tokens (each offset less `shift`, the first clamped to 0),
    or None unless they are whole numbers that never go back and stay inside the text."""
    if not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets):
        return None
    out = tuple(max(o - shift, 0) for o in offsets)
    if any(b < a for a, b in zip(out, out[1:])) or (out and out[-1] >= end):
        return None
    return out


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


def context_overflow(exc: ServerError) -> tuple[int, int] | None:
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
