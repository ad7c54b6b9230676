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
   its connection (``_Writer``): the uploads of one request never share a
   transaction by accident.
2. ``attach(uploads, envelope_hash)`` links the finished uploads to the
   report's envelope, durably, *before* the report is committed to
   ``station.db``.
3. ``sweep(held)`` (at start-up) deletes every upload whose envelope is not
   in the station database: uploads cut off by a crash, or linked to a report
   whose commit never happened. No acknowledged report loses an attachment:
   its uploads were durable and linked before its receipt was shown.

The key is derived from the station database key, so no new secret exists.
"""

from __future__ import annotations

import functools
import itertools
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from reporter.errors import DatabaseUnreadable, StoreUnavailable
from reporter.formats.crypto import subkey
from reporter.storage import sqlc

BLOBS_FILE = "attachments.db"
CTX_KEY = b"reporter/attachments-db/v1"
PAGE_SIZE = 64 * 1024
# Sixteen 64 KiB overflow pages (less SQLCipher's per-page reserve) per row.
SEGMENT = 16 * 65_000
COMMIT_EVERY = 8  # segments per transaction while receiving (~8 MB)
CACHE_KIB = 2048
T = TypeVar("T")

MIGRATIONS: sqlc.Migrations = [
    [
        """CREATE TABLE uploads (
            id        INTEGER PRIMARY KEY,
            state     TEXT NOT NULL CHECK (state IN ('receiving', 'complete', 'attached')),
            envelope  BLOB CHECK (envelope IS NULL OR length(envelope) = 32),
            idx       INTEGER,
            length    INTEGER NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX uploads_by_envelope ON uploads (envelope, idx)",
        """CREATE TABLE segments (
            upload  INTEGER NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
            seq     INTEGER NOT NULL,
            data    BLOB NOT NULL,
            PRIMARY KEY (upload, seq)
        )""",
    ],
    # The ciphertext's hash, known when the upload ends (``attachment.Sealed``):
    # an export lists it in the manifest without reading the attachment twice
    # (the bundle writer still hashes what it writes and refuses a mismatch).
    [
        "ALTER TABLE uploads ADD COLUMN hash BLOB CHECK (hash IS NULL OR length(hash) = 32)",
    ],
]


def blobs_path(instance: Path) -> Path:
    return instance / BLOBS_FILE


def blobs_key(db_key: bytes) -> bytes:
    return subkey(db_key, CTX_KEY)


def _create_private(path: Path) -> None:
    """Create the empty database file with mode 0600 before SQLite does: SQLite
    would follow the umask (0644 on most systems), and gives its journal the
    database's mode. An empty file is an empty database."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
    except OSError:
        pass  # it exists (another connection made it first), or sqlc.connect says why not


@dataclass(frozen=True)
class Upload:
    id: int
    length: int
    hash: bytes | None = None  # of the ciphertext, when recorded at attach time


class _Job:
    """Work for the writer thread: a segment to write, or a call to run and answer."""

    __slots__ = ("call", "data", "done", "error", "result", "seq", "sink")

    def __init__(self, *, sink: Sink | None = None, seq: int = 0, data: bytes = b"",
                 call: Callable[[sqlc.Connection], object] | None = None) -> None:
        self.sink = sink
        self.seq = seq
        self.data = data
        self.call = call
        self.done = threading.Event()
        self.result: object = None
        self.error: BaseException | None = None


def _failure(exc: Exception) -> Exception:
    """What an upload is failed with: our own errors as they are, SQLite's named."""
    return sqlc.unavailable(exc) if isinstance(exc, sqlc.Error) else exc


class _Writer:
    """The one thread that uses a ``BlobStore``'s connection while uploads are received.

    Why one thread: a SQLite connection has one transaction at a time, whoever
    calls it. When the request thread began the next file's upload while a
    writer thread was still committing the previous file's segments on the
    same connection, one's ``COMMIT`` ended the other's transaction (issue 10:
    503s and 500s for reports with a photo and a video). Now every statement
    on the connection, from the first ``begin()`` until ``close()``, runs here,
    in the order it was asked for: segments of every file of the request, and
    the short transactions (``begin``, ``complete``, ``attach``, ``delete``)
    that the request thread waits for.

    The queue holds at most ``QUEUE_SEGMENTS`` jobs: memory stays bounded, and
    a slow disk slows the upload instead of filling memory. Segments are
    committed every ``COMMIT_EVERY``, or as soon as nothing more waits, so a
    write transaction is never held while the request waits for the network.
    If a transaction of segments fails, every upload with a segment in it is
    failed (it is raised to that upload's ``Sink``), never silently shortened.
    """

    QUEUE_SEGMENTS = 3

    def __init__(self, db: sqlc.Connection) -> None:
        self._db = db
        self._queue: queue.Queue[_Job | None] = queue.Queue(self.QUEUE_SEGMENTS)
        self._in_write: set[Sink] = set()  # uploads with a segment in the open transaction
        self._uncommitted = 0
        self._thread = threading.Thread(target=self._run, name="reporter-blobs", daemon=True)
        self._thread.start()

    # --- the writer thread ------------------------------------------------------

    def _run(self) -> None:
        while (job := self._queue.get()) is not None:
            if job.call is None:
                self._write_segment(job)
            else:
                self._settle()  # a call runs outside any transaction of segments
                try:
                    job.result = job.call(self._db)
                except sqlc.Error as exc:
                    sqlc.rollback_quietly(self._db)
                    job.error = sqlc.unavailable(exc)
                except BaseException as exc:  # handed to the caller
                    sqlc.rollback_quietly(self._db)
                    job.error = exc
                job.done.set()
            if self._in_write and (self._uncommitted >= COMMIT_EVERY or self._queue.empty()):
                self._settle()
        self._rollback(StoreUnavailable("the attachment store was closed"))

    def _write_segment(self, job: _Job) -> None:
        sink = job.sink
        assert sink is not None  # noqa: S101 (a job without a call is a segment)
        if sink.error is not None:
            return  # already failed: the rest of its bytes are dropped
        self._in_write.add(sink)  # before BEGIN: a failed BEGIN fails this upload too
        try:
            if not self._db.in_transaction:
                self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("INSERT INTO segments (upload, seq, data) VALUES (?, ?, ?)",
                             (sink.upload, job.seq, job.data))
            self._uncommitted += 1
        except Exception as exc:  # handed to the uploads; the thread goes on
            self._rollback(_failure(exc))

    def _settle(self) -> None:
        """Commit the open transaction of segments, or fail every upload that was in it."""
        if not self._db.in_transaction:
            self._in_write.clear()
            self._uncommitted = 0
            return
        try:
            self._db.execute("COMMIT")
        except Exception as exc:  # handed to the uploads; the thread goes on
            self._rollback(_failure(exc))
            return
        self._in_write.clear()
        self._uncommitted = 0

    def _rollback(self, error: BaseException) -> None:
        for sink in self._in_write:
            sink.error = sink.error or error
        self._in_write.clear()
        self._uncommitted = 0
        sqlc.rollback_quietly(self._db)

    # --- the request thread -----------------------------------------------------

    def segment(self, sink: Sink, seq: int, data: bytes) -> None:
        """Queue one segment (returns at once unless ``QUEUE_SEGMENTS`` already wait)."""
        self._queue.put(_Job(sink=sink, seq=seq, data=data))

    def call(self, work: Callable[[sqlc.Connection], object]) -> object:
        """Run ``work(connection)`` on the writer thread, after everything queued before it."""
        job = _Job(call=work)
        self._queue.put(job)
        job.done.wait()
        if job.error is not None:
            raise job.error
        return job.result

    def stop(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()


class Sink:
    """Receives one attachment's ciphertext and hands it, in segments, to the writer thread."""

    def __init__(self, writer: _Writer, upload: int) -> None:
        self._writer = writer
        self.upload = upload
        self._buffer = bytearray()
        self._length = 0
        self._seq = 0
        self._open = True
        # Set by the writer thread when a segment could not be stored.
        self.error: BaseException | None = None

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error

    def _send(self, segment: bytes) -> None:
        self._writer.segment(self, self._seq, segment)
        self._seq += 1

    def write(self, data: bytes) -> None:
        self._raise()
        self._buffer += data
        self._length += len(data)
        while len(self._buffer) >= SEGMENT:
            segment = bytes(self._buffer[:SEGMENT])
            del self._buffer[:SEGMENT]
            self._send(segment)

    def close(self) -> Upload:
        """Write what is left and commit durably; the upload is then *complete*."""
        if self._buffer:
            self._send(bytes(self._buffer))
            self._buffer.clear()
        upload, length = self.upload, self._length

        def complete(db: sqlc.Connection) -> None:
            if self.error is not None:
                raise self.error
            with sqlc.Transaction(db):
                db.execute("UPDATE uploads SET state = 'complete', length = ? WHERE id = ?",
                           (length, upload))

        try:
            self._writer.call(complete)
        except BaseException:
            self.discard()
            raise
        self._open = False
        return Upload(upload, length)

    def discard(self) -> None:
        """Drop the upload: nothing of it stays (its pages are zeroed)."""
        self._buffer.clear()
        if self._open:
            self._open = False
            self._writer.call(lambda db: _delete(db, [self.upload]))


def _segment_at(db: sqlc.Connection, *, upload: int, seq: int) -> tuple[bytes] | None:
    """One segment, and proof that every page of it passed its HMAC.

    SQLCipher answers a read of a page that fails its HMAC with a page of zeros
    and puts the pager in its error state, which fails the *next* page read, not
    this one; in rollback-journal mode that state is cleared when the read
    transaction ends. The last overflow page of a segment is the last page its
    statement reads, so a damaged one came back as 64 KiB of zeros without an
    error, and the reader then called the attachment altered. So the segment is
    read inside a savepoint, and one more page is read before it ends: a page
    that failed its HMAC now fails this call (``DatabaseUnreadable``, "damaged").
    """
    db.execute("SAVEPOINT reporter_segment")
    try:
        row: tuple[bytes] | None = db.execute(
            "SELECT data FROM segments WHERE upload = ? AND seq = ?", (upload, seq)).fetchone()
        db.execute("SELECT count(*) FROM uploads WHERE id = ?", (upload,)).fetchone()
    except BaseException:
        try:
            db.execute("ROLLBACK TO reporter_segment")
            db.execute("RELEASE reporter_segment")
        except (sqlc.Error, DatabaseUnreadable):
            pass  # SQLite may have ended the transaction already; the first error counts
        raise
    db.execute("RELEASE reporter_segment")
    return row


# Segments erased per write transaction. With ``secure_delete`` each erased
# segment is written again as zeros (through the rollback journal): deleting a
# 500 MB upload in one transaction held the write lock for seconds, and uploads
# arriving meanwhile waited for it. In steps of 16 segments (about 16 MB) the
# lock is released between steps, so a purge and live uploads interleave.
DELETE_STEP = 16
VACUUM_STEP_PAGES = 256
STEP_PAUSE = 0.01


def _delete(db: sqlc.Connection, uploads: list[int]) -> None:
    try:
        for upload in uploads:
            while True:
                with sqlc.Transaction(db):
                    erased = db.execute(
                        "DELETE FROM segments WHERE rowid IN (SELECT rowid FROM segments "
                        "WHERE upload = ? LIMIT ?)", (upload, DELETE_STEP)).rowcount
                    if erased < DELETE_STEP:
                        db.execute("DELETE FROM segments WHERE upload = ?", (upload,))
                        db.execute("DELETE FROM uploads WHERE id = ?", (upload,))
                        break
                # SQLite's lock is not fair: a writer waiting in its busy handler
                # sleeps and polls. A moment between steps lets it in.
                time.sleep(STEP_PAUSE)
        # Give freed (already zeroed) pages back to the file system, a step at a time.
        free = int(db.execute("PRAGMA freelist_count").fetchone()[0])
        while free > 0:
            with sqlc.Transaction(db):
                db.execute(f"PRAGMA incremental_vacuum({VACUUM_STEP_PAGES})").fetchall()
            time.sleep(STEP_PAUSE)
            left = int(db.execute("PRAGMA freelist_count").fetchone()[0])
            if left >= free:  # not an incremental-vacuum file: nothing more to give back
                break
            free = left
    except sqlc.Error as exc:
        raise sqlc.unavailable(exc) from None


class BlobStore:
    """One keyed connection to ``attachments.db``; use one per thread.

    From the first ``begin()`` on, every statement runs on the store's writer
    thread (``_Writer``), whichever method asks, so the uploads of one request
    can overlap without sharing a transaction.
    """

    def __init__(self, db: sqlc.Connection) -> None:
        self._db = db
        self._writer: _Writer | None = None

    @classmethod
    def open(cls, instance: Path, db_key: bytes) -> BlobStore:
        return cls.open_at(blobs_path(instance), blobs_key(db_key), owner="station")

    @classmethod
    def open_at(cls, path: Path, key: bytes, *, owner: str) -> BlobStore:
        """A blob database at an explicit ``path`` under an explicit (already derived)
        ``key``: the reviewer's copy of attachment ciphertext uses the same storage."""
        create = not path.exists()
        if create:
            _create_private(path)
        db = sqlc.connect(path, key, create=create, owner=owner,
                          page_size=PAGE_SIZE, hmac_sha256=True, journal="DELETE")
        try:
            if create:
                db.execute("PRAGMA auto_vacuum = INCREMENTAL")
            db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            sqlc.migrate(db, MIGRATIONS)
        except BaseException:
            db.close()
            raise
        return cls(db)

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
            self._writer = _Writer(self._db)

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
            row = self._run(functools.partial(_segment_at, upload=upload, seq=seq))
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
        self._run(lambda db: _delete(db, uploads))

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
