"""The last line of defence between an app and the WSGI server.

Flask's error handlers turn every expected failure into a translated page.
If something still escapes (a bug in an error handler, say), the server would
log the full traceback, and a traceback's exception message can quote what a
monitor typed or what a report says. ``Guard`` catches it first: it logs the
exception's type and where it was raised, nothing else, and answers with a
fixed page.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable
from typing import Any

from reporter.web.headers import fallback_headers

log = logging.getLogger("reporter")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def where(exc: BaseException) -> str:
    """The file and line an exception was raised at: the one thing logged of it."""
    tb = exc.__traceback__
    location = "?"
    while tb is not None:
        location = f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}"
        tb = tb.tb_next
    return location


class Guard:
    """Wrap ``app``; answer ``page`` (a fixed HTML page) for whatever escapes it.

    ``buffer=True`` reads the whole answer inside the guard, so an exception while
    the body is produced still becomes the fallback page (the station: its answers
    are small pages). ``buffer=False`` passes the body through as it streams (the
    review desk sends files of hundreds of MB): a failure half way then closes the
    connection, and the browser sees a download that did not finish, never a page
    glued to the end of a file.
    """

    def __init__(self, app: WSGIApp, page: bytes, *, buffer: bool) -> None:
        self.app = app
        self.page = page
        self.headers = fallback_headers(page)
        self.buffer = buffer

    def __call__(self, environ: dict[str, Any],
                 start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = False

        def tracking_start_response(status: str, headers: list[tuple[str, str]],
                                    *exc_info: Any) -> Any:
            nonlocal started
            # A header the server cannot write as Latin-1 (a file's name, say) would fail
            # half way through writing them, and the fallback's headers would follow the
            # half-written ones: refuse it here, before anything is sent.
            for name, value in headers:
                name.encode("latin-1")
                value.encode("latin-1")
            started = True
            return start_response(status, headers, *exc_info)

        try:
            result = self.app(environ, tracking_start_response)
            if not self.buffer:
                return result
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
                start_response("500 Internal Server Error", self.headers, sys.exc_info())
            else:
                start_response("500 Internal Server Error", self.headers)
            return [self.page]
