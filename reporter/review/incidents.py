"""Incidents: what happened, as reviewers establish it, apart from the reports that
describe it; linking reports to them; and counting incidents, not reports.

An incident (a title, a date or a date range, a site, incident types, the
number of people affected as a reviewer counts them, a note) is what
happened; several reports (from different monitors or stations, and
follow-ups) can link to one. Marking a report a duplicate of another links
both to one incident.

**Counting incidents, not reports** (``count_incidents``, ``INCIDENT_KEY``):
each report counts for the incident it is linked to; a report linked to no
incident counts as an incident of its own, but an unlinked follow-up counts
for the first report it follows (as ``records.linked_first`` links it: its own
station's, else the earliest imported). So with no links at all the count is
the number of first reports (plus follow-ups whose first report is not
imported), and linking reports can only lower it.

Kept apart from ``workflow.py`` (a report's own state: status, tags, notes,
sensitive mark; the checks of what reviewers type, which this module uses).
Like it, every function that changes something runs in one transaction and
records its entry of the review history (``review_history.py``) in the same
one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from reporter.errors import ReporterError
from reporter.formats.report import INCIDENT_TYPES
from reporter.review.db import ReviewDB
from reporter.review.db_records import utc_now
from reporter.review.filters import Filters, select_where
from reporter.review.review_history import append_entry
from reporter.review.workflow import (
    BAD_DATE,
    BAD_NUMBER,
    MAX_NOTE,
    SAME_REPORT,
    UNKNOWN_INCIDENT,
    UNKNOWN_TYPE,
    WorkflowError,
    clean_name,
    clean_text,
    require_report,
)

MAX_TITLE = 200
MAX_SITE = 200
MAX_PEOPLE = 10_000_000


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
            title=clean_text(self.title, MAX_TITLE, "title"), date_from=days[0],
            date_to=days[1] if days[1] != days[0] else None,
            site=clean_text(self.site, MAX_SITE, "site", required=False) or None,
            types=tuple(t for t in INCIDENT_TYPES if t in self.types),
            people_affected=self.people_affected,
            note=clean_text(self.note, MAX_NOTE, "note", multiline=True, required=False))

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
    append_entry(db, reviewer, "incident-created", fields.as_detail(), incident=incident_id)
    return incident_id


def create_incident(db: ReviewDB, fields: IncidentFields, reviewer: str,
                    *, link: Iterable[int] = ()) -> int:
    """A new incident (and the reports in ``link`` linked to it); its id."""
    fields, reviewer = fields.check(), clean_name(reviewer)
    with db.transaction():
        for report_id in link:
            require_report(db, report_id)
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
        append_entry(db, reviewer, "incident-edited", changed, incident=incident_id)
    return True


def _link(db: ReviewDB, report_id: int, incident_id: int, reviewer: str) -> bool:
    current = require_report(db, report_id)[2]
    if current == incident_id:
        return False
    if current is not None:
        db.connection.execute("UPDATE reports SET incident = NULL WHERE id = ?", (report_id,))
        append_entry(db, reviewer, "unlinked", {}, report=report_id, incident=current)
    db.connection.execute("UPDATE reports SET incident = ? WHERE id = ?",
                          (incident_id, report_id))
    append_entry(db, reviewer, "linked", {}, report=report_id, incident=incident_id)
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
        current = require_report(db, report_id)[2]
        if current is None:
            return False
        db.connection.execute("UPDATE reports SET incident = NULL WHERE id = ?", (report_id,))
        append_entry(db, reviewer, "unlinked", {}, report=report_id, incident=current)
    return True


def mark_duplicate(db: ReviewDB, report_id: int, of_report: int, reviewer: str) -> int:
    """Mark ``report_id`` a duplicate of ``of_report``: its status becomes ``duplicate``
    and both are linked to one incident: ``of_report``'s if it has one, else
    ``report_id``'s, else a new one titled after ``of_report``. Returns that incident."""
    reviewer = clean_name(reviewer)
    if report_id == of_report:
        raise WorkflowError(SAME_REPORT, "a report cannot duplicate itself")
    with db.transaction():
        status, _s, own, duplicate_of = require_report(db, report_id)
        target = require_report(db, of_report)[2]
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
        append_entry(db, reviewer, "duplicate", {"of": of_report, "from": status},
                report=report_id, incident=incident_id)
    return incident_id


# --- counting incidents, not reports ----------------------------------------------------

# The incident a report counts for (an SQL expression over ``reports AS r``): its
# incident's id; an unlinked follow-up, the key of the first report it links to
# (``records.linked_first``: its own station's first report with that code, else the
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
    return int(select_where(db, f"count(DISTINCT {INCIDENT_KEY}) FROM reports AS r",
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
    cursor = select_where(db, f"{key}, count(DISTINCT {INCIDENT_KEY}) FROM {source}", filters,
                     f" GROUP BY {key} ORDER BY {key}")
    return [(k, int(n)) for k, n in cursor]
