"""Database access for the web app: kept connections, one committer.

Opening a keyed SQLCipher connection costs about 0.3 ms, and closing the last
one makes SQLite checkpoint its WAL: paid per request, that was half of a
submission's time. So each server thread keeps one connection for reads for
the life of the process, and every write goes through the app's
``GroupCommit``, which owns its own connection. Reads run in autocommit mode,
so each one sees what other processes (the CLI) committed.
"""

from __future__ import annotations

import threading

from flask import Flask, current_app

from ..commit import GroupCommit
from ..config import Config
from ..errors import ReporterError
from ..instance import open_store
from ..store import Store
from .context import station

CACHE_KIB = 256


class Connections:
    def __init__(self, config: Config, station_id: bytes) -> None:
        self._config = config
        self._local = threading.local()
        self.commits = GroupCommit(self._open, station_id)

    def _open(self) -> Store:
        store = open_store(self._config.instance_path, self._config.db_key)
        # Kept connections touch a few pages each (small tables, the end of the
        # report log): 256 KiB of cache each instead of SQLite's 2 MiB keeps a
        # many-threaded server's memory flat.
        store.limit_cache(CACHE_KIB)
        return store

    def reader(self) -> Store:
        store: Store | None = getattr(self._local, "store", None)
        if store is None:
            store = self._local.store = self._open()
        return store

    def discard_reader(self) -> None:
        store: Store | None = getattr(self._local, "store", None)
        self._local.store = None
        if store is not None:
            store.close()


def connections(app: Flask | None = None) -> Connections:
    return station(app or current_app).connections


def get_store() -> Store:
    """This thread's kept connection, for reads."""
    return connections().reader()


def init_app(app: Flask) -> None:
    @app.teardown_request
    def _drop_broken(exc: BaseException | None = None) -> None:
        # A connection that failed in a way we did not expect may be broken:
        # the next request on this thread opens a fresh one.
        if exc is not None and not isinstance(exc, ReporterError):
            connections(app).discard_reader()
