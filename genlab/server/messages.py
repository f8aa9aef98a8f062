"""One line from whatever a model server answers: its own error message out of an error body
(OpenAI, FastAPI, llama.cpp, vLLM and Ollama shapes, or an HTML page), and the request field
a refusal names."""

from __future__ import annotations

import json
import re
from typing import Any


def error_message(body: Any) -> str:
    """The server's own error message from an error body (OpenAI, FastAPI, llama.cpp, vLLM and
    Ollama shapes), on one line."""
    obj = body
    if isinstance(body, (bytes, bytearray)):
        text = bytes(body).decode("utf-8", errors="replace")
        try:
            obj = json.loads(text)
        except RecursionError:
            return "(an answer nested too deeply to read)"
        except json.JSONDecodeError:
            return one_line(re.sub(r"<[^>]+>", " ", text))  # plain text or an HTML error page
    msg: Any = obj
    if isinstance(obj, dict):
        for key in ("error", "detail", "message"):
            if key in obj:
                msg = obj[key]
                break
        if isinstance(msg, dict):
            msg = msg.get("message") or msg.get("msg") or json.dumps(msg)
    if isinstance(msg, list):  # FastAPI validation errors
        parts = []
        for item in msg:
            if isinstance(item, dict):
                loc = ".".join(str(x) for x in item.get("loc", []) if x != "body")
                parts.append(f"{loc}: {item.get('msg', '')}" if loc else str(item.get("msg", item)))
            else:
                parts.append(str(item))
        msg = "; ".join(parts)
    text = str(msg)
    # llama-cpp-python wraps pydantic errors in a message with a stack location: keep the gist
    text = text.split("\n  File ", 1)[0]
    found = re.search(r"'loc': \((?:'body', )?'([^']+)'.*?'msg': '([^']*)'", text)
    if found:
        text = f"{found.group(1)}: {found.group(2)}"
    return one_line(text)


def rejected_field(message: str, body: dict[str, Any] | None) -> str | None:
    """The request field a 400/422 message names, if it names one we sent."""
    if not body:
        return None
    for key in body:
        if key in ("prompt", "messages", "stream", "model"):  # "model" is in many unrelated messages
            continue
        if re.search(rf"(?<![A-Za-z0-9_]){re.escape(key)}(?![A-Za-z0-9_])", message):
            return key
    return None


def one_line(text: str, limit: int = 300) -> str:
    return clip(" ".join(text.split()), limit)


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
