"""The last line of defence between the app and the WSGI server.

Flask's error handlers turn every expected failure into a translated page.
If something still escapes (a bug in an error handler, say), the server would
log the full traceback, and a traceback's exception message can quote what a
monitor typed. This middleware catches it first: it logs the exception's type
and where it was raised, nothing else, and answers with a fixed page.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable
from typing import Any

from reporter.station.web.headers import BARE_POLICY, COMMON

log = logging.getLogger("reporter")

FALLBACK = (
    '<!doctype html><html><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    "<title>Error / Erreur</title></head><body>"
    '<p><a href="/recipe">Leave quickly / Partir vite</a></p>'
    "<h1>The station had a problem</h1><p>Nothing was saved. Please go back and try again.</p>"
    '<h1 lang="fr">La station a eu un problème</h1><p lang="fr">Rien n\'a été enregistré. '
    "Revenez en arrière et réessayez.</p></body></html>"
).encode()
HEADERS = [
    ("Content-Type", "text/html; charset=utf-8"),
    ("Content-Length", str(len(FALLBACK))),
    ("Content-Security-Policy", BARE_POLICY),
    *COMMON.items(),
]

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def where(exc: BaseException) -> str:
    tb = exc.__traceback__
    location = "?"
    while tb is not None:
        location = f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}"
        tb = tb.tb_next
    return location


class Guard:
    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> (
            Iterable[bytes]):
        started = False

        def tracking_start_response(*args: Any) -> Any:
            nonlocal started
            started = True
            return start_response(*args)

        try:
            result = self.app(environ, tracking_start_response)
            try:
                return list(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except Exception as exc:
            log.error("escaped %s at %s", type(exc).__name__, where(exc))
            # exc_info only if a status was already given: WSGI's rule for
            # replacing headers that have not been sent yet.
            if started:
                start_response("500 Internal Server Error", HEADERS, sys.exc_info())
            else:
                start_response("500 Internal Server Error", HEADERS)
            return [FALLBACK]
