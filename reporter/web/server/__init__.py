"""The HTTP server of the station and of the review desk: a front that waits,
workers that run the app.

Why not Cheroot (the desk's until issue 13's last round) or Waitress (the
station's before it): Waitress reads a whole body into memory or a temporary
file (plaintext on disk) before the app sees a byte; Cheroot gives a worker
thread to a connection as soon as it is accepted, so 16 sockets that send
nothing, half a head or a byte a minute took the station off the air (and 8
silenced the desk, from any program on the reviewer's laptop), and no
per-address limit helps behind an onion service, where every client is
127.0.0.1.

Here a single front thread (``front.py``) holds every connection, however
many and however slow, until its request head (and a small body) is
complete; only then does a worker (``workers.py``) run the app. Uploads
stream from the socket inside a worker (the station seals them as they
arrive, the desk stages bundles), must keep a minimum rate (``body.py``),
and may use only some of the workers, so pages are always served. HTTP/1.1
parsing and framing is h11's (python-hyper), a small, well-tested state
machine; the scheduling and limits (``limits.py``) are ours. Nothing is ever
spooled to disk, and the app is never told the client's address.

An app served here must answer ``FRONT_ERROR`` (``wsgi.py``): a request the
front refused arrives with that status in its environment, for the app to
render its own page for it.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import resource
import socket
import sys
import threading
from typing import Any

from reporter.web.server.body import BodyCut
from reporter.web.server.front import Front
from reporter.web.server.limits import Incidents, ServerLimits
from reporter.web.server.workers import Workers
from reporter.web.server.wsgi import FRONT_ERROR, WSGIApp

__all__ = ["FRONT_ERROR", "BodyCut", "HTTPServer", "ServerLimits", "WSGIApp", "make_server"]

DEFAULT_THREADS = 16
LISTEN_BACKLOG = 1024


class HTTPServer:
    """A bound server: ``effective_port`` is known; ``run()`` serves until ``close()``."""

    def __init__(self, app: WSGIApp, host: str, port: int, limits: ServerLimits) -> None:
        family, kind, proto, _name, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        listener = socket.socket(family, kind, proto)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(address)
            listener.listen(LISTEN_BACKLOG)
        except BaseException:
            listener.close()
            raise
        self.limits = limits
        self.effective_port = int(listener.getsockname()[1])
        self.incidents = Incidents()
        self._front = Front(listener, limits, self.incidents)
        self._workers = Workers(app, limits, self.incidents, server_name=host,
                                server_port=self.effective_port,
                                give_back=self._front.give_back, release=self._front.release)
        self._front.workers = self._workers
        self._closed = threading.Event()

    @property
    def app(self) -> WSGIApp:
        return self._workers.app

    @app.setter
    def app(self, app: WSGIApp) -> None:
        """Set before ``run()``: the desk binds first, then builds the app for that port."""
        self._workers.app = app

    def run(self) -> None:
        self._workers.start()
        try:
            self._front.run()
        finally:
            self.close()

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        self._front.stop()
        self._workers.stop()
        self.incidents.maybe_log(force=True)


def _descriptor_room(wanted: int) -> int:
    """Raise the soft file-descriptor limit toward ``wanted``; return what is allowed."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    return int(soft) if soft != resource.RLIM_INFINITY else wanted


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """Cap glibc's per-thread malloc arenas (``M_ARENA_MAX``) before threads start.

    glibc gives each new thread that allocates its own arena, up to 8 per
    core, and keeps what they grew: with 16 server threads that was about
    20 MB of resident memory after a burst of requests, for no speed gained
    (the GIL serialises Python's allocations anyway). Returns whether it took
    effect (not on musl or macOS, where it is not needed).
    """
    name = ctypes.util.find_library("c")
    if not name or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(name)
        return bool(libc.mallopt(ctypes.c_int(-8), ctypes.c_int(arenas)))  # M_ARENA_MAX
    except (OSError, AttributeError):
        return False


def make_server(app: WSGIApp, host: str, port: int, threads: int = DEFAULT_THREADS, *,
                max_body_bytes: int, **overrides: Any) -> HTTPServer:
    """A bound server for ``app``: ``threads`` workers, bodies announced larger than
    ``max_body_bytes`` refused (413) before any is read, other ``ServerLimits`` from
    ``overrides``."""
    limit_malloc_arenas()
    limits = ServerLimits.for_threads(threads, **overrides)
    # Room for the listener, the workers' database files and the log, besides clients.
    room = _descriptor_room(limits.max_connections + 256) - 128 - threads
    limits = ServerLimits(**{**limits.__dict__,
                             "max_connections": max(16, min(limits.max_connections, room)),
                             "max_body_bytes": max_body_bytes})
    return HTTPServer(app, host, port, limits)
