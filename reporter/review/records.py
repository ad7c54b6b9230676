"""One report in full (``reporter review show``, the desk's report page): its record,
the follow-ups that link to it or the first report it follows, and its receipt code.

Apart from ``listing.py``, which summarises many reports: here a report is read
whole (its sealed body parsed) with the links a reviewer must be able to trust.

Linking a follow-up to its first report (``linked_first``): a follow-up names
only a receipt code, and codes are random, so two first reports with the same
code mean that a station reused a monitor's code (a forged station, or a
replay). A follow-up links to the first report with its code **from its own
station** if there is one; otherwise (a monitor may send a follow-up through
another station of the coalition) to the earliest imported one from any
station. ``get_report`` says which station every link comes from and lists
every first report that shares the code (``Detail.same_code``), and ``list``
counts follow-ups by the same rule, so a forged station that reuses a code
does not capture the real station's follow-ups.

One receipt code per report (``receipt_code``): the one the monitor holds.
A follow-up's body also carries a code of its own, made by the station when
it arrived; the receipt page shows the monitor the code they followed, never
that one, so no monitor knows it. ``list``, ``show``, the CSV and spreadsheet
exports and the JSON Lines wrapper show the monitor's code (for a follow-up,
the code of the report it follows), and ``--search`` does not look at the
follow-up's own; JSON Lines keeps the sealed report whole, that code included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reporter.errors import ReporterError
from reporter.formats.report import Report
from reporter.review.db import ReviewDB
from reporter.review.listing import OLDEST_FIRST
from reporter.storage import sqlc


class UnknownReport(ReporterError):
    """No report with that id is in the review database."""


def receipt_code(report: Report) -> str:
    """The report's one identity: the receipt code the monitor holds (for a follow-up,
    the code of the report it follows; see the module's docstring)."""
    return report.follows if report.kind == "follow-up" and report.follows else report.receipt


@dataclass(frozen=True)
class Record:
    """One stored report, parsed."""

    id: int
    station: str  # hex
    seq: int
    report: Report
    history: str = "00" * 16  # hex; all zero: the station's first (never restored)


@dataclass(frozen=True)
class Detail:
    """A report with the follow-ups that link to it, and the first report it follows.

    ``same_code``: when two or more first reports carry the receipt code in
    question (the report's own code for a first report, the code it follows for a
    follow-up), all of them, oldest import first; else empty.
    """

    record: Record
    follow_ups: tuple[Record, ...]
    follows: Record | None  # for a follow-up: the first report, if imported
    same_code: tuple[Record, ...] = ()


# ``json_type``: SQLite parses the body, so a damaged page fails here as an SQLite
# error, which ``ReviewDB`` names as damage (see ``_SUMMARY``).
_RECORD = ("SELECT r.id, r.station_id, r.seq, r.body, r.history, json_type(r.body) "
           "FROM reports AS r")


def _record(row: Any) -> Record:
    return Record(id=int(row[0]), station=bytes(row[1]).hex(), seq=int(row[2]),
                  report=Report.from_body(str(row[3]).encode("utf-8")),
                  history=bytes(row[4]).hex())


def linked_first(candidates: tuple[Record, ...], station: str) -> Record | None:
    """The first report a follow-up from ``station`` links to, among the first reports
    with its code (oldest import first): its own station's, else the oldest."""
    own = [c for c in candidates if c.station == station]
    pool = own or list(candidates)
    return pool[0] if pool else None


def _first_reports(conn: sqlc.Connection, receipt: str) -> tuple[Record, ...]:
    return tuple(_record(r) for r in conn.execute(
        _RECORD + " WHERE r.receipt = ? AND r.kind = 'incident' ORDER BY r.id", (receipt,)))


def get_report(db: ReviewDB, report_id: int) -> Detail:
    """The full record of report ``report_id``; ``UnknownReport`` if there is none."""
    conn = db.connection
    row = conn.execute(_RECORD + " WHERE r.id = ?", (report_id,)).fetchone()
    if row is None:
        raise UnknownReport(f"no report with id {report_id}; "
                            "'reporter review list' shows the ids")
    record = _record(row)
    report = record.report
    if report.follows is not None:
        candidates = _first_reports(conn, report.follows)
        return Detail(record, (), linked_first(candidates, record.station),
                      candidates if len(candidates) > 1 else ())
    candidates = _first_reports(conn, report.receipt)
    follow_ups = tuple(
        f for f in (_record(r) for r in conn.execute(
            _RECORD + " WHERE r.follows = ? AND r.kind = 'follow-up'" + OLDEST_FIRST,
            (report.receipt,)))
        if (linked := linked_first(candidates, f.station)) is not None
        and linked.id == record.id)
    return Detail(record, follow_ups, None, candidates if len(candidates) > 1 else ())
