"""The station database's schema, as migrations (spec: ``docs/instance-format.md``).

Each entry moves the schema from version i to i + 1 and runs in one
transaction with the ``user_version`` bump (``storage/sqlc.py``). Never edit a
released entry: append a new one. ``store.py`` holds the queries.
"""

from __future__ import annotations

# Statements, not ``executescript``: executescript commits on its own and
# would break the one-transaction-per-migration rule.
_MIGRATION_1 = (
    """CREATE TABLE settings (
        name  TEXT PRIMARY KEY,
        value BLOB NOT NULL
    ) WITHOUT ROWID""",
    """CREATE TABLE recipients (
        name       TEXT PRIMARY KEY,
        public_key BLOB NOT NULL UNIQUE CHECK (length(public_key) = 32)
    ) WITHOUT ROWID""",
    """CREATE TABLE sites (
        name TEXT PRIMARY KEY
    ) WITHOUT ROWID""",
    """CREATE TABLE reports (
        seq      INTEGER PRIMARY KEY CHECK (seq >= 1),
        envelope BLOB NOT NULL,
        size     INTEGER NOT NULL,
        chain    BLOB NOT NULL CHECK (length(chain) = 32)
    )""",
)

# Bundles exported (issue 3). ``written`` is 0 while a bundle is being written,
# and ``path`` is where it goes: the next export settles a row left at 0 by a
# crash (see ``export.recover``). ``purged`` is set by ``reporter
# purge``, which also needs ``reports.envelope`` to become nullable: the row
# (sequence number, size, chain value) stays so the chain still continues.
_MIGRATION_2 = (
    """CREATE TABLE bundles (
        number    INTEGER PRIMARY KEY CHECK (number >= 1),
        first_seq INTEGER NOT NULL,
        last_seq  INTEGER NOT NULL,
        hash      BLOB NOT NULL CHECK (length(hash) = 32),
        written   INTEGER NOT NULL DEFAULT 0,
        purged    INTEGER NOT NULL DEFAULT 0,
        path      TEXT
    )""",
    """CREATE TABLE reports_v2 (
        seq      INTEGER PRIMARY KEY CHECK (seq >= 1),
        envelope BLOB,
        size     INTEGER NOT NULL,
        chain    BLOB NOT NULL CHECK (length(chain) = 32)
    )""",
    "INSERT INTO reports_v2 (seq, envelope, size, chain) "
    "SELECT seq, envelope, size, chain FROM reports",
    "DROP TABLE reports",
    "ALTER TABLE reports_v2 RENAME TO reports",
)

# Attachments (issue 4) live in attachments.db, linked to the hash of their
# report's envelope. The station keeps that hash here so that start-up can
# tell an upload whose report was committed from one cut off by a crash.
# Reports stored before this version have NULL (they have no attachments).
_MIGRATION_3 = (
    "ALTER TABLE reports ADD COLUMN hash BLOB CHECK (hash IS NULL OR length(hash) = 32)",
    "CREATE INDEX reports_by_hash ON reports (hash)",
)

# Restores from backups (``reporter restore``, ``station/backup.py``): each one
# starts a new history of the station's numbering, forking from what the backup
# held. Bundles list them (format version 4) so reviewers keep each history's
# bundles and reports apart. Oldest first; a backup carries the table along.
_MIGRATION_4 = (
    """CREATE TABLE restores (
        position    INTEGER PRIMARY KEY CHECK (position >= 1),
        id          BLOB NOT NULL UNIQUE CHECK (length(id) = 16),
        bundle      INTEGER NOT NULL CHECK (bundle >= 0),
        bundle_hash BLOB CHECK (bundle_hash IS NULL OR length(bundle_hash) = 32),
        seq         INTEGER NOT NULL CHECK (seq >= 0),
        chain       BLOB NOT NULL CHECK (length(chain) = 32),
        backup      TEXT NOT NULL,
        restored    TEXT NOT NULL
    )""",
)

MIGRATIONS: tuple[tuple[str, ...], ...] = (_MIGRATION_1, _MIGRATION_2, _MIGRATION_3,
                                           _MIGRATION_4)
SCHEMA_VERSION = len(MIGRATIONS)
