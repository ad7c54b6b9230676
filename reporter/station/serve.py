"""Serving the station with Cheroot, set up so nothing spills to disk.

Why Cheroot and not Waitress (used until attachments arrived): Waitress reads
a whole request body into its own buffer before the app sees a byte, and
writes any body above its threshold to a temporary file, in plaintext. A
500 MB video would sit on disk, or in memory, whole. Cheroot hands the app a
stream that reads from the socket as the app asks, so an upload is encrypted
chunk by chunk as it arrives (``submission.py``) and plaintext only ever
exists in small memory buffers. Cheroot never spools a request or a response
to disk.

The price: a request holds one of the server's threads while it is read. A
monitor on a slow Tor circuit may take an hour over a large upload, so the
pool is larger than the CPU count (``--threads``, default 16); an upload that
stops sending for ``SOCKET_TIMEOUT`` seconds is dropped and its space
reclaimed.

Cheroot's own log lines can name a client address; ``error_log`` is replaced
so that only the kind of failure is ever logged (no address, no request
data, no exception message).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

from cheroot import wsgi
from flask import Flask

from reporter.station.config import Config

log = logging.getLogger("reporter")
DEFAULT_THREADS = 16
# Seconds a connection may stay silent (between requests, or in the middle
# of an upload) before it is closed. Tor adds seconds of latency, not minutes.
SOCKET_TIMEOUT = 120
MAX_HEADER_BYTES = 64 * 1024


class StationServer(wsgi.Server):
    """Cheroot's WSGI server, with logging that cannot leak who sent what."""

    def error_log(self, msg: str = "", level: int = 20, traceback: bool = False) -> None:
        kind = type(sys.exc_info()[1]).__name__ if traceback and sys.exc_info()[1] else None
        if level >= logging.WARNING:
            log.log(level, "the HTTP server reported a problem%s",
                    f" ({kind})" if kind else "")

    @property
    def effective_port(self) -> int:
        return int(self.bind_addr[1])

    def run(self) -> None:
        """Serve (``make_server`` has bound the socket) until ``close`` or Ctrl+C."""
        try:
            self.serve()
        finally:
            self.close()

    def close(self) -> None:
        if not getattr(self, "_closed", False):
            self._closed = True
            self.stop()


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


def make_server(app: Flask, config: Config, host: str, port: int,
                threads: int = DEFAULT_THREADS) -> StationServer:
    """A bound server (``effective_port`` is known); ``run()`` serves."""
    limit_malloc_arenas()
    server = StationServer(
        (host, port), app,
        numthreads=threads,
        max=threads,
        request_queue_size=64,
        timeout=SOCKET_TIMEOUT,
        shutdown_timeout=5,
        server_name="reporter",
    )
    # The app refuses a too-large body itself, with a translated page (see
    # ``app.py``); Cheroot's own limit is a backstop well above it.
    server.max_request_body_size = 2 * config.max_request_bytes
    server.max_request_header_size = MAX_HEADER_BYTES
    # Cheroot closes idle keep-alive connections beyond 10 (its default),
    # which a browser may meet as a failed request: keep more of them.
    server.keep_alive_conn_limit = max(64, 4 * threads)
    server.prepare()
    return server

