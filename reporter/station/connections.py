"""Database access for the web app: kept connections, one committer.

Opening a keyed SQLCipher connection costs about 0.3 ms, and closing the last
one makes SQLite checkpoint its WAL: paid per request, that was half of a
submission's time. So connections for reads are kept for the life of the
process, in a small pool: a request takes one when it first reads and gives
it back when it ends. The pool keeps at most ``KEPT_READERS`` (a server has
16 threads, most of them busy reading slow uploads, not the database); a
request that finds the pool empty opens one, and it is closed if the pool is
full when it comes back. Every write goes through the app's ``GroupCommit``,
which owns its own connection. Reads run in autocommit mode, so each one sees
what other processes (the CLI) committed.
"""

from __future__ import annotations

import threading

from reporter.station.commit import GroupCommit
from reporter.station.config import Config
from reporter.station.instance import open_store
from reporter.station.store import Store

CACHE_KIB = 256
KEPT_READERS = 4


class Connections:
    def __init__(self, config: Config, station_id: bytes) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._idle: list[Store] = []
        self.commits = GroupCommit(self._open, station_id)

    def _open(self) -> Store:
        store = open_store(self._config.instance_path, self._config.db_key)
        # Kept connections touch a few pages each (small tables, the end of the
        # report log): 256 KiB of cache each instead of SQLite's 2 MiB keeps a
        # many-threaded server's memory flat.
        store.limit_cache(CACHE_KIB)
        return store

    def take(self) -> Store:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return self._open()

    def give_back(self, store: Store, *, broken: bool = False) -> None:
        with self._lock:
            if not broken and len(self._idle) < KEPT_READERS:
                self._idle.append(store)
                return
        store.close()

    def idle_count(self) -> int:
        with self._lock:
            return len(self._idle)
