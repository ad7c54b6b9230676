"""The web app's database access: a kept connection per request, given back at teardown.

The pool itself is ``reporter.station.connections``; this module ties it to
Flask's request context.
"""

from __future__ import annotations

from flask import Flask, current_app, g

from reporter.errors import ReporterError
from reporter.station.connections import Connections
from reporter.station.store import Store
from reporter.station.web.context import station

_CHECKED_OUT = "reporter_reader"


def connections(app: Flask | None = None) -> Connections:
    return station(app or current_app).connections


def get_store() -> Store:
    """A kept connection for this request's reads (given back when it ends)."""
    store: Store | None = g.get(_CHECKED_OUT)
    if store is None:
        store = connections().take()
        setattr(g, _CHECKED_OUT, store)
    return store


def init_app(app: Flask) -> None:
    @app.teardown_request
    def _give_back(exc: BaseException | None = None) -> None:
        store: Store | None = g.pop(_CHECKED_OUT, None)
        if store is not None:
            # A connection that failed in a way we did not expect may be
            # broken: it is closed, and a later request opens a fresh one.
            broken = exc is not None and not isinstance(exc, ReporterError)
            connections(app).give_back(store, broken=broken)
