"""Reports out of the review database: the rows of an export, their columns, their
cells, and the CSV and JSON Lines writers (the spreadsheet: ``spreadsheet.py``).

Apart from ``listing.py`` because an export is read oldest first and whole, a
stream of sealed bodies, and because what it writes is read by other programs:
the columns are an interface, and spreadsheet formulas and terminal controls
in report text are defused here.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from reporter.errors import ReporterError
from reporter.formats.report import Report
from reporter.review import vocabulary
from reporter.review.db import ReviewDB
from reporter.review.filters import Filters, select_where
from reporter.review.listing import OLDEST_FIRST
from reporter.review.records import UnknownReport, receipt_code


class ExportError(ReporterError):
    """An export file cannot be written (it exists, or the folder is not writable)."""


FIELD_COLUMNS = (
    "incident_date", "date_approximate", "site", "site_other", "location", "incident_types",
    "people_affected", "children_affected", "women_affected", "perpetrators",
    "perpetrator_other", "description", "source", "monitor_code", "contact",
    "contact_details",
)
# ``receipt`` is the monitor's code (``receipt_code``): a follow-up and its first
# report share it, so sorting on it groups them.
# Then what the review database adds: the station history the report belongs to
# (``histories.py``; 32 zeros for the station's first) and the reviewers' marks
# (``workflow.py``): status, sensitive, incident id, tags (joined with ``;``).
# The last two: the report's types and perpetrators as codes of the HURIDOCS
# micro-thesauri (``vocabulary.py``).
VOCABULARY_COLUMNS = ("type_codes_huridocs", "perpetrator_codes_huridocs")
CSV_COLUMNS = ("id", "station", "seq", "kind", "receipt", "locale", "submitted",
               *FIELD_COLUMNS, "attachments", "history", "status", "sensitive", "incident",
               "tags", *VOCABULARY_COLUMNS)


@dataclass(frozen=True)
class ExportRow:
    id: int
    station: str  # full station id, hex
    seq: int
    body: str  # the stored canonical JSON of the report
    attachments: int = 0  # how many the report lists
    history: str = "00" * 16  # hex; all zero: the station's first history
    status: str = "new"  # the reviewers' marks (``workflow.py``)
    sensitive: bool = False
    incident: int | None = None
    tags: tuple[str, ...] = ()  # as first typed, in the order of their keys


def export_rows(db: ReviewDB, filters: Filters) -> Iterator[ExportRow]:
    """The matching reports, oldest first, streamed from the cursor (never all in memory)."""
    cursor = select_where(db, "r.id, r.station_id, r.seq, r.body, "  # parsed: see _SUMMARY
                         "coalesce(json_array_length(r.body, '$.attachments'), 0), "
                         "r.history, r.status, r.sensitive, r.incident, "
                         "(SELECT json_group_array(label) FROM (SELECT g.label FROM "
                         "report_tags AS g WHERE g.report = r.id ORDER BY g.tag)) "
                         "FROM reports AS r", filters, OLDEST_FIRST)
    for row in cursor:
        yield ExportRow(int(row[0]), bytes(row[1]).hex(), int(row[2]), str(row[3]),
                        int(row[4]), history=bytes(row[5]).hex(), status=str(row[6]),
                        sensitive=bool(row[7]),
                        incident=None if row[8] is None else int(row[8]),
                        tags=tuple(str(t) for t in json.loads(row[9] or "[]")))


def export_rows_of(db: ReviewDB, report_ids: Iterable[int]) -> Iterator[ExportRow]:
    """The rows of the reports ``report_ids`` (as ``export_rows`` makes them), in that
    order; ``UnknownReport`` for an id that is not in the database."""
    for report_id in report_ids:
        row = db.connection.execute(
            "SELECT r.id, r.station_id, r.seq, r.body, "
            "coalesce(json_array_length(r.body, '$.attachments'), 0) "
            "FROM reports AS r WHERE r.id = ?", (report_id,)).fetchone()
        if row is None:
            raise UnknownReport(f"no report with id {report_id}")
        yield ExportRow(int(row[0]), bytes(row[1]).hex(), int(row[2]), str(row[3]),
                        int(row[4]))


# Where a spreadsheet may start a cell: at the start of ours, and, if it splits
# lines on ";" or tab instead of the comma this file uses (Excel does in French
# and Portuguese locales), after every ";" and tab inside it; after a line break
# too, since quotes that open in the middle of such a cell no longer protect one.
# Quotes and spaces at the start of a cell are dropped or trimmed by some
# importers, so they are looked through.
_CELL_STARTS = re.compile(r"""(\A|[;\t\r\n])([\s"]*)(?=[=+\-@])""")


def guard_cell(text: str) -> str:
    """Defuse spreadsheet formulas, whatever separator the file is opened with: a
    ``'`` is put before ``= + - @`` wherever a cell can start (see ``_CELL_STARTS``:
    the start of the text, or after ``;``, a tab or a line break, past any quotes
    and spaces), and before a tab or CR that starts the text. Spreadsheets show
    such a cell as text. A comma needs no guard: this file is comma-separated, so
    a comma inside a cell is always quoted."""
    guarded = _CELL_STARTS.sub(r"\1\2'", text)
    return "'" + guarded if guarded.startswith(("\t", "\r")) else guarded


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(_text(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _value(value: Any) -> str | int | float:
    if (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value)):
        return value  # a number is never a formula
    return _text(value)


def export_values(row: ExportRow) -> list[str | int | float]:
    """One report in ``CSV_COLUMNS`` order, unguarded: text as text (lists joined
    with ``;``), numbers as numbers. For typed cells (``spreadsheet.py``)."""
    report = Report.from_body(row.body.encode("utf-8"))
    header: dict[str, Any] = {
        "id": row.id, "station": row.station, "seq": row.seq, "kind": report.kind,
        "receipt": receipt_code(report), "locale": report.locale,
        "submitted": report.submitted, "attachments": len(report.attachments),
        "history": row.history, "status": row.status, "sensitive": row.sensitive,
        "incident": row.incident, "tags": list(row.tags),
        **_vocabulary_codes(report.fields),
    }
    return [_value(header[c] if c in header else report.fields.get(c)) for c in CSV_COLUMNS]


def _vocabulary_codes(fields: Any) -> dict[str, list[str]]:
    """``VOCABULARY_COLUMNS`` of a report's fields (none for a follow-up)."""
    if not isinstance(fields, dict):
        fields = {}
    return {"type_codes_huridocs": vocabulary.type_codes(fields.get("incident_types")),
            "perpetrator_codes_huridocs": vocabulary.perpetrator_codes(
                fields.get("perpetrators"))}


def csv_cells(row: ExportRow) -> list[str | int | float]:
    """One CSV record in ``CSV_COLUMNS`` order: ``export_values`` with every text
    cell through ``guard_cell`` (numbers are written as numbers)."""
    return [guard_cell(v) if isinstance(v, str) else v for v in export_values(row)]


def jsonl_line(row: ExportRow) -> str:
    """``{"id", "station", "seq", "receipt", "attachments", "history", "status",
    "sensitive", "incident", "tags", "vocabulary", "type_codes_huridocs",
    "perpetrator_codes_huridocs", "report": <the stored body, as JSON>}`` on one
    line; ``receipt`` is the monitor's code (``receipt_code``), ``attachments`` how
    many the report lists (their details are in ``report.attachments``), the next
    five as in the CSV (``incident`` null when not linked, ``tags`` a list),
    ``vocabulary`` the name of the mapping the two lists of codes come from
    (``vocabulary.NAME``)."""
    report = json.loads(row.body)  # stored by import: a checked report (report.py)
    receipt = (report["follows"] if report.get("kind") == "follow-up" and report.get("follows")
               else report["receipt"])
    text = json.dumps({"id": row.id, "station": row.station, "seq": row.seq,
                       "receipt": receipt, "attachments": row.attachments,
                       "history": row.history, "status": row.status,
                       "sensitive": row.sensitive, "incident": row.incident,
                       "tags": list(row.tags),
                       "vocabulary": vocabulary.NAME, **_vocabulary_codes(report.get("fields")),
                       "report": report},
                      ensure_ascii=False, separators=(",", ":"))
    # JSON allows these raw in strings, but tools that split lines on them would break
    # (U+2028, U+2029), and a terminal obeys them (DEL, C1 controls; bidi controls
    # reorder the line) when the export goes to standard output. Escaped, they decode
    # to the same text: nothing is lost.
    return _JSON_ESCAPED.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


_JSON_ESCAPED = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
                           "\u2066-\u2069]")


def write_csv(rows: Iterable[ExportRow], out: TextIO) -> int:
    """A header line (``CSV_COLUMNS``) then one record per row, RFC 4180 with CRLF;
    returns the count. Formula guard: wherever a spreadsheet could start a cell
    with ``= + - @``, whether it splits lines on commas, semicolons or tabs, an
    apostrophe is put first (see ``guard_cell``), so opening the file never runs
    report text. JSON Lines and the spreadsheet export are never altered."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    count = 0
    for row in rows:
        writer.writerow(csv_cells(row))
        count += 1
    return count


def write_jsonl(rows: Iterable[ExportRow], out: TextIO) -> int:
    count = 0
    for row in rows:
        out.write(jsonl_line(row) + "\n")
        count += 1
    return count
