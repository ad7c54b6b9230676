"""``reporter review list / show / export / stats``, called as a reviewer would."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import stat
import sys
from pathlib import Path

import pytest
from wtforms.fields.core import UnboundField

from reporter.cli.main import main
from reporter.formats import attachment, report
from reporter.review import export
from reporter.review.db import ReviewDB
from reporter.station import forms
from tests.review.test_reviewquery import (
    NEWEST_FIRST,
    ORPHAN_RECEIPT,
    REVIEW_PASSPHRASE,
    STATION_A,
    Sample,
    incident,
    populate,
)


class Result:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err


@pytest.fixture
def sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Sample:
    made = populate(tmp_path / "review.db")
    monkeypatch.setenv("REPORTER_REVIEW_DB", str(made.path))
    monkeypatch.setenv("REPORTER_REVIEW_PASSPHRASE", REVIEW_PASSPHRASE)
    return made


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    def _run(*args: str) -> Result:
        capsys.readouterr()
        try:
            code = main(["review", *args]) or 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return _run


def table_ids(out: str) -> list[int]:
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["ID", "STATION#SEQ", "KIND"]
    return [int(line.split()[0]) for line in lines[1:]]


# --- list --------------------------------------------------------------------------------


def test_list_shows_an_aligned_table_newest_first(run, sample: Sample) -> None:  # type: ignore[no-untyped-def]
    result = run("list")
    assert result.code == 0, result.err
    assert sample.names(table_ids(result.out)) == NEWEST_FIRST
    lines = result.out.splitlines()
    column = lines[0].index("RECEIVED")
    assert {line[column:column + 10] for line in lines[1:]} == {
        "2026-04-11", "2026-04-10", "2026-04-02", "2026-03-08", "2026-03-05", "2026-03-01"}
    shooting = next(line for line in lines if line.lstrip().startswith(
        f"{sample.ids['shooting']}  "))
    assert "aa110000#1" in shooting and "shooting,killing" in shooting
    assert sample.reports["shooting"].receipt in shooting
    assert shooting.split()[-13:-11] == ["2", "0"]  # follow-ups and files, then the text
    died = next(line for line in lines if "died in hospital" in line)
    assert sample.reports["shooting"].receipt in died  # the code it follows


def test_list_filters_and_limit(run, sample: Sample) -> None:  # type: ignore[no-untyped-def]
    def ids(*args: str) -> list[str]:
        result = run("list", *args)
        assert result.code == 0, result.err
        return sample.names(table_ids(result.out))

    assert ids("--site", "MARANGE") == ["beating", "shooting"]
    assert ids("--type", "child-labour") == ["children"]
    assert ids("--from", "2026-03-01", "--to", "2026-03-31") == [
        "beating", "second_witness", "children"]
    assert ids("--search", "WOUNDED") == ["died"]
    assert ids("--kind", "follow-up", "--station", "AA") == ["orphan", "second_witness"]
    assert ids("--limit", "2") == ["orphan", "died"]


def test_list_filters_of_the_review_desk(run, sample: Sample) -> None:  # type: ignore[no-untyped-def]
    def ids(*args: str) -> list[str]:
        result = run("list", *args)
        assert result.code == 0, result.err
        return sample.names(table_ids(result.out)) if "No reports" not in result.out else []

    assert ids("--perpetrator", "police") == ["beating"]
    assert ids("--source", "heard") == ["children"]
    assert ids("--source", "witnessed", "--site", "marange") == ["beating", "shooting"]
    assert ids("--with-attachments") == []
    with ReviewDB.open(sample.path, REVIEW_PASSPHRASE) as db:
        files = (report.AttachmentInfo(0, "a.pdf", "application/pdf", 10, bytes(32),
                                       attachment.ciphertext_size(10), bytes(32)),)
        new = dataclasses.replace(incident("2026-06-01"), attachments=files)
        sample.ids["files"] = db.add_report(STATION_A, 20, bytes(32), new)
    assert ids("--with-attachments") == ["files"]
    stats = run("stats", "--perpetrator", "police")
    assert stats.code == 0 and "Reports: 1" in stats.out


def test_list_with_no_match(run, sample: Sample) -> None:  # type: ignore[no-untyped-def]
    result = run("list", "--site", "Nowhere")
    assert (result.code, result.out) == (0, "No reports match.\n")


@pytest.mark.parametrize(("args", "message"), [
    (["--type", "fire"], "'fire' is not one of"),
    (["--from", "2026-02-30"], "2026-02-30 is not a real calendar date"),
    (["--to", "14/03/2026"], "is not a date written YYYY-MM-DD"),
    (["--from", "2026-04-01", "--to", "2026-03-01"], "the start date 2026-04-01 is after"),
    (["--station", "zz"], "is not a station id"),
    (["--kind", "report"], "'report' is not one of"),
    (["--perpetrator", "soldiers"], "'soldiers' is not one of"),
    (["--source", "rumour"], "'rumour' is not one of"),
    (["--limit", "0"], "--limit"),
])
def test_bad_filters_are_usage_errors(run, sample: Sample, args: list[str],  # type: ignore[no-untyped-def]
                                      message: str) -> None:
    for command in ("list", "stats"):
        if command == "stats" and args[0] == "--limit":
            continue
        result = run(command, *args)
        assert result.code == 2
        assert message in result.err and "Traceback" not in result.err


def test_report_text_cannot_drive_the_terminal(run, sample: Sample) -> None:  # type: ignore[no-untyped-def]
    with ReviewDB.open(sample.path, REVIEW_PASSPHRASE) as db:
        hostile = db.add_report(STATION_A, 9, bytes(32), incident(
            "2026-05-01", site_other="\x1b]0;pwned\x07", location="\u202eevil",
            location_detail="\u200fmarks\u200e\u061c",  # RLM, LRM, ALM
            incident_types=["\x1b[5mx"],  # (a hostile incident_date is refused at import)
            **{"\x1b[7mkey": "\x1b[8m"},
            description="\x1b[2J\x1b[31mred\rline two\x9b"))
    listed = run("list", "--limit", "1")
    shown = run("show", str(hostile))
    counted = run("stats", "--station", "aa", "--from", "2026-05-01")
    assert "Reports: 1" in counted.out and "\ufffd[5mx" in counted.out
    for output in (listed.out, shown.out, counted.out):
        assert "\x1b" not in output and "\x07" not in output and "\x9b" not in output
        assert "\u202e" not in output and "\r" not in output
    for mark in "\u200e\u200f\u061c":
        assert mark not in shown.out
    assert "\ufffdmarks\ufffd\ufffd" in shown.out
    assert "\ufffd[31mred" in listed.out
    assert "    \ufffd[2J\ufffd[31mred\n    line two\ufffd\n" in shown.out
    assert "\n\ufffd[7mkey: " in shown.out and "\ufffd[8m\n" in shown.out  # unknown field


# --- show --------------------------------------------------------------------------------


def test_show_a_first_report_with_labels_and_follow_ups(run, sample: Sample) -> None:  # type: ignore[no-untyped-def]
    result = run("show", str(sample.ids["shooting"]))
    assert result.code == 0, result.err
    out = result.out
    assert out.startswith(f"Report {sample.ids['shooting']}\n")
    assert f"Receipt:                 {sample.reports['shooting'].receipt}\n" in out
    assert "Station:                 " + STATION_A.hex() in out
    assert ("What happened:           Shooting or other violence [shooting]; "
            "Killing [killing]") in out
    assert "Who did it:              Army or other state security forces [state-security]" in out
    assert "How the monitor knows:   The monitor saw it [witnessed]" in out
    assert "Incident date:           2026-02-20" in out
    assert "People affected:         5" in out
    assert "Women or girls affected: (not given)" in out
    assert ("Description:\n    Soldiers fired at diggers by the river.\n"
            "    One man was killed.\n") in out
    follow_ups = out[out.index("Follow-ups: 2"):]
    assert follow_ups.index("A second witness confirms it.") < follow_ups.index(
        "Two of the wounded died in hospital, ÉTÉ.")
    assert f"Report {sample.ids['died']} (follow-up, station bb220000 #2" in follow_ups


def test_show_a_follow_up_with_the_report_it_follows(run, sample: Sample) -> None:  # type: ignore[no-untyped-def]
    result = run("show", str(sample.ids["died"]))
    assert result.code == 0, result.err
    assert (f"Receipt:  {sample.reports['shooting'].receipt} (the code of the report "
            "it follows: the monitor's)\n") in result.out
    assert sample.reports["died"].receipt not in result.out  # no monitor ever saw it
    assert "What happened" not in result.out  # a follow-up has only its text
    assert (f"Follows report {sample.ids['shooting']} (first report, station aa110000 #1, "
            "received 2026-03-01, site Marange) [from another station: aa110000, not "
            "bb220000]:\n    Soldiers fired") in result.out
    orphan = run("show", str(sample.ids["orphan"]))
    assert orphan.code == 0
    assert f"Follows receipt {ORPHAN_RECEIPT}: that first report is not in this review " \
           "database" in orphan.out


def test_show_a_missing_id(run, sample: Sample) -> None:  # type: ignore[no-untyped-def]
    result = run("show", "999")
    assert result.code == 1
    assert result.err.startswith("error: no report with id 999")
    assert result.out == ""
    assert run("show", "seven").code == 2


# --- export ------------------------------------------------------------------------------


def test_export_csv_to_standard_output(run, sample: Sample) -> None:  # type: ignore[no-untyped-def]
    result = run("export", "--format", "csv", "--station", "bb")
    assert result.code == 0, result.err
    rows = list(csv.DictReader(io.StringIO(result.out, newline="")))
    assert [int(r["id"]) for r in rows] == [sample.ids["beating"], sample.ids["died"]]
    assert rows[0]["contact_details"] == "'=cmd|' /C calc'!A0"
    assert rows[0]["incident_types"] == "beating-torture;shooting"
    assert result.err == "Exported 2 reports.\n"  # and no progress bar: not a terminal


def test_export_jsonl_to_a_new_private_file(run, sample: Sample, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "follow-ups.jsonl"
    result = run("export", "--format", "jsonl", "--kind", "follow-up", "--out", str(out))
    assert result.code == 0, result.err
    assert result.out == ""
    assert f"Exported 3 reports to {out}." in result.err and "not encrypted" in result.err
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    lines = out.read_text(encoding="utf-8").splitlines()
    exported = [json.loads(line) for line in lines]
    assert [e["id"] for e in exported] == [sample.ids[n] for n in
                                           ("second_witness", "died", "orphan")]
    assert exported[1]["report"] == json.loads(sample.reports["died"].to_body())


def test_export_never_overwrites(run, sample: Sample, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "precious.csv"
    out.write_text("precious")
    result = run("export", "--format", "csv", "--out", str(out))
    assert result.code == 1
    assert result.err.startswith(f"error: {out} already exists")
    assert out.read_text() == "precious"
    link = tmp_path / "link.csv"
    link.symlink_to(tmp_path / "nowhere.csv")
    assert run("export", "--format", "csv", "--out", str(link)).code == 1
    assert not (tmp_path / "nowhere.csv").exists()


def test_export_into_a_missing_folder(run, sample: Sample, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run("export", "--format", "csv", "--out", str(tmp_path / "no" / "x.csv"))
    assert result.code == 1 and result.err.startswith("error: cannot create")
    assert run("export", "--out", str(tmp_path / "x.csv")).code == 2  # --format is required


def test_a_failed_export_leaves_no_file(run, sample: Sample, tmp_path: Path,  # type: ignore[no-untyped-def]
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(rows: object, stream: io.TextIOBase) -> int:
        stream.write("half a report")
        raise export.ExportError("the disk is full")

    monkeypatch.setattr(export, "write_csv", broken)
    out = tmp_path / "half.csv"
    result = run("export", "--format", "csv", "--out", str(out))
    assert result.code == 1 and "the disk is full" in result.err
    assert not out.exists()


def test_progress_bar_only_on_a_terminal(run, sample: Sample, tmp_path: Path,  # type: ignore[no-untyped-def]
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    quiet = run("export", "--format", "csv", "--out", str(tmp_path / "a.csv"))
    assert "Exporting" not in quiet.err
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    shown = run("export", "--format", "csv", "--out", str(tmp_path / "b.csv"))
    assert shown.code == 0 and "Exporting" in shown.err
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


# --- stats -------------------------------------------------------------------------------


def test_stats(run, sample: Sample) -> None:  # type: ignore[no-untyped-def]
    result = run("stats")
    assert result.code == 0, result.err
    lines = [" ".join(line.split()) for line in result.out.splitlines()]
    assert lines[0] == "Reports: 6"
    for expected in ("incident 3", "follow-up 3", "Marange 2", "Kasaï pit 7 1", "(no site) 3",
                     "shooting 2 Shooting or other violence", "killing 1 Killing",
                     "2026-02 1", "2026-03 3", "2026-04 2"):
        assert expected in lines
    filtered = run("stats", "--type", "killing")
    assert filtered.out.splitlines()[0] == "Reports: 1"
    assert run("stats", "--site", "Nowhere").out == "No reports match.\n"


# --- opening the database ----------------------------------------------------------------


def test_wrong_passphrase_and_missing_database(run, sample: Sample,  # type: ignore[no-untyped-def]
                                               monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    monkeypatch.setenv("REPORTER_REVIEW_PASSPHRASE", "not the review passphrase")
    for args in (["list"], ["show", "1"], ["export", "--format", "csv"], ["stats"]):
        result = run(*args)
        assert result.code == 1 and result.err.startswith("error: ")
        assert "passphrase" in result.err
    monkeypatch.setenv("REPORTER_REVIEW_DB", str(tmp_path / "none.db"))
    result = run("list")
    assert result.code == 1 and "reporter review import" in result.err


def test_review_db_option(run, sample: Sample, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("REPORTER_REVIEW_DB")
    result = run("--review-db", str(sample.path), "list", "--limit", "1")
    assert result.code == 0 and sample.names(table_ids(result.out)) == ["orphan"]


def test_label_maps_cover_every_code() -> None:
    from reporter.review import labels

    assert list(labels.TYPE_LABELS) == list(report.INCIDENT_TYPES)
    assert list(labels.PERPETRATOR_LABELS) == list(report.PERPETRATORS)
    assert list(labels.SOURCE_LABELS) == list(report.SOURCES)
    assert list(labels.CONTACT_LABELS) == list(report.CONTACT_CHOICES)
    form_fields = {name for name, value in vars(forms.IncidentForm).items()
                   if isinstance(value, UnboundField)}
    form_fields = form_fields - set(forms.DATE_PARTS) | {"incident_date"}  # one sealed date
    assert set(labels.FIELD_LABELS) == form_fields == set(export.FIELD_COLUMNS)


def test_a_flipped_byte_in_the_review_database_says_damaged(run, sample: Sample) -> None:  # type: ignore[no-untyped-def]
    from tests.storage.test_sqlc import flip_every_page_but_the_first

    assert not Path(f"{sample.path}-wal").exists() or Path(f"{sample.path}-wal").stat().st_size == 0
    flip_every_page_but_the_first(sample.path)
    for args in (["list"], ["show", "1"], ["stats"]):
        result = run(*args)
        assert result.code == 1, (args, result.err)
        assert "damaged or was altered" in result.err and "unexpected" not in result.err
