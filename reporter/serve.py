"""Serving the station with Waitress, set up so nothing spills to disk.

Waitress buffers a request body above ``inbuf_overflow`` (512 KB by default)
and a response above ``outbuf_overflow`` (1 MB) in temporary files. Both would
put a monitor's words on disk in plaintext, so both thresholds are raised
above the largest body the app accepts; ``max_request_body_size`` makes
Waitress itself refuse anything larger before buffering it.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from waitress.server import BaseWSGIServer, MultiSocketServer, create_server

from .config import Config

# The largest error page, with a 20,000-character description re-rendered and
# HTML-escaped, is well under 1 MiB; 4 MiB leaves room and stays in memory.
RESPONSE_BUFFER_BYTES = 4 * 1024 * 1024


def server_settings(config: Config, threads: int = 4) -> dict[str, Any]:
    return {
        "threads": threads,
        # Waitress refuses (in plain English) anything above twice the app's
        # limit before reading it; between the two, the app answers with its
        # own translated "too large" page.
        "max_request_body_size": 2 * config.max_body_bytes,
        "inbuf_overflow": 2 * config.max_body_bytes + 64 * 1024,
        "outbuf_overflow": RESPONSE_BUFFER_BYTES,
        "expose_tracebacks": False,
        "ident": "reporter",
        "clear_untrusted_proxy_headers": True,
        # Waitress logs nothing per request; keep it that way (no access log,
        # so no IP address or time is ever written).
        "log_socket_errors": False,
    }


def make_server(app: Flask, config: Config, host: str, port: int,
                threads: int = 4) -> BaseWSGIServer | MultiSocketServer:
    return create_server(app, host=host, port=port, **server_settings(config, threads))
