"""HTTP connections whose reads must beat a deadline, not only a per-read timeout.

A socket timeout bounds each wait for bytes, so a server that drips one byte every few seconds
never trips it and holds genlab for ever. Here every read of a connection checks one clock
(`Deadline`): the caller starts it before waiting for an answer's head, and again before each
part it waits for (the body, the next event of a stream), so each part must arrive whole within
the timeout, however the server paces its bytes.

Works for http.client directly (`connection`) and for urllib (`handlers`, which Gutenberg
downloads use for their redirects).
"""

from __future__ import annotations

import http.client
import io
import socket
import ssl
import time
import urllib.request
from typing import Any


class Deadline:
    """A clock of `seconds`, started again by `restart`."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.restart()

    def restart(self) -> None:
        self._until = time.monotonic() + self.seconds

    def remaining(self) -> float:
        return self._until - time.monotonic()


class _Reader(socket.SocketIO):
    """A socket's bytes, each wait for them bounded by what is left of the deadline."""

    def __init__(self, sock: socket.socket, deadline: Deadline):
        super().__init__(sock, "rb")
        self._deadline = deadline

    def readinto(self, buffer: Any) -> int | None:
        left = self._deadline.remaining()
        if left <= 0:
            raise TimeoutError("the deadline passed")
        self._sock.settimeout(left)
        return super().readinto(buffer)


class _Socket:
    """The socket as http.client uses it, its reads held to the deadline. As socket.makefile
    does, an open reader keeps the socket open until the reader is closed too."""

    def __init__(self, sock: socket.socket, deadline: Deadline):
        self._sock = sock
        self._deadline = deadline

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> io.BufferedReader:
        reader = _Reader(self._sock, self._deadline)
        self._sock._io_refs += 1  # type: ignore[attr-defined]
        return io.BufferedReader(reader)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _Timed:
    """Mixin for http.client connections: `deadline` holds every read of the answer. The
    connection's timeout still bounds connecting and sending."""

    deadline: Deadline

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        if not hasattr(self, "deadline"):
            self.deadline = Deadline(self.timeout)  # type: ignore[attr-defined]
        self.sock = _Socket(self.sock, self.deadline)  # type: ignore[has-type]


class TimedHTTPConnection(_Timed, http.client.HTTPConnection):
    pass


class TimedHTTPSConnection(_Timed, http.client.HTTPSConnection):
    pass


def connection(scheme: str, host: str, port: int, timeout: float) -> TimedHTTPConnection | TimedHTTPSConnection:
    """A connection (not yet open) whose `deadline` of `timeout` seconds the caller restarts."""
    conn: TimedHTTPConnection | TimedHTTPSConnection
    if scheme == "https":
        conn = TimedHTTPSConnection(host, port, timeout=timeout, context=ssl.create_default_context())
    else:
        conn = TimedHTTPConnection(host, port, timeout=timeout)
    conn.deadline = Deadline(timeout)
    return conn


class _HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(TimedHTTPConnection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(TimedHTTPSConnection, req, context=ssl.create_default_context())


def opener() -> urllib.request.OpenerDirector:
    """A urllib opener whose connections keep a deadline of the request's timeout: the head of
    an answer must come within it, and then each read of the body (`restart_body` starts it
    again before each)."""
    return urllib.request.build_opener(_HTTPHandler(), _HTTPSHandler())


def restart_body(response: Any) -> None:
    """Start the deadline again for the next read of a urllib `response` of `opener()`."""
    sock = getattr(getattr(response, "fp", None), "raw", None)
    deadline = getattr(sock, "_deadline", None)
    if isinstance(deadline, Deadline):
        deadline.restart()
