"""The review history: the append-only, hash-chained record of every change reviewers
make in the review database (the ``review_history`` table, ``workflow_schema.py``).

Every change (status, tag added or removed, note, sensitive marked or unmarked,
linked to or unlinked from an incident, duplicate marked, incident created or
edited) is one entry, with the UTC time to the second and the reviewer's name.
The database refuses to update or delete an entry (triggers), and each entry
carries ``hash = SHA-256(context || previous hash || canonical JSON of the
entry)``, so an entry edited with SQLCipher outside reporter no longer matches
(``verify_history``). SECURITY.md says what that does not protect against.

Kept apart from what records changes (``workflow.py``: statuses, tags, notes,
the sensitive mark; ``incidents.py``): each of them calls ``append_entry`` in
its own transaction, and this module is the one place that computes and checks
the chain. Not to be confused with ``histories.py``: a station's histories
(restores from a backup).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from reporter.review.db import ReviewDB
from reporter.review.db_records import utc_now

HISTORY_CONTEXT = b"reporter/review-history/v1\x00"
ZERO_HASH = bytes(32)


@dataclass(frozen=True)
class Entry:
    """One change, as the history recorded it."""

    id: int
    at: str  # UTC, to the second
    reviewer: str
    report: int | None
    incident: int | None
    action: str  # one of HISTORY_ACTIONS
    detail: dict[str, Any]  # what changed: {"from", "to"}, {"tag"}, {"text"}, ...
    previous: bytes
    hash: bytes


def _canonical(entry_id: int, at: str, reviewer: str, report: int | None,
               incident: int | None, action: str, detail: str) -> bytes:
    return json.dumps([entry_id, at, reviewer, report, incident, action, detail],
                      ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def entry_hash(previous: bytes, entry_id: int, at: str, reviewer: str, report: int | None,
               incident: int | None, action: str, detail: str) -> bytes:
    return hashlib.sha256(HISTORY_CONTEXT + previous + _canonical(
        entry_id, at, reviewer, report, incident, action, detail)).digest()


def append_entry(db: ReviewDB, reviewer: str, action: str, detail: dict[str, Any], *,
            report: int | None = None, incident: int | None = None) -> None:
    """Append one entry (inside the caller's transaction)."""
    conn = db.connection
    last = conn.execute("SELECT id, hash FROM review_history ORDER BY id DESC LIMIT 1"
                        ).fetchone()
    entry_id, previous = (1, ZERO_HASH) if last is None else (int(last[0]) + 1, bytes(last[1]))
    at = utc_now()
    text = json.dumps(detail, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    digest = entry_hash(previous, entry_id, at, reviewer, report, incident, action, text)
    conn.execute(
        "INSERT INTO review_history (id, at, reviewer, report, incident, action, detail, "
        "previous, hash) VALUES (?,?,?,?,?,?,?,?,?)",
        (entry_id, at, reviewer, report, incident, action, text, previous, digest))


def _entry(row: Any) -> Entry:
    try:
        detail = json.loads(row[6])
    except ValueError:
        detail = {}
    return Entry(id=int(row[0]), at=str(row[1]), reviewer=str(row[2]),
                 report=None if row[3] is None else int(row[3]),
                 incident=None if row[4] is None else int(row[4]), action=str(row[5]),
                 detail=detail if isinstance(detail, dict) else {},
                 previous=bytes(row[7]), hash=bytes(row[8]))


_ENTRY = ("SELECT id, at, reviewer, report, incident, action, detail, previous, hash "
          "FROM review_history")


def history(db: ReviewDB, *, report: int | None = None,
            incident: int | None = None) -> list[Entry]:
    """The entries about a report, or about an incident (its fields and the reports
    linked to or unlinked from it), oldest first."""
    if report is not None:
        rows = db.connection.execute(_ENTRY + " WHERE report = ? ORDER BY id", (report,))
    elif incident is not None:
        rows = db.connection.execute(_ENTRY + " WHERE incident = ? ORDER BY id", (incident,))
    else:
        rows = db.connection.execute(_ENTRY + " ORDER BY id")
    return [_entry(row) for row in rows]


def recent(db: ReviewDB, limit: int = 100) -> list[Entry]:
    """The last ``limit`` entries of the whole history, newest first."""
    return [_entry(row) for row in db.connection.execute(
        _ENTRY + " ORDER BY id DESC LIMIT ?", (limit,))]


def notes(db: ReviewDB, report_id: int) -> list[Entry]:
    """The notes about a report, oldest first."""
    return [_entry(row) for row in db.connection.execute(
        _ENTRY + " WHERE report = ? AND action = 'note' ORDER BY id", (report_id,))]


@dataclass(frozen=True)
class HistoryCheck:
    entries: int
    head: bytes  # the last entry's hash (ZERO_HASH when there is none)
    broken: int | None  # the first entry whose hash or link does not match

    @property
    def intact(self) -> bool:
        return self.broken is None


def verify_history(db: ReviewDB) -> HistoryCheck:
    """Recompute the hash chain over the whole history. ``head`` is worth writing down
    (or putting in an evidence package): a later check that still contains it as an
    entry's hash shows that nothing up to it was rewritten."""
    previous, count, expected_id = ZERO_HASH, 0, 1
    for row in db.connection.execute(
            "SELECT id, at, reviewer, report, incident, action, detail, previous, hash "
            "FROM review_history ORDER BY id"):
        count += 1
        entry_id = int(row[0])
        report = None if row[3] is None else int(row[3])
        incident = None if row[4] is None else int(row[4])
        digest = entry_hash(previous, entry_id, str(row[1]), str(row[2]), report, incident,
                            str(row[5]), str(row[6]))
        if entry_id != expected_id or bytes(row[7]) != previous or bytes(row[8]) != digest:
            return HistoryCheck(count, previous, entry_id)
        previous, expected_id = digest, entry_id + 1
    return HistoryCheck(count, previous, None)


def entry_with_hash(db: ReviewDB, digest: bytes) -> int | None:
    """The id of the entry whose hash is ``digest`` (a head written down earlier), if the
    history holds it. With ``verify_history`` intact up to it, nothing up to that entry
    was rewritten since."""
    row = db.connection.execute("SELECT id FROM review_history WHERE hash = ?",
                                (digest,)).fetchone()
    return None if row is None else int(row[0])
