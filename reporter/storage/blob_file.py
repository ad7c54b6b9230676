"""``attachments.db`` itself: where it is, which key opens it, its pages and tables,
and the statements whose care is about how SQLCipher stores its pages.

Apart from the store (``blobs.py``) and its writer thread (``blob_writer.py``):
this is what anything that opens or inspects the file needs (the station's
backup, the purge checks, the reviewer's copy of attachment ciphertext), and
none of it knows about uploads in flight. 64 KiB pages, each with an
HMAC-SHA256, a rollback journal and incremental vacuum; two tables,
``uploads`` and ``segments``. With them the two statements that depend on
SQLCipher's pages: reading a segment so that a page failing its HMAC is an
error (``segment_at``), and erasing uploads a step at a time so that
``secure_delete`` never holds the write lock for seconds (``delete_uploads``).

The key is derived from the station database key, so no new secret exists.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from reporter.errors import DatabaseUnreadable
from reporter.formats.crypto import subkey
from reporter.storage import sqlc

BLOBS_FILE = "attachments.db"
CTX_KEY = b"reporter/attachments-db/v1"
PAGE_SIZE = 64 * 1024
# Sixteen 64 KiB overflow pages (less SQLCipher's per-page reserve) per row.
SEGMENT = 16 * 65_000
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


def create_private(path: Path) -> None:
    """Create the empty database file with mode 0600 before SQLite does: SQLite
    would follow the umask (0644 on most systems), and gives its journal the
    database's mode. An empty file is an empty database."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
    except OSError:
        pass  # it exists (another connection made it first), or sqlc.connect says why not


def connect(path: Path, key: bytes, *, owner: str) -> sqlc.Connection:
    """A keyed, migrated connection to the blob database at ``path`` under an already
    derived ``key``; the file is created (mode 0600) if it does not exist."""
    create = not path.exists()
    if create:
        create_private(path)
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
    return db


@dataclass(frozen=True)
class Upload:
    id: int
    length: int
    hash: bytes | None = None  # of the ciphertext, when recorded at attach time


def segment_at(db: sqlc.Connection, *, upload: int, seq: int) -> tuple[bytes] | None:
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


def delete_uploads(db: sqlc.Connection, uploads: list[int]) -> None:
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
