"""Which reports are sensitive, and why: the one predicate every export asks.

An export (CSV, JSON Lines, spreadsheet) or an evidence package that carries a
sensitive report is not sent until the reviewer confirms it on a page that
names each such report and each reason (``desk/web/exports.py``). Every
export path of the desk calls ``reasons`` and nothing else, so a new reason
is added here once and every export asks for it.

Reasons, in this order:

* ``MARKED``: a reviewer marked the report sensitive (the review database's
  ``reports.sensitive``, set on the report's Verification panel,
  ``workflow.set_sensitive``);

and from the report itself (what the monitor sent):

* ``CONTACT``: the monitor asked to be contacted (``contact`` is
  ``"contact"``) or left contact details: the export would carry a way to
  reach the person who reported, which is what the people they report on
  want most;
* ``type:<code>``: the report ticks an incident type whose victims are
  especially exposed (``SENSITIVE_TYPES``: sexual violence, child labour).

"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from reporter.formats.report import Report
from reporter.review import workflow
from reporter.review.db import ReviewDB
from reporter.review.export import ExportRow

CONTACT = "contact"
TYPE_PREFIX = "type:"
MARKED = "marked"  # a reviewer marked it sensitive
SENSITIVE_TYPES = ("sexual-violence", "child-labour")
SHOWN = 200  # sensitive reports named one by one on a confirmation page


def reasons(db: ReviewDB, report_id: int, report: Report) -> tuple[str, ...]:
    """Why report ``report_id`` (``report``, as stored in ``db``) is sensitive: reason
    codes (``MARKED``, ``CONTACT``, ``type:<code>``), in a fixed order; empty if it is
    not."""
    found: list[str] = [MARKED] if workflow.is_sensitive(db, report_id) else []
    fields = report.fields
    details = fields.get("contact_details")
    if fields.get("contact") == "contact" or (isinstance(details, str) and details.strip()):
        found.append(CONTACT)
    types = fields.get("incident_types")
    ticked = set(types) if isinstance(types, list) else set()
    found += [TYPE_PREFIX + code for code in SENSITIVE_TYPES if code in ticked]
    return tuple(found)


@dataclass(frozen=True)
class Sensitive:
    """What a confirmation page shows: how many reports are sensitive, and the first
    ``SHOWN`` of them with their reasons."""

    count: int
    shown: tuple[tuple[int, tuple[str, ...]], ...]  # (report id, reasons)
    digest: str  # names this exact set (ids and reasons): what a confirmation confirms

    def __bool__(self) -> bool:
        return self.count > 0


def _digest(items: Iterable[tuple[int, tuple[str, ...]]]) -> str:
    import hashlib

    h = hashlib.sha256(b"reporter-sensitive-v1\n")
    for report_id, why in items:
        h.update(f"{report_id}:{','.join(why)}\n".encode("ascii", "backslashreplace"))
    return h.hexdigest()


def find(db: ReviewDB, rows: Iterable[ExportRow]) -> Sensitive:
    """The sensitive reports among ``rows`` (``export.export_rows``, or the rows of
    chosen reports), with their reasons."""
    def sensitive() -> Iterator[tuple[int, tuple[str, ...]]]:
        for row in rows:
            why = reasons(db, row.id, Report.from_body(row.body.encode("utf-8")))
            if why:
                yield row.id, why

    found = list(sensitive())
    return Sensitive(len(found), tuple(found[:SHOWN]), _digest(found))
