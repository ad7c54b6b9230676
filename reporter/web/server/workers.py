"""The worker threads that run the app, and which request each may take.

A job reaches this pool only with a complete request head (and, unless it is
an upload, its complete body): the front has waited for those. Uploads are
limited to ``upload_slots`` at once, so some workers are always free for the
form and for text-only reports, whatever slow uploads are doing.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import h11

from reporter.web.server.body import SocketBody
from reporter.web.server.connection import Connection
from reporter.web.server.limits import Incidents, ServerLimits
from reporter.web.server.wsgi import Responder, WSGIApp, environ_for, exc_kind, run_app

log = logging.getLogger("reporter")

# What becomes of a connection a worker is done with.
KEEP = "keep"       # wait for the next request on it
LINGER = "linger"   # answered with its body unread, or asked to close: close gently
CLOSE = "close"     # broken, cut off or too slow: close now


@dataclass(eq=False)
class Job:
    conn: Connection
    request: h11.Request | None
    # The whole body, read by the front; None: an upload, read from the socket.
    body: bytes | None = None
    # A status the front chose (a refused request): the app renders its page.
    error: int | None = None
    # An upload's first bytes, already read by the front.
    prefix: bytes = b""
    enqueued: float = field(default_factory=time.monotonic)

    @property
    def upload(self) -> bool:
        return self.body is None and self.error is None


def _local_address(conn: Connection) -> tuple[str, int] | None:
    """The station's address and port on this connection (the address the client reached)."""
    try:
        name = conn.sock.getsockname()
    except OSError:
        return None
    return (str(name[0]), int(name[1])) if isinstance(name, tuple) else None


class Workers:
    def __init__(self, app: WSGIApp, limits: ServerLimits, incidents: Incidents, *,
                 server_name: str, server_port: int,
                 give_back: Callable[[Connection, str], None],
                 release: Callable[[int], None]) -> None:
        self.app = app
        self._limits = limits
        self._incidents = incidents
        self._server_name = server_name
        self._server_port = server_port
        self._give_back = give_back
        self._release = release
        self._cond = threading.Condition()
        self._quick: deque[Job] = deque()
        self._uploads: deque[Job] = deque()
        self._uploads_running = 0
        self._idle = 0
        self._stopping = False
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for i in range(self._limits.threads):
            thread = threading.Thread(target=self._run, name=f"reporter-worker-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def submit(self, job: Job) -> None:
        with self._cond:
            if job.upload:
                self._uploads.append(job)
                if self._uploads_running >= self._limits.upload_slots:
                    self._incidents.count("uploads that waited for a free upload slot")
            else:
                self._quick.append(job)
                if self._idle == 0:
                    self._incidents.count("requests that waited for a busy worker")
            self._cond.notify()

    def waiting(self) -> int:
        with self._cond:
            return len(self._quick) + len(self._uploads)

    def _next(self) -> Job | None:
        with self._cond:
            while True:
                if self._quick:
                    return self._quick.popleft()
                if self._uploads:
                    first = self._uploads[0]
                    if time.monotonic() - first.enqueued > self._limits.upload_wait:
                        self._uploads.popleft()
                        self._incidents.count("uploads refused after waiting for a slot")
                        return Job(first.conn, first.request, error=503)
                    if self._uploads_running < self._limits.upload_slots:
                        self._uploads_running += 1
                        return self._uploads.popleft()
                if self._stopping:
                    return None
                self._idle += 1
                try:
                    self._cond.wait(timeout=1.0)
                finally:
                    self._idle -= 1

    def _run(self) -> None:
        while True:
            job = self._next()
            if job is None:
                return
            upload = job.upload
            try:
                self._serve(job)
            except Exception:  # a bug here must never take a worker away
                log.error("the HTTP server failed to answer a request (%s)", exc_kind())
                self._give_back(job.conn, CLOSE)
            finally:
                if upload:
                    with self._cond:
                        self._uploads_running -= 1
                        self._cond.notify()

    def _serve(self, job: Job) -> None:
        conn = job.conn
        self._release(conn.buffered)
        conn.buffered = 0
        body: SocketBody | io.BytesIO
        if job.upload:
            body = SocketBody(conn, self._limits, self._incidents, job.prefix)
        else:
            body = io.BytesIO(job.body or b"")
        environ = environ_for(job.request, body, server_name=self._server_name,
                              server_port=self._server_port, front_error=job.error,
                              local_address=_local_address(conn))
        close = job.error is not None or self._stopping

        def send(data: bytes) -> None:
            conn.sock.sendall(data)

        conn.sock.setblocking(True)
        conn.sock.settimeout(self._limits.send_timeout)
        head_only = job.request is not None and job.request.method == b"HEAD" and not job.error
        if job.error is not None and conn.http.our_state is not h11.SEND_RESPONSE:
            # The head could not be parsed: h11 cannot frame an answer, so the
            # refusal goes out on a fresh state machine, and the socket closes.
            conn.http = h11.Connection(h11.SERVER)
            conn.http.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            conn.http.next_event()
        responder = Responder(conn, send, head_only=head_only, close=close,
                              body_done=body.settle if isinstance(body, SocketBody) else None)
        try:
            run_app(self.app, environ, responder)
        except (OSError, h11.LocalProtocolError):
            # The client went away, or stopped reading for send_timeout.
            self._give_back(conn, CLOSE)
            return
        if isinstance(body, SocketBody) and body.failed:
            self._give_back(conn, CLOSE)
            return
        if (conn.http.our_state is h11.DONE and conn.http.their_state is h11.DONE
                and not close):
            conn.http.start_next_cycle()
            self._give_back(conn, KEEP)
        else:
            self._give_back(conn, LINGER)
