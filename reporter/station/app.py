"""The Flask application factory."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from types import TracebackType

from flask import Flask, request
from flask.sessions import NullSession, SessionInterface, SessionMixin
from flask.wrappers import Request, Response

from reporter.i18n import languages as i18n
from reporter.station.config import Config
from reporter.station.connections import Connections
from reporter.station.diskspace import DiskSpace
from reporter.station.formtoken import FormTokens
from reporter.station.instance import load_identity, open_store
from reporter.station.ledger import Ledger
from reporter.station.ratelimit import TokenBucket
from reporter.station.uploads import MemoryOnlyRequest
from reporter.station.web import (
    admission,
    attachments,
    db,
    errors,
    headers,
    hotspot,
    intake,
    neutral,
    refusals,
)
from reporter.station.web.context import EXTENSION, StationContext
from reporter.station.web.guard import guarded, where
from reporter.web.server.limits import Incidents

STYLE_FILE = Path(__file__).parent / "static" / "style.css"
log = logging.getLogger("reporter")


class ReporterFlask(Flask):
    """Flask, with exception logging that can never leak a report.

    Flask's default logs the exception message and traceback; a message can
    quote form input (``invalid literal for int(): '<what the monitor
    typed>'``). This logs only the exception's type, the route and the line.
    """

    request_class = MemoryOnlyRequest

    def log_exception(
        self,
        exc_info: tuple[type[BaseException], BaseException, TracebackType]
        | tuple[None, None, None],
    ) -> None:
        exc_type, exc, _tb = exc_info
        rule = request.url_rule.rule if request and request.url_rule else "-"
        name = exc_type.__name__ if exc_type else "?"
        location = where(exc) if exc is not None else "?"
        log.error("unhandled %s in %s %s at %s", name, request.method, rule, location)


class NoSessions(SessionInterface):
    """No session and no cookie, ever.

    The station needs none: the language travels in the URL and the form,
    and a form's token is in the form itself (``formtoken.py``). Flask's
    default would set a signed cookie the first time anything touched
    ``session``; here any write to it is a bug that fails loudly (``NullSession``)
    instead of a cookie that would tie a phone's visits together.
    """

    def open_session(self, app: Flask, request: Request) -> SessionMixin:
        return NullSession()

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        return None


def create_app(config: Config) -> Flask:
    """Build the station app for an unlocked instance."""
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    # No static route: the one style sheet is inline (hashed into the CSP), so
    # the app serves no file from the install (whose modification time Flask
    # would send as ETag and Last-Modified).
    app = ReporterFlask(__name__, static_folder=None)
    with open_store(config.instance_path, config.db_key) as store:
        identity = load_identity(store)
    css = STYLE_FILE.read_text(encoding="utf-8")
    app.session_interface = NoSessions()
    app.config.update(
        TESTING=config.testing,
        DEBUG=False,
        PROPAGATE_EXCEPTIONS=False,
        # The whole body (text, attachments and some slack: see config.py),
        # refused from its Content-Length before reading when larger.
        MAX_CONTENT_LENGTH=config.max_request_bytes,
        # Each text field; files are streamed through encryption instead.
        MAX_FORM_MEMORY_SIZE=config.max_body_bytes,
        # Fields, check boxes and files: a body of thousands of tiny parts is
        # refused (413) instead of costing a parse of each.
        MAX_FORM_PARTS=200 + config.max_attachments,
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.extensions[EXTENSION] = StationContext(
        config=config, identity=identity, style=css,
        connections=Connections(config, identity.station_id),
        tokens=(tokens := FormTokens()),
        ledger=Ledger(config.form_token_lifetime, tokens.now),
        submissions=TokenBucket(config.max_submissions_per_minute, config.submission_window),
        disk=DiskSpace(config.instance_path, config.min_free_bytes, config.disk_size_file),
        incidents=Incidents(what="the station turned submissions away"),
    )
    app.jinja_env.globals["inline_style"] = css
    i18n.init_app(app, preview=config.preview_languages)
    db.init_app(app)
    attachments.init_app(app)
    headers.init_app(app, css)
    errors.init_app(app)
    refusals.init_app(app)
    # After the refusals: a request refused there spends no token and is not redirected.
    admission.init_app(app)
    hotspot.init_app(app)
    app.register_blueprint(intake.bp)
    app.register_blueprint(neutral.bp)
    app.wsgi_app = guarded(app.wsgi_app)  # type: ignore[method-assign]
    return app
