"""Keyed SQLCipher connections, transactions and migrations.

Shared by the station's store (``store.py``) and the reviewer's database
(``reviewdb.py``). A database is always keyed with a raw 32-byte key that is
already the output of Argon2id, so SQLCipher's own PBKDF2 (0.1 s per open) is
skipped. A wrong key is only noticed at the first read, so ``connect`` reads
at once and turns the failure into ``DatabaseUnreadable``.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import sqlcipher3.dbapi2 as sqlcipher

from reporter.errors import DatabaseUnreadable, SchemaTooNew, StoreUnavailable
from reporter.formats.crypto import KEY_BYTES

# How long a write waits for another process's lock before giving up. An
# operator's export or purge holds the station's locks for moments at a time
# (purge steps through its erasure), but on a loaded Raspberry Pi a VACUUM or
# a checkpoint can take seconds: a monitor's submission waits rather than
# being refused (at 10 s, the soak saw a 503 during a purge on a busy machine).
BUSY_TIMEOUT_MS = 60_000
Connection = sqlcipher.Connection
Error = sqlcipher.Error
OperationalError = sqlcipher.OperationalError
# A migration is a sequence of steps: SQL statements, or functions of the connection
# (for what SQL alone cannot compute); all of one migration run in one transaction.
Step = str | Callable[[sqlcipher.Connection], None]
Migrations = Sequence[Sequence[Step]]
# SQLite's answers when a page fails SQLCipher's HMAC or does not parse.
_DAMAGED = {sqlcipher.SQLITE_CORRUPT, sqlcipher.SQLITE_NOTADB}


def unavailable(exc: Exception) -> StoreUnavailable:
    """Name an operational SQLite failure the way a person can act on it."""
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        reason = "the database is locked by another process; try again in a moment"
    elif "readonly" in text or "read-only" in text:
        reason = "the database is read-only; check the folder's permissions"
    elif "full" in text:
        reason = "the disk is full; free space and try again"
    else:
        reason = f"the database could not be written ({exc})"
    return StoreUnavailable(reason)


def damaged(path: object, owner: str) -> DatabaseUnreadable:
    return DatabaseUnreadable(
        f"{path} is damaged or was altered: a page failed its integrity check. "
        f"This {owner}'s data cannot be trusted as it is; restore the file from a backup."
    )


class _CheckedCursor(sqlcipher.Cursor):  # type: ignore[misc]
    """A cursor that names a damaged file as such, at whichever read meets it.

    SQLCipher checks each page's HMAC when the page is read, so one flipped
    byte in the middle of a file passes ``connect`` and fails later, at any
    ``execute`` or ``fetch``, as a bare ``DatabaseError`` ("database disk
    image is malformed"): the CLI called it an unexpected error to report
    with a traceback, the web app a 500. Here it becomes ``DatabaseUnreadable``.
    """

    def _checked(self, call: Any, *args: Any) -> Any:
        try:
            return call(*args)
        except sqlcipher.DatabaseError as exc:
            if getattr(exc, "sqlite_errorcode", None) in _DAMAGED:
                connection = self.connection
                raise damaged(getattr(connection, "path", "the database"),
                              getattr(connection, "owner", "database")) from None
            raise

    def execute(self, *args: Any) -> Any:
        return self._checked(super().execute, *args)

    def executemany(self, *args: Any) -> Any:
        return self._checked(super().executemany, *args)

    def fetchone(self) -> Any:
        return self._checked(super().fetchone)

    def fetchmany(self, *args: Any) -> Any:
        return self._checked(super().fetchmany, *args)

    def fetchall(self) -> Any:
        return self._checked(super().fetchall)

    def __next__(self) -> Any:
        return self._checked(super().__next__)


class _CheckedConnection(sqlcipher.Connection):  # type: ignore[misc]
    """A connection whose every cursor is a ``_CheckedCursor``; knows its file and owner."""

    path: Path
    owner: str

    def cursor(self, factory: Any = _CheckedCursor) -> Any:
        return super().cursor(factory)


def connect(path: Path, key: bytes, *, create: bool, owner: str,
            page_size: int | None = None, hmac_sha256: bool = False,
            journal: Literal["WAL", "DELETE"] = "WAL") -> sqlcipher.Connection:
    """A keyed, checked connection with reporter's durability settings.

    ``owner`` names whose database it is in messages ("station", "review database").
    ``page_size`` (SQLCipher's, fixed for the file's life), ``hmac_sha256``
    and ``journal`` are for a database of large blobs (``blob_file.py``): big
    pages and a rollback journal write each byte once instead of twice, and
    the page HMAC is HMAC-SHA256 (hardware-accelerated on current CPUs)
    instead of SQLCipher's default HMAC-SHA512. Both settings belong to the
    file: every connection to it must pass the same.
    """
    if len(key) != KEY_BYTES:
        raise ValueError("the database key is 32 bytes")
    try:
        db = sqlcipher.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000,
                               isolation_level=None, check_same_thread=False,
                               factory=_CheckedConnection)
    except sqlcipher.Error as exc:
        raise unavailable(exc) from None
    db.path, db.owner = path, owner
    try:
        db.execute("PRAGMA cipher_log_level = NONE")
        db.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
        if page_size is not None:
            db.execute(f"PRAGMA cipher_page_size = {int(page_size)}")
        if hmac_sha256:
            db.execute("PRAGMA cipher_hmac_algorithm = HMAC_SHA256")
        try:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except (sqlcipher.DatabaseError, DatabaseUnreadable):
            raise DatabaseUnreadable(
                f"{path} cannot be read with this {owner}'s key: the database file is "
                f"damaged or belongs to another {owner}. Restore it from a backup."
            ) from None
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA secure_delete = ON")
        db.execute("PRAGMA temp_store = MEMORY")
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("PRAGMA synchronous = FULL")
        if create:
            db.execute(f"PRAGMA journal_mode = {journal}")
        return db
    except BaseException:
        db.close()
        raise


class Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, or ``ROLLBACK`` on any error."""

    def __init__(self, db: sqlcipher.Connection) -> None:
        self._db = db

    def __enter__(self) -> sqlcipher.Connection:
        try:
            # IMMEDIATE takes the write lock now, so two writers never both
            # read the same state and then write.
            self._db.execute("BEGIN IMMEDIATE")
        except sqlcipher.OperationalError as exc:
            raise unavailable(exc) from None
        return self._db

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            try:
                self._db.execute("COMMIT")
                return
            except sqlcipher.Error as commit_error:
                rollback_quietly(self._db)
                raise unavailable(commit_error) from None
        rollback_quietly(self._db)
        if isinstance(exc, sqlcipher.OperationalError):
            raise unavailable(exc) from None


def rollback_quietly(db: sqlcipher.Connection) -> None:
    """End a failed transaction, if one is still open.

    A ROLLBACK that fails (SQLite may already have rolled back after an I/O
    error or a full disk) changes nothing more: it is not a failure of its
    own, and must never turn the error a person can act on into another.
    """
    try:
        if db.in_transaction:
            db.execute("ROLLBACK")
    except sqlcipher.Error:
        pass


def schema_version(db: sqlcipher.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: sqlcipher.Connection, migrations: Migrations) -> None:
    """Apply the missing migrations, each in one transaction with its version bump.

    The version is read again under the write lock before each step: two
    connections opening a new database at once (two uploads arriving at a
    fresh station) must not both run the same migration.
    """
    version = schema_version(db)
    if version > len(migrations):
        raise SchemaTooNew(
            f"the database has schema {version}, newer than this reporter "
            f"understands ({len(migrations)}); upgrade reporter"
        )
    while version < len(migrations):
        with Transaction(db):
            version = schema_version(db)
            if version < len(migrations):
                for step in migrations[version]:
                    if callable(step):
                        step(db)
                    else:
                        db.execute(step)
                db.execute(f"PRAGMA user_version = {version + 1}")
        version = schema_version(db)


def integrity_problem(db: sqlcipher.Connection, *, structure: bool = True) -> str | None:
    """What is wrong with the file under ``db``, or ``None`` if every page is intact.

    ``PRAGMA cipher_integrity_check`` checks the HMAC of every page (a flipped bit
    anywhere fails it); ``structure`` adds SQLite's ``quick_check`` of the b-trees
    (a file altered by someone holding its key). Both read the whole file: for
    error paths, to tell a damaged file from any other failure.
    """
    try:
        rows = db.execute("PRAGMA cipher_integrity_check").fetchall()
        if rows:
            return str(rows[0][0])
        if structure:
            result = str(db.execute("PRAGMA quick_check").fetchone()[0])
            if result != "ok":
                return result
    except sqlcipher.Error as exc:
        return str(exc)
    return None


# SQLite's unix VFS: every connection to a WAL database holds a shared lock on
# byte 128 of the ``-shm`` file (the "dead man switch") for as long as it is
# open, and only the last one to close may take it exclusively.
_SHM_DMS = 128


def in_use(path: Path) -> bool:
    """Whether another process has the WAL database at ``path`` open (a running
    ``reporter serve``, an export). Locks are per process: this process's own
    connections do not count."""
    try:
        fd = os.open(f"{path}-shm", os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    except OSError:
        return True  # cannot tell: say it may be
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, _SHM_DMS)
        except OSError:
            return True
        fcntl.lockf(fd, fcntl.LOCK_UN, 1, _SHM_DMS)
        return False
    finally:
        os.close(fd)
