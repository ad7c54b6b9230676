"""Every error a browser can meet becomes a translated page, never a traceback."""

from __future__ import annotations

import logging

from flask import Flask, render_template
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException, InternalServerError

from reporter.errors import DatabaseUnreadable, ReporterError

log = logging.getLogger("reporter")

MESSAGES = {
    400: (_l("Something was wrong with that request"),
          _l("Please go back to the form and send it again.")),
    403: (_l("This form was sent from another website"),
          _l("For your safety, the station only takes what is sent from its own pages. "
             "Please open the form on this station and send it from there.")),
    404: (_l("Page not found"),
          _l("This station has no page at that address.")),
    405: (_l("Not allowed"),
          _l("This page cannot be used that way. Please start again from the form.")),
    413: (_l("What you sent is too large"),
          _l("Please send fewer or smaller files, or a shorter report, and send it again.")),
    500: (_l("The station had a problem"),
          _l("Nothing was saved. Please wait a moment and send your report again.")),
    503: (_l("The station cannot take reports right now"),
          _l("Nothing was saved. Please wait a moment and send your report again.")),
}


def _page(code: int) -> tuple[str, int]:
    title, message = MESSAGES.get(code, MESSAGES[400 if code < 500 else 500])
    return render_template("error.html", title=title, message=message, code=code), code


def init_app(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> tuple[str, int]:
        return _page(error.code or 500)

    @app.errorhandler(ReporterError)
    def _ours(error: ReporterError) -> tuple[str, int]:
        # A known failure that escaped a view (the store is locked or the
        # station has no recipient): nothing was stored. Its message is ours
        # (never report content), so the operator may read why; a damaged
        # database is an error the operator must act on (restore a backup).
        if isinstance(error, DatabaseUnreadable):
            log.error("%s", error)
        else:
            log.warning("a request failed: %s", error)
        return _page(503)

    @app.errorhandler(InternalServerError)
    def _internal(_error: InternalServerError) -> tuple[str, int]:
        return _page(500)
