"""The desk's security headers, its checks of where a request comes from, and its guard.

Headers (the station's, SECURITY.md "The web pages", with what a reading
room needs): pages may load this origin's style sheet, pictures and media
and nothing else, run no script at all, be framed by nobody, and post forms
only here; nothing is cached (``no-store``) or sent as a referrer. A file
(an original, a copy, a preview) gets a CSP of its own, ``default-src
'none'; sandbox``: opened on its own, it is an inert, sandboxed document.

Checks, before anything else runs:

* ``Host`` must be the address the desk listens on (``config.allowed_hosts``):
  the DNS-rebinding defence (421 otherwise);
* ``Sec-Fetch-Site``, which browsers send with every request, must be
  ``same-origin`` or ``none`` (the reviewer typed the address or used a
  bookmark): a request that another site's page, or another program's page
  on 127.0.0.1 at another port (``same-site``), makes the browser send is
  refused (403), whatever it asks for. A client that sends no
  ``Sec-Fetch-Site`` (curl, an old browser) is not a page in the reviewer's
  browser and is let through to the other checks (session, CSRF).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.wrappers import Response

log = logging.getLogger("reporter")

PAGE_POLICY = "; ".join([
    "default-src 'none'",
    "style-src 'self'",
    "img-src 'self'",
    "media-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
])
FILE_POLICY = "default-src 'none'; sandbox"
BARE_POLICY = "default-src 'none'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
COMMON = {
    "Cache-Control": "no-store, max-age=0",
    "Pragma": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}
ALLOWED_FETCH_SITES = frozenset({"same-origin", "none"})


def secure(response: Response) -> Response:
    """Every header above; a file response keeps the CSP its view set."""
    response.headers.update(COMMON)
    response.headers.setdefault("Content-Security-Policy", PAGE_POLICY)
    return response


def host_allowed(host: str | None, allowed: frozenset[str]) -> bool:
    return host is not None and host.lower() in allowed


def fetch_site_allowed(value: str | None) -> bool:
    return value is None or value.strip().lower() in ALLOWED_FETCH_SITES


# --- the last line of defence ---------------------------------------------------------

FALLBACK = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    "<title>Review desk: error</title></head><body><main>"
    "<h1>The review desk had a problem</h1><p>Go back and try again.</p>"
    '<h2 lang="fr">Le bureau de lecture a eu un problème</h2><p lang="fr">Revenez en '
    "arrière et réessayez.</p>"
    '<h2 lang="pt">A mesa de leitura teve um problema</h2><p lang="pt">Volte e tente '
    "de novo.</p></main></body></html>"
).encode()
FALLBACK_HEADERS = [
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
    """Whatever escapes Flask's error handlers: logged as its type and line only (a
    message may quote a report), answered with a fixed page. Streams (a file being
    sent) are passed through, so a failure half way closes the connection and the
    browser sees a download that did not finish, never a page glued to the file."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any],
                 start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = False

        def tracking_start_response(*args: Any) -> Any:
            nonlocal started
            started = True
            return start_response(*args)

        try:
            return self.app(environ, tracking_start_response)
        except Exception as exc:
            log.error("escaped %s at %s", type(exc).__name__, where(exc))
            if started:
                start_response("500 Internal Server Error", FALLBACK_HEADERS, sys.exc_info())
            else:
                start_response("500 Internal Server Error", FALLBACK_HEADERS)
            return [FALLBACK]
