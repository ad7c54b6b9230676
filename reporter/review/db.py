"""The reviewer's database: creating it, opening it under its key, and its files.

SQLCipher again, under a key derived from the reviewer's passphrase (the
``<db>.json`` file beside it holds the Argon2id salt and cost, see
``passfile.py``). It holds what bundles brought: the stations seen, with their
pinned signing keys; every bundle imported, with its hash and report range;
and every report, decrypted, with the columns reviewers filter on, and the
file key of its envelope (schema 2), which opens its attachments.

Attachment ciphertext is not in this file: it lives beside it, in
``<db>.attachments`` (``attachment_store``), a blob database of the station's
kind (``blob_file.py``: 64 KiB pages, 1 MB segments, a rollback journal) under a
key derived from this database's key. The ``attachments`` table here links
each report's attachments (by index) to their uploads there. Import writes
the blobs first and links them inside its transaction; blobs that no report
links (an import that failed or was killed) are swept at the start of the
next import (``importer.py``).

This module holds ``ReviewDB``'s life: create, derive the key, open (migrating
to the current schema, ``schema.py``), explain a failure, close. What it
records and reads of imported bundles is ``ImportRecords`` (``db_records.py``),
which ``ReviewDB`` extends; queries live in ``filters.py``, ``listing.py``,
``records.py`` and ``export.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

from reporter.errors import (
    ConfigError,
    DatabaseUnreadable,
    InstanceError,
    InstanceExists,
    ReporterError,
)
from reporter.formats.crypto import KdfParams, check_new_passphrase, derive_key, subkey
from reporter.review import schema
from reporter.review.db_records import ImportRecords
from reporter.storage import passfile, sqlc
from reporter.storage.blobs import BlobStore

FORMAT = "reporter-review"
DEFAULT_PATH = "review.db"
ATTACHMENTS_SUFFIX = ".attachments"
CTX_ATTACHMENTS_KEY = b"reporter/review-attachments-db/v1"


def review_db_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """``--review-db`` if given, else ``REPORTER_REVIEW_DB``, else ``./review.db``."""
    return Path(explicit or os.environ.get("REPORTER_REVIEW_DB") or DEFAULT_PATH).absolute()


def sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def attachments_path(path: Path) -> Path:
    """Where the attachment ciphertext of the review database ``path`` is kept."""
    return path.with_name(path.name + ATTACHMENTS_SUFFIX)


class DatabaseDamaged(DatabaseUnreadable):
    """A page of the review database (or of its attachment store) fails its integrity
    check: the file was damaged (disk, copy) or altered. The passphrase was right."""


def damaged(path: Path, problem: str) -> DatabaseDamaged:
    return DatabaseDamaged(
        f"{path}: this file is damaged or was altered ({problem}); restore it from a "
        "backup (keep the damaged copy: it may be evidence)")


class ReviewDB(ImportRecords):
    def __init__(self, connection: sqlc.Connection, path: Path, key: bytes) -> None:
        self._db = connection
        self.path = path
        self._key = key
        self._blobs: BlobStore | None = None

    # --- creating and opening ----------------------------------------------

    @classmethod
    def create(cls, path: Path, passphrase: str, kdf_profile: str = "moderate") -> ReviewDB:
        check_new_passphrase(passphrase)
        if path.exists() or sidecar(path).exists():
            raise InstanceExists(f"{path} already exists; reporter never overwrites it")
        params = KdfParams.new(kdf_profile)
        key = derive_key(passphrase, params)
        old_umask = os.umask(0o077)
        try:
            sidecar(path).write_bytes(passfile.render(FORMAT, params, key))
            db = sqlc.connect(path, key, create=True, owner="review database")
            sqlc.migrate(db, schema.MIGRATIONS)
        finally:
            os.umask(old_umask)
        return cls(db, path, key)

    @classmethod
    def open(cls, path: Path, passphrase: str) -> ReviewDB:
        return cls.open_with_key(path, cls.derive_key(path, passphrase))

    @staticmethod
    def check_exists(path: Path) -> passfile.PassFile:
        """The parsed ``<db>.json`` of the review database ``path``, or the error
        saying what is missing (no passphrase needed: nothing in it is secret)."""
        try:
            data = sidecar(path).read_bytes()
        except FileNotFoundError:
            raise ConfigError(
                f"no review database at {path}; 'reporter review import' creates one, "
                "or pass --review-db / set REPORTER_REVIEW_DB"
            ) from None
        except OSError as exc:
            raise InstanceError(f"cannot read {sidecar(path)}: {exc.strerror}") from None
        return passfile.parse(sidecar(path), data, FORMAT, InstanceError)

    @classmethod
    def derive_key(cls, path: Path, passphrase: str) -> bytes:
        """The database key from the passphrase (Argon2id, at the cost the ``.json``
        file names); ``WrongPassphrase`` if it is not this database's."""
        return cls.check_exists(path).unlock(passphrase, "this review database")

    @classmethod
    def open_with_key(cls, path: Path, key: bytes) -> ReviewDB:
        """Open with a key ``derive_key`` gave (the review desk holds it while unlocked
        and opens a connection per request: about 0.1 ms, no key derivation)."""
        if not path.is_file():
            raise InstanceError(f"the review database {path} is missing")
        try:
            db = sqlc.connect(path, key, create=False, owner="review database")
        except DatabaseUnreadable:
            # The key check in the .json file proved the passphrase: the first page
            # fails its HMAC, so the file was damaged, altered or replaced.
            raise damaged(path, "its first page fails its integrity check, or it is "
                                "another review database's file") from None
        review = cls(db, path, key)
        try:
            sqlc.migrate(db, schema.MIGRATIONS)
        except BaseException as exc:
            review.__exit__(type(exc), exc, None)
            raise
        return review

    def close(self) -> None:
        if self._blobs is not None:
            self._blobs.close()
            self._blobs = None
        self._db.close()

    def attachment_store(self) -> BlobStore:
        """The blob database beside this one (made on first use, mode 0600), opened once."""
        if self._blobs is None:
            old_umask = os.umask(0o077)
            try:
                self._blobs = BlobStore.open_at(
                    attachments_path(self.path), subkey(self._key, CTX_ATTACHMENTS_KEY),
                    owner="review database's attachment store")
            finally:
                os.umask(old_umask)
        return self._blobs

    def __enter__(self) -> ReviewDB:
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        """Close; and if a database error ended the block, say whether a file is damaged.

        A page that fails its HMAC surfaces as whatever SQLite was doing when it read
        it ("database disk image is malformed", even "malformed JSON"): only a check
        of the whole file tells damage from any other failure, so it runs here, on
        the error path only.
        """
        try:
            if isinstance(exc, sqlc.Error):
                explained = self._explain(exc)
                if explained is not None:
                    raise explained from None
        finally:
            self.close()

    def _explain(self, exc: sqlc.Error) -> ReporterError | None:
        problem = sqlc.integrity_problem(self._db)
        if problem is not None:
            return damaged(self.path, problem)
        if self._blobs is not None:
            problem = self._blobs.integrity_problem()
            if problem is not None:
                return damaged(attachments_path(self.path), problem)
        if isinstance(exc, sqlc.OperationalError):
            return sqlc.unavailable(exc)
        return None

    def transaction(self) -> sqlc.Transaction:
        return sqlc.Transaction(self._db)

    @property
    def connection(self) -> sqlc.Connection:
        """For read-only queries (``filters.py`` and the modules that select through it)."""
        return self._db

