"""Every error a reviewer's browser can meet becomes a translated page, never a traceback.

What is logged is the kind of failure and, for the desk's own errors, their
message (ours: paths and numbers, never report text); nothing per request.
"""

from __future__ import annotations

import logging

from flask import Flask, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from reporter.errors import DatabaseUnreadable, ReporterError
from reporter.review.desk.vault import Locked
from reporter.review.desk.web.gate import CsrfRefused, safe_next
from reporter.review.files import AttachmentError, UnknownAttachment
from reporter.review.records import UnknownReport
from reporter.review.strip import StripError
from reporter.web.server import FRONT_ERROR

log = logging.getLogger("reporter")

MESSAGES = {
    400: (_l("Something was wrong with that request"),
          _l("Go back and try again.")),
    403: (_l("Refused"),
          _l("The desk answers only its own pages. Open it by typing its address, or "
             "from a bookmark, and use its own links and buttons.")),
    404: (_l("Not found"),
          _l("There is nothing at this address in this review database.")),
    405: (_l("Not allowed"),
          _l("This page cannot be used that way.")),
    409: (_l("The attachments are missing"),
          _l("This report's attachments are not in this review database: it was imported "
             "without them. Import its bundle into a new review database.")),
    413: (_l("Too large"),
          _l("What was sent is larger than the desk accepts.")),
    421: (_l("Wrong address"),
          _l("The review desk answers only at the address it listens on. Open it at the "
             "address that 'reporter review serve' printed.")),
    422: (_l("No copy without metadata"),
          _l("No copy of this file without its metadata could be made: it is not a "
             "picture the desk can decode, or it is damaged, or too large. The original "
             "can still be downloaded.")),
    500: (_l("The review desk had a problem"),
          _l("Go back and try again.")),
    503: (_l("The review database cannot be read"),
          _l("The desk could not read the review database. Try again; if it happens "
             "again, see what 'reporter review serve' printed.")),
}
CSRF = (_l("This form has expired"),
        _l("The desk was restarted, or the form came from another page. Go back, reload "
           "the page and send the form again."))
DAMAGED = (_l("The review database is damaged"),
           _l("A page of the review database or of its attachment store failed its "
              "integrity check: the file was damaged or altered. Restore it from a backup "
              "(keep the damaged copy: it may be evidence)."))
BUSY = (_l("The desk is busy"),
        _l("Other imports are still being sent to the desk. Wait until they finish, then "
           "send this one again."))


def page(code: int, title: object = None, message: object = None) -> tuple[str, int]:
    default_title, default_message = MESSAGES.get(code, MESSAGES[400 if code < 500 else 500])
    return render_template("error.html", title=title or default_title,
                           message=message or default_message, code=code), code


def init_refusals(app: Flask) -> None:
    """A request the server's front refused itself (a malformed or oversized head, a
    body announced over the limit, an upload that waited too long for a worker)
    arrives marked with its status (``FRONT_ERROR``), and gets the desk's page for
    it, translated and with every header, before any other check runs."""
    @app.before_request
    def _refused_by_the_server() -> tuple[str, int] | None:
        status = request.environ.get(FRONT_ERROR)
        if status is None:
            return None
        code = int(status)
        if code == 503:
            return page(503, *BUSY)
        # Anything else the front refuses is the request's fault (501: a transfer
        # coding it does not implement), never "the review desk had a problem".
        return page(code, *MESSAGES.get(code, MESSAGES[400]))


def init_app(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> tuple[str, int]:
        if isinstance(error, CsrfRefused):
            return page(403, *CSRF)
        return page(error.code or 500)

    @app.errorhandler(ReporterError)
    def _ours(error: ReporterError) -> Response | tuple[str, int]:
        if isinstance(error, Locked):
            back = request.full_path.rstrip("?") if request.method == "GET" else None
            return redirect(url_for("unlock.page", next=safe_next(back)), 303)
        if isinstance(error, UnknownReport | UnknownAttachment):
            return page(404)
        if isinstance(error, AttachmentError):
            return page(409)
        if isinstance(error, StripError):
            return page(422)
        if isinstance(error, DatabaseUnreadable):
            log.error("review desk: %s", error)
            return page(503, *DAMAGED)
        log.warning("review desk: a request failed: %s: %s", type(error).__name__, error)
        return page(503)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> tuple[str, int]:
        # The type and the line only: a message could quote a report.
        log.error("review desk: unexpected %s", type(error).__name__)
        return page(500)
