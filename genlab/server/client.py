"""A small HTTP client for model servers: JSON requests, streamed answers, retries.

Streams come as server-sent events (OpenAI-compatible servers: `post_stream`) or as
newline-delimited JSON (Ollama's native API: `post_ndjson`).

Standard library only (http.client), so the server backend adds no dependency. Why each part:

* Every request opens its own connection and the client keeps no per-request state, so one
  `Client` can be used from many threads at once (compare sends concurrent requests).
* 429 (rate limited) and 503 (overloaded / loading) are retried with exponential back-off and
  full jitter, at most `Retry.attempts` tries, honouring a Retry-After header. A retry only
  ever happens before a response body is read, so a stream is never restarted after text has
  reached the caller: nothing is duplicated.
* Everything that can go wrong (refused connection, unknown host, timeout, HTTP errors, a
  malformed or cut-off event stream) becomes one `ServerError` line that names the server and
  carries the server's own message (read by genlab.server.messages), never a traceback. Its
  words pass through genlab.secrets.redact: a server that echoes the API key back gets it hidden.
* Whatever a server sends is read under the caps of genlab.server.limits, and each part of an
  answer (its head, a JSON body, the next event of a stream) must arrive whole within the
  timeout (genlab.server.deadline): a server dripping bytes cannot hold genlab for ever.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import math
import os
import random
import re
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit

from genlab.datafiles import check_depth
from genlab.errors import GenlabError
from genlab.secrets import redact, redact_url, remember
from genlab.server.deadline import connection
from genlab.server.limits import MAX_BODY, MAX_ERROR_BODY, MAX_EVENT, MAX_LINE, MAX_STREAM, size
from genlab.server.messages import clip, error_message, rejected_field

RETRY_STATUS = (429, 503)
JSON, EVENT_STREAM, NDJSON = "application/json", "text/event-stream", "application/x-ndjson"  # Accept headers


class ServerError(GenlabError):
    """A server request failed. `status`: the HTTP status (None: no HTTP answer);
    `received`: the text a stream had already yielded when it failed (kept by the caller);
    `detail`: the server's own message from an error answer ("" if none)."""

    def __init__(self, message: str, status: int | None = None, received: str = "", detail: str = ""):
        super().__init__(redact(message))
        self.status = status
        self.received = received
        self.detail = redact(detail)


@dataclass(frozen=True)
class Retry:
    """Back-off for 429/503: attempt k waits uniform(0, base * 2**(k-1)) seconds (full jitter),
    or the server's Retry-After plus a little jitter; a single wait never exceeds `cap`
    seconds (a longer Retry-After ends the retries at once with a clear message)."""

    attempts: int = 4
    base: float = 0.5
    cap: float = 30.0

    def delay(self, attempt: int, retry_after: float | None) -> float | None:
        if retry_after is not None:
            return None if retry_after > self.cap else retry_after + random.uniform(0, min(self.base, 1.0))
        return random.uniform(0, min(self.cap, self.base * 2 ** (attempt - 1)))


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), None if absent/invalid."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


@dataclass(frozen=True)
class Endpoint:
    """Where the server is: scheme, host, port and the API base path ("/v1")."""

    scheme: str
    host: str
    port: int
    base: str  # the OpenAI API prefix, e.g. "/v1"

    @classmethod
    def parse(cls, url: str) -> "Endpoint":
        if not isinstance(url, str) or not url.strip():
            raise GenlabError("a server backend needs a URL such as http://127.0.0.1:8080/v1")
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise GenlabError(f"{redact_url(url)!r} is not an http:// or https:// URL "
                              "(for example http://127.0.0.1:8080/v1)")
        if parts.username is not None or parts.password is not None:  # never echoed: it may hold a password
            raise GenlabError(f"{redact_url(url)!r}: the server URL cannot carry credentials (user:password@); "
                              "an API key goes in an environment variable: api_key_env in the model alias")
        if parts.query:
            raise GenlabError(f"{url.partition('?')[0]!r}: the server URL cannot carry a query (?...)")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise GenlabError(f"{url!r} has an invalid port") from None
        base = parts.path.rstrip("/") or "/v1"  # a bare host means the usual /v1 prefix
        return cls(parts.scheme, parts.hostname, port, base)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{self.base}"

    @property
    def root(self) -> str:
        """The path prefix of non-OpenAI routes (/tokenize, /props): the base without "/v1"."""
        return self.base.removesuffix("/v1")


class Client:
    """JSON, SSE and NDJSON requests to one server. Thread-safe: a new connection per request."""

    @classmethod
    def checked(cls, endpoint: Endpoint, *, who: str, timeout: Any, retries: Any, api_key: str | None = None,
                api_key_env: str | None = None) -> "Client":
        """A client from a backend's settings, each checked in one clear line; the key is read from
        the environment variable `api_key_env` when not given (`who` names the backend in errors)."""
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < math.inf:
            raise GenlabError(f"timeout must be a number of seconds > 0, got {timeout!r}")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 1:
            raise GenlabError(f"retries must be a whole number >= 1, got {retries!r}")
        if api_key is None and api_key_env:
            api_key = os.environ.get(api_key_env) or None
            if api_key is None:
                raise GenlabError(f"{who} needs an API key in the environment variable {api_key_env}, "
                                  "which is not set")
            check_key(api_key, f"the API key in the environment variable {api_key_env}")
        return cls(endpoint, api_key=api_key, timeout=float(timeout), retry=Retry(attempts=retries))

    @property
    def authenticated(self) -> bool:
        return bool(self._api_key)

    def __init__(self, endpoint: Endpoint, *, api_key: str | None = None, timeout: float = 60.0,
                 retry: Retry = Retry(), sleep: Callable[[float], None] = time.sleep):
        self.endpoint = endpoint
        self.timeout = timeout
        self.retry = retry
        self._sleep = sleep
        check_key(api_key, "the API key")
        self._api_key = api_key  # sent as a Bearer token, never printed

    def __repr__(self) -> str:
        return f"Client({self.endpoint.url!r}, timeout={self.timeout!r})"

    # --- requests -----------------------------------------------------------------------------

    def get_json(self, path: str) -> Any:
        conn, resp = self._open("GET", path, None, JSON)
        return self._read_json(conn, resp, path)

    def post_json(self, path: str, body: dict[str, Any]) -> Any:
        conn, resp = self._open("POST", path, body, JSON)
        return self._read_json(conn, resp, path)

    def post_stream(self, path: str, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """The JSON objects of a server-sent event stream, until "data: [DONE]".

        The request is sent (and retried) when iteration starts. A stream is complete once a
        choice has reported a finish_reason; [DONE] before that means the server gave up early,
        and the connection closing before either means the stream was cut off: both are a
        ServerError. ([DONE] itself is optional: some servers omit it.) Closing the iterator
        closes the connection (the server then stops generating)."""
        conn, resp = self._open("POST", path, body, EVENT_STREAM)
        finished = False
        try:
            for event, data in self._events(resp):
                if data.strip() == "[DONE]":
                    if not finished:  # every OpenAI-style server ends with a finish_reason first
                        raise ServerError(
                            f"{self.endpoint.url} ended the stream before the answer finished (no finish_reason); "
                            "llama-cpp-python's server does this when another request arrives, unless it is "
                            "started with --interrupt_requests false")
                    return
                obj = self._stream_object(data, "event", error=event == "error")
                choices = obj.get("choices")
                if isinstance(choices, list) and any(isinstance(c, dict) and c.get("finish_reason")
                                                     for c in choices):
                    finished = True
                yield obj
                conn.deadline.restart()  # the next event: within the timeout from now
            if not finished:
                raise ServerError(f"the answer from {self.endpoint.url} was cut off mid-stream: the connection "
                                  "closed before the end-of-stream marker")
        finally:
            conn.close()

    def post_ndjson(self, path: str, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """The JSON objects of a newline-delimited JSON stream (Ollama's native API), up to and
        including the first one with "done": true.

        The request is sent (and retried) when iteration starts. A line {"error": ...} is how
        Ollama reports a failure once the stream has begun: a ServerError with its message. The
        connection closing before a "done": true object means the answer was cut off: also a
        ServerError. Blank lines are skipped. Closing the iterator closes the connection (the
        server then stops generating)."""
        conn, resp = self._open("POST", path, body, NDJSON)
        try:
            for line in self._lines(resp):
                if not line.strip():
                    continue
                obj = self._stream_object(line, "line")
                yield obj
                if obj.get("done") is True:
                    return
                conn.deadline.restart()  # the next object: within the timeout from now
            raise ServerError(f"the answer from {self.endpoint.url} was cut off mid-stream: the connection "
                              "closed before the final \"done\" object")
        finally:
            conn.close()

    # --- internals ------------------------------------------------------------------------------

    def _connection(self) -> http.client.HTTPConnection:
        ep = self.endpoint
        return connection(ep.scheme, ep.host, ep.port, self.timeout)

    def _headers(self, accept: str) -> dict[str, str]:
        from genlab import __version__

        headers = {"Content-Type": "application/json", "User-Agent": f"genlab/{__version__}", "Accept": accept}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    def _open(self, method: str, path: str, body: dict[str, Any] | None,
              accept: str) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        """Send the request; retry 429/503; return a 2xx response whose body is unread."""
        data = None if body is None else json.dumps(body).encode("utf-8")
        headers = self._headers(accept)
        url = self.endpoint.url
        for attempt in range(1, self.retry.attempts + 1):
            conn = self._connection()
            try:
                conn.request(method, path, body=data, headers=headers)
                conn.deadline.restart()  # the answer's head: within the timeout of the request
                resp = conn.getresponse()
                conn.deadline.restart()  # then its body (or a stream's first event)
            except BaseException as exc:
                conn.close()
                if isinstance(exc, Exception):
                    raise ServerError(self._network_message(exc)) from None
                raise
            if 200 <= resp.status < 300:
                return conn, resp
            try:
                raw = resp.read(MAX_ERROR_BODY)
            except (OSError, http.client.HTTPException):
                raw = b""
            finally:
                conn.close()
            message = error_message(raw) or resp.reason or "no message"
            invalid = resp.status in (400, 422) or b"validation" in raw.lower()
            if resp.status in RETRY_STATUS:
                retry_after = parse_retry_after(resp.getheader("Retry-After"))
                wait = self.retry.delay(attempt, retry_after) if attempt < self.retry.attempts else None
                if wait is not None:
                    self._sleep(wait)
                    continue
                busy = "rate-limited the request" if resp.status == 429 else "is unavailable"
                if attempt < self.retry.attempts:  # a Retry-After longer than genlab waits
                    why = f"it asks to retry after {retry_after:g} s, more than {self.retry.cap:g} s"
                else:
                    why = f"gave up after {attempt} attempt{'s' if attempt > 1 else ''}"
                raise ServerError(f"{url} {busy} (HTTP {resp.status}, {why}): {message}", resp.status,
                                  detail=message)
            raise ServerError(self._status_message(resp.status, message, body if invalid else None), resp.status,
                              detail=message)
        raise AssertionError("unreachable")  # pragma: no cover

    def _status_message(self, status: int, message: str, body: dict[str, Any] | None) -> str:
        url = self.endpoint.url
        if status in (401, 403):
            return f"{url} refused the request (HTTP {status}: {message}); check the API key"
        if status == 404:
            return f"{url} has no such route or model (HTTP 404: {message})"
        field = rejected_field(message, body)  # body is None unless the answer says the request was invalid
        if field is not None:
            return f"{url} rejected the request field {field!r} (HTTP {status}): {message}"
        return f"{url} answered HTTP {status}: {message}"

    def _network_message(self, exc: BaseException) -> str:
        ep = self.endpoint
        if isinstance(exc, ConnectionRefusedError):
            return f"cannot connect to {ep.url}: connection refused (is the server running?)"
        if isinstance(exc, socket.gaierror):
            return f"cannot connect to {ep.url}: unknown host {ep.host!r}"
        if isinstance(exc, (TimeoutError, socket.timeout)):
            return f"no answer from {ep.url} within {self.timeout:g} s (timeout)"
        if isinstance(exc, ssl.SSLError):
            return f"TLS error talking to {ep.url}: {clip(str(exc), 160)}"
        if isinstance(exc, (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)):
            return f"{ep.url} closed the connection without an answer"
        return f"cannot reach {ep.url}: {clip(str(exc) or type(exc).__name__, 160)}"

    def _read_json(self, conn: http.client.HTTPConnection, resp: http.client.HTTPResponse, path: str) -> Any:
        too_big = (f"{self.endpoint.url} answered {path} with more than {size(MAX_BODY)}, "
                   "more than any answer genlab asks for")
        try:
            if resp.length is not None and resp.length > MAX_BODY:
                raise ServerError(f"{too_big} (it says {resp.length:,} bytes)")
            raw = resp.read(MAX_BODY + 1)
        except ServerError:
            raise
        except Exception as exc:
            raise ServerError(self._read_message(exc, "while sending its answer")) from None
        finally:
            conn.close()
        if len(raw) > MAX_BODY:
            raise ServerError(too_big)
        try:
            return self._json(raw, f"the answer of {self.endpoint.url} to {path}")
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ServerError(f"{self.endpoint.url} answered {path} with something that is not JSON: "
                              f"{clip(raw.decode('utf-8', 'replace'), 80)!r}") from None

    @staticmethod
    def _json(text: str | bytes, what: str) -> Any:
        """json.loads, nesting deeper than genlab.datafiles allows (or than Python can parse)
        being a ServerError naming `what`."""
        try:
            value = json.loads(text)
            check_depth(value, source=what)
        except RecursionError:
            raise ServerError(f"cannot read {what}: it is nested too deeply") from None
        except GenlabError as exc:
            raise ServerError(str(exc)) from None
        return value

    def _read_message(self, exc: BaseException, when: str) -> str:
        url = self.endpoint.url
        if isinstance(exc, (TimeoutError, socket.timeout)):
            return f"{url} was too slow {when}: nothing complete arrived within {self.timeout:g} s (timeout)"
        if isinstance(exc, (http.client.IncompleteRead, ConnectionResetError)):
            return f"the answer from {url} was cut off {when}: the connection closed before its end"
        return f"lost the connection to {url} {when} ({clip(str(exc) or type(exc).__name__, 120)})"

    def _stream_object(self, text: str, what: str, error: bool = False) -> dict[str, Any]:
        """One JSON object of a stream; a ServerError for an error report (`error`, or an object
        with an "error" key) or for anything that is not a JSON object."""
        try:
            obj = self._json(text, f"a {what} of the stream from {self.endpoint.url}")
        except json.JSONDecodeError:
            raise ServerError(f"{self.endpoint.url} sent a malformed {what} in its stream "
                              f"(not JSON): {clip(text, 80)!r}") from None
        if error or (isinstance(obj, dict) and "error" in obj):
            raise ServerError(f"{self.endpoint.url} reported an error mid-stream: {error_message(obj)}")
        if not isinstance(obj, dict):
            raise ServerError(f"{self.endpoint.url} sent a malformed {what} in its stream "
                              f"(not a JSON object): {clip(text, 80)!r}")
        return obj

    def _lines(self, resp: http.client.HTTPResponse) -> Iterator[str]:
        """The lines of a streamed body, without their line ends, until the connection closes
        (at most MAX_LINE bytes a line, MAX_STREAM in all)."""
        total = 0
        while True:
            try:
                line = resp.readline(MAX_LINE + 1)
            except Exception as exc:
                raise ServerError(self._read_message(exc, "mid-stream")) from None
            if not line:
                return
            if len(line) > MAX_LINE:
                raise ServerError(f"{self.endpoint.url} sent a malformed stream (a line over {size(MAX_LINE)})")
            total += len(line)
            if total > MAX_STREAM:
                raise ServerError(f"{self.endpoint.url} sent more than {size(MAX_STREAM)} in one stream; stopped")
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError:
                raise ServerError(f"{self.endpoint.url} sent a malformed stream (not UTF-8)") from None
            yield text.rstrip("\r\n")

    def _events(self, resp: http.client.HTTPResponse) -> Iterator[tuple[str, str]]:
        """(event type, data) of each server-sent event (WHATWG event-stream rules), at most
        MAX_EVENT bytes of data an event."""
        event, data, held = "", [], 0
        for text in self._lines(resp):  # at EOF an event without its blank line is incomplete: dropped
            if not text:
                if data:
                    yield event or "message", "\n".join(data)
                event, data, held = "", [], 0
                continue
            if text.startswith(":"):
                continue  # a comment (keep-alive ping)
            name, _, value = text.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                held += len(value) + 1
                if held > MAX_EVENT:
                    raise ServerError(f"{self.endpoint.url} sent a malformed stream (an event over {size(MAX_EVENT)})")
                data.append(value)
            elif name == "event":
                event = value


def check_key(key: str | None, what: str) -> None:
    """Remember `key` (genlab.secrets hides it anywhere from now on) and refuse one that cannot
    be sent in a header, naming `what` holds it, never the key."""
    if key is None:
        return
    if not isinstance(key, str):
        raise GenlabError(f"{what} must be text, got {type(key).__name__}")
    remember(key)
    if re.search(r"[^\x20-\x7e]", key):
        raise GenlabError(f"{what} holds a control character (a line break?) or a non-ASCII one: "
                          "set it to the key alone")
