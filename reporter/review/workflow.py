"""The verification workflow: what reviewers establish about reports, in the review
database, and the append-only history of every change.

Per report (columns of ``reports``, ``workflow_schema.py``):

* a **status**, one of ``STATUSES``: ``new`` (imported, nobody has looked),
  ``under-review``, ``verified``, ``needs-follow-up``, ``duplicate``
  (dismissed: another report tells the same), ``unreliable`` (dismissed: not
  credible). Every imported report starts ``new``;
* free **tags** (``tag_key``: trimmed, NFC, case-folded for matching; shown as
  first typed; at most ``MAX_TAG`` characters, no control characters);
* private **notes** (entries of the history: a note is never edited nor
  deleted, another can be added);
* a **sensitive** mark (``set_sensitive``, ``is_sensitive``,
  ``sensitive_ids``, ``count_sensitive``): exports ask for confirmation
  before including such a report.

**Incidents** are kept apart from reports: an incident (a title, a date or a
date range, a site, incident types, the number of people affected as a
reviewer counts them, a note) is what happened; several reports (from
different monitors or stations, and follow-ups) can link to one. Marking a
report a duplicate of another links both to one incident.

**Counting incidents, not reports** (``count_incidents``, ``INCIDENT_KEY``):
each report counts for the incident it is linked to; a report linked to no
incident counts as an incident of its own, but an unlinked follow-up counts
for the first report it follows (as ``query.linked_first`` links it: its own
station's, else the earliest imported). So with no links at all the count is
the number of first reports (plus follow-ups whose first report is not
imported), and linking reports can only lower it.

**History** (``review_history``): every change (status, tag added or removed,
note, sensitive marked or unmarked, linked to or unlinked from an incident,
duplicate marked, incident created or edited) is one entry, with the UTC time
to the second and the reviewer's name. The database refuses to update or
delete an entry (triggers), and each entry carries ``hash = SHA-256(context ||
previous hash || canonical JSON of the entry)``, so an entry edited with
SQLCipher outside reporter no longer matches (``verify_history``). SECURITY.md
says what that does not protect against.

**The reviewer's name** is whatever the reviewer typed (``clean_name``): not
authenticated, since whoever holds the passphrase can type any name. The desk
asks for it on its unlock page and keeps it with the unlocked session; the
last one is remembered in ``review_settings`` (``remembered_reviewer``).

Every function that changes something runs in one transaction, and records
its history entry in the same one: a change is never stored without its entry.
Values typed by a reviewer are checked here (``WorkflowError`` with a
``problem`` code the desk translates) and reach SQLite only as parameters.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from reporter.errors import ReporterError
from reporter.formats.report import INCIDENT_TYPES
from reporter.review.db import ReviewDB
from reporter.review.labels import N_
from reporter.review.query import Filters, UnknownReport, _select, count_reports, tag_key
from reporter.review.records import utc_now
from reporter.review.workflow_schema import HISTORY_ACTIONS, STATUSES

__all__ = ["HISTORY_ACTIONS", "INCIDENT_KEY", "STATUSES", "tag_key"]

# The words reviewers read for each status (msgids of the ``reviewer`` domain; the CLI
# prints them in English).
STATUS_LABELS = {
    "new": N_("New"),
    "under-review": N_("Under review"),
    "verified": N_("Verified"),
    "needs-follow-up": N_("Needs follow-up"),
    "duplicate": N_("Dismissed as a duplicate"),
    "unreliable": N_("Dismissed as unreliable"),
}
MAX_NAME = 80
MAX_TAG = 50
MAX_TAGS = 50  # per report
MAX_NOTE = 5000
MAX_TITLE = 200
MAX_SITE = 200
MAX_PEOPLE = 10_000_000
HISTORY_CONTEXT = b"reporter/review-history/v1\x00"
ZERO_HASH = bytes(32)
REVIEWER_SETTING = "reviewer"

# Characters no name, tag or note needs: C0 controls (but tab and line break in a
# note), DEL, C1 controls, bidirectional controls (they reorder what is shown
# around them) and the BOM / zero-width no-break space.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e"
                       "\u2066-\u2069\ufeff]")

# Problems a reviewer's value can have (the desk shows each in the reviewer's language).
EMPTY, TOO_LONG, CONTROL, UNKNOWN_STATUS, SAME_REPORT, UNKNOWN_INCIDENT = (
    "empty", "too-long", "control", "unknown-status", "same-report", "unknown-incident")
BAD_DATE, BAD_NUMBER, UNKNOWN_TYPE, TOO_MANY_TAGS, NOT_LINKED = (
    "bad-date", "bad-number", "unknown-type", "too-many-tags", "not-linked")


class WorkflowError(ReporterError):
    """A value a reviewer typed cannot be stored; ``problem`` says why (a code above)."""

    def __init__(self, problem: str, message: str) -> None:
        super().__init__(message)
        self.problem = problem


# --- checking what reviewers type ------------------------------------------------


def _clean(text: str | None, limit: int, what: str, *, multiline: bool = False,
           required: bool = True) -> str:
    """``text`` NFC, trimmed (a one-line value: white space collapsed); else
    ``WorkflowError`` (empty, longer than ``limit`` characters, control characters)."""
    value = unicodedata.normalize("NFC", text or "")
    if _CONTROLS.search(value.replace("\r", "")):
        raise WorkflowError(CONTROL, f"the {what} holds control characters")
    if multiline:
        value = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    else:  # tabs and line breaks become spaces
        value = " ".join(value.split())
    if required and not value:
        raise WorkflowError(EMPTY, f"the {what} is empty")
    if len(value) > limit:
        raise WorkflowError(TOO_LONG, f"the {what} is longer than {limit} characters")
    return value


def clean_name(text: str | None) -> str:
    """A reviewer's name as it is recorded: one line, 1 to ``MAX_NAME`` characters."""
    return _clean(text, MAX_NAME, "reviewer's name")


def clean_tag(text: str | None) -> str:
    """A tag as shown: one line, 1 to ``MAX_TAG`` characters (matched by ``tag_key``)."""
    return _clean(text, MAX_TAG, "tag")


def _status(status: str) -> str:
    if status not in STATUSES:
        raise WorkflowError(UNKNOWN_STATUS, f"unknown status {status[:40]!r}; use one of "
                                            f"{', '.join(STATUSES)}")
    return status


# --- the history ---------------------------------------------------------------------


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


def _record(db: ReviewDB, reviewer: str, action: str, detail: dict[str, Any], *,
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


# --- one report's state ----------------------------------------------------------------


@dataclass(frozen=True)
class Tag:
    key: str  # tag_key(label): what matches
    label: str  # as first typed


@dataclass(frozen=True)
class ReportState:
    report: int
    status: str
    sensitive: bool
    incident: int | None
    duplicate_of: int | None
    tags: tuple[Tag, ...]


def _require_report(db: ReviewDB, report_id: int) -> tuple[str, bool, int | None, int | None]:
    row = db.connection.execute(
        "SELECT status, sensitive, incident, duplicate_of FROM reports WHERE id = ?",
        (report_id,)).fetchone()
    if row is None:
        raise UnknownReport(f"no report with id {report_id}; "
                            "'reporter review list' shows the ids")
    return (str(row[0]), bool(row[1]), None if row[2] is None else int(row[2]),
            None if row[3] is None else int(row[3]))


def state(db: ReviewDB, report_id: int) -> ReportState:
    """A report's status, sensitive mark, incident, duplicate mark and tags."""
    status, sensitive, incident, duplicate_of = _require_report(db, report_id)
    return ReportState(report_id, status, sensitive, incident, duplicate_of,
                       tags_of(db, report_id))


def tags_of(db: ReviewDB, report_id: int) -> tuple[Tag, ...]:
    return tuple(Tag(str(k), str(label)) for k, label in db.connection.execute(
        "SELECT tag, label FROM report_tags WHERE report = ? ORDER BY tag", (report_id,)))


def tags_for(db: ReviewDB, report_ids: Iterable[int]) -> dict[int, tuple[Tag, ...]]:
    """The tags of several reports (an inbox page) in one query."""
    ids = list(report_ids)
    out: dict[int, list[Tag]] = {}
    if ids:
        marks = ", ".join("?" * len(ids))
        for report, key, label in db.connection.execute(
                f"SELECT report, tag, label FROM report_tags "  # noqa: S608 (only ?s)
                f"WHERE report IN ({marks}) ORDER BY report, tag", ids):
            out.setdefault(int(report), []).append(Tag(str(key), str(label)))
    return {k: tuple(v) for k, v in out.items()}


def all_tags(db: ReviewDB) -> list[tuple[str, int]]:
    """Every tag in use (as first typed) with how many reports carry it, by name."""
    return [(str(label), int(n)) for label, n in db.connection.execute(
        "SELECT min(label), count(*) FROM report_tags GROUP BY tag ORDER BY tag")]


# --- changing a report ---------------------------------------------------------------------


def set_status(db: ReviewDB, report_id: int, status: str, reviewer: str) -> bool:
    """Give a report a status; whether it changed (the same status again records
    nothing). Leaving ``duplicate`` forgets which report it duplicated."""
    status, reviewer = _status(status), clean_name(reviewer)
    with db.transaction():
        before, _sensitive, _incident, duplicate_of = _require_report(db, report_id)
        if before == status:
            return False
        db.connection.execute(
            "UPDATE reports SET status = ?, duplicate_of = CASE WHEN ? = 'duplicate' "
            "THEN duplicate_of END WHERE id = ?", (status, status, report_id))
        detail: dict[str, Any] = {"from": before, "to": status}
        if duplicate_of is not None and status != "duplicate":
            detail["duplicate_of"] = duplicate_of
        _record(db, reviewer, "status", detail, report=report_id)
    return True


def add_tag(db: ReviewDB, report_id: int, tag: str, reviewer: str) -> bool:
    """Tag a report; whether the tag is new to it (matched by ``tag_key``)."""
    label, reviewer = clean_tag(tag), clean_name(reviewer)
    key = tag_key(label)
    with db.transaction():
        _require_report(db, report_id)
        conn = db.connection
        if conn.execute("SELECT 1 FROM report_tags WHERE report = ? AND tag = ?",
                        (report_id, key)).fetchone():
            return False
        if conn.execute("SELECT count(*) FROM report_tags WHERE report = ?",
                        (report_id,)).fetchone()[0] >= MAX_TAGS:
            raise WorkflowError(TOO_MANY_TAGS, f"a report has at most {MAX_TAGS} tags")
        # A tag another report already carries keeps the label it was first typed with.
        known = conn.execute("SELECT label FROM report_tags WHERE tag = ? LIMIT 1",
                             (key,)).fetchone()
        label = str(known[0]) if known else label
        conn.execute("INSERT INTO report_tags (report, tag, label) VALUES (?, ?, ?)",
                     (report_id, key, label))
        _record(db, reviewer, "tag-added", {"tag": label}, report=report_id)
    return True


def remove_tag(db: ReviewDB, report_id: int, tag: str, reviewer: str) -> bool:
    """Remove a tag (any case or Unicode form of it); whether the report had it."""
    key, reviewer = tag_key(_clean(tag, MAX_TAG * 4, "tag")), clean_name(reviewer)
    with db.transaction():
        _require_report(db, report_id)
        row = db.connection.execute("SELECT label FROM report_tags WHERE report = ? AND "
                                    "tag = ?", (report_id, key)).fetchone()
        if row is None:
            return False
        db.connection.execute("DELETE FROM report_tags WHERE report = ? AND tag = ?",
                              (report_id, key))
        _record(db, reviewer, "tag-removed", {"tag": str(row[0])}, report=report_id)
    return True


def add_note(db: ReviewDB, report_id: int, text: str, reviewer: str) -> None:
    """Add a private note (up to ``MAX_NOTE`` characters, line breaks kept)."""
    note = _clean(text, MAX_NOTE, "note", multiline=True)
    reviewer = clean_name(reviewer)
    with db.transaction():
        _require_report(db, report_id)
        _record(db, reviewer, "note", {"text": note}, report=report_id)


def set_sensitive(db: ReviewDB, report_id: int, sensitive: bool, reviewer: str) -> bool:
    """Mark a report sensitive or not; whether that changed it."""
    reviewer = clean_name(reviewer)
    with db.transaction():
        _status_now, before, _incident, _dup = _require_report(db, report_id)
        if before == sensitive:
            return False
        db.connection.execute("UPDATE reports SET sensitive = ? WHERE id = ?",
                              (1 if sensitive else 0, report_id))
        _record(db, reviewer, "sensitive" if sensitive else "not-sensitive", {},
                report=report_id)
    return True


def is_sensitive(db: ReviewDB, report_id: int) -> bool:
    return _require_report(db, report_id)[1]


def sensitive_ids(db: ReviewDB, report_ids: Iterable[int]) -> set[int]:
    """Which of ``report_ids`` are marked sensitive (for an export's confirmation)."""
    ids = list(report_ids)
    found: set[int] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        marks = ", ".join("?" * len(chunk))
        found |= {int(r[0]) for r in db.connection.execute(
            f"SELECT id FROM reports WHERE sensitive = 1 "  # noqa: S608 (only ?s)
            f"AND id IN ({marks})", chunk)}
    return found


def count_sensitive(db: ReviewDB, filters: Filters) -> int:
    """How many reports matching ``filters`` are marked sensitive (an export of the
    filter asks for confirmation when this is not 0)."""
    return count_reports(db, replace(filters, sensitive=True))


# --- incidents ---------------------------------------------------------------------------


@dataclass(frozen=True)
class IncidentFields:
    """What a reviewer enters about an incident (checked by ``check``)."""

    title: str
    date_from: str | None = None  # YYYY-MM-DD
    date_to: str | None = None  # YYYY-MM-DD, for a range; None: one day (or unknown)
    site: str | None = None
    types: tuple[str, ...] = ()  # codes of report.INCIDENT_TYPES
    people_affected: int | None = None
    note: str = ""

    def check(self) -> IncidentFields:
        """These fields cleaned, or ``WorkflowError``."""
        days = []
        for day in (self.date_from, self.date_to):
            if day:
                try:
                    date.fromisoformat(day)
                except ValueError:
                    raise WorkflowError(BAD_DATE, "a date is not YYYY-MM-DD") from None
                if len(day) != 10:
                    raise WorkflowError(BAD_DATE, "a date is not YYYY-MM-DD")
            days.append(day or None)
        if days[0] is None and days[1] is not None:
            days = [days[1], None]
        if days[0] and days[1] and days[0] > days[1]:
            raise WorkflowError(BAD_DATE, "the end date is before the start date")
        unknown = [t for t in self.types if t not in INCIDENT_TYPES]
        if unknown:
            raise WorkflowError(UNKNOWN_TYPE, f"unknown incident type {unknown[0][:40]!r}")
        if self.people_affected is not None and not 0 <= self.people_affected <= MAX_PEOPLE:
            raise WorkflowError(BAD_NUMBER, f"people affected: a number from 0 to {MAX_PEOPLE}")
        return IncidentFields(
            title=_clean(self.title, MAX_TITLE, "title"), date_from=days[0],
            date_to=days[1] if days[1] != days[0] else None,
            site=_clean(self.site, MAX_SITE, "site", required=False) or None,
            types=tuple(t for t in INCIDENT_TYPES if t in self.types),
            people_affected=self.people_affected,
            note=_clean(self.note, MAX_NOTE, "note", multiline=True, required=False))

    def as_detail(self) -> dict[str, Any]:
        return {"title": self.title, "date_from": self.date_from, "date_to": self.date_to,
                "site": self.site, "types": list(self.types),
                "people_affected": self.people_affected, "note": self.note}


@dataclass(frozen=True)
class Incident:
    id: int
    fields: IncidentFields
    created: str
    reports: int  # how many reports link to it


_INCIDENT = ("SELECT i.id, i.title, i.date_from, i.date_to, i.site, i.types, "
             "i.people_affected, i.note, i.created, "
             "(SELECT count(*) FROM reports AS r WHERE r.incident = i.id) FROM incidents AS i")


def _incident(row: Any) -> Incident:
    try:
        types = json.loads(row[5])
    except ValueError:
        types = []
    return Incident(int(row[0]), IncidentFields(
        title=str(row[1]), date_from=row[2], date_to=row[3], site=row[4],
        types=tuple(str(t) for t in types) if isinstance(types, list) else (),
        people_affected=None if row[6] is None else int(row[6]), note=str(row[7])),
        created=str(row[8]), reports=int(row[9]))


class UnknownIncident(ReporterError):
    """No incident with that id is in the review database."""


def get_incident(db: ReviewDB, incident_id: int) -> Incident:
    row = db.connection.execute(_INCIDENT + " WHERE i.id = ?", (incident_id,)).fetchone()
    if row is None:
        raise UnknownIncident(f"no incident with id {incident_id}")
    return _incident(row)


def list_incidents(db: ReviewDB, limit: int = -1) -> list[Incident]:
    """The incidents, newest first (by their date, else when each was created), at most
    ``limit`` of them (-1: all)."""
    return [_incident(row) for row in db.connection.execute(
        _INCIDENT + " ORDER BY coalesce(i.date_from, substr(i.created, 1, 10)) DESC, "
                    "i.id DESC LIMIT ?", (limit,))]


def _insert_incident(db: ReviewDB, fields: IncidentFields, reviewer: str) -> int:
    cursor = db.connection.execute(
        "INSERT INTO incidents (title, date_from, date_to, site, types, people_affected, "
        "note, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (fields.title, fields.date_from, fields.date_to, fields.site,
         json.dumps(list(fields.types)), fields.people_affected, fields.note, utc_now()))
    incident_id = int(cursor.lastrowid or 0)
    _record(db, reviewer, "incident-created", fields.as_detail(), incident=incident_id)
    return incident_id


def create_incident(db: ReviewDB, fields: IncidentFields, reviewer: str,
                    *, link: Iterable[int] = ()) -> int:
    """A new incident (and the reports in ``link`` linked to it); its id."""
    fields, reviewer = fields.check(), clean_name(reviewer)
    with db.transaction():
        for report_id in link:
            _require_report(db, report_id)
        incident_id = _insert_incident(db, fields, reviewer)
        for report_id in link:
            _link(db, report_id, incident_id, reviewer)
    return incident_id


def update_incident(db: ReviewDB, incident_id: int, fields: IncidentFields,
                    reviewer: str) -> bool:
    """Change an incident's fields; whether anything changed (the entry lists what)."""
    fields, reviewer = fields.check(), clean_name(reviewer)
    with db.transaction():
        before = get_incident(db, incident_id).fields.as_detail()
        after = fields.as_detail()
        changed = {k: {"from": before[k], "to": v} for k, v in after.items() if before[k] != v}
        if not changed:
            return False
        db.connection.execute(
            "UPDATE incidents SET title = ?, date_from = ?, date_to = ?, site = ?, types = ?, "
            "people_affected = ?, note = ? WHERE id = ?",
            (fields.title, fields.date_from, fields.date_to, fields.site,
             json.dumps(list(fields.types)), fields.people_affected, fields.note,
             incident_id))
        _record(db, reviewer, "incident-edited", changed, incident=incident_id)
    return True


def _link(db: ReviewDB, report_id: int, incident_id: int, reviewer: str) -> bool:
    current = _require_report(db, report_id)[2]
    if current == incident_id:
        return False
    if current is not None:
        db.connection.execute("UPDATE reports SET incident = NULL WHERE id = ?", (report_id,))
        _record(db, reviewer, "unlinked", {}, report=report_id, incident=current)
    db.connection.execute("UPDATE reports SET incident = ? WHERE id = ?",
                          (incident_id, report_id))
    _record(db, reviewer, "linked", {}, report=report_id, incident=incident_id)
    return True


def link(db: ReviewDB, report_id: int, incident_id: int, reviewer: str) -> bool:
    """Link a report to an incident (moving it from another it was linked to);
    whether that changed anything."""
    reviewer = clean_name(reviewer)
    with db.transaction():
        if db.connection.execute("SELECT 1 FROM incidents WHERE id = ?",
                                 (incident_id,)).fetchone() is None:
            raise WorkflowError(UNKNOWN_INCIDENT, f"no incident with id {incident_id}")
        return _link(db, report_id, incident_id, reviewer)


def unlink(db: ReviewDB, report_id: int, reviewer: str) -> bool:
    """Unlink a report from its incident (it counts as its own again); whether it was
    linked. The incident stays, even with no report left."""
    reviewer = clean_name(reviewer)
    with db.transaction():
        current = _require_report(db, report_id)[2]
        if current is None:
            return False
        db.connection.execute("UPDATE reports SET incident = NULL WHERE id = ?", (report_id,))
        _record(db, reviewer, "unlinked", {}, report=report_id, incident=current)
    return True


def mark_duplicate(db: ReviewDB, report_id: int, of_report: int, reviewer: str) -> int:
    """Mark ``report_id`` a duplicate of ``of_report``: its status becomes ``duplicate``
    and both are linked to one incident: ``of_report``'s if it has one, else
    ``report_id``'s, else a new one titled after ``of_report``. Returns that incident."""
    reviewer = clean_name(reviewer)
    if report_id == of_report:
        raise WorkflowError(SAME_REPORT, "a report cannot duplicate itself")
    with db.transaction():
        status, _s, own, duplicate_of = _require_report(db, report_id)
        target = _require_report(db, of_report)[2]
        if status == "duplicate" and duplicate_of == of_report and own == target is not None:
            return target
        incident_id = target if target is not None else own
        if incident_id is None:
            incident_id = _insert_incident(db, IncidentFields(
                title=f"Report {of_report}").check(), reviewer)
        _link(db, of_report, incident_id, reviewer)
        _link(db, report_id, incident_id, reviewer)
        db.connection.execute("UPDATE reports SET status = 'duplicate', duplicate_of = ? "
                              "WHERE id = ?", (of_report, report_id))
        _record(db, reviewer, "duplicate", {"of": of_report, "from": status},
                report=report_id, incident=incident_id)
    return incident_id


# --- counting incidents, not reports ----------------------------------------------------

# The incident a report counts for (an SQL expression over ``reports AS r``): its
# incident's id; an unlinked follow-up, the key of the first report it links to
# (``query.linked_first``: its own station's first report with that code, else the
# earliest imported); any other unlinked report, itself (minus its id, so report and
# incident keys never meet).
INCIDENT_KEY = (
    "CASE WHEN r.incident IS NOT NULL THEN r.incident "
    "WHEN r.kind = 'follow-up' AND r.follows IS NOT NULL THEN coalesce("
    "(SELECT coalesce(g.incident, -g.id) FROM reports AS g WHERE g.kind = 'incident' "
    "AND g.receipt = r.follows ORDER BY g.station_id = r.station_id DESC, g.id LIMIT 1), "
    "-r.id) ELSE -r.id END")


def count_incidents(db: ReviewDB, filters: Filters) -> int:
    """How many incidents the reports matching ``filters`` describe.

    Each matching report counts for the incident it is linked to, once however many
    of its reports match; a report linked to no incident counts as an incident of
    its own, except an unlinked follow-up, which counts for the first report it
    follows (see the module's docstring). Statuses are not looked at: pass
    ``Filters(status=...)`` to count, say, verified reports only.
    """
    return int(_select(db, f"count(DISTINCT {INCIDENT_KEY}) FROM reports AS r",
                       filters).fetchone()[0])


def count_incidents_by(db: ReviewDB, filters: Filters, key: str,
                       source: str = "reports AS r") -> list[tuple[Any, int]]:
    """Incidents (as ``count_incidents`` counts them) among the reports matching
    ``filters``, grouped by ``key``: an SQL expression over ``source`` (constants of
    the caller, never text a reviewer typed), e.g. the month
    ``substr(coalesce(r.incident_date, r.submitted), 1, 7)``, or ``t.value`` with
    ``source="reports AS r, json_each(r.types) AS t"`` (an incident then counts once
    under each type its reports ticked). An incident whose reports fall in two groups
    counts in both. Ordered by ``key``."""
    cursor = _select(db, f"{key}, count(DISTINCT {INCIDENT_KEY}) FROM {source}", filters,
                     f" GROUP BY {key} ORDER BY {key}")
    return [(k, int(n)) for k, n in cursor]


# --- the reviewer's name -----------------------------------------------------------------


def remembered_reviewer(db: ReviewDB) -> str | None:
    """The name of the reviewer who last unlocked the desk with a name, if any."""
    row = db.connection.execute("SELECT value FROM review_settings WHERE name = ?",
                                (REVIEWER_SETTING,)).fetchone()
    if row is None:
        return None
    try:
        return clean_name(str(row[0]))
    except WorkflowError:
        return None


def remember_reviewer(db: ReviewDB, name: str) -> str:
    """Keep ``name`` (cleaned) as the last reviewer's; returns it."""
    name = clean_name(name)
    with db.transaction():
        db.connection.execute(
            "INSERT INTO review_settings (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (REVIEWER_SETTING, name))
    return name
