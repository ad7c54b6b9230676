"""The review database's schema: its migrations, one per schema version.

Kept apart from ``db.py`` (opening the database, its files and keys) and from
``db_records.py`` (what import writes): this module holds the tables and indexes
every review database is migrated to, in order, and the one Python step the
search migration needs. ``sqlc.migrate`` applies ``MIGRATIONS`` when a database
is created or opened; schema 6, the verification workflow's, is in
``workflow_schema.py``.
"""

from __future__ import annotations

from reporter.formats.crypto import KEY_BYTES
from reporter.review.searchtext import body_text
from reporter.review.workflow_schema import MIGRATION as _MIGRATION_6
from reporter.storage import sqlc

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

