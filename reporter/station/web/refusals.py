"""Requests refused before any view: by the HTTP server, or sent from another site.

When the server's front refuses a request (a malformed or oversized head, a
body announced larger than the station takes, an upload that waited too long
for a slot), it asks the app for the page instead of writing a bare answer:
so the refusal is translated and carries every security header, like any
other page. The server marks such a request in its WSGI environment.

A POST that the browser says came from another site (``Sec-Fetch-Site:
cross-site``) is refused with a 403 page, whatever it carries. The station
has no cookie and no login, so such a request has no authority to borrow; the
check is defence in depth against a page elsewhere posting into the station
with a monitor's browser. ``Origin`` is not used: with the station's
``Referrer-Policy: no-referrer``, browsers send ``Origin: null`` on the
station's own form posts. A browser that sends no ``Sec-Fetch-Site`` (older
ones, scripts) is not refused.
"""

from __future__ import annotations

from flask import Flask, abort, request

from reporter.web.server.wsgi import FRONT_ERROR


def init_app(app: Flask) -> None:
    @app.before_request
    def _refused_by_the_server() -> None:
        status = request.environ.get(FRONT_ERROR)
        if status is not None:
            abort(int(status))

    @app.before_request
    def _sent_from_another_site() -> None:
        if request.method == "POST" and \
                request.headers.get("Sec-Fetch-Site", "").strip().lower() == "cross-site":
            abort(403)
