"""Running the WSGI app for one request and sending its answer through h11.

The environment carries no client address at all (``REMOTE_ADDR`` is not
set): the app cannot log or store what it never receives. It does carry the
station's own address on that connection (``LOCAL_ADDRESS``: the address the
client reached, e.g. the hotspot's), which the captive-portal answers
redirect to (``web/hotspot.py``). Header names with
an underscore are dropped, as nginx and gunicorn do, so ``X_Foo`` cannot pose
as ``X-Foo``. A ``Server`` or ``Date`` header is never added.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote_to_bytes

import h11

from reporter.web.server.connection import Connection

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# Set by the front when it refuses a request itself: the app renders the
# page for this status (translated, with every security header).
FRONT_ERROR = "reporter.front_error"
# The station's side of the connection: (address, port), as getsockname() gives it.
LOCAL_ADDRESS = "reporter.local_address"
HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "upgrade",
                        "proxy-connection", "te", "trailer", "server", "date"})


class NoErrors(io.TextIOBase):
    """``wsgi.errors``: nothing the app writes there reaches a log."""

    def write(self, s: str) -> int:
        return len(s)


def environ_for(request: h11.Request | None, body: io.IOBase, *, server_name: str,
                server_port: int, front_error: int | None = None,
                local_address: tuple[str, int] | None = None) -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "SERVER_NAME": server_name,
        "SERVER_PORT": str(server_port),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": body,
        "wsgi.errors": NoErrors(),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.input_terminated": True,
    }
    if request is not None:
        target = bytes(request.target)
        path, _, query = target.partition(b"?")
        environ["SERVER_PROTOCOL"] = "HTTP/" + request.http_version.decode("ascii")
        for raw_name, raw_value in request.headers:
            name = raw_name.decode("latin-1")
            if "_" in name:
                continue
            value = raw_value.decode("latin-1")
            if name == "content-type":
                environ["CONTENT_TYPE"] = value
                continue
            if name == "content-length":
                environ["CONTENT_LENGTH"] = value
                continue
            key = "HTTP_" + name.upper().replace("-", "_")
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        if front_error is None:
            environ["REQUEST_METHOD"] = request.method.decode("ascii")
            environ["PATH_INFO"] = unquote_to_bytes(path).decode("latin-1")
            environ["QUERY_STRING"] = query.decode("latin-1")
        else:
            # Only what chooses the page's language is kept of a refused request.
            environ = {k: v for k, v in environ.items()
                       if k in ("HTTP_ACCEPT_LANGUAGE", "HTTP_COOKIE", "HTTP_HOST")
                       or not k.startswith(("HTTP_", "CONTENT_"))}
    if front_error is not None:
        environ[FRONT_ERROR] = front_error
    if local_address is not None:
        environ[LOCAL_ADDRESS] = local_address
    return environ


class Responder:
    """``start_response`` and the sending of the answer, for one request."""

    def __init__(self, conn: Connection, send: Callable[[bytes], None], *, head_only: bool,
                 close: bool, body_done: Callable[[], bool] | None = None) -> None:
        self._conn = conn
        self._send = send
        self._head_only = head_only
        self._close = close
        # For a body read from the socket: whether all of it has been read. If not
        # when the answer starts, the connection will close after it, and the answer
        # says so (``Connection: close``), so no client sends its next request there.
        self._body_done = body_done
        self._status: str | None = None
        self._headers: list[tuple[str, str]] = []
        self.started = False

    def start_response(self, status: str, headers: list[tuple[str, str]],
                       exc_info: Any = None) -> Callable[[bytes], None]:
        if exc_info:
            try:
                if self.started:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self._status is not None:
            raise AssertionError("start_response called twice")
        self._status = status
        self._headers = headers
        return self.write

    def _start(self) -> None:
        if self.started:
            return
        if self._status is None:
            raise AssertionError("the app sent a body before start_response")
        code = int(self._status[:3])
        reason = self._status[4:].encode("latin-1")
        headers = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in self._headers
                   if n.lower() not in HOP_BY_HOP]
        if self._body_done is not None and not self._body_done():
            self._close = True
        if self._close:
            headers.append((b"Connection", b"close"))
        self._body_allowed = not (self._head_only or code in (204, 304) or code < 200)
        self._send(self._conn.http.send(h11.Response(status_code=code, headers=headers,
                                                     reason=reason)) or b"")
        self.started = True

    def write(self, data: bytes) -> None:
        self._start()
        if data and self._body_allowed:
            self._send(self._conn.http.send(h11.Data(data=data)) or b"")

    def finish(self) -> None:
        self._start()
        self._send(self._conn.http.send(h11.EndOfMessage()) or b"")


def run_app(app: WSGIApp, environ: dict[str, Any], responder: Responder) -> None:
    """Call the app and send everything it answers; the caller handles I/O errors."""
    result = app(environ, responder.start_response)
    try:
        for chunk in result:
            responder.write(chunk)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    responder.finish()


def exc_kind() -> str:
    exc = sys.exc_info()[1]
    return type(exc).__name__ if exc else "?"
