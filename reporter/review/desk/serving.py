"""The desk's WSGI server: Cheroot, bound to one address, quiet.

Why Cheroot, and not the station's own server (``station/server/``): that
server answers the public form's threats (thousands of slow or idle
connections from anywhere, uploads sealed as they stream), lives inside the
station package, which the review side must never import, and moving it to a
shared layer would be a large change in the middle of the station's work.
The desk is one reviewer's browser on the loopback interface. What it needs
from a server is that nothing it sends is spooled to disk: Cheroot writes
each chunk the app yields straight to the socket (Waitress would buffer an
answer over 1 MB in a temporary file, a decrypted video among them), and
reads request bodies from the socket as the app asks (the desk takes only
small forms: ``MAX_BODY``). The price, as measured for the station (FIELD-
NOTES): a connection holds a thread, so a local program that opens many idle
connections can make the desk wait; it cannot read it.

Nothing per request is logged (Cheroot keeps no access log); what Cheroot
itself reports is logged as one line with no traceback, since a traceback's
message could quote what a request carried.
"""

from __future__ import annotations

import logging
import socket
import sys
from collections.abc import Callable, Iterable
from typing import Any

from cheroot import wsgi

log = logging.getLogger("reporter")
DEFAULT_THREADS = 8
SERVER_NAME = "reporter-desk"
MAX_HEAD = 16 * 1024
MAX_BODY = 64 * 1024

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class DeskServer(wsgi.Server):
    """Cheroot's WSGI server, logging its own errors without tracebacks or messages
    that could quote a request."""

    def error_log(self, msg: str = "", level: int = 20, traceback: bool = False) -> None:
        if traceback:
            kind = sys.exc_info()[0]
            log.log(level, "review desk server: %s", kind.__name__ if kind else "error")
        else:
            log.log(level, "review desk server: %s", str(msg).splitlines()[0][:200]
                    if msg else "error")


def make_server(app: WSGIApp, host: str, port: int,
                threads: int = DEFAULT_THREADS, max_body: int = MAX_BODY) -> DeskServer:
    """A server bound to ``host:port`` (0: a free port), ready for ``serve()``;
    ``bound_port(server)`` is the port it listens on."""
    _probe(host, port)
    server = DeskServer((host, port), app, numthreads=threads, server_name=SERVER_NAME,
                        max=-1, request_queue_size=16, timeout=10, shutdown_timeout=5,
                        accepted_queue_size=-1)
    server.max_request_header_size = MAX_HEAD
    # A backstop only: the import page's upload is bounded by ``max_body``
    # (``--max-import-mb``) and every other route by the app's MAX_BODY, each checked
    # from Content-Length before the body is read, with a page that says so; Cheroot's
    # own refusal (plain text) is for what is beyond twice that.
    server.max_request_body_size = 2 * max(max_body, MAX_BODY)
    server.prepare()  # binds now, so a taken port is an error before anything is printed
    return server


def _probe(host: str, port: int) -> None:
    """Bind ``host:port`` once and let go, so a refusal is the system's own ``OSError``
    with its errno (Cheroot's says only "No socket could be created")."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))


def bound_port(server: DeskServer) -> int:
    return int(server.bind_addr[1])
