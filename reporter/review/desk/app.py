"""The review desk's application factory."""

from __future__ import annotations

import logging
import sys
from types import TracebackType

from flask import Flask, g, request
from flask.sessions import NullSession, SessionInterface, SessionMixin
from flask.wrappers import Request, Response
from werkzeug.routing import IntegerConverter, Map

from reporter.i18n import reviewer as i18n
from reporter.review.desk import text
from reporter.review.desk.config import DeskConfig
from reporter.review.desk.security import guarded, where
from reporter.review.desk.sessions import Sessions
from reporter.review.desk.vault import Vault
from reporter.review.desk.web import (
    charts,
    errors,
    exports,
    files,
    gate,
    imports,
    inbox,
    reports,
    unlock,
    verify,
)
from reporter.review.desk.web.context import EXTENSION, DeskContext, desk
from reporter.review.importer import format_ranges
from reporter.review.labels import (
    KIND_LABELS,
    NOT_GIVEN,
    PERPETRATOR_LABELS,
    SOURCE_LABELS,
    TYPE_LABELS,
)
from reporter.review.workflow import STATUS_LABELS

log = logging.getLogger("reporter")
# A form of the desk is a few fields; nothing is uploaded (yet): a body larger than
# this is refused before it is read, so Werkzeug never spools one to disk.
MAX_BODY = 64 * 1024


class DeskFlask(Flask):
    """Flask, logging an exception as its type and line only (never its message, which
    could quote a report)."""

    def log_exception(
        self,
        exc_info: tuple[type[BaseException], BaseException, TracebackType]
        | tuple[None, None, None],
    ) -> None:
        exc_type, exc, _tb = exc_info
        rule = request.url_rule.rule if request and request.url_rule else "-"
        name = exc_type.__name__ if exc_type else "?"
        log.error("review desk: unhandled %s in %s %s at %s", name, request.method, rule,
                  where(exc) if exc is not None else "?")


class RowId(IntegerConverter):
    """A report's, an incident's or an attachment's number in a URL: 1 to 2^63 - 1, the
    range of SQLite's integers. Anything else is no page (404), never an
    ``OverflowError`` when the number reaches SQLite."""

    def __init__(self, url_map: Map) -> None:
        super().__init__(url_map, min=1, max=2**63 - 1)


class NoFlaskSession(SessionInterface):
    """Flask's own signed-cookie session is never used: the desk's session is its own
    (``sessions.py``), with nothing in the cookie but a random id."""

    def open_session(self, app: Flask, request: Request) -> SessionMixin:
        return NullSession()

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        return None


def create_app(config: DeskConfig, vault: Vault | None = None) -> Flask:
    """The desk for the review database ``config.review_db`` (locked until unlocked)."""
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    app = DeskFlask(__name__, static_folder="static", static_url_path="/static")
    app.session_interface = NoFlaskSession()
    app.url_map.converters["rowid"] = RowId
    app.config.update(
        TESTING=config.testing, DEBUG=False, PROPAGATE_EXCEPTIONS=False,
        MAX_CONTENT_LENGTH=MAX_BODY, MAX_FORM_MEMORY_SIZE=MAX_BODY, MAX_FORM_PARTS=50,
        TEMPLATES_AUTO_RELOAD=False, SEND_FILE_MAX_AGE_DEFAULT=None,
    )
    sessions = Sessions()
    app.extensions[EXTENSION] = DeskContext(
        config=config, vault=vault or Vault(config.review_db, config.idle_seconds),
        sessions=sessions)

    def chosen() -> str | None:
        return desk().sessions.language(g.get("session_id"))

    i18n.init_app(app, chosen)
    app.jinja_env.filters["shown"] = text.shown
    app.jinja_env.filters["one_line"] = text.one_line
    app.jinja_env.globals.update(
        csrf_token=gate.csrf_token, authorised=gate.authorised,
        TYPE_LABELS=TYPE_LABELS, KIND_LABELS=KIND_LABELS, NOT_GIVEN=NOT_GIVEN,
        type_labels=TYPE_LABELS, perpetrator_labels=PERPETRATOR_LABELS,
        source_labels=SOURCE_LABELS, SHORT_STATION=8, format_ranges=format_ranges,
        STATUS_LABELS=STATUS_LABELS, current_reviewer=lambda: desk().vault.reviewer,
        failed_before_unlock=lambda: desk().vault.failed_before_unlock,
    )
    errors.init_refusals(app)  # first: before the gate's host and session checks
    gate.init_app(app)
    errors.init_app(app)
    for module in (unlock, inbox, reports, files, verify, charts, exports, imports):
        app.register_blueprint(module.bp)
    app.wsgi_app = guarded(app.wsgi_app)  # type: ignore[method-assign]
    return app
