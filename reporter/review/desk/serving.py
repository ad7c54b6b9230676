"""The desk's HTTP server: the station's (``reporter/web/server/``), on one address.

Until issue 13's last round the desk ran on Cheroot, which gives each
connection a worker thread from the moment it is accepted: any program on the
reviewer's laptop (another user's, no browser needed) that opened 8 sockets
(``--threads``) and sent a byte of header now and then silenced the desk, so
the reviewer could not even reach "Lock the desk". The shared server holds
waiting connections in one front thread, for a file descriptor each, and
gives a worker only a request whose head (and small body) has come; an idle
or trickling socket costs the reviewer nothing.

What the desk needs of a server besides: nothing it sends is spooled to disk
(each chunk the app yields goes to the socket: a decrypted video among them),
request bodies are read from the socket as the app asks (the import page
stages bundles as they come, ``--max-import-mb``; every other route takes a
small form, ``MAX_BODY``), no client address is handed to the app, and
nothing per request is logged (the server's log is a count of what it shed,
once a minute, with no client data).
"""

from __future__ import annotations

from reporter.web.server import HTTPServer, WSGIApp
from reporter.web.server import make_server as make_http_server

__all__ = ["DEFAULT_THREADS", "HTTPServer", "bound_port", "make_server"]

DEFAULT_THREADS = 8
MAX_HEAD = 16 * 1024
MAX_BODY = 64 * 1024
# One reviewer's browser: a few dozen connections at most. The rest is room for a
# local program's flood, whose oldest idle sockets the front closes first.
MAX_CONNECTIONS = 1024
# From a connection's opening (or its last answer) to a complete head: a browser on
# the loopback takes milliseconds, and reopens a keep-alive connection closed idle.
HEAD_TIMEOUT = 60.0


def make_server(app: WSGIApp, host: str, port: int, threads: int = DEFAULT_THREADS,
                max_body: int = MAX_BODY) -> HTTPServer:
    """A server bound to ``host:port`` (0: a free port), ready for ``run()``;
    ``bound_port(server)`` is the port it listens on. Bodies announced larger than
    twice ``max_body`` (the import page's limit) are refused before any is read: a
    backstop, since the app checks each route's own limit from Content-Length first,
    with a page that says so. At most half the workers (at least one) read uploads."""
    uploads = max(1, threads // 2)
    return make_http_server(app, host, port, threads,
                            max_body_bytes=2 * max(max_body, MAX_BODY),
                            upload_slots=uploads, small_body_bytes=MAX_BODY,
                            max_head_bytes=MAX_HEAD, max_connections=MAX_CONNECTIONS,
                            head_timeout=HEAD_TIMEOUT)


def bound_port(server: HTTPServer) -> int:
    return server.effective_port
