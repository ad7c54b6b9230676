"""One keyed SQLCipher connection per request, closed in teardown."""

from __future__ import annotations

from flask import Flask, current_app, g

from ..instance import open_store
from ..store import Store
from .context import station


def get_store() -> Store:
    if "store" not in g:
        config = station(current_app).config
        g.store = open_store(config.instance_path, config.db_key)
    store: Store = g.store
    return store


def _close(_exc: BaseException | None = None) -> None:
    store = g.pop("store", None)
    if store is not None:
        store.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(_close)
