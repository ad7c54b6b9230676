"""The review database's schema for the verification workflow (``workflow.py``).

Kept apart from ``schema.py`` so that the migration list there stays one line per
schema. It holds no code: ``schema.py`` appends ``MIGRATION`` to its ``MIGRATIONS``.

* ``reports`` gains the reviewer's state of each report: ``status`` (one of
  ``STATUSES``, ``new`` for every report imported), ``sensitive`` (0 or 1),
  ``incident`` (the incident it is linked to, or NULL) and ``duplicate_of``
  (the report it was marked a duplicate of, or NULL). On ``reports`` itself,
  so the inbox's filters read them without a join.
* ``report_tags``: free tags, one row per (report, folded tag); ``tag`` is the
  matching key (NFC, case-folded), ``label`` the tag as first typed.
* ``incidents``: what happened, as reviewers establish it, apart from the reports
  that describe it (several reports link to one incident).
* ``review_history``: every change, append-only. Triggers refuse any UPDATE or
  DELETE of it, and any INSERT that does not continue its hash chain (each entry
  names the hash of the one before it; ``review_history.py`` computes the hashes
  and ``review_history.verify_history`` checks them). See SECURITY.md for what that does
  and does not protect against.
* ``review_settings``: the review database's own small settings (the name of the
  reviewer who last unlocked the desk).
"""

from __future__ import annotations

STATUSES = ("new", "under-review", "verified", "needs-follow-up", "duplicate", "unreliable")
HISTORY_ACTIONS = ("status", "tag-added", "tag-removed", "note", "sensitive", "not-sensitive",
                   "linked", "unlinked", "duplicate", "incident-created", "incident-edited")

_IN_STATUSES = ", ".join(f"'{s}'" for s in STATUSES)
_IN_ACTIONS = ", ".join(f"'{a}'" for a in HISTORY_ACTIONS)

MIGRATION: tuple[str, ...] = (
    f"ALTER TABLE reports ADD COLUMN status TEXT NOT NULL DEFAULT 'new' "
    f"CHECK (status IN ({_IN_STATUSES}))",
    "ALTER TABLE reports ADD COLUMN sensitive INTEGER NOT NULL DEFAULT 0 "
    "CHECK (sensitive IN (0, 1))",
    """CREATE TABLE incidents (
        id              INTEGER PRIMARY KEY,
        title           TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
        date_from       TEXT CHECK (date_from IS NULL OR length(date_from) = 10),
        date_to         TEXT CHECK (date_to IS NULL OR length(date_to) = 10),
        site            TEXT CHECK (site IS NULL OR length(site) <= 200),
        types           TEXT NOT NULL DEFAULT '[]',
        people_affected INTEGER CHECK (people_affected IS NULL OR people_affected >= 0),
        note            TEXT NOT NULL DEFAULT '' CHECK (length(note) <= 5000),
        created         TEXT NOT NULL
    )""",
    "ALTER TABLE reports ADD COLUMN incident INTEGER REFERENCES incidents (id)",
    "ALTER TABLE reports ADD COLUMN duplicate_of INTEGER REFERENCES reports (id)",
    "CREATE INDEX reports_incident ON reports (incident) WHERE incident IS NOT NULL",
    "CREATE INDEX reports_status ON reports (status)",
    """CREATE TABLE report_tags (
        report INTEGER NOT NULL REFERENCES reports (id),
        tag    TEXT NOT NULL CHECK (length(tag) BETWEEN 1 AND 200),
        label  TEXT NOT NULL CHECK (length(label) BETWEEN 1 AND 200),
        PRIMARY KEY (report, tag)
    ) WITHOUT ROWID""",
    "CREATE INDEX report_tags_tag ON report_tags (tag, report)",
    f"""CREATE TABLE review_history (
        id       INTEGER PRIMARY KEY,
        at       TEXT NOT NULL,
        reviewer TEXT NOT NULL CHECK (length(reviewer) BETWEEN 1 AND 200),
        report   INTEGER REFERENCES reports (id),
        incident INTEGER REFERENCES incidents (id),
        action   TEXT NOT NULL CHECK (action IN ({_IN_ACTIONS})),
        detail   TEXT NOT NULL,
        previous BLOB NOT NULL CHECK (length(previous) = 32),
        hash     BLOB NOT NULL CHECK (length(hash) = 32)
    )""",
    "CREATE INDEX review_history_report ON review_history (report) WHERE report IS NOT NULL",
    "CREATE INDEX review_history_incident ON review_history (incident) "
    "WHERE incident IS NOT NULL",
    """CREATE TRIGGER review_history_no_update BEFORE UPDATE ON review_history
        BEGIN SELECT RAISE(ABORT, 'the review history is append-only'); END""",
    """CREATE TRIGGER review_history_no_delete BEFORE DELETE ON review_history
        BEGIN SELECT RAISE(ABORT, 'the review history is append-only'); END""",
    # Each entry continues the chain: the next id, and the hash of the last entry.
    """CREATE TRIGGER review_history_chain BEFORE INSERT ON review_history
        WHEN NEW.id IS NOT coalesce((SELECT max(id) FROM review_history), 0) + 1
          OR NEW.previous IS NOT coalesce(
               (SELECT hash FROM review_history ORDER BY id DESC LIMIT 1), zeroblob(32))
        BEGIN SELECT RAISE(ABORT,
            'the review history is append-only: an entry must continue its hash chain');
        END""",
    """CREATE TABLE review_settings (
        name  TEXT PRIMARY KEY,
        value TEXT NOT NULL CHECK (length(value) <= 1000)
    ) WITHOUT ROWID""",
)
