"""Attachment ciphertext on the station: ``attachments.db``, a second SQLCipher file.

What is stored here is already sealed (``attachment.py``: secretstream under
a key only the reviewers can recover from the report's envelope); SQLCipher
adds a second layer so that the number, sizes and times of attachments are
not visible either. Nothing else ever holds attachment bytes: uploads are
encrypted chunk by chunk as they arrive and written straight in here.

Why a second database, not a table in ``station.db``: a 500 MB video written
through the station's WAL would be written twice and would stall every other
report's commit. This one has 64 KiB pages and a rollback journal, so large
blobs are written once, in segments of about 1 MB, committed every few MB so
concurrent uploads take turns at the write lock. Its page HMAC is
HMAC-SHA256 (SHA extensions make it about 25 % faster here than SQLCipher's
default SHA-512; still a 256-bit MAC on every page).

Life of an upload:

1. ``begin()`` makes an upload row (state *receiving*); the ``Sink`` writes
   ciphertext segments as they come, then ``close()`` commits durably.
   ``discard()`` (connection dropped, file refused) deletes it; with
   ``secure_delete`` the pages are zeroed.
   A write transaction is never held while the request waits for more bytes
   from the network, so concurrent uploads share the write lock fairly.
   From ``begin()`` on, one writer thread per store runs every statement on
   its connection (``blob_writer.Writer``): the uploads of one request never share a
   transaction by accident.
2. ``attach(uploads, envelope_hash)`` links the finished uploads to the
   report's envelope, durably, *before* the report is committed to
   ``station.db``.
3. ``sweep(held)`` (at start-up) deletes every upload whose envelope is not
   in the station database: uploads cut off by a crash, or linked to a report
   whose commit never happened. No acknowledged report loses an attachment:
   its uploads were durable and linked before its receipt was shown.

The file itself (name, key, pages, tables, the HMAC-checked segment read and
the paced erase) is ``blob_file.py``; the writer thread and the ``Sink`` are
``blob_writer.py``. This module is the store the station and the reviewer use.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TypeVar

from reporter.errors import StoreUnavailable
from reporter.storage import sqlc
from reporter.storage.blob_file import (
    Upload,
    blobs_key,
    blobs_path,
    connect,
    delete_uploads,
    segment_at,
)
from reporter.storage.blob_writer import Sink, Writer

T = TypeVar("T")


class BlobStore:
    """One keyed connection to ``attachments.db``; use one per thread.

    From the first ``begin()`` on, every statement runs on the store's writer
    thread (``Writer``), whichever method asks, so the uploads of one request
    can overlap without sharing a transaction.
    """

    def __init__(self, db: sqlc.Connection) -> None:
        self._db = db
        self._writer: Writer | None = None

    @classmethod
    def open(cls, instance: Path, db_key: bytes) -> BlobStore:
        return cls.open_at(blobs_path(instance), blobs_key(db_key), owner="station")

    @classmethod
    def open_at(cls, path: Path, key: bytes, *, owner: str) -> BlobStore:
        """A blob database at an explicit ``path`` under an explicit (already derived)
        ``key``: the reviewer's copy of attachment ciphertext uses the same storage."""
        return cls(connect(path, key, owner=owner))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.stop()
            self._writer = None
        sqlc.rollback_quietly(self._db)
        self._db.close()

    def integrity_problem(self) -> str | None:
        """What is damaged in the file (page HMACs only: it may be large), or ``None``."""
        return sqlc.integrity_problem(self._db, structure=False)

    def __enter__(self) -> BlobStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, work: Callable[[sqlc.Connection], T]) -> T:
        """``work(connection)``, on the writer thread once there is one."""
        if self._writer is not None:
            return self._writer.call(work)  # type: ignore[return-value]
        try:
            return work(self._db)
        except sqlc.Error as exc:
            sqlc.rollback_quietly(self._db)
            raise sqlc.unavailable(exc) from None

    # --- receiving -----------------------------------------------------------

    def begin(self) -> Sink:
        if self._writer is None:
            self._writer = Writer(self._db)

        def insert(db: sqlc.Connection) -> int:
            with sqlc.Transaction(db):
                cursor = db.execute("INSERT INTO uploads (state) VALUES ('receiving')")
            assert cursor.lastrowid is not None  # noqa: S101 (an INSERT sets it)
            return int(cursor.lastrowid)

        return Sink(self._writer, self._run(insert))

    def store(self, segments: Iterable[bytes]) -> Upload:
        """Store a whole, already complete ciphertext in one transaction (durable when it
        returns) and return it as a *complete* upload.

        For copying attachments that are already whole (a reviewer importing a bundle),
        where nobody waits on a network and one commit per attachment costs less than
        one every few MB. ``segments`` should be about ``SEGMENT`` bytes each. The write
        lock is held until the last segment is in: use ``begin()`` for uploads.
        """
        def work(db: sqlc.Connection) -> Upload:
            length = 0
            try:
                with sqlc.Transaction(db):
                    cursor = db.execute("INSERT INTO uploads (state) VALUES ('receiving')")
                    upload = int(cursor.lastrowid or 0)
                    for seq, segment in enumerate(segments):
                        db.execute("INSERT INTO segments (upload, seq, data) VALUES (?, ?, ?)",
                                   (upload, seq, segment))
                        length += len(segment)
                    db.execute("UPDATE uploads SET state = 'complete', length = ? WHERE id = ?",
                               (length, upload))
            except sqlc.Error as exc:
                raise sqlc.unavailable(exc) from None
            return Upload(upload, length)

        return self._run(work)

    def attach(self, uploads: list[int], envelope_hash: bytes,
               hashes: list[bytes] | None = None) -> None:
        """Link complete uploads, in order, to the envelope that describes them.

        ``hashes`` are their ciphertext hashes, recorded for the export.
        """
        if hashes is not None and len(hashes) != len(uploads):
            raise ValueError("one hash per upload")

        def work(db: sqlc.Connection) -> None:
            try:
                with sqlc.Transaction(db):
                    for index, upload in enumerate(uploads):
                        changed = db.execute(
                            "UPDATE uploads SET state = 'attached', envelope = ?, idx = ?, "
                            "hash = ? WHERE id = ? AND state = 'complete'",
                            (envelope_hash, index, None if hashes is None else hashes[index],
                             upload))
                        if changed.rowcount != 1:
                            raise StoreUnavailable(f"upload {upload} is not complete")
            except sqlc.Error as exc:
                raise sqlc.unavailable(exc) from None

        self._run(work)

    # --- reading ---------------------------------------------------------------

    def uploads_for(self, envelope_hash: bytes) -> list[Upload]:
        rows = self._run(lambda db: db.execute(
            "SELECT id, length, hash FROM uploads WHERE envelope = ? AND state = 'attached' "
            "ORDER BY idx", (envelope_hash,)).fetchall())
        return [Upload(int(r[0]), int(r[1]), None if r[2] is None else bytes(r[2]))
                for r in rows]

    def read(self, upload: int) -> Iterator[bytes]:
        """The ciphertext of ``upload``, one segment at a time."""
        for seq in itertools.count():
            row = self._run(functools.partial(segment_at, upload=upload, seq=seq))
            if row is None:
                return
            yield bytes(row[0])

    def total_bytes(self) -> int:
        return int(self._run(lambda db: db.execute(
            "SELECT coalesce(sum(length), 0) FROM uploads WHERE state = 'attached'"
        ).fetchone()[0]))

    def upload_count(self) -> int:
        return int(self._run(lambda db: db.execute("SELECT count(*) FROM uploads")
                             .fetchone()[0]))

    # --- removing --------------------------------------------------------------

    def delete(self, uploads: list[int]) -> None:
        """Delete uploads; with ``secure_delete`` their pages are zeroed, then given back."""
        self._run(lambda db: delete_uploads(db, uploads))

    def delete_for(self, envelope_hashes: list[bytes]) -> int:
        """Delete the attachments of these envelopes (purge); return how many."""
        ids = [u.id for h in envelope_hashes for u in self.uploads_for(h)]
        if ids:
            self.delete(ids)
        return len(ids)

    def orphans(self, held: Callable[[bytes], bool]) -> list[int]:
        """Every upload not linked to an envelope that ``held`` says is stored."""
        rows = self._run(lambda db: db.execute(
            "SELECT id, state, envelope FROM uploads").fetchall())
        return [int(r[0]) for r in rows
                if r[1] != "attached" or r[2] is None or not held(bytes(r[2]))]

    def sweep(self, held: Callable[[bytes], bool]) -> int:
        """Delete every upload not linked to an envelope that ``held`` says is stored."""
        orphans = self.orphans(held)
        if orphans:
            self.delete(orphans)
        return len(orphans)
