"""An upload's body, read from the socket by the worker that runs the app.

The station's app (``station/uploads.py``) seals each file part as this
stream delivers it, and the desk's import page writes each bundle to its
staging folder, so the body is never held whole in memory. Only uploads take this
path; the front reads small bodies before a worker is involved.

A client must keep the body coming: each ``rate_window`` it must deliver at
least ``min_body_rate`` bytes a second on average, or the upload is dropped
(``BodyCut``, raised from ``read``: the app discards what it took of it, and
the browser shows a failed connection). A trickle of a
byte a minute therefore holds an upload slot for one window, not forever.
"""

from __future__ import annotations

import io
import time
from typing import Any

import h11

from reporter.web.server.connection import Connection
from reporter.web.server.limits import Incidents, ServerLimits

RECV_BYTES = 256 * 1024
# An upload's pieces (one per chunk of a chunked body, or per read): after
# ``PIECES_FREE`` of them, they must average ``MIN_PIECE_BYTES`` or the upload is
# dropped. Each piece costs Python work in a worker, under the interpreter's one
# lock: four connections sending one-byte chunks slowed every page of the station
# from 8 to 200 ms, for as long as they sent. Real clients send what the network
# delivers: TCP segments (over 1,000 bytes), Tor cells (498).
PIECES_FREE = 8192
MIN_PIECE_BYTES = 128


class BodyCut(ConnectionError):
    """The body stopped: the client closed, broke HTTP framing, or fell below the
    minimum rate. An ``OSError``, as a socket's own failures are; the server closes
    the connection after the app's answer, which the client will not read."""


class SocketBody(io.RawIOBase):
    def __init__(self, conn: Connection, limits: ServerLimits, incidents: Incidents,
                 prefix: bytes = b"") -> None:
        super().__init__()
        self._conn = conn
        self._limits = limits
        self._incidents = incidents
        self._pending = memoryview(prefix)
        self._eof = False
        self.failed = False
        now = time.monotonic()
        self._window_end = now + limits.rate_window
        self._window_bytes = 0
        self._pieces = 0
        self._piece_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        while not self._pending:
            if self._eof:
                return 0
            event = self._next_event()
            if isinstance(event, h11.Data):
                self._count_piece(len(event.data))
                self._pending = memoryview(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                self._eof = True
                return 0
        n = min(len(view), len(self._pending))
        view[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def settle(self) -> bool:
        """Take what h11 already holds, without reading the socket: True once the
        whole body has come and been read by the app.

        An app that reads exactly ``Content-Length`` bytes never asks for the end
        of the body, which h11 yields only when asked; without this, such a request
        looked unfinished and its connection was closed after the answer, with no
        ``Connection: close`` to warn the client (which then lost its next request
        on it)."""
        while not self._eof and not self._pending:
            try:
                event = self._conn.http.next_event()
            except h11.RemoteProtocolError:
                return False
            if isinstance(event, h11.Data):
                self._pending = memoryview(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                self._eof = True
            else:  # NEED_DATA or PAUSED: the rest is still on its way
                return False
        return self._eof and not self._pending

    def _count_piece(self, size: int) -> None:
        self._pieces += 1
        self._piece_bytes += size
        if self._pieces > PIECES_FREE and \
                self._piece_bytes < MIN_PIECE_BYTES * self._pieces:
            raise self._fail("uploads dropped: body in too many small pieces")

    def _fail(self, kind: str | None) -> BodyCut:
        self.failed = True
        if kind:
            self._incidents.count(kind)
        return BodyCut("the request body stopped")

    def _next_event(self) -> object:
        while True:
            try:
                event = self._conn.http.next_event()
            except h11.RemoteProtocolError:
                raise self._fail(None) from None
            if event is not h11.NEED_DATA:
                return event
            if self._conn.http.they_are_waiting_for_100_continue:
                self._send(h11.InformationalResponse(status_code=100, headers=[]))
            self._receive()

    def _send(self, event: h11.Event) -> None:
        data = self._conn.http.send(event)
        try:
            self._conn.sock.settimeout(self._limits.send_timeout)
            self._conn.sock.sendall(data or b"")
        except OSError:
            raise self._fail(None) from None

    def _receive(self) -> None:
        now = time.monotonic()
        self._check_rate(now)
        self._conn.sock.settimeout(max(0.05, self._window_end - now))
        try:
            data = self._conn.sock.recv(RECV_BYTES)
        except TimeoutError:
            self._check_rate(time.monotonic())
            return
        except OSError:
            raise self._fail(None) from None
        self._window_bytes += len(data)
        # b"" tells h11 the client closed: a body cut short then raises.
        self._conn.http.receive_data(data)

    def _check_rate(self, now: float) -> None:
        if now < self._window_end:
            return
        if self._window_bytes < self._limits.min_body_rate * self._limits.rate_window:
            raise self._fail("uploads dropped below the minimum rate")
        self._window_end = now + self._limits.rate_window
        self._window_bytes = 0
