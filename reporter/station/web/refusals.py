"""Requests the HTTP server refused itself still get the station's own page.

When the server's front refuses a request (a malformed or oversized head, a
body announced larger than the station takes, an upload that waited too long
for a slot), it asks the app for the page instead of writing a bare answer:
so the refusal is translated and carries every security header, like any
other page. The server marks such a request in its WSGI environment.
"""

from __future__ import annotations

from flask import Flask, abort, request

from reporter.station.server.wsgi import FRONT_ERROR


def init_app(app: Flask) -> None:
    @app.before_request
    def _refused_by_the_server() -> None:
        status = request.environ.get(FRONT_ERROR)
        if status is not None:
            abort(int(status))
