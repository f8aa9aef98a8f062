"""Ollama's native API, the parts genlab uses: where the server is, how an `ollama:` name reads,
which request options carry genlab's sampling, and what POST /api/show says about a model.

Every sampling setting is sent (Ollama's defaults and a Modelfile's PARAMETERs would otherwise
change the sampler chain), with num_ctx always set; why each option has the value it has, as
read from Ollama's code: docs/servers.md.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Mapping, Sequence
from urllib.parse import urlsplit

from genlab.errors import GenlabError
from genlab.secrets import redact_url
from genlab.sampling import Sampling, reproducible_seed
from genlab.server.client import Endpoint

HOST_ENV = "OLLAMA_HOST"
DEFAULT_PORT = 11434
DEFAULT_NUM_CTX = 4096  # context sent when neither the caller nor the Modelfile sets one
FORM = "ollama:MODEL[:TAG] or ollama:http://HOST:PORT#MODEL"


# --- where the server is -------------------------------------------------------------------------


def parse_host(value: str | None) -> Endpoint:
    """The server an OLLAMA_HOST value names, by Ollama's own rules (envconfig.Host):

        "" or None            http://127.0.0.1:11434
        HOST, HOST:PORT, :PORT, [IPv6]:PORT   http, port 11434 unless given
        http://HOST[:PORT]    port 80 unless given;  https://HOST[:PORT]: port 443
        ollama.com            https://ollama.com:443
        HOST:PORT/PATH        the path is kept (a proxy's prefix)

    A bind-all address (0.0.0.0, ::), which OLLAMA_HOST often holds for the server's sake, is
    reached on the loopback address, as Ollama's own client does."""
    text = (value or "").strip().strip("\"'")  # envconfig.Var trims spaces and quotes
    shown = repr(redact_url(text).partition("?")[0])  # never echoed whole: it may hold a password
    scheme, sep, rest = text.partition("://")
    port = DEFAULT_PORT
    if not sep:
        scheme, rest = "http", text
        if text == "ollama.com":
            scheme, rest = "https", "ollama.com:443"
    elif scheme in ("http", "https"):
        port = 80 if scheme == "http" else 443
    else:
        raise GenlabError(f"Ollama host {shown} must be http:// or https:// (for example http://127.0.0.1:11434)")
    try:
        parts = urlsplit(f"{scheme}://{rest}")
        port = parts.port or port
    except ValueError:
        raise GenlabError(f"Ollama host {shown} has an invalid port") from None
    if parts.query or parts.fragment or parts.username is not None or parts.password is not None:
        raise GenlabError(f"Ollama host {shown} cannot carry a query, a '#' or credentials (user:password@)")
    host = parts.hostname or "127.0.0.1"
    if host in ("0.0.0.0", "::", "0:0:0:0:0:0:0:0"):
        host = "127.0.0.1" if host == "0.0.0.0" else "::1"
    return Endpoint(scheme, host, port, parts.path.rstrip("/"))


def parse_spec(rest: str) -> tuple[str | None, str]:
    """What follows "ollama:" -> (server or None for $OLLAMA_HOST, model name).

    "llama3", "llama3:8b", "user/model:tag", "hf.co/OWNER/REPO:QUANT": a model on the default
    server; "http://HOST:PORT#MODEL" (any OLLAMA_HOST form before the '#'): on that server."""
    if not isinstance(rest, str) or not rest.strip():
        raise GenlabError(f"ollama backend needs a model name: {FORM}")
    host, sep, model = rest.strip().partition("#")
    if not sep:
        host, model = "", host
        if re.match(r"(?i)https?://", model):
            raise GenlabError(f"ollama backend {rest!r}: put the model after a '#': ollama:http://HOST:PORT#MODEL")
    elif not host.strip():
        raise GenlabError(f"ollama backend {rest!r} has nothing before the '#': {FORM}")
    return (host.strip() or None), check_model(model)


def check_model(model: object) -> str:
    if not isinstance(model, str) or not model.strip():
        raise GenlabError(f"ollama backend needs a model name: {FORM}")
    model = model.strip()
    if re.search(r"[\s#]", model):
        raise GenlabError(f"{model!r} is not an Ollama model name (names have no spaces or '#')")
    return model


# --- sampling -> options --------------------------------------------------------------------------


def request_options(s: Sampling, num_ctx: int, stop: Sequence[str] | None) -> dict[str, Any]:
    """The "options" object for a Sampling (docs/servers.md says why each value). `stop` None leaves the
    stop strings out (the Modelfile's apply); a list, even empty, is sent."""
    if not isinstance(s, Sampling):
        raise GenlabError(f"sampling must be a Sampling, got {type(s).__name__}")
    seed = -1 if s.seed is None else reproducible_seed(s.seed)
    out: dict[str, Any] = {
        "temperature": s.temperature, "top_k": s.top_k, "top_p": s.top_p, "min_p": s.min_p,
        "typical_p": 1.0, "repeat_penalty": s.repeat_penalty, "repeat_last_n": s.repeat_last_n,
        "presence_penalty": 0.0, "frequency_penalty": 0.0, "seed": seed, "num_predict": s.max_tokens,
        "num_ctx": num_ctx,
    }
    if stop is not None:
        out["stop"] = list(dict.fromkeys(x for x in stop if x))
    return out


# --- what /api/show says -------------------------------------------------------------------------------


def parse_parameters(text: object) -> dict[str, Any]:
    """The Modelfile PARAMETERs of an /api/show answer, by Ollama's names.

    /api/show writes one "NAME<spaces>VALUE" line a value, VALUE in Go syntax (%#v): strings in
    double quotes, numbers, true/false; "stop" comes once per string and is always a list here."""
    out: dict[str, Any] = {}
    if not isinstance(text, str):
        return out
    for line in text.splitlines():
        key, _, raw = line.strip().partition(" ")
        raw = raw.strip()
        if not key or not raw:
            continue
        value = _go_value(raw)
        if key == "stop":
            out.setdefault("stop", []).append(value if isinstance(value, str) else raw)
        else:
            out[key] = value
    return out


def _go_value(raw: str) -> Any:
    try:
        value = json.loads(raw)  # Go's %#v of a string, a number or a bool reads as JSON
    except ValueError:
        return raw[1:-1] if len(raw) >= 2 and raw[0] == raw[-1] == '"' else raw
    if isinstance(value, float) and value.is_integer() and "." not in raw and "e" not in raw.lower():
        return int(value)
    return value


def trained_context(show: Mapping[str, Any]) -> int | None:
    """The model's training context: model_info["<architecture>.context_length"] (the GGUF
    key), else details.context_length (newer servers), else None."""
    info = show.get("model_info") if isinstance(show.get("model_info"), dict) else {}
    arch = info.get("general.architecture")
    candidates = [info.get(f"{arch}.context_length")] if isinstance(arch, str) else []
    candidates += [v for k, v in info.items() if isinstance(k, str) and k.endswith(".context_length")]
    details = show.get("details") if isinstance(show.get("details"), dict) else {}
    candidates.append(details.get("context_length"))
    for n in candidates:
        if _positive_int(n):
            return int(n)
    return None


def adds_bos(show: Mapping[str, Any]) -> bool:
    """Whether the tokenizer puts a BOS token before a raw prompt: the GGUF's
    tokenizer.ggml.add_bos_token, else llama.cpp's default for its vocabulary (SentencePiece:
    yes; byte-level BPE and the others: no)."""
    info = show.get("model_info") if isinstance(show.get("model_info"), dict) else {}
    flag = info.get("tokenizer.ggml.add_bos_token")
    if isinstance(flag, bool):
        return flag
    return info.get("tokenizer.ggml.model") == "llama"


def _positive_int(x: object) -> bool:
    if isinstance(x, float) and math.isfinite(x) and x.is_integer():
        x = int(x)
    return isinstance(x, int) and not isinstance(x, bool) and x > 0


def not_found_model(message: str) -> str | None:
    """The model an Ollama "not found" message names: `model 'x' not found` (current servers) or
    `model "x" not found, try pulling it first` (older ones); None for any other message."""
    found = re.search(r"model ['\"](.+?)['\"] not found", message)
    return found.group(1) if found else None
