"""The export as a spreadsheet (``.xlsx``) whose every cell is a typed value.

A CSV file says nothing about what a cell is: the spreadsheet guesses, and it
guesses "formula" for text that starts with ``=`` (or, in Excel, ``+ - @``),
wherever its own separator makes a cell start. ``export.guard_cell`` defuses
that for the CSV export by adding apostrophes. An ``.xlsx`` file says it
instead: each cell is written as a string (``<c t="s">``) or a number, never
a formula, so report text is shown exactly as sent, with nothing added.

Written with XlsxWriter (``write_string`` / ``write_number`` only; its
automatic conversions of strings to formulas, links or numbers are off too),
entirely in memory (``in_memory``): XlsxWriter otherwise assembles the file
from temporary files, which would put report text in the temporary folder.
The memory used grows with the export (a few times the text exported).
Control characters that XML cannot hold are written as Excel's ``_xHHHH_``
escapes, as Excel itself does.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import BinaryIO

import xlsxwriter

from reporter.review.export import CSV_COLUMNS, ExportError, ExportRow, export_values

SHEET = "reports"
MAX_ROWS = 1_048_576  # Excel's limit, header included
MAX_CELL_CHARS = 32_767  # Excel's limit; a station's longest field is 20,000
_TRUNCATED = -2  # what XlsxWriter's write_* return for a string cut to the limit
_OUT_OF_RANGE = -1


def write_xlsx(rows: Iterable[ExportRow], out: BinaryIO) -> int:
    """A header row (``CSV_COLUMNS``) then one row per report, into ``out``; returns
    the count. ``ExportError`` (and nothing written that counts) if a report does
    not fit: a spreadsheet would silently cut it, and a report is evidence."""
    workbook = xlsxwriter.Workbook(out, {
        "in_memory": True,
        "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False,
    })
    sheet = workbook.add_worksheet(SHEET)
    bold = workbook.add_format({"bold": True})
    for column, name in enumerate(CSV_COLUMNS):
        sheet.write_string(0, column, name, bold)
    sheet.freeze_panes(1, 0)
    count = 0
    for count, row in enumerate(rows, 1):
        if count >= MAX_ROWS:
            raise ExportError(f"more than {MAX_ROWS - 1:,} reports match: too many for one "
                              "spreadsheet; export fewer (--from/--to) or use --format jsonl")
        for column, value in enumerate(export_values(row)):
            if isinstance(value, str):
                status = sheet.write_string(count, column, value)
            else:
                status = sheet.write_number(count, column, value)
            if status == _TRUNCATED:
                raise ExportError(
                    f"report {row.id}'s {CSV_COLUMNS[column]} is longer than a spreadsheet "
                    f"cell holds ({MAX_CELL_CHARS:,} characters); use --format jsonl")
            if status == _OUT_OF_RANGE:  # pragma: no cover (rows are checked above)
                raise ExportError(f"report {row.id} does not fit in a spreadsheet")
    workbook.close()
    return count
