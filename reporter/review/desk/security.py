"""The desk's security headers, its checks of where a request comes from, and its guard.

Headers (the station's, ``reporter/web/headers.py`` and SECURITY.md "The web
pages", with what a reading
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

from werkzeug.wrappers import Response

from reporter.web.guard import Guard, WSGIApp, where
from reporter.web.headers import COMMON

__all__ = ["COMMON", "FILE_POLICY", "PAGE_POLICY", "guarded", "where"]

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


def guarded(app: WSGIApp) -> Guard:
    """The desk behind ``reporter/web/guard.py``'s guard. Streams (a file being sent)
    pass through, so a failure half way closes the connection and the browser sees
    a download that did not finish, never a page glued to the file."""
    return Guard(app, FALLBACK, buffer=False)
