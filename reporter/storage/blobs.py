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

import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from reporter.errors import StoreUnavailable
from reporter.formats.crypto import subkey
from reporter.storage import sqlc

BLOBS_FILE = "attachments.db"
CTX_KEY = b"reporter/attachments-db/v1"
PAGE_SIZE = 64 * 1024
# Sixteen 64 KiB overflow pages (less SQLCipher's per-page reserve) per row.
SEGMENT = 16 * 65_000
COMMIT_EVERY = 8  # segments per transaction while receiving (~8 MB)
CACHE_KIB = 2048

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


class Sink:
    """Receives one attachment's ciphertext and writes it in segments.

    The writes happen on a thread of their own (SQLCipher and the disk work
    while the request thread reads, parses and encrypts the next megabytes),
    through a queue of at most ``QUEUE_SEGMENTS``: memory stays bounded, and a
    slow disk slows the upload instead of filling memory.
    """

    QUEUE_SEGMENTS = 3

    def __init__(self, blobs: BlobStore, upload: int) -> None:
        self._blobs = blobs
        self.upload = upload
        self._buffer = bytearray()
        self._length = 0
        self._open = True
        self._queue: queue.Queue[bytes | None] = queue.Queue(self.QUEUE_SEGMENTS)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="reporter-sink", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        seq = uncommitted = 0
        while (segment := self._queue.get()) is not None:
            if self._error is not None:
                continue  # drain, so the producer never blocks on a dead writer
            try:
                uncommitted += 1
                # Commit when nothing more is waiting: the write lock is never
                # held while the request waits for the network (a slow phone
                # would stall every other upload), and a fast upload still
                # shares one fsync among up to COMMIT_EVERY segments.
                commit = uncommitted >= COMMIT_EVERY or self._queue.empty()
                self._blobs._segment(self.upload, seq, segment, commit=commit)
                uncommitted = 0 if commit else uncommitted
                seq += 1
            except BaseException as exc:  # handed to the request thread
                self._error = exc

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def write(self, data: bytes) -> None:
        self._raise()
        self._buffer += data
        self._length += len(data)
        while len(self._buffer) >= SEGMENT:
            segment = bytes(self._buffer[:SEGMENT])
            del self._buffer[:SEGMENT]
            self._queue.put(segment)

    def _stop(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def close(self) -> Upload:
        """Write what is left and commit durably; the upload is then *complete*."""
        if self._buffer:
            self._queue.put(bytes(self._buffer))
            self._buffer.clear()
        self._stop()
        try:
            self._raise()
            self._blobs._complete(self.upload, self._length)
        except BaseException:
            self.discard()
            raise
        self._open = False
        return Upload(self.upload, self._length)

    def discard(self) -> None:
        """Drop the upload: nothing of it stays (its pages are zeroed)."""
        self._buffer.clear()
        self._stop()
        if self._open:
            self._open = False
            self._blobs._abort()
            self._blobs.delete([self.upload])


class BlobStore:
    """One keyed connection to ``attachments.db``; use one per thread."""

    def __init__(self, db: sqlc.Connection) -> None:
        self._db = db
        self._in_write = False

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
        if self._in_write:
            self._db.execute("ROLLBACK")
            self._in_write = False
        self._db.close()

    def __enter__(self) -> BlobStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- receiving -----------------------------------------------------------

    def begin(self) -> Sink:
        with sqlc.Transaction(self._db) as db:
            cursor = db.execute("INSERT INTO uploads (state) VALUES ('receiving')")
        assert cursor.lastrowid is not None  # noqa: S101 (an INSERT sets it)
        return Sink(self, int(cursor.lastrowid))

    def _segment(self, upload: int, seq: int, data: bytes, *, commit: bool) -> None:
        try:
            if not self._in_write:
                self._db.execute("BEGIN IMMEDIATE")
                self._in_write = True
            self._db.execute("INSERT INTO segments (upload, seq, data) VALUES (?, ?, ?)",
                             (upload, seq, data))
            if commit:
                self._db.execute("COMMIT")
                self._in_write = False
        except sqlc.Error as exc:
            self._abort()
            raise sqlc.unavailable(exc) from None

    def _abort(self) -> None:
        if self._in_write:
            try:
                self._db.execute("ROLLBACK")
            finally:
                self._in_write = False

    def _complete(self, upload: int, length: int) -> None:
        try:
            if not self._in_write:
                self._db.execute("BEGIN IMMEDIATE")
                self._in_write = True
            self._db.execute("UPDATE uploads SET state = 'complete', length = ? WHERE id = ?",
                             (length, upload))
            self._db.execute("COMMIT")
            self._in_write = False
        except sqlc.Error as exc:
            self._abort()
            raise sqlc.unavailable(exc) from None

    def store(self, segments: Iterable[bytes]) -> Upload:
        """Store a whole, already complete ciphertext in one transaction (durable when it
        returns) and return it as a *complete* upload.

        For copying attachments that are already whole (a reviewer importing a bundle),
        where nobody waits on a network and one commit per attachment costs less than
        one every few MB. ``segments`` should be about ``SEGMENT`` bytes each. The write
        lock is held until the last segment is in: use ``begin()`` for uploads.
        """
        length = 0
        try:
            with sqlc.Transaction(self._db) as db:
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

    def attach(self, uploads: list[int], envelope_hash: bytes,
               hashes: list[bytes] | None = None) -> None:
        """Link complete uploads, in order, to the envelope that describes them.

        ``hashes`` are their ciphertext hashes, recorded for the export.
        """
        if hashes is not None and len(hashes) != len(uploads):
            raise ValueError("one hash per upload")
        with sqlc.Transaction(self._db) as db:
            for index, upload in enumerate(uploads):
                changed = db.execute(
                    "UPDATE uploads SET state = 'attached', envelope = ?, idx = ?, hash = ? "
                    "WHERE id = ? AND state = 'complete'",
                    (envelope_hash, index, None if hashes is None else hashes[index], upload))
                if changed.rowcount != 1:
                    raise StoreUnavailable(f"upload {upload} is not complete")

    # --- reading ---------------------------------------------------------------

    def uploads_for(self, envelope_hash: bytes) -> list[Upload]:
        rows = self._db.execute(
            "SELECT id, length, hash FROM uploads WHERE envelope = ? AND state = 'attached' "
            "ORDER BY idx", (envelope_hash,)).fetchall()
        return [Upload(int(r[0]), int(r[1]), None if r[2] is None else bytes(r[2]))
                for r in rows]

    def read(self, upload: int) -> Iterator[bytes]:
        """The ciphertext of ``upload``, one segment at a time."""
        seq = 0
        while True:
            row = self._db.execute("SELECT data FROM segments WHERE upload = ? AND seq = ?",
                                   (upload, seq)).fetchone()
            if row is None:
                return
            yield bytes(row[0])
            seq += 1

    def total_bytes(self) -> int:
        return int(self._db.execute("SELECT coalesce(sum(length), 0) FROM uploads "
                                    "WHERE state = 'attached'").fetchone()[0])

    def upload_count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM uploads").fetchone()[0])

    # --- removing --------------------------------------------------------------

    def delete(self, uploads: list[int]) -> None:
        with sqlc.Transaction(self._db) as db:
            for upload in uploads:
                db.execute("DELETE FROM segments WHERE upload = ?", (upload,))
                db.execute("DELETE FROM uploads WHERE id = ?", (upload,))
        self._shrink()

    def delete_for(self, envelope_hashes: list[bytes]) -> int:
        """Delete the attachments of these envelopes (purge); return how many."""
        ids = [u.id for h in envelope_hashes for u in self.uploads_for(h)]
        if ids:
            self.delete(ids)
        return len(ids)

    def sweep(self, held: Callable[[bytes], bool]) -> int:
        """Delete every upload not linked to an envelope that ``held`` says is stored."""
        rows = self._db.execute("SELECT id, state, envelope FROM uploads").fetchall()
        orphans = [int(r[0]) for r in rows
                   if r[1] != "attached" or r[2] is None or not held(bytes(r[2]))]
        if orphans:
            self.delete(orphans)
        return len(orphans)

    def _shrink(self) -> None:
        """Give freed (already zeroed) pages back to the file system."""
        try:
            self._db.execute("PRAGMA incremental_vacuum").fetchall()  # runs one page per step
        except sqlc.Error as exc:
            raise sqlc.unavailable(exc) from None
