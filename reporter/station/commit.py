"""Group commit: concurrent submissions share one durable transaction.

Each accepted report must be on disk (``synchronous=FULL``) before its
receipt is shown. Done one by one, every report pays for its own fsync and
request threads queue on SQLite's file lock, which sleeps and polls (1 ms,
then up to 100 ms) instead of waking the next writer. Here, writers inside
the process queue on a Python lock instead, and whoever holds it commits
*every* report waiting at that moment in one transaction: one fsync for the
batch, woken in order, no polling.

Nothing changes for a single writer, and nothing changes in what is
promised: ``append`` returns only after the transaction holding that
envelope has committed, so a kill -9 at any moment loses no acknowledged
report. If the commit fails, every report of the batch gets the error and
none of them is stored (one transaction).

The committer owns one SQLCipher connection for its whole life, so the cost
of opening a keyed connection (and of the WAL checkpoint SQLite runs when
the last connection closes) is not paid per report.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from reporter.errors import ReporterError, StoreUnavailable
from reporter.station.store import Store

log = logging.getLogger("reporter")
MAX_BATCH = 256


class _Pending:
    __slots__ = ("envelope", "error", "seq")

    def __init__(self, envelope: bytes) -> None:
        self.envelope = envelope
        self.seq: int | None = None
        self.error: ReporterError | None = None


class GroupCommit:
    def __init__(self, open_store: Callable[[], Store], station_id: bytes) -> None:
        self._open_store = open_store
        self._station_id = station_id
        self._queue_lock = threading.Lock()
        self._commit_lock = threading.Lock()
        self._queue: list[_Pending] = []
        self._store: Store | None = None

    def append(self, envelope: bytes) -> int:
        """Store ``envelope`` durably; return its sequence number."""
        item = _Pending(envelope)
        with self._queue_lock:
            self._queue.append(item)
        with self._commit_lock:
            while item.seq is None and item.error is None:
                # Nobody has committed it yet: commit it and all that queued meanwhile.
                with self._queue_lock:
                    batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                self._commit(batch)
        if item.error is not None:
            raise item.error
        assert item.seq is not None  # noqa: S101 (set by _commit or an error is)
        return item.seq

    def _commit(self, batch: list[_Pending]) -> None:
        try:
            if self._store is None:
                self._store = self._open_store()
            seqs = self._store.append_reports([p.envelope for p in batch], self._station_id)
        except ReporterError as error:
            self._fail(batch, error)
        except Exception as exc:  # a bug or a broken connection: never a lost receipt
            log.error("group commit failed with %s", type(exc).__name__)
            self._fail(batch, StoreUnavailable("the report could not be stored"))
        else:
            for item, seq in zip(batch, seqs, strict=True):
                item.seq = seq

    def _fail(self, batch: list[_Pending], error: ReporterError) -> None:
        for item in batch:
            item.error = error
        # Start the next batch on a fresh connection, in case this one is broken.
        if self._store is not None:
            try:
                self._store.close()
            finally:
                self._store = None

    def close(self) -> None:
        with self._commit_lock:
            if self._store is not None:
                self._store.close()
                self._store = None
