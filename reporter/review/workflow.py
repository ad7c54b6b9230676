"""The verification workflow: what reviewers establish about each report, in the
review database, and the checks of every value they type.

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

Apart from this module: **incidents**, the reports linked to them and counting
incidents rather than reports (``incidents.py``); the append-only, hash-chained
**history** of every change (``review_history.py``).

**The reviewer's name** is whatever the reviewer typed (``clean_name``): not
authenticated, since whoever holds the passphrase can type any name. The desk
asks for it on its unlock page and keeps it with the unlocked session; the
last one is remembered in ``review_settings`` (``remembered_reviewer``).

Every function that changes something runs in one transaction, and records
its history entry in the same one: a change is never stored without its entry.
Values typed by a reviewer are checked here, for incidents too (``WorkflowError``
with a ``problem`` code the desk translates) and reach SQLite only as parameters.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from reporter.errors import ReporterError
from reporter.review.db import ReviewDB
from reporter.review.filters import Filters, tag_key
from reporter.review.labels import N_
from reporter.review.listing import count_reports
from reporter.review.records import UnknownReport
from reporter.review.review_history import append_entry
from reporter.review.workflow_schema import HISTORY_ACTIONS, STATUSES

__all__ = ["HISTORY_ACTIONS", "STATUSES", "tag_key"]

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


def clean_text(text: str | None, limit: int, what: str, *, multiline: bool = False,
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
    return clean_text(text, MAX_NAME, "reviewer's name")


def clean_tag(text: str | None) -> str:
    """A tag as shown: one line, 1 to ``MAX_TAG`` characters (matched by ``tag_key``)."""
    return clean_text(text, MAX_TAG, "tag")


def _status(status: str) -> str:
    if status not in STATUSES:
        raise WorkflowError(UNKNOWN_STATUS, f"unknown status {status[:40]!r}; use one of "
                                            f"{', '.join(STATUSES)}")
    return status


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


def require_report(db: ReviewDB, report_id: int) -> tuple[str, bool, int | None, int | None]:
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
    status, sensitive, incident, duplicate_of = require_report(db, report_id)
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
        before, _sensitive, _incident, duplicate_of = require_report(db, report_id)
        if before == status:
            return False
        db.connection.execute(
            "UPDATE reports SET status = ?, duplicate_of = CASE WHEN ? = 'duplicate' "
            "THEN duplicate_of END WHERE id = ?", (status, status, report_id))
        detail: dict[str, Any] = {"from": before, "to": status}
        if duplicate_of is not None and status != "duplicate":
            detail["duplicate_of"] = duplicate_of
        append_entry(db, reviewer, "status", detail, report=report_id)
    return True


def add_tag(db: ReviewDB, report_id: int, tag: str, reviewer: str) -> bool:
    """Tag a report; whether the tag is new to it (matched by ``tag_key``)."""
    label, reviewer = clean_tag(tag), clean_name(reviewer)
    key = tag_key(label)
    with db.transaction():
        require_report(db, report_id)
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
        append_entry(db, reviewer, "tag-added", {"tag": label}, report=report_id)
    return True


def remove_tag(db: ReviewDB, report_id: int, tag: str, reviewer: str) -> bool:
    """Remove a tag (any case or Unicode form of it); whether the report had it."""
    key, reviewer = tag_key(clean_text(tag, MAX_TAG * 4, "tag")), clean_name(reviewer)
    with db.transaction():
        require_report(db, report_id)
        row = db.connection.execute("SELECT label FROM report_tags WHERE report = ? AND "
                                    "tag = ?", (report_id, key)).fetchone()
        if row is None:
            return False
        db.connection.execute("DELETE FROM report_tags WHERE report = ? AND tag = ?",
                              (report_id, key))
        append_entry(db, reviewer, "tag-removed", {"tag": str(row[0])}, report=report_id)
    return True


def add_note(db: ReviewDB, report_id: int, text: str, reviewer: str) -> None:
    """Add a private note (up to ``MAX_NOTE`` characters, line breaks kept)."""
    note = clean_text(text, MAX_NOTE, "note", multiline=True)
    reviewer = clean_name(reviewer)
    with db.transaction():
        require_report(db, report_id)
        append_entry(db, reviewer, "note", {"text": note}, report=report_id)


def set_sensitive(db: ReviewDB, report_id: int, sensitive: bool, reviewer: str) -> bool:
    """Mark a report sensitive or not; whether that changed it."""
    reviewer = clean_name(reviewer)
    with db.transaction():
        _status_now, before, _incident, _dup = require_report(db, report_id)
        if before == sensitive:
            return False
        db.connection.execute("UPDATE reports SET sensitive = ? WHERE id = ?",
                              (1 if sensitive else 0, report_id))
        append_entry(db, reviewer, "sensitive" if sensitive else "not-sensitive", {},
                report=report_id)
    return True


def is_sensitive(db: ReviewDB, report_id: int) -> bool:
    return require_report(db, report_id)[1]


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
