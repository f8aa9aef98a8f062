"""A small stand-in for Ollama in tests: its native API on 127.0.0.1, the text from real llama.cpp.

Ollama itself cannot be installed here, so this speaks the parts of its API genlab uses, as
Ollama documents and does them (github.com/ollama/ollama docs/api.md, api/types.go,
server/routes.go, llm/llama_server.go):

* POST /api/generate (raw prompts only) and POST /api/chat stream newline-delimited JSON over
  chunked HTTP: pieces ("response" / "message": {"role": "assistant", "content"}) with
  "done": false, then an object with "done": true, "done_reason" ("stop" or "length"),
  "prompt_eval_count" (every prompt token, BOS included), "eval_count" and durations in
  nanoseconds. As Ollama does through llama-server, the last piece of text comes inside the
  "done" object (`last_piece_in_done`). "stream": false answers one JSON object. An empty
  prompt (or no messages) only "loads" the model: {"done": true, "done_reason": "load"}.
* POST /api/show: Modelfile parameters in Ollama's text form ("%-30s %#v" lines), details,
  model_info (the GGUF header's values; arrays empty, as without "verbose"), capabilities,
  system, template. GET /api/tags and /api/version.
* A chat longer than num_ctx loses its oldest messages (not the system ones), as Ollama's own
  truncation does; `dropped` records how many each chat request lost. A raw prompt longer
  than num_ctx is refused: with "truncate": false by llama-server's 400, as Ollama does; else
  with a 500 (Ollama would cut it, keeping its first num_keep tokens: the stub does not).
* Errors are {"error": "..."} with Ollama's statuses and words: 404 "model 'x' not found",
  500 `option "top_k" must be of type integer`, 400 for raw mode with a template or system.

Options are layered as Ollama layers them: its defaults (api.DefaultOptions), then the model's
Modelfile parameters, then the request's; unknown names are ignored. The merged options become
a genlab Sampling for LlamaGenerator over the model's GGUF (one LlamaGenerator per num_ctx, as
Ollama reloads a model for another context size; one request at a time on each). Options the
stub cannot apply (typical_p != 1, presence or frequency penalties) are an error, so a test
fails if a Modelfile's value would have leaked through.

`fail(path, ...)` queues a fault for the next request to `path`: an error answer, a
connection cut after some pieces, or an error line mid-stream. `requests` records every
request (method, path, headers, body).
"""

from __future__ import annotations

import hashlib
import http.server
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genlab.errors import GenlabError
from genlab.llama.generator import LlamaGenerator
from genlab.llama.gguf_header import inspect_gguf
from genlab.sampling import Sampling

VERSION = "0.12.6"
# Ollama's api.DefaultOptions (min_p's zero value included); num_ctx: the stub's default context
DEFAULTS: dict[str, Any] = {
    "num_predict": -1, "num_keep": 4, "temperature": 0.8, "top_k": 40, "top_p": 0.9, "min_p": 0.0,
    "typical_p": 1.0, "repeat_last_n": 64, "repeat_penalty": 1.0, "presence_penalty": 0.0,
    "frequency_penalty": 0.0, "seed": -1, "num_ctx": 4096, "num_batch": 512, "num_gpu": -1, "num_thread": 0,
}
INT_OPTIONS = {"num_keep", "seed", "num_predict", "top_k", "repeat_last_n", "num_ctx", "num_batch", "num_gpu",
               "main_gpu", "num_thread", "draft_num_predict"}
FLOAT_OPTIONS = {"top_p", "min_p", "typical_p", "temperature", "repeat_penalty", "presence_penalty",
                 "frequency_penalty"}
BOOL_OPTIONS = {"use_mmap"}


@dataclass
class StubModel:
    """A model the stub serves: its GGUF, Modelfile parameters (Ollama's names) and system prompt."""

    gguf: Path
    parameters: dict[str, Any] = field(default_factory=dict)
    system: str | None = None
    thinking: bool = False


class StubError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class OllamaStub:
    """Ollama's native API on 127.0.0.1 (a free port), for tests. Use as a context manager or close()."""

    def __init__(self, models: dict[str, StubModel], *, last_piece_in_done: bool = True):
        self.models = {_full(name): m for name, m in models.items()}
        self.last_piece_in_done = last_piece_in_done
        self.requests: list[dict[str, Any]] = []
        self.dropped: list[int] = []  # messages each chat request lost to Ollama's own truncation
        self.faults: dict[str, list[dict[str, Any]]] = {}
        self._engines: dict[tuple[str, int], tuple[LlamaGenerator, threading.Lock]] = {}
        self._lock = threading.Lock()
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802
                stub._handle(self, None)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                stub._handle(self, body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def __enter__(self) -> "OllamaStub":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        for engine, _ in self._engines.values():
            engine.close()
        self._engines.clear()

    def fail(self, path: str, *, status: int | None = None, error: str = "", headers: dict[str, str] | None = None,
             cut_after: int | None = None, error_after: int | None = None) -> None:
        """Queue a fault for the next request to `path`: answer `status` with {"error": error}; or
        stream `cut_after` pieces and drop the connection; or stream `error_after` pieces and
        then an {"error": error} line."""
        self.faults.setdefault(path, []).append(dict(status=status, error=error, headers=headers or {},
                                                     cut_after=cut_after, error_after=error_after))

    def bodies(self, path: str) -> list[Any]:
        return [r["body"] for r in self.requests if r["path"] == path]

    # --- dispatch ---------------------------------------------------------------------------------

    def _handle(self, h: http.server.BaseHTTPRequestHandler, body: Any) -> None:
        path = h.path.split("?")[0]
        self.requests.append({"method": h.command, "path": path, "headers": dict(h.headers), "body": body})
        fault = self.faults[path].pop(0) if self.faults.get(path) else None
        try:
            if fault and fault["status"] is not None:
                raise StubError(fault["status"], fault["error"])
            routes = {("GET", "/api/version"): lambda: _json(h, 200, {"version": VERSION}),
                      ("GET", "/api/tags"): lambda: _json(h, 200, {"models": [self._tag(n) for n in self.models]}),
                      ("POST", "/api/show"): lambda: _json(h, 200, self._show(body)),
                      ("POST", "/api/generate"): lambda: self._generate(h, body, fault),
                      ("POST", "/api/chat"): lambda: self._chat(h, body, fault)}
            route = routes.get((h.command, path))
            if route is None:
                _text(h, 404, "404 page not found")  # gin's answer to an unknown route
                return
            route()
        except StubError as exc:
            _json(h, exc.status, {"error": str(exc)}, (fault or {}).get("headers"))
        except (BrokenPipeError, ConnectionResetError):  # the client went away mid-stream
            h.close_connection = True
        except Exception as exc:  # a bug in the stub: an answer, not a hung client
            _json(h, 500, {"error": f"stub failure: {type(exc).__name__}: {exc}"})

    def _model(self, body: Any, key: str = "model") -> tuple[str, StubModel]:
        if not isinstance(body, dict):
            raise StubError(400, "missing request body")
        name = body.get(key) or body.get("name") or ""
        if not name:
            raise StubError(400, "model is required")
        model = self.models.get(_full(name))
        if model is None:
            raise StubError(404, f"model '{name}' not found")
        return name, model

    # --- routes -----------------------------------------------------------------------------------------

    def _tag(self, name: str) -> dict[str, Any]:
        m = self.models[name]
        return {"name": name, "model": name, "modified_at": "2026-01-01T00:00:00Z", "size": m.gguf.stat().st_size,
                "digest": _sha256(m.gguf), "details": self._details(m)}

    def _details(self, m: StubModel) -> dict[str, Any]:
        return {"parent_model": "", "format": "gguf", "family": "llama", "families": ["llama"],
                "parameter_size": "1M", "quantization_level": "F32"}

    def _show(self, body: Any) -> dict[str, Any]:
        name, m = self._model(body)
        info = {k: ([] if isinstance(v, (list, tuple)) else v) for k, v in inspect_gguf(m.gguf).metadata.items()
                if k != "tokenizer.chat_template"}
        lines = []
        for key, value in m.parameters.items():
            for v in value if isinstance(value, list) else [value]:
                lines.append(f"{key:<30} {_go(v)}")
        return {"license": "", "modelfile": f"# Modelfile generated by \"ollama show\"\nFROM {m.gguf}\n",
                "parameters": "\n".join(lines), "template": "{{ .Prompt }}", "system": m.system or "",
                "details": self._details(m), "model_info": info,
                "capabilities": ["completion"] + (["thinking"] if m.thinking else []),
                "modified_at": "2026-01-01T00:00:00Z"}

    def _options(self, m: StubModel, requested: Any) -> dict[str, Any]:
        """Ollama's defaults, then the Modelfile's, then the request's options (Options.FromMap)."""
        opts = dict(DEFAULTS)
        for layer in (m.parameters, requested or {}):
            if not isinstance(layer, dict):
                raise StubError(400, "json: cannot unmarshal options")
            for key, val in layer.items():
                if val is None:
                    continue
                if key in INT_OPTIONS:
                    if isinstance(val, bool) or not isinstance(val, (int, float)):
                        raise StubError(500, f'option "{key}" must be of type integer')
                    opts[key] = int(val)
                elif key in FLOAT_OPTIONS:
                    if isinstance(val, bool) or not isinstance(val, (int, float)):
                        raise StubError(500, f'option "{key}" must be of type float32')
                    opts[key] = float(val)
                elif key in BOOL_OPTIONS:
                    if not isinstance(val, bool):
                        raise StubError(500, f'option "{key}" must be of type boolean')
                    opts[key] = val
                elif key == "stop":
                    if not isinstance(val, list) or not all(isinstance(s, str) for s in val):
                        raise StubError(500, 'option "stop" must be of an array of strings')
                    opts[key] = list(val)
                # anything else: Ollama logs "invalid option provided" and goes on
        for key, neutral in (("typical_p", 1.0), ("presence_penalty", 0.0), ("frequency_penalty", 0.0)):
            if opts[key] != neutral:
                raise StubError(500, f"stub cannot apply {key}={opts[key]} (LlamaGenerator runs {neutral})")
        return opts

    def _sampling(self, opts: dict[str, Any]) -> Sampling:
        budget = opts["num_predict"] if opts["num_predict"] > 0 else opts["num_ctx"]
        try:
            return Sampling(temperature=opts["temperature"], top_k=opts["top_k"], top_p=opts["top_p"],
                            min_p=opts["min_p"], repeat_penalty=opts["repeat_penalty"],
                            repeat_last_n=opts["repeat_last_n"], seed=opts["seed"] if opts["seed"] >= 0 else None,
                            max_tokens=budget, stop=tuple(opts.get("stop") or ()))
        except GenlabError as exc:
            raise StubError(500, str(exc)) from None

    def _engine(self, name: str, num_ctx: int) -> tuple[LlamaGenerator, threading.Lock]:
        with self._lock:
            key = (name, num_ctx)
            if key not in self._engines:
                self._engines[key] = (LlamaGenerator(self.models[name].gguf, n_ctx=num_ctx), threading.Lock())
            return self._engines[key]

    def _generate(self, h: http.server.BaseHTTPRequestHandler, body: Any, fault: dict | None) -> None:
        name, m = self._model(body)
        if not body.get("raw"):
            raise StubError(400, "the stub serves raw prompts only")
        if body.get("template") or body.get("system") or body.get("context"):
            raise StubError(400, "raw mode does not support template, system, or context")
        self._check_think(name, m, body)
        prompt = body.get("prompt") or ""
        opts = self._options(m, body.get("options"))
        if not prompt:
            _json(h, 200, {"model": name, "created_at": _now(), "response": "", "done": True, "done_reason": "load"})
            return
        whole_prompt = body.get("truncate") is False

        def run(engine: LlamaGenerator, s: Sampling):
            if whole_prompt and len(engine.tokenize(prompt, add_bos=True)) >= opts["num_ctx"]:
                raise StubError(400, "the request exceeds the available context size, try increasing it")
            return engine.stream(prompt, s)

        self._answer(h, body, fault, name, opts, run, lambda text: {"response": text})

    def _chat(self, h: http.server.BaseHTTPRequestHandler, body: Any, fault: dict | None) -> None:
        name, m = self._model(body)
        self._check_think(name, m, body)
        messages = body.get("messages") or []
        opts = self._options(m, body.get("options"))
        if not messages:
            _json(h, 200, {"model": name, "created_at": _now(), "message": {"role": "assistant", "content": ""},
                           "done": True, "done_reason": "load"})
            return
        msgs = [{"role": x.get("role"), "content": x.get("content")} for x in messages]
        if m.system and msgs[0]["role"] != "system":  # Ollama puts the Modelfile's SYSTEM first
            msgs.insert(0, {"role": "system", "content": m.system})
        truncate = body.get("truncate") is not False

        def run(engine: LlamaGenerator, s: Sampling):
            if not truncate and len(engine.chat_prompt_tokens(msgs)) >= opts["num_ctx"]:
                raise StubError(400, "the request exceeds the available context size, try increasing it")
            shown = _fit(engine, msgs, opts["num_ctx"]) if truncate else msgs
            self.dropped.append(len(msgs) - len(shown))
            return engine.chat(shown, s)

        self._answer(h, body, fault, name, opts, run, lambda text: {"message": {"role": "assistant", "content": text}})

    def _check_think(self, name: str, m: StubModel, body: dict) -> None:
        if body.get("think") not in (None, False) and not m.thinking:
            raise StubError(400, f'"{name}" does not support thinking')

    def _answer(self, h, body, fault, name, opts, run, wrap) -> None:
        """Generate under the engine's lock; stream NDJSON (or one object) with Ollama's done object."""
        started = time.monotonic_ns()
        engine, lock = self._engine(_full(name), opts["num_ctx"])
        sampling = self._sampling(opts)
        stream = body.get("stream", True) is not False
        with lock:
            try:
                pieces = run(engine, sampling)
                held = next(pieces, None)  # the prompt is checked before any byte is sent
            except GenlabError as exc:
                raise StubError(500, str(exc)) from None
            if stream:
                h.send_response(200)
                h.send_header("Content-Type", "application/x-ndjson")
                h.send_header("Transfer-Encoding", "chunked")
                h.send_header("Connection", "close")
                h.end_headers()
            whole: list[str] = []
            try:
                for piece in pieces:  # one piece behind, so the last one can go in the done object
                    if stream and not self._send(h, fault, len(whole), {"model": name, "created_at": _now(),
                                                                        **wrap(held), "done": False}):
                        return
                    whole.append(held)
                    held = piece
            finally:
                pieces.close()
            usage = dict(engine.last_usage)
        last = held or ""
        whole.append(last)
        in_done = last if (self.last_piece_in_done or not stream) else ""
        done = {"model": name, "created_at": _now(), **wrap(in_done), "done": True,
                "done_reason": usage.get("finish_reason") or "stop",
                "total_duration": time.monotonic_ns() - started, "load_duration": 1000,
                "prompt_eval_count": usage.get("prompt_tokens"), "prompt_eval_duration": 1000,
                "eval_count": usage.get("completion_tokens"), "eval_duration": 1000}
        if not stream:
            done.update(wrap("".join(whole)))
            _json(h, 200, done)
            return
        if last and not in_done and not self._send(h, fault, len(whole) - 1,
                                                   {"model": name, "created_at": _now(), **wrap(last), "done": False}):
            return
        _chunk(h, done)
        _end(h)

    def _send(self, h, fault: dict | None, sent: int, obj: dict) -> bool:
        """Send one piece, unless the fault says the stream breaks here (then False)."""
        if fault and fault["cut_after"] is not None and sent >= fault["cut_after"]:
            _cut(h)
            return False
        if fault and fault["error_after"] is not None and sent >= fault["error_after"]:
            _chunk(h, {"error": fault["error"]})
            _end(h)
            return False
        _chunk(h, obj)
        return True


def _fit(engine: LlamaGenerator, msgs: list[dict[str, Any]], num_ctx: int) -> list[dict[str, Any]]:
    """Ollama's chat truncation (server/prompt.go chatPrompt): drop messages from the front until
    the rendered prompt fits the context, keeping the system messages and the last message.
    (Ollama lets the prompt fill the context; LlamaGenerator needs one token of room.)"""
    for i in range(len(msgs)):
        shown = [x for x in msgs[:i] if x["role"] == "system"] + msgs[i:]
        if i == len(msgs) - 1 or len(engine.chat_prompt_tokens(shown)) < num_ctx:
            return shown
    return msgs


# --- HTTP helpers -------------------------------------------------------------------------------------


def _json(h, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
    data = json.dumps(obj).encode("utf-8")
    h.send_response(status)
    h.send_header("Content-Type", "application/json; charset=utf-8")
    h.send_header("Content-Length", str(len(data)))
    h.send_header("Connection", "close")
    for k, v in (headers or {}).items():
        h.send_header(k, v)
    h.end_headers()
    h.wfile.write(data)
    h.close_connection = True


def _text(h, status: int, text: str) -> None:
    data = text.encode("utf-8")
    h.send_response(status)
    h.send_header("Content-Type", "text/plain")
    h.send_header("Content-Length", str(len(data)))
    h.send_header("Connection", "close")
    h.end_headers()
    h.wfile.write(data)
    h.close_connection = True


def _chunk(h, obj: Any) -> None:
    line = json.dumps(obj).encode("utf-8") + b"\n"
    h.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
    h.wfile.flush()


def _end(h) -> None:
    h.wfile.write(b"0\r\n\r\n")
    h.wfile.flush()
    h.close_connection = True


def _cut(h) -> None:
    """Drop the connection mid-stream (no final chunk): a server that died."""
    h.wfile.flush()
    try:
        h.connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    h.close_connection = True


def _go(value: Any) -> str:
    """Go's %#v of a Modelfile parameter value (a string, a number or a bool)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)


def _full(name: str) -> str:
    return name if ":" in name.rsplit("/", 1)[-1] else name + ":latest"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime())


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
