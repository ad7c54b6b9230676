"""Reading the review database: filters, ordering, follow-ups, export and stats,
over a real SQLCipher review database."""

from __future__ import annotations

import csv
import dataclasses
import inspect
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from reporter.formats import attachment
from reporter.formats.receipt import new_receipt
from reporter.formats.report import FOLLOW_UP_FORM_VERSION, FORM_VERSION, AttachmentInfo, Report
from reporter.review import export, listing, records, vocabulary
from reporter.review.db import ReviewDB
from reporter.review.filters import Filters, InvalidFilter

REVIEW_PASSPHRASE = "a long review passphrase"
STATION_A = bytes.fromhex("aa11" + "00" * 13 + "01")
STATION_B = bytes.fromhex("bb22" + "00" * 13 + "02")
ORPHAN_RECEIPT = new_receipt()  # a first report that was never imported


def incident_fields(**overrides: Any) -> dict[str, Any]:
    """What ``IncidentForm.to_fields`` produces, with the given answers."""
    fields: dict[str, Any] = {
        "incident_types": ["other"], "incident_date": None, "date_approximate": "",
        "site": None, "site_other": "", "location": "", "people_affected": None,
        "children_affected": None, "women_affected": None, "perpetrators": [],
        "perpetrator_other": "", "description": "", "source": "witnessed",
        "monitor_code": "", "contact": "none", "contact_details": "",
    }
    fields.update(overrides)
    return fields


def incident(submitted: str, **answers: Any) -> Report:
    return Report(kind="incident", receipt=new_receipt(), locale="en", submitted=submitted,
                  fields=incident_fields(**answers), form=FORM_VERSION)


def follow_up(follows: str, submitted: str, description: str) -> Report:
    return Report(kind="follow-up", receipt=new_receipt(), locale="fr", submitted=submitted,
                  fields={"description": description}, follows=follows,
                  form=FOLLOW_UP_FORM_VERSION)


@dataclass
class Sample:
    """Six reports from two stations; ``ids`` and ``reports`` by name."""

    path: Path
    ids: dict[str, int] = field(default_factory=dict)
    reports: dict[str, Report] = field(default_factory=dict)
    stations: dict[str, tuple[bytes, int]] = field(default_factory=dict)

    def names(self, ids: list[int]) -> list[str]:
        by_id = {v: k for k, v in self.ids.items()}
        return [by_id[i] for i in ids]


def populate(path: Path) -> Sample:
    """Build the sample database at ``path`` (inserted out of chronological order)."""
    shooting = incident(
        "2026-03-01", incident_types=["shooting", "killing"], incident_date="2026-02-20",
        site="Marange", location="Near the river", people_affected=5, children_affected=1,
        perpetrators=["state-security"],
        description="Soldiers fired at diggers by the river.\nOne man was killed.")
    children = incident(
        "2026-03-05", incident_types=["child-labour"], date_approximate="early March",
        site_other="Kasaï pit 7", source="heard",
        description="Children carrying gravel " + "all day long " * 10)
    beating = incident(
        "2026-04-02", incident_types=["beating-torture", "shooting"],
        incident_date="2026-03-30", site_other="marange", location="+263 road",
        people_affected=2, women_affected=1, perpetrators=["police", "other"],
        perpetrator_other="=1+1", description="-beaten at the checkpoint\n@night",
        monitor_code="MU-7", contact="contact", contact_details="=cmd|' /C calc'!A0")
    sample = Sample(path)
    plan = [
        ("beating", STATION_B, 1, beating),
        ("second_witness", STATION_A, 3, follow_up(shooting.receipt, "2026-03-08",
                                                   "A second witness confirms it.")),
        ("shooting", STATION_A, 1, shooting),
        ("orphan", STATION_A, 4, follow_up(ORPHAN_RECEIPT, "2026-04-11", "Still waiting.")),
        ("children", STATION_A, 2, children),
        ("died", STATION_B, 2, follow_up(shooting.receipt, "2026-04-10",
                                         "Two of the wounded died in hospital, ÉTÉ.")),
    ]
    with ReviewDB.create(path, REVIEW_PASSPHRASE) as db:
        db.pin_station(STATION_A, b"\x01" * 32)
        db.pin_station(STATION_B, b"\x02" * 32)
        for name, station, seq, report in plan:
            sample.ids[name] = db.add_report(station, seq, os.urandom(32), report)
            sample.reports[name] = report
            sample.stations[name] = (station, seq)
    return sample


@pytest.fixture
def sample(tmp_path: Path) -> Sample:
    return populate(tmp_path / "review.db")


@pytest.fixture
def db(sample: Sample):  # type: ignore[no-untyped-def]
    with ReviewDB.open(sample.path, REVIEW_PASSPHRASE) as opened:
        yield opened


def listed(db: ReviewDB, sample: Sample, limit: int | None = None, **filters: Any) -> list[str]:
    return sample.names([s.id for s in listing.list_reports(db, Filters(**filters), limit)])


NEWEST_FIRST = ["orphan", "died", "beating", "second_witness", "children", "shooting"]


# --- list and filters ------------------------------------------------------------------


def test_list_is_newest_first_whatever_the_import_order(db: ReviewDB, sample: Sample) -> None:
    assert listed(db, sample) == NEWEST_FIRST
    assert listed(db, sample, limit=2) == ["orphan", "died"]


def test_same_day_reports_are_ordered_by_station_then_sequence(tmp_path: Path) -> None:
    with ReviewDB.create(tmp_path / "r.db", REVIEW_PASSPHRASE) as db:
        db.pin_station(STATION_A, b"\x01" * 32)
        db.pin_station(STATION_B, b"\x02" * 32)
        keys = [(STATION_A, 2), (STATION_B, 1), (STATION_A, 1), (STATION_B, 2)]
        ids = {key: db.add_report(*key, bytes(32), incident("2026-01-01")) for key in keys}
        found = [s.id for s in listing.list_reports(db, Filters())]
        exported = [r.id for r in export.export_rows(db, Filters())]
    expected = [ids[(STATION_B, 2)], ids[(STATION_B, 1)], ids[(STATION_A, 2)],
                ids[(STATION_A, 1)]]
    assert found == expected
    assert exported == expected[::-1]


def test_summary_row(db: ReviewDB, sample: Sample) -> None:
    rows = {s.id: s for s in listing.list_reports(db, Filters())}
    shooting = rows[sample.ids["shooting"]]
    assert shooting.station == STATION_A.hex() and shooting.station_short == "aa110000"
    assert (shooting.seq, shooting.kind, shooting.submitted) == (1, "incident", "2026-03-01")
    assert shooting.incident_date == "2026-02-20" and shooting.site == "Marange"
    assert shooting.types == ("shooting", "killing")
    assert shooting.receipt == sample.reports["shooting"].receipt and shooting.follows is None
    assert shooting.excerpt == "Soldiers fired at diggers by the river. One man was killed."
    assert shooting.follow_ups == 2  # one from each station
    children = rows[sample.ids["children"]]
    assert children.site == "Kasaï pit 7" and children.incident_date is None
    # cut at 60 characters, at most, on one line
    assert children.excerpt == "Children carrying gravel all day long all day long all day…"
    assert children.follow_ups == 0
    died = rows[sample.ids["died"]]
    assert died.kind == "follow-up" and died.follows == sample.reports["shooting"].receipt
    assert died.types == () and died.site is None and died.follow_ups == 0


def test_site_is_any_part_of_the_name_in_any_case(db: ReviewDB, sample: Sample) -> None:
    assert listed(db, sample, site="MARANGE") == ["beating", "shooting"]
    assert listed(db, sample, site="Maran") == ["beating", "shooting"]  # part of the name
    assert listed(db, sample, site=" pit ") == ["children"]
    assert listed(db, sample, site="Marange East") == []
    assert listed(db, sample, site="KASAÏ PIT 7") == ["children"]
    assert listed(db, sample, site="kasai\u0308 pit 7") == ["children"]  # decomposed
    assert listed(db, sample, site="x' OR 1=1 --") == []


def test_incident_type(db: ReviewDB, sample: Sample) -> None:
    assert listed(db, sample, incident_type="shooting") == ["beating", "shooting"]
    assert listed(db, sample, incident_type="child-labour") == ["children"]
    assert listed(db, sample, incident_type="smuggling") == []


def test_dates_use_the_incident_date_else_the_date_received(db: ReviewDB,
                                                            sample: Sample) -> None:
    # shooting was received on 03-01 but happened on 02-20: out. beating was received
    # in April but happened on 03-30: in. children has no incident date (received 03-05).
    march = listed(db, sample, date_from="2026-03-01", date_to="2026-03-31")
    assert march == ["beating", "second_witness", "children"]
    assert listed(db, sample, date_to="2026-02-20") == ["shooting"]
    assert listed(db, sample, date_from="2026-04-10") == ["orphan", "died"]
    assert listed(db, sample, date_from="2026-03-30", date_to="2026-03-30") == ["beating"]


def test_search_any_case_in_description_and_every_value(db: ReviewDB, sample: Sample) -> None:
    assert listed(db, sample, search="SOLDIERS") == ["shooting"]
    assert listed(db, sample, search="été") == ["died"]
    assert listed(db, sample, search="E\u0301TE\u0301") == ["died"]  # decomposed accents
    assert listed(db, sample, search="mu-7") == ["beating"]  # monitor code (U: never in a receipt)
    assert listed(db, sample, search="early march") == ["children"]  # approximate date
    assert listed(db, sample, search=sample.reports["shooting"].receipt) == [
        "died", "second_witness", "shooting"]  # its receipt, and the follow-ups naming it
    # A follow-up's own code, which no monitor ever saw, finds nothing.
    assert listed(db, sample, search=sample.reports["died"].receipt) == []
    assert listed(db, sample, search="incident_types") == []  # JSON keys are not text
    assert listed(db, sample, search="%") == []


def test_kind_and_station(db: ReviewDB, sample: Sample) -> None:
    assert listed(db, sample, kind="follow-up") == ["orphan", "died", "second_witness"]
    assert listed(db, sample, kind="incident") == ["beating", "children", "shooting"]
    assert listed(db, sample, station="bb") == ["died", "beating"]
    assert listed(db, sample, station="BB22") == ["died", "beating"]
    assert listed(db, sample, station=STATION_A.hex()) == [
        "orphan", "second_witness", "children", "shooting"]
    assert listed(db, sample, station="aa12") == []


def test_filters_combine(db: ReviewDB, sample: Sample) -> None:
    assert listed(db, sample, site="marange", station="aa") == ["shooting"]
    assert listed(db, sample, kind="follow-up", station="aa", search="witness") == [
        "second_witness"]


@pytest.mark.parametrize("bad", [
    {"incident_type": "fire"}, {"kind": "report"}, {"date_from": "2026-02-30"},
    {"date_to": "2026-3-1"}, {"date_from": "26-03-01"},
    {"date_from": "2026-04-01", "date_to": "2026-03-01"},
    {"station": "xyz"}, {"station": "a" * 33}, {"station": ""},
])
def test_bad_filters_are_refused(bad: dict[str, str]) -> None:
    with pytest.raises(InvalidFilter):
        Filters(**bad)


# --- show ------------------------------------------------------------------------------


def test_a_first_report_with_its_follow_ups_from_any_station(db: ReviewDB,
                                                              sample: Sample) -> None:
    detail = records.get_report(db, sample.ids["shooting"])
    assert detail.record.report == sample.reports["shooting"]
    assert (detail.record.station, detail.record.seq) == (STATION_A.hex(), 1)
    assert [f.id for f in detail.follow_ups] == [sample.ids["second_witness"],
                                                sample.ids["died"]]
    assert detail.follow_ups[1].report == sample.reports["died"]
    assert detail.follow_ups[1].station == STATION_B.hex()
    assert detail.follows is None


def test_a_follow_up_names_its_first_report(db: ReviewDB, sample: Sample) -> None:
    detail = records.get_report(db, sample.ids["died"])
    assert detail.record.report == sample.reports["died"]
    assert detail.follows is not None and detail.follows.id == sample.ids["shooting"]
    assert detail.follows.report == sample.reports["shooting"]
    assert detail.follow_ups == ()
    orphan = records.get_report(db, sample.ids["orphan"])
    assert orphan.follows is None and orphan.record.report.follows == ORPHAN_RECEIPT


STATION_F = bytes.fromhex("ff33" + "00" * 13 + "03")  # forged: reuses a monitor's code


def test_a_forged_station_reusing_a_code_does_not_capture_follow_ups(tmp_path: Path) -> None:
    # The forged first report is imported first (the lowest id): the old rule, "the
    # first imported report with that code, from any station", gave it every follow-up.
    real = incident("2026-03-01", description="the real report")
    forged = dataclasses.replace(incident("2026-03-02", description="forged"),
                                 receipt=real.receipt)
    own = follow_up(real.receipt, "2026-03-03", "from the real station")
    travelled = follow_up(real.receipt, "2026-03-04", "through another station")
    from_forger = follow_up(real.receipt, "2026-03-05", "from the forged station")
    with ReviewDB.create(tmp_path / "review.db", REVIEW_PASSPHRASE) as db:
        for station in (STATION_A, STATION_B, STATION_F):
            db.pin_station(station, station[:1] * 32)
        ids = {name: db.add_report(station, seq, os.urandom(32), report)
               for name, station, seq, report in [
                   ("forged", STATION_F, 1, forged), ("real", STATION_A, 1, real),
                   ("own", STATION_A, 2, own), ("travelled", STATION_B, 1, travelled),
                   ("from_forger", STATION_F, 2, from_forger)]}
        by_id = {v: k for k, v in ids.items()}

        detail = records.get_report(db, ids["own"])
        assert detail.follows is not None and detail.follows.id == ids["real"]
        assert [by_id[r.id] for r in detail.same_code] == ["forged", "real"]
        assert records.get_report(db, ids["from_forger"]).follows.id == ids["forged"]  # type: ignore[union-attr]
        # No first report at station B: the oldest import, whichever it is (flagged).
        assert records.get_report(db, ids["travelled"]).follows.id == ids["forged"]  # type: ignore[union-attr]

        real_detail = records.get_report(db, ids["real"])
        assert [by_id[f.id] for f in real_detail.follow_ups] == ["own"]
        assert [by_id[r.id] for r in real_detail.same_code] == ["forged", "real"]
        assert [by_id[f.id] for f in records.get_report(db, ids["forged"]).follow_ups] == [
            "travelled", "from_forger"]
        counts = {by_id[s.id]: s.follow_ups for s in listing.list_reports(db, Filters())}
        assert counts == {"real": 1, "forged": 2, "own": 0, "travelled": 0, "from_forger": 0}


def test_a_code_carried_by_one_first_report_is_not_flagged(db: ReviewDB,
                                                           sample: Sample) -> None:
    assert records.get_report(db, sample.ids["shooting"]).same_code == ()
    assert records.get_report(db, sample.ids["died"]).same_code == ()


def test_an_unknown_id(db: ReviewDB) -> None:
    with pytest.raises(records.UnknownReport, match="no report with id 999"):
        records.get_report(db, 999)


# --- export ----------------------------------------------------------------------------

DOCUMENTED_COLUMNS = [
    "id", "station", "seq", "kind", "receipt", "locale", "submitted",
    "incident_date", "date_approximate", "site", "site_other", "location", "incident_types",
    "people_affected", "children_affected", "women_affected", "perpetrators",
    "perpetrator_other", "description", "source", "monitor_code", "contact",
    "contact_details", "attachments", "history", "status", "sensitive", "incident", "tags",
    "type_codes_huridocs", "perpetrator_codes_huridocs",
]


def test_export_streams_oldest_first(db: ReviewDB, sample: Sample) -> None:
    rows = export.export_rows(db, Filters())
    assert inspect.isgenerator(rows)
    assert sample.names([r.id for r in rows]) == NEWEST_FIRST[::-1]
    filtered = export.export_rows(db, Filters(kind="incident", station="aa"))
    assert sample.names([r.id for r in filtered]) == ["shooting", "children"]


def export_csv(db: ReviewDB, filters: Filters) -> tuple[int, list[dict[str, str]], str]:
    out = io.StringIO(newline="")
    count = export.write_csv(export.export_rows(db, filters), out)
    text = out.getvalue()
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    assert header == DOCUMENTED_COLUMNS
    return count, [dict(zip(header, row, strict=True)) for row in reader], text


def test_csv_columns(db: ReviewDB, sample: Sample) -> None:
    count, rows, text = export_csv(db, Filters())
    assert count == 6 and len(rows) == 6
    assert text.startswith("id,station,seq,kind,") and text.endswith("\r\n")
    by_id = {int(r["id"]): r for r in rows}
    shooting = by_id[sample.ids["shooting"]]
    assert shooting == {
        "id": str(sample.ids["shooting"]), "station": STATION_A.hex(), "seq": "1",
        "kind": "incident", "receipt": sample.reports["shooting"].receipt,
        "locale": "en", "submitted": "2026-03-01", "incident_date": "2026-02-20",
        "date_approximate": "", "site": "Marange", "site_other": "",
        "location": "Near the river", "incident_types": "shooting;killing",
        "people_affected": "5", "children_affected": "1", "women_affected": "",
        "perpetrators": "state-security", "perpetrator_other": "",
        "description": "Soldiers fired at diggers by the river.\nOne man was killed.",
        "source": "witnessed", "monitor_code": "", "contact": "none", "contact_details": "",
        "attachments": "0", "history": "0" * 32, "status": "new", "sensitive": "false",
        "incident": "", "tags": "",
        # HURIDOCS Types of Acts: Physical assaults (broader), Direct actions which
        # violate the right to life (broader); Types of Perpetrators: Executive.
        "type_codes_huridocs": "020101000000;010100000000",
        "perpetrator_codes_huridocs": "010100000000",
    }
    died = by_id[sample.ids["died"]]
    # The monitor's code: the follow-up's own code (no monitor saw it) is not exported.
    assert died["kind"] == "follow-up" and died["receipt"] == sample.reports["shooting"].receipt
    assert sample.reports["died"].receipt not in text
    assert died["locale"] == "fr" and died["station"] == STATION_B.hex()
    assert died["description"] == "Two of the wounded died in hospital, ÉTÉ."
    assert all(died[c] == "" for c in DOCUMENTED_COLUMNS[7:-8] if c != "description")
    assert died["type_codes_huridocs"] == died["perpetrator_codes_huridocs"] == ""
    assert died["attachments"] == "0"


def test_csv_defuses_formulas(db: ReviewDB, sample: Sample) -> None:
    _, rows, _ = export_csv(db, Filters(station="bb", kind="incident"))
    (beating,) = rows
    assert beating["contact_details"] == "'=cmd|' /C calc'!A0"
    assert beating["perpetrator_other"] == "'=1+1"
    assert beating["location"] == "'+263 road"
    # A line break can start a row when the file is opened with ";" or tab.
    assert beating["description"] == "'-beaten at the checkpoint\n'@night"
    assert beating["monitor_code"] == "MU-7"  # a dash inside is harmless
    assert beating["perpetrators"] == "police;other"


@pytest.mark.parametrize(("text", "cell"), [
    ("=SUM(A1)", "'=SUM(A1)"), ("+1", "'+1"), ("-1", "'-1"), ("@A1", "'@A1"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("a=b", "a=b"), ("", ""), (" =x", " '=x"),
    ("Chiadzwa;=1+1;", "Chiadzwa;'=1+1;"), ("a\t=1", "a\t'=1"), ("a\n-b", "a\n'-b"),
    ('a;"=1"', 'a;"\'=1"'), ("a; \u00a0+1", "a; \u00a0'+1"), ("a,=1", "a,=1"),
    ("MU-7; x-1", "MU-7; x-1"), ("\t=1", "'\t'=1"),
])
def test_guard_cell(text: str, cell: str) -> None:
    assert export.guard_cell(text) == cell


def test_csv_cells_of_odd_values(tmp_path: Path) -> None:
    """Bodies come from stations: whatever type a field has, a text cell is guarded."""
    report = incident("2026-01-01", perpetrators=["=evil", "police"], people_affected=-3,
                      location={"=k": 1}, monitor_code=True)
    row = export.ExportRow(1, STATION_A.hex(), 9, report.to_body().decode())
    cells = dict(zip(DOCUMENTED_COLUMNS, export.csv_cells(row), strict=True))
    assert cells["perpetrators"] == "'=evil;police"
    assert cells["perpetrator_codes_huridocs"] == "010104000000"  # an unknown code has none
    assert cells["people_affected"] == -3  # a number, written as a number
    assert cells["location"] == '{"=k": 1}' and cells["monitor_code"] == "true"


def test_jsonl_round_trip(db: ReviewDB, sample: Sample) -> None:
    out = io.StringIO()
    assert export.write_jsonl(export.export_rows(db, Filters()), out) == 6
    lines = out.getvalue().split("\n")
    assert lines[-1] == "" and len(lines) == 7
    by_name = {sample.names([json.loads(line)["id"]])[0]: json.loads(line)
               for line in lines[:-1]}
    for name, report in sample.reports.items():
        station, seq = sample.stations[name]
        exported = by_name[name]
        code = report.follows if report.kind == "follow-up" else report.receipt
        assert exported == {"id": sample.ids[name], "station": station.hex(), "seq": seq,
                            "receipt": code, "attachments": 0, "history": "0" * 32,
                            "status": "new", "sensitive": False, "incident": None,
                            "tags": [], "vocabulary": "huridocs-mt-2001",
                            "type_codes_huridocs": [vocabulary.INCIDENT_TYPES[t].code for t in
                                                    report.fields.get("incident_types", [])],
                            "perpetrator_codes_huridocs": [
                                vocabulary.PERPETRATORS[p].code
                                for p in report.fields.get("perpetrators", [])],
                            "report": json.loads(report.to_body())}
        assert Report.from_body(json.dumps(exported["report"]).encode()) == report


def test_jsonl_keeps_one_report_per_line_whatever_the_text(tmp_path: Path) -> None:
    report = incident("2026-01-01", description="one\u2028two\u2029three\nfour\r")
    row = export.ExportRow(1, STATION_A.hex(), 1, report.to_body().decode())
    line = export.jsonl_line(row)
    assert len(line.splitlines()) == 1
    assert json.loads(line)["report"]["fields"]["description"] == "one\u2028two\u2029three\nfour\r"


# --- stats -----------------------------------------------------------------------------


def test_stats(db: ReviewDB) -> None:
    counts = listing.stats(db, Filters())
    assert counts.total == 6
    assert counts.by_kind == (("incident", 3), ("follow-up", 3))
    assert counts.by_site == (("Marange", 2), ("Kasaï pit 7", 1), (None, 3))
    assert counts.by_type == (("shooting", 2), ("beating-torture", 1), ("child-labour", 1),
                              ("killing", 1))
    assert counts.by_month == (("2026-02", 1), ("2026-03", 3), ("2026-04", 2))


def test_stats_with_filters(db: ReviewDB) -> None:
    counts = listing.stats(db, Filters(station="bb"))
    assert counts.total == 2
    assert counts.by_kind == (("incident", 1), ("follow-up", 1))
    assert counts.by_type == (("beating-torture", 1), ("shooting", 1))
    assert counts.by_month == (("2026-03", 1), ("2026-04", 1))
    empty = listing.stats(db, Filters(incident_type="smuggling"))
    assert empty.total == 0 and empty.by_kind == (("incident", 0), ("follow-up", 0))
    assert empty.by_site == () and empty.by_type == () and empty.by_month == ()


def test_a_type_ticked_twice_counts_once(tmp_path: Path) -> None:
    with ReviewDB.create(tmp_path / "r.db", REVIEW_PASSPHRASE) as db:
        db.pin_station(STATION_A, b"\x01" * 32)
        db.add_report(STATION_A, 1, bytes(32),
                      incident("2026-01-01", incident_types=["killing", "killing"]))
        assert listing.stats(db, Filters()).by_type == (("killing", 1),)
        assert listing.count_reports(db, Filters(incident_type="killing")) == 1


def test_attachment_counts_come_from_the_sealed_list(db: ReviewDB, sample: Sample) -> None:
    files = tuple(AttachmentInfo(i, f"photo-{i}.jpg", "image/jpeg", 1000 + i, bytes(32),
                                 attachment.ciphertext_size(1000 + i), bytes(32))
                  for i in range(3))
    report = dataclasses.replace(incident("2026-05-01"), attachments=files)
    with db.transaction():
        new_id = db.add_report(STATION_A, 99, b"\x09" * 32, report)
    [summary] = [s for s in listing.list_reports(db, Filters()) if s.id == new_id]
    assert summary.attachments == 3
    assert {s.attachments for s in listing.list_reports(db, Filters()) if s.id != new_id} == {0}
    [row] = [r for r in export.export_rows(db, Filters()) if r.id == new_id]
    assert row.attachments == 3
    assert dict(zip(DOCUMENTED_COLUMNS, export.csv_cells(row), strict=True))["attachments"] == 3
    line = json.loads(export.jsonl_line(row))
    assert line["attachments"] == 3 and len(line["report"]["attachments"]) == 3
