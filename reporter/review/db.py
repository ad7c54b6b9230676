"""The reviewer's database: decrypted reports, on the reviewer's own machine.

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
next import (``review.py``).

Import-side methods are used inside one transaction per bundle
(``review.py``); queries live in ``filters.py``, ``listing.py``, ``records.py``
and ``export.py``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reporter.errors import (
    ConfigError,
    DatabaseUnreadable,
    InstanceError,
    InstanceExists,
    ReporterError,
)
from reporter.formats.crypto import KEY_BYTES, KdfParams, check_new_passphrase, derive_key, subkey
from reporter.formats.manifest import ROOT_HISTORY, Restore
from reporter.formats.report import Report
from reporter.review.searchtext import body_text
from reporter.review.workflow_schema import MIGRATION as _MIGRATION_6
from reporter.storage import passfile, sqlc
from reporter.storage.blobs import BlobStore

FORMAT = "reporter-review"
DEFAULT_PATH = "review.db"
ATTACHMENTS_SUFFIX = ".attachments"
CTX_ATTACHMENTS_KEY = b"reporter/review-attachments-db/v1"

_MIGRATION_1 = (
    """CREATE TABLE stations (
        station_id BLOB PRIMARY KEY CHECK (length(station_id) = 16),
        verify_key BLOB NOT NULL CHECK (length(verify_key) = 32)
    ) WITHOUT ROWID""",
    """CREATE TABLE bundles (
        station_id   BLOB NOT NULL REFERENCES stations (station_id),
        number       INTEGER NOT NULL CHECK (number >= 1),
        hash         BLOB NOT NULL,
        previous     BLOB,
        first_seq    INTEGER NOT NULL,
        last_seq     INTEGER NOT NULL,
        chain_before BLOB NOT NULL,
        chain_head   BLOB NOT NULL,
        reports      INTEGER NOT NULL,
        created      TEXT NOT NULL,
        PRIMARY KEY (station_id, number)
    ) WITHOUT ROWID""",
    """CREATE TABLE reports (
        id            INTEGER PRIMARY KEY,
        station_id    BLOB NOT NULL REFERENCES stations (station_id),
        seq           INTEGER NOT NULL,
        envelope_hash BLOB NOT NULL,
        kind          TEXT NOT NULL,
        receipt       TEXT NOT NULL,
        follows       TEXT,
        locale        TEXT NOT NULL,
        submitted     TEXT NOT NULL,
        incident_date TEXT,
        site          TEXT,
        types         TEXT NOT NULL,
        description   TEXT NOT NULL,
        body          TEXT NOT NULL,
        UNIQUE (station_id, seq)
    )""",
    # Reports a bundle carried that were not sealed to the reviewer's key (sealed
    # before the key was added to the station): known, not readable. A later import
    # of a bundle carrying them, with a key that opens them, moves them to reports.
    """CREATE TABLE unreadable (
        station_id    BLOB NOT NULL REFERENCES stations (station_id),
        seq           INTEGER NOT NULL,
        envelope_hash BLOB NOT NULL,
        PRIMARY KEY (station_id, seq)
    ) WITHOUT ROWID""",
    "CREATE INDEX reports_receipt ON reports (receipt)",
    "CREATE INDEX reports_follows ON reports (follows)",
    "CREATE INDEX reports_submitted ON reports (submitted)",
)
# Schema 2: attachments. The envelope's file key of every readable report (it
# opens the report's attachments; this database already holds the decrypted
# bodies, so it reveals nothing the body does not), and one row per stored
# attachment: the report, its index, and its upload in ``<db>.attachments``.
_MIGRATION_2 = (
    "ALTER TABLE reports ADD COLUMN file_key BLOB "
    f"CHECK (file_key IS NULL OR length(file_key) = {KEY_BYTES})",
    """CREATE TABLE attachments (
        report  INTEGER NOT NULL REFERENCES reports (id),
        idx     INTEGER NOT NULL CHECK (idx >= 0),
        upload  INTEGER NOT NULL UNIQUE,
        PRIMARY KEY (report, idx)
    ) WITHOUT ROWID""",
    "CREATE INDEX reports_envelope_hash ON reports (envelope_hash)",
)
# Schema 3: whom each bundle is sealed to, and the recipient set pinned per station
# (``recipients.py``). ``bundle_recipients``: every key a bundle's signed manifest
# lists (its id; from bundle format 3 also the public key and the name the station
# gives it). ``recipient_pins``: the pinned sets of a station, each valid from a
# bundle number (the first bundle imported pins its set; accepting a change pins
# the set of the bundle that changed it). ``bundles.recipients_state``: how that
# bundle's set compared with the pin when it was imported ("pinned", "same",
# "changed": not accepted yet, "accepted"); NULL for bundles imported before.
_MIGRATION_3 = (
    "ALTER TABLE bundles ADD COLUMN recipients_state TEXT CHECK (recipients_state IN "
    "('pinned', 'same', 'changed', 'accepted'))",
    """CREATE TABLE bundle_recipients (
        station_id   BLOB NOT NULL,
        number       INTEGER NOT NULL,
        recipient_id BLOB NOT NULL CHECK (length(recipient_id) = 32),
        public_key   BLOB CHECK (public_key IS NULL OR length(public_key) = 32),
        name         TEXT,
        PRIMARY KEY (station_id, number, recipient_id),
        FOREIGN KEY (station_id, number) REFERENCES bundles (station_id, number)
    ) WITHOUT ROWID""",
    """CREATE TABLE recipient_pins (
        station_id   BLOB NOT NULL REFERENCES stations (station_id),
        from_bundle  INTEGER NOT NULL CHECK (from_bundle >= 1),
        recipient_id BLOB NOT NULL CHECK (length(recipient_id) = 32),
        public_key   BLOB CHECK (public_key IS NULL OR length(public_key) = 32),
        name         TEXT,
        PRIMARY KEY (station_id, from_bundle, recipient_id)
    ) WITHOUT ROWID""",
)
# Schema 4: histories (bundle format 4). A station restored from a backup starts a
# new history of its numbering, forking from what the backup held; the station it
# replaced may have used the same bundle and report numbers after that point. So
# bundles, reports, the not readable and the recipients are keyed by history too
# (16 zero bytes: the station's first history, and everything imported before).
# ``histories`` records each restore a bundle listed: its parent history, its place
# in the lineage and its fork point. SQLite cannot change a key, so the tables are
# rebuilt, children first, every row copied as it is (report ids included).
_MIGRATION_4 = (
    """CREATE TABLE histories (
        station_id  BLOB NOT NULL REFERENCES stations (station_id),
        history     BLOB NOT NULL CHECK (length(history) = 16),
        parent      BLOB NOT NULL CHECK (length(parent) = 16),
        position    INTEGER NOT NULL CHECK (position >= 1),
        bundle      INTEGER NOT NULL CHECK (bundle >= 0),
        bundle_hash BLOB CHECK (bundle_hash IS NULL OR length(bundle_hash) = 32),
        seq         INTEGER NOT NULL CHECK (seq >= 0),
        chain       BLOB NOT NULL CHECK (length(chain) = 32),
        backup      TEXT NOT NULL,
        restored    TEXT NOT NULL,
        PRIMARY KEY (station_id, history)
    ) WITHOUT ROWID""",
    """CREATE TABLE bundles_v4 (
        station_id   BLOB NOT NULL REFERENCES stations (station_id),
        history      BLOB NOT NULL CHECK (length(history) = 16),
        number       INTEGER NOT NULL CHECK (number >= 1),
        hash         BLOB NOT NULL,
        previous     BLOB,
        first_seq    INTEGER NOT NULL,
        last_seq     INTEGER NOT NULL,
        chain_before BLOB NOT NULL,
        chain_head   BLOB NOT NULL,
        reports      INTEGER NOT NULL,
        created      TEXT NOT NULL,
        recipients_state TEXT CHECK (recipients_state IN
            ('pinned', 'same', 'changed', 'accepted')),
        PRIMARY KEY (station_id, history, number)
    ) WITHOUT ROWID""",
    """INSERT INTO bundles_v4 (station_id, history, number, hash, previous, first_seq,
        last_seq, chain_before, chain_head, reports, created, recipients_state)
        SELECT station_id, zeroblob(16), number, hash, previous, first_seq, last_seq,
        chain_before, chain_head, reports, created, recipients_state FROM bundles""",
    """CREATE TABLE bundle_recipients_v4 (
        station_id   BLOB NOT NULL,
        history      BLOB NOT NULL,
        number       INTEGER NOT NULL,
        recipient_id BLOB NOT NULL CHECK (length(recipient_id) = 32),
        public_key   BLOB CHECK (public_key IS NULL OR length(public_key) = 32),
        name         TEXT,
        PRIMARY KEY (station_id, history, number, recipient_id),
        FOREIGN KEY (station_id, history, number)
            REFERENCES bundles_v4 (station_id, history, number)
    ) WITHOUT ROWID""",
    """INSERT INTO bundle_recipients_v4 (station_id, history, number, recipient_id,
        public_key, name) SELECT station_id, zeroblob(16), number, recipient_id, public_key, name
        FROM bundle_recipients""",
    "DROP TABLE bundle_recipients",
    "DROP TABLE bundles",
    "ALTER TABLE bundles_v4 RENAME TO bundles",
    "ALTER TABLE bundle_recipients_v4 RENAME TO bundle_recipients",
    """CREATE TABLE recipient_pins_v4 (
        station_id   BLOB NOT NULL REFERENCES stations (station_id),
        history      BLOB NOT NULL CHECK (length(history) = 16),
        from_bundle  INTEGER NOT NULL CHECK (from_bundle >= 1),
        recipient_id BLOB NOT NULL CHECK (length(recipient_id) = 32),
        public_key   BLOB CHECK (public_key IS NULL OR length(public_key) = 32),
        name         TEXT,
        PRIMARY KEY (station_id, history, from_bundle, recipient_id)
    ) WITHOUT ROWID""",
    """INSERT INTO recipient_pins_v4 (station_id, history, from_bundle, recipient_id,
        public_key, name) SELECT station_id, zeroblob(16), from_bundle, recipient_id, public_key,
        name FROM recipient_pins""",
    "DROP TABLE recipient_pins",
    "ALTER TABLE recipient_pins_v4 RENAME TO recipient_pins",
    """CREATE TABLE reports_v4 (
        id            INTEGER PRIMARY KEY,
        station_id    BLOB NOT NULL REFERENCES stations (station_id),
        history       BLOB NOT NULL CHECK (length(history) = 16),
        seq           INTEGER NOT NULL,
        envelope_hash BLOB NOT NULL,
        kind          TEXT NOT NULL,
        receipt       TEXT NOT NULL,
        follows       TEXT,
        locale        TEXT NOT NULL,
        submitted     TEXT NOT NULL,
        incident_date TEXT,
        site          TEXT,
        types         TEXT NOT NULL,
        description   TEXT NOT NULL,
        body          TEXT NOT NULL,
        file_key      BLOB CHECK (file_key IS NULL OR length(file_key) = 32),
        UNIQUE (station_id, history, seq)
    )""",
    """INSERT INTO reports_v4 (id, station_id, history, seq, envelope_hash, kind, receipt,
        follows, locale, submitted, incident_date, site, types, description, body, file_key)
        SELECT id, station_id, zeroblob(16), seq, envelope_hash, kind, receipt, follows, locale,
        submitted, incident_date, site, types, description, body, file_key FROM reports""",
    """CREATE TABLE attachments_v4 (
        report  INTEGER NOT NULL REFERENCES reports_v4 (id),
        idx     INTEGER NOT NULL CHECK (idx >= 0),
        upload  INTEGER NOT NULL UNIQUE,
        PRIMARY KEY (report, idx)
    ) WITHOUT ROWID""",
    "INSERT INTO attachments_v4 (report, idx, upload) SELECT report, idx, upload "
    "FROM attachments",
    "DROP TABLE attachments",
    "DROP TABLE reports",
    "ALTER TABLE reports_v4 RENAME TO reports",
    "ALTER TABLE attachments_v4 RENAME TO attachments",
    "CREATE INDEX reports_receipt ON reports (receipt)",
    "CREATE INDEX reports_follows ON reports (follows)",
    "CREATE INDEX reports_submitted ON reports (submitted)",
    "CREATE INDEX reports_envelope_hash ON reports (envelope_hash)",
    """CREATE TABLE unreadable_v4 (
        station_id    BLOB NOT NULL REFERENCES stations (station_id),
        history       BLOB NOT NULL CHECK (length(history) = 16),
        seq           INTEGER NOT NULL,
        envelope_hash BLOB NOT NULL,
        PRIMARY KEY (station_id, history, seq)
    ) WITHOUT ROWID""",
    """INSERT INTO unreadable_v4 (station_id, history, seq, envelope_hash)
        SELECT station_id, zeroblob(16), seq, envelope_hash FROM unreadable""",
    "DROP TABLE unreadable",
    "ALTER TABLE unreadable_v4 RENAME TO unreadable",
)
# Schema 5: what the review desk filters on and shows (``filters.py``, ``custody.py``).
# Three columns taken from the body, so that filtering on them reads no JSON: the
# source (witnessed or heard), the perpetrator codes (a JSON array, like ``types``)
# and the number of attachments the report lists. When each report and each bundle
# was imported (UTC, to the second: the reviewer's own chain of custody; NULL for
# what was imported before this schema). And one index in the inbox's order
# (newest first), which keyset pagination walks without sorting.
_MIGRATION_5 = (
    "ALTER TABLE reports ADD COLUMN source TEXT",
    "ALTER TABLE reports ADD COLUMN perpetrators TEXT NOT NULL DEFAULT '[]'",
    "ALTER TABLE reports ADD COLUMN attachment_count INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE reports ADD COLUMN imported TEXT",
    "ALTER TABLE bundles ADD COLUMN imported TEXT",
    # What a station sealed is untrusted: only a string is a source, only an array
    # a list of perpetrators (``report_columns`` applies the same rules).
    """UPDATE reports SET
        source = CASE WHEN json_type(body, '$.fields.source') = 'text'
                      THEN json_extract(body, '$.fields.source') END,
        perpetrators = CASE WHEN json_type(body, '$.fields.perpetrators') = 'array'
                            THEN json_extract(body, '$.fields.perpetrators') ELSE '[]' END,
        attachment_count = coalesce(json_array_length(body, '$.attachments'), 0)""",
    "CREATE INDEX reports_newest ON reports (submitted, station_id, seq)",
    "DROP INDEX IF EXISTS reports_submitted",
)
# Fast filters and counts on 100,000 reports (``filters.py``, ``docs/benchmarks.md``).
# * ``reports_fts``: a full-text index of every report's searchable text
#   (``searchtext.body_text``: every value of the body, folded) with the trigram
#   tokenizer, so a search of three characters or more is a substring match that
#   reads the index, not every body. Contentless (the text is in ``body``
#   already); its rowid is the report's id. It holds decrypted words, inside this
#   SQLCipher file like the bodies (SECURITY.md). ``add_report`` keeps it in step
#   (a trigger cannot: the text is folded in Python; and a text a Python function
#   returns to SQLite is cut at its first NUL, so the migration binds it too).
# * ``report_codes``: one row per (incident type or perpetrator code, report), the
#   text elements of ``types`` and ``perpetrators``, so the type and perpetrator
#   filters read an index instead of parsing JSON per row. Derived from ``reports``
#   like the full-text index, so no foreign key (a migration may rebuild
#   ``reports``, as migration 4 did).
# * Indexes for the other filters: the date they apply to (the incident date,
#   else the arrival date), the source, the site, the reports with
#   attachments; station ids are looked up in ``stations`` and then by the
#   existing unique index. No index on ``kind`` (two values): SQLite took it
#   for ``receipt = ? AND kind = 'incident' ORDER BY id`` (import asks that of
#   every report) and import grew quadratic (10,000 reports: 134 s, not 2.5 s);
#   a kind filter counts on ``reports_newest``. No ``ANALYZE``: statistics
#   taken while a database is new and empty would mislead the planner once
#   reports come; the plans hold without them (``docs/benchmarks.md``).
def _fill_search_index(db: sqlc.Connection) -> None:
    """Index the reports already imported (the search migration's Python step)."""
    rows = db.execute("SELECT id, body FROM reports")  # streamed, not held
    db.executemany("INSERT INTO reports_fts (rowid, text) VALUES (?, ?)",
                   ((int(i), body_text(body)) for i, body in rows))


_MIGRATION_FTS: tuple[sqlc.Step, ...] = (
    "CREATE VIRTUAL TABLE reports_fts USING fts5(text, content='', contentless_delete=1, "
    "tokenize='trigram case_sensitive 1')",
    _fill_search_index,
    """CREATE TABLE report_codes (
        field  TEXT NOT NULL CHECK (field IN ('type', 'perpetrator')),
        code   TEXT NOT NULL,
        report INTEGER NOT NULL,
        PRIMARY KEY (field, code, report)
    ) WITHOUT ROWID""",
    "INSERT OR IGNORE INTO report_codes (field, code, report) SELECT 'type', t.value, r.id "
    "FROM reports AS r, json_each(r.types) AS t WHERE t.type = 'text'",
    "INSERT OR IGNORE INTO report_codes (field, code, report) SELECT 'perpetrator', p.value, "
    "r.id FROM reports AS r, json_each(r.perpetrators) AS p WHERE p.type = 'text'",
    # The inbox's order, now with every column a filter reads: a page walks it and
    # tests each entry without reading the report (whatever the filter, it stops
    # at the page's last report), and a count scans it rather than the table.
    "DROP INDEX reports_newest",
    "CREATE INDEX reports_newest ON reports (submitted, station_id, seq, id, kind, source, "
    "attachment_count, incident_date, site, status, sensitive, incident)",
    "CREATE INDEX reports_day ON reports (coalesce(incident_date, submitted))",
    "CREATE INDEX reports_source ON reports (source)",
    "CREATE INDEX reports_site ON reports (site)",
    "CREATE INDEX reports_with_attachments ON reports (attachment_count) "
    "WHERE attachment_count > 0",
)
# Schema 6: the verification workflow (status, tags, sensitive mark, incidents and the
# append-only history): ``workflow_schema.py``. Schema 7: the search index and the
# filters' indexes above (the inbox index also holds the workflow's columns).
MIGRATIONS: tuple[tuple[sqlc.Step, ...], ...] = (_MIGRATION_1, _MIGRATION_2, _MIGRATION_3,
                                                 _MIGRATION_4, _MIGRATION_5, _MIGRATION_6,
                                                 _MIGRATION_FTS)


def utc_now() -> str:
    """The time now, UTC, to the second (``2026-03-14T09:26:53Z``): import times."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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


@dataclass(frozen=True)
class BundleRecord:
    station_id: bytes
    number: int
    hash: bytes
    previous: bytes | None
    first_seq: int
    last_seq: int
    chain_before: bytes
    chain_head: bytes
    reports: int
    created: str
    history: bytes = ROOT_HISTORY
    imported: str | None = None  # when it was imported (None: before schema 5)


@dataclass(frozen=True)
class HistoryRecord:
    """A restore of a station, as the first bundle that listed it recorded it."""

    station_id: bytes
    restore: Restore
    parent: bytes  # the history it forks from (ROOT_HISTORY: the station's first)
    position: int  # 1 for a restore of the first history, 2 for a restore of that, ...


@dataclass(frozen=True)
class Recipient:
    """A key a bundle was sealed to: its id always; its public key and the station's
    name for it when the bundle's format names them (version 3 on)."""

    id: bytes
    key: bytes | None = None
    name: str | None = None


def report_columns(report: Report, body: bytes | None = None) -> dict[str, Any]:
    """The searchable columns of a report (everything is also kept in ``body``).

    ``body`` is the decrypted body as it arrived, when the caller has it: it
    parsed into ``report``, so storing it saves serialising ``report`` again.
    """
    fields = report.fields
    site = fields.get("site") or fields.get("site_other") or None
    source = fields.get("source")
    perpetrators = fields.get("perpetrators")
    return {
        "kind": report.kind,
        "receipt": report.receipt,
        "follows": report.follows,
        "locale": report.locale,
        "submitted": report.submitted,
        "incident_date": fields.get("incident_date") or None,
        "site": site if isinstance(site, str) else None,
        "types": json.dumps(fields.get("incident_types") or [], ensure_ascii=False),
        "description": str(fields.get("description") or ""),
        "body": (body if body is not None else report.to_body()).decode("utf-8"),
        "source": source if isinstance(source, str) else None,
        "perpetrators": json.dumps(perpetrators if isinstance(perpetrators, list) else [],
                                   ensure_ascii=False),
        "attachment_count": len(report.attachments),
    }


class ReviewDB:
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
            sqlc.migrate(db, MIGRATIONS)
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
            sqlc.migrate(db, MIGRATIONS)
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

    # --- stations ---------------------------------------------------------------

    def pinned_key(self, station_id: bytes) -> bytes | None:
        row = self._db.execute("SELECT verify_key FROM stations WHERE station_id = ?",
                               (station_id,)).fetchone()
        return None if row is None else bytes(row[0])

    def pin_station(self, station_id: bytes, verify_key: bytes) -> None:
        self._db.execute("INSERT INTO stations (station_id, verify_key) VALUES (?, ?)",
                         (station_id, verify_key))

    def stations(self) -> list[tuple[bytes, bytes]]:
        return [(bytes(a), bytes(b)) for a, b in self._db.execute(
            "SELECT station_id, verify_key FROM stations ORDER BY station_id")]

    # --- histories (schema 4) -----------------------------------------------------------

    def history(self, station_id: bytes, history: bytes) -> HistoryRecord | None:
        row = self._db.execute(
            f"SELECT {_HISTORY} FROM histories "  # noqa: S608 (a fixed column list)
            "WHERE station_id = ? AND history = ?",
            (station_id, history)).fetchone()
        return None if row is None else _history(row)

    def histories(self, station_id: bytes) -> list[HistoryRecord]:
        """Every restore recorded for a station, in the order of their lineage depth."""
        return [_history(row) for row in self._db.execute(
            f"SELECT {_HISTORY} FROM histories "  # noqa: S608 (a fixed column list)
            "WHERE station_id = ? ORDER BY position, restored, history", (station_id,))]

    def add_history(self, record: HistoryRecord) -> None:
        r = record.restore
        self._db.execute(
            "INSERT INTO histories (station_id, history, parent, position, bundle, bundle_hash, "
            "seq, chain, backup, restored) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (record.station_id, r.id, record.parent, record.position, r.bundle, r.bundle_hash,
             r.seq, r.chain, r.backup, r.restored))

    def lineage(self, station_id: bytes, history: bytes) -> tuple[Restore, ...]:
        """The restores that led to ``history``, oldest first (empty for the first)."""
        out: list[Restore] = []
        while history != ROOT_HISTORY:
            record = self.history(station_id, history)
            if record is None or len(out) > 64:  # not recorded (cannot happen), or a loop
                break
            out.append(record.restore)
            history = record.parent
        return tuple(reversed(out))

    # --- bundles ------------------------------------------------------------------

    def bundle(self, station_id: bytes, number: int,
               history: bytes = ROOT_HISTORY) -> BundleRecord | None:
        row = self._db.execute(
            f"SELECT {_BUNDLE} FROM bundles "  # noqa: S608 (a fixed column list)
            "WHERE station_id = ? AND history = ? AND number = ?",
            (station_id, history, number)).fetchone()
        return None if row is None else _bundle(row)

    def bundles(self, station_id: bytes, history: bytes | None = None) -> list[BundleRecord]:
        """A station's bundles (of one history, or of all), by number."""
        return [_bundle(row) for row in self._db.execute(
            f"SELECT {_BUNDLE} FROM bundles "  # noqa: S608 (a fixed column list)
            "WHERE station_id = ? AND (? IS NULL OR history = ?) ORDER BY number, history",
            (station_id, history, history))]

    def add_bundle(self, record: BundleRecord) -> None:
        """Record an imported bundle; its import time is now unless ``record`` says."""
        self._db.execute(
            "INSERT INTO bundles (station_id, history, number, hash, previous, first_seq, "
            "last_seq, chain_before, chain_head, reports, created, imported) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (record.station_id, record.history, record.number, record.hash, record.previous,
             record.first_seq, record.last_seq, record.chain_before, record.chain_head,
             record.reports, record.created, record.imported or utc_now()))

    def bundles_carrying(self, station_id: bytes, seq: int,
                         history: bytes = ROOT_HISTORY) -> list[BundleRecord]:
        """The imported bundles of one history of a station whose report range holds
        ``seq``, by number (a report travels again in a later ``export --all``)."""
        return [_bundle(row) for row in self._db.execute(
            f"SELECT {_BUNDLE} FROM bundles "  # noqa: S608 (a fixed column list)
            "WHERE station_id = ? AND history = ? AND first_seq <= ? AND last_seq >= ? "
            "ORDER BY number", (station_id, history, seq, seq))]

    def recipients_state(self, station_id: bytes, number: int,
                         history: bytes = ROOT_HISTORY) -> str | None:
        """How bundle ``number``'s recipients compared with the pin (``recipients.py``)."""
        row = self._db.execute(
            "SELECT recipients_state FROM bundles WHERE station_id = ? AND history = ? "
            "AND number = ?", (station_id, history, number)).fetchone()
        return None if row is None or row[0] is None else str(row[0])

    # --- recipients (schema 3) ------------------------------------------------------

    def add_bundle_recipients(self, station_id: bytes, number: int,
                              recipients: Iterable[Recipient],
                              history: bytes = ROOT_HISTORY) -> None:
        self._db.executemany(
            "INSERT INTO bundle_recipients (station_id, history, number, recipient_id, "
            "public_key, name) VALUES (?, ?, ?, ?, ?, ?)",
            [(station_id, history, number, r.id, r.key, r.name) for r in recipients])

    def bundle_recipients(self, station_id: bytes, number: int,
                          history: bytes = ROOT_HISTORY) -> list[Recipient]:
        return [_recipient(row) for row in self._db.execute(
            "SELECT recipient_id, public_key, name FROM bundle_recipients "
            "WHERE station_id = ? AND history = ? AND number = ? ORDER BY name, recipient_id",
            (station_id, history, number))]

    def set_recipients_state(self, station_id: bytes, number: int, state: str,
                             history: bytes = ROOT_HISTORY) -> None:
        self._db.execute("UPDATE bundles SET recipients_state = ? "
                         "WHERE station_id = ? AND history = ? AND number = ?",
                         (state, station_id, history, number))

    def bundles_in_state(self, state: str, station_id: bytes | None = None
                         ) -> list[tuple[bytes, int, bytes]]:
        """(station id, bundle number, history) of the bundles whose recipients are in
        ``state``."""
        return [(bytes(sid), int(n), bytes(h)) for sid, n, h in self._db.execute(
            "SELECT station_id, number, history FROM bundles WHERE recipients_state = ? "
            "AND (? IS NULL OR station_id = ?) ORDER BY station_id, number, history",
            (state, station_id, station_id))]

    def pin_recipients(self, station_id: bytes, from_bundle: int,
                       recipients: Iterable[Recipient], history: bytes = ROOT_HISTORY) -> None:
        """Pin ``recipients`` as the station's set from bundle ``from_bundle`` on."""
        self._db.execute("DELETE FROM recipient_pins WHERE station_id = ? AND history = ? "
                         "AND from_bundle = ?", (station_id, history, from_bundle))
        self._db.executemany(
            "INSERT INTO recipient_pins (station_id, history, from_bundle, recipient_id, "
            "public_key, name) VALUES (?, ?, ?, ?, ?, ?)",
            [(station_id, history, from_bundle, r.id, r.key, r.name) for r in recipients])

    def learn_recipient(self, station_id: bytes, from_bundle: int, recipient: Recipient,
                        history: bytes = ROOT_HISTORY) -> None:
        """Fill in a pinned recipient's key and name where the pin did not know them
        (pinned from a bundle of format 1 or 2, which lists ids only)."""
        self._db.execute(
            "UPDATE recipient_pins SET public_key = coalesce(public_key, ?), "
            "name = coalesce(name, ?) WHERE station_id = ? AND history = ? "
            "AND from_bundle = ? AND recipient_id = ?",
            (recipient.key, recipient.name, station_id, history, from_bundle, recipient.id))

    def pins(self, station_id: bytes, history: bytes = ROOT_HISTORY
             ) -> dict[int, list[Recipient]]:
        """Every pinned set of a station's history, by the bundle number it is valid from."""
        out: dict[int, list[Recipient]] = {}
        for from_bundle, *row in self._db.execute(
                "SELECT from_bundle, recipient_id, public_key, name FROM recipient_pins "
                "WHERE station_id = ? AND history = ? ORDER BY from_bundle, name, recipient_id",
                (station_id, history)):
            out.setdefault(int(from_bundle), []).append(_recipient(row))
        return out

    def pinned_histories(self, station_id: bytes) -> list[bytes]:
        """The histories of a station that have pins."""
        return [bytes(h) for (h,) in self._db.execute(
            "SELECT DISTINCT history FROM recipient_pins WHERE station_id = ? ORDER BY history",
            (station_id,))]

    # --- reports ------------------------------------------------------------------

    def report_hash(self, station_id: bytes, seq: int,
                    history: bytes = ROOT_HISTORY) -> bytes | None:
        row = self._db.execute(
            "SELECT envelope_hash FROM reports WHERE station_id = ? AND history = ? "
            "AND seq = ?", (station_id, history, seq)).fetchone()
        return None if row is None else bytes(row[0])

    def add_report(self, station_id: bytes, seq: int, envelope_hash: bytes,
                   report: Report, body: bytes | None = None,
                   file_key: bytes | None = None, history: bytes = ROOT_HISTORY) -> int:
        columns = report_columns(report, body)
        cursor = self._db.execute(
            "INSERT INTO reports (station_id, history, seq, envelope_hash, kind, receipt, "
            "follows, locale, submitted, incident_date, site, types, description, body, "
            "file_key, source, perpetrators, attachment_count, imported) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (station_id, history, seq, envelope_hash, columns["kind"], columns["receipt"],
             columns["follows"], columns["locale"], columns["submitted"],
             columns["incident_date"], columns["site"], columns["types"],
             columns["description"], columns["body"], file_key, columns["source"],
             columns["perpetrators"], columns["attachment_count"], utc_now()))
        report_id = int(cursor.lastrowid or 0)
        self._index_report(report_id, columns)
        return report_id

    def _index_report(self, report_id: int, columns: dict[str, Any]) -> None:
        """What the search migration indexes, for one new report (same SQL rules)."""
        self._db.execute("INSERT INTO reports_fts (rowid, text) VALUES (?, ?)",
                         (report_id, body_text(columns["body"])))
        for field, codes in (("type", columns["types"]),
                             ("perpetrator", columns["perpetrators"])):
            self._db.execute(
                "INSERT OR IGNORE INTO report_codes (field, code, report) "
                "SELECT ?, value, ? FROM json_each(?) WHERE type = 'text'",
                (field, report_id, codes))

    def first_reports_with_receipt(self, receipt: str) -> list[tuple[int, bytes, int]]:
        """(id, station id, seq) of every first report carrying ``receipt``, oldest first."""
        return [(int(i), bytes(st), int(seq)) for i, st, seq in self._db.execute(
            "SELECT id, station_id, seq FROM reports WHERE receipt = ? AND kind = 'incident' "
            "ORDER BY id", (receipt,))]

    def holds_envelope(self, envelope_hash: bytes) -> bool:
        """Whether a (readable) report with this envelope hash was imported."""
        return self._db.execute("SELECT 1 FROM reports WHERE envelope_hash = ?",
                                (envelope_hash,)).fetchone() is not None

    # --- attachments ----------------------------------------------------------------

    def add_attachment(self, report_id: int, index: int, upload: int) -> None:
        self._db.execute("INSERT INTO attachments (report, idx, upload) VALUES (?, ?, ?)",
                         (report_id, index, upload))

    def attachment_uploads(self, report_id: int) -> dict[int, int]:
        """Index -> upload id in ``attachment_store()`` of report ``report_id``."""
        return {int(i): int(u) for i, u in self._db.execute(
            "SELECT idx, upload FROM attachments WHERE report = ? ORDER BY idx",
            (report_id,))}

    def file_key(self, report_id: int) -> bytes | None:
        row = self._db.execute("SELECT file_key FROM reports WHERE id = ?",
                               (report_id,)).fetchone()
        return None if row is None or row[0] is None else bytes(row[0])

    def unreadable_hash(self, station_id: bytes, seq: int,
                        history: bytes = ROOT_HISTORY) -> bytes | None:
        row = self._db.execute(
            "SELECT envelope_hash FROM unreadable WHERE station_id = ? AND history = ? "
            "AND seq = ?", (station_id, history, seq)).fetchone()
        return None if row is None else bytes(row[0])

    def add_unreadable(self, station_id: bytes, seq: int, envelope_hash: bytes,
                       history: bytes = ROOT_HISTORY) -> None:
        self._db.execute(
            "INSERT INTO unreadable (station_id, history, seq, envelope_hash) "
            "VALUES (?, ?, ?, ?)", (station_id, history, seq, envelope_hash))

    def unreadable_between(self, station_id: bytes, first: int, last: int,
                           history: bytes = ROOT_HISTORY) -> set[int]:
        return {int(r[0]) for r in self._db.execute(
            "SELECT seq FROM unreadable WHERE station_id = ? AND history = ? "
            "AND seq BETWEEN ? AND ?", (station_id, history, first, last))}

    def forget_unreadable(self, station_id: bytes, seq: int,
                          history: bytes = ROOT_HISTORY) -> None:
        """A key imported since opens it: it becomes a report (``add_report``)."""
        self._db.execute("DELETE FROM unreadable WHERE station_id = ? AND history = ? "
                         "AND seq = ?", (station_id, history, seq))

    def unreadable_seqs(self, station_id: bytes, history: bytes = ROOT_HISTORY) -> list[int]:
        return [int(r[0]) for r in self._db.execute(
            "SELECT seq FROM unreadable WHERE station_id = ? AND history = ? ORDER BY seq",
            (station_id, history))]

    def known_hashes(self, station_id: bytes, first: int, last: int,
                     history: bytes = ROOT_HISTORY) -> dict[int, bytes]:
        """Envelope hashes already held (readable or not) for ``first..last``."""
        known: dict[int, bytes] = {}
        for table in ("reports", "unreadable"):
            for seq, h in self._db.execute(
                    f"SELECT seq, envelope_hash FROM {table} "  # noqa: S608 (fixed names)
                    "WHERE station_id = ? AND history = ? AND seq BETWEEN ? AND ?",
                    (station_id, history, first, last)):
                known[int(seq)] = bytes(h)
        return known

    def report_count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM reports").fetchone()[0])

    def seqs(self, station_id: bytes, history: bytes = ROOT_HISTORY) -> Iterator[int]:
        for (seq,) in self._db.execute(
                "SELECT seq FROM reports WHERE station_id = ? AND history = ? ORDER BY seq",
                (station_id, history)):
            yield int(seq)


def _recipient(row: Any) -> Recipient:
    return Recipient(id=bytes(row[0]), key=None if row[1] is None else bytes(row[1]),
                     name=None if row[2] is None else str(row[2]))


_BUNDLE = ("station_id, number, hash, previous, first_seq, last_seq, chain_before, "
           "chain_head, reports, created, history, imported")
_HISTORY = ("station_id, history, parent, position, bundle, bundle_hash, seq, chain, backup, "
            "restored")


def _bundle(row: Any) -> BundleRecord:
    return BundleRecord(
        station_id=bytes(row[0]), number=int(row[1]), hash=bytes(row[2]),
        previous=None if row[3] is None else bytes(row[3]), first_seq=int(row[4]),
        last_seq=int(row[5]), chain_before=bytes(row[6]), chain_head=bytes(row[7]),
        reports=int(row[8]), created=str(row[9]), history=bytes(row[10]),
        imported=None if row[11] is None else str(row[11]))


def _history(row: Any) -> HistoryRecord:
    restore = Restore(id=bytes(row[1]), bundle=int(row[4]),
                      bundle_hash=None if row[5] is None else bytes(row[5]), seq=int(row[6]),
                      chain=bytes(row[7]), backup=str(row[8]), restored=str(row[9]))
    return HistoryRecord(bytes(row[0]), restore, parent=bytes(row[2]), position=int(row[3]))
