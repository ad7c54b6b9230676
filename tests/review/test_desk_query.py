"""What the review desk adds to the review database and its queries: the filters
on perpetrator, source and attachments (the CLI takes them too), keyset pages,
schema 4 (its columns filled from old reports, import times) and the chain of
custody, over a real SQLCipher review database."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from reporter.formats import attachment
from reporter.formats.report import AttachmentInfo
from reporter.review import listing, records
from reporter.review.custody import custody
from reporter.review.db import ReviewDB
from reporter.review.filters import Filters, InvalidFilter
from reporter.review.importer import import_bundle
from reporter.review.schema import MIGRATIONS
from reporter.review.workflow_schema import MIGRATION as WORKFLOW
from reporter.storage import sqlc
from tests.conftest import Station, add_reports
from tests.review.test_reviewquery import (
    NEWEST_FIRST,
    REVIEW_PASSPHRASE,
    STATION_A,
    STATION_B,
    Sample,
    incident,
    populate,
)
from tests.review.test_reviewquery import (
    listed as listed_by,
)


@pytest.fixture
def sample(tmp_path: Path) -> Sample:
    return populate(tmp_path / "review.db")


@pytest.fixture
def db(sample: Sample):  # type: ignore[no-untyped-def]
    with ReviewDB.open(sample.path, REVIEW_PASSPHRASE) as opened:
        yield opened


def with_files(count: int, submitted: str = "2026-05-01", **answers: object):  # type: ignore[no-untyped-def]
    files = tuple(AttachmentInfo(i, f"photo-{i}.jpg", "image/jpeg", 1000 + i, bytes(32),
                                 attachment.ciphertext_size(1000 + i), bytes(32))
                  for i in range(count))
    return dataclasses.replace(incident(submitted, **answers), attachments=files)


# --- the three new filters -------------------------------------------------------------


def test_perpetrator_is_one_code_among_those_ticked(db: ReviewDB, sample: Sample) -> None:
    assert listed_by(db, sample, perpetrator="police") == ["beating"]
    assert listed_by(db, sample, perpetrator="other") == ["beating"]
    assert listed_by(db, sample, perpetrator="state-security") == ["shooting"]
    assert listed_by(db, sample, perpetrator="armed-group") == []


def test_source_is_witnessed_or_heard_and_follow_ups_have_none(db: ReviewDB,
                                                               sample: Sample) -> None:
    assert listed_by(db, sample, source="heard") == ["children"]
    assert listed_by(db, sample, source="witnessed") == ["beating", "shooting"]


def test_with_attachments_counts_the_sealed_list(db: ReviewDB, sample: Sample) -> None:
    with db.transaction():
        sample.ids["photos"] = db.add_report(STATION_A, 9, os.urandom(32), with_files(2))
    assert listed_by(db, sample, with_attachments=True) == ["photos"]
    assert len(listed_by(db, sample)) == len(NEWEST_FIRST) + 1
    assert listing.count_reports(db, Filters(with_attachments=True)) == 1


def test_the_new_filters_combine_with_the_others(db: ReviewDB, sample: Sample) -> None:
    assert listed_by(db, sample, source="witnessed", site="marange",
                     date_from="2026-03-01") == ["beating"]
    assert listed_by(db, sample, perpetrator="police", incident_type="killing") == []


@pytest.mark.parametrize("bad", [{"perpetrator": "soldiers"}, {"source": "rumour"},
                                 {"perpetrator": "' OR 1=1 --"}])
def test_unknown_codes_are_refused(bad: dict[str, str]) -> None:
    with pytest.raises(InvalidFilter):
        Filters(**bad)  # type: ignore[arg-type]


def test_active_says_whether_any_filter_is_set() -> None:
    assert not Filters().active
    assert Filters(with_attachments=True).active and Filters(site="x").active


# --- keyset pages ------------------------------------------------------------------------


def walk(db: ReviewDB, sample: Sample, size: int, filters: Filters | None = None
         ) -> list[list[str]]:
    """Every page, following ``older`` from the first."""
    filters = filters or Filters()
    pages, after = [], None
    for _ in range(50):
        page = listing.page(db, filters, size, after=after)
        pages.append(sample.names([s.id for s in page.reports]))
        if page.older is None:
            break
        after = page.older
    return pages


def test_pages_walk_the_newest_first_order_without_repeats_or_gaps(db: ReviewDB,
                                                                    sample: Sample) -> None:
    assert walk(db, sample, 2) == [NEWEST_FIRST[0:2], NEWEST_FIRST[2:4], NEWEST_FIRST[4:6]]
    assert walk(db, sample, 4) == [NEWEST_FIRST[0:4], NEWEST_FIRST[4:6]]
    assert walk(db, sample, 6) == [NEWEST_FIRST]
    assert walk(db, sample, 100) == [NEWEST_FIRST]


def test_a_page_knows_whether_there_are_newer_and_older_ones(db: ReviewDB,
                                                             sample: Sample) -> None:
    first = listing.page(db, Filters(), 2)
    assert first.newer is None and first.older is not None
    second = listing.page(db, Filters(), 2, after=first.older)
    assert second.newer is not None and second.older is not None
    last = listing.page(db, Filters(), 2, after=second.older)
    assert last.newer is not None and last.older is None
    assert listing.page(db, Filters(), 2, after=last.reports[-1].key) == listing.Page(
        (), None, None)


def test_before_goes_back_a_page(db: ReviewDB, sample: Sample) -> None:
    first = listing.page(db, Filters(), 2)
    second = listing.page(db, Filters(), 2, after=first.older)
    back = listing.page(db, Filters(), 2, before=second.newer)
    assert sample.names([s.id for s in back.reports]) == NEWEST_FIRST[0:2]
    assert back.newer is None and back.older == first.older
    third = listing.page(db, Filters(), 2, after=second.older)
    back = listing.page(db, Filters(), 2, before=third.newer)
    assert back == second


def test_pages_keep_the_filter(db: ReviewDB, sample: Sample) -> None:
    assert walk(db, sample, 1, Filters(site="marange")) == [["beating"], ["shooting"]]


def test_same_day_ties_are_broken_by_station_then_number(tmp_path: Path) -> None:
    with ReviewDB.create(tmp_path / "r.db", REVIEW_PASSPHRASE) as db:
        db.pin_station(STATION_A, b"\x01" * 32)
        db.pin_station(STATION_B, b"\x02" * 32)
        keys = [(STATION_A, 2), (STATION_B, 1), (STATION_A, 1), (STATION_B, 2),
                (STATION_A, 10)]
        ids = {db.add_report(*key, bytes(32), incident("2026-01-01")): key for key in keys}
        seen = []
        page = listing.page(db, Filters(), 2)
        while True:
            seen += [ids[s.id] for s in page.reports]
            if page.older is None:
                break
            page = listing.page(db, Filters(), 2, after=page.older)
        listed = [ids[s.id] for s in listing.list_reports(db, Filters())]
    assert seen == sorted(keys, reverse=True)
    assert seen == listed  # the CLI's order


def test_a_report_imported_between_two_pages_moves_nothing(db: ReviewDB,
                                                           sample: Sample) -> None:
    first = listing.page(db, Filters(), 3)
    with db.transaction():
        sample.ids["new"] = db.add_report(STATION_A, 50, os.urandom(32),
                                          incident("2026-12-31"))
    second = listing.page(db, Filters(), 3, after=first.older)
    assert sample.names([s.id for s in second.reports]) == NEWEST_FIRST[3:6]


def test_the_page_query_walks_the_index_and_never_sorts(db: ReviewDB) -> None:
    key = listing.PageKey("2026-03-05", STATION_A.hex(), 2, 5)
    for order, op in (("DESC", "<"), ("", ">")):
        sql = ("EXPLAIN QUERY PLAN SELECT r.id FROM reports AS r "  # noqa: S608 (constants)
               f"WHERE (r.submitted, r.station_id, r.seq, r.id) {op} (?, ?, ?, ?) "
               f"ORDER BY r.submitted {order}, r.station_id {order}, r.seq {order}, "
               f"r.id {order} LIMIT 51")
        plan = " ".join(str(row[-1]) for row in db.connection.execute(
            sql, (key.submitted, bytes.fromhex(key.station), key.seq, key.id)))
        assert "reports_newest" in plan and "TEMP B-TREE" not in plan, plan


def test_one_station_number_twice_is_still_paged_whole(tmp_path: Path) -> None:
    """Should a station's numbering ever repeat on one day (a restored station's new
    history), the row id still orders every report: none is skipped or repeated."""
    with ReviewDB.create(tmp_path / "r.db", REVIEW_PASSPHRASE) as db:
        db.pin_station(STATION_A, b"\x01" * 32)
        ids = [db.add_report(STATION_A, seq, os.urandom(32), incident("2026-01-01"))
               for seq in (1, 2, 3, 4, 5)]
        # The same (day, station, seq) as another report: made by hand, since this
        # schema's UNIQUE (station_id, seq) forbids it; a copy of the table lifts it.
        c = db.connection
        c.execute("CREATE TABLE copy AS SELECT * FROM reports")
        c.execute("DROP TABLE reports")
        c.execute("CREATE TABLE reports AS SELECT * FROM copy WHERE 0")
        c.execute("INSERT INTO reports SELECT * FROM copy")
        c.execute("UPDATE reports SET seq = 1")
        c.execute("CREATE INDEX reports_newest ON reports (submitted, station_id, seq)")
        seen, after = [], None
        for _ in range(10):
            page = listing.page(db, Filters(), 2, after=after)
            seen += [s.id for s in page.reports]
            if page.older is None:
                break
            after = page.older
    assert sorted(seen) == sorted(ids) and len(seen) == len(ids)


@pytest.mark.parametrize("text", ["", "2026-03-05", "2026-03-05.aa.1.1", "x" * 100,
                                  "2026-03-05." + "0" * 32 + ".1",
                                  "2026-03-05." + "0" * 32 + ".-1.1",
                                  "2026-03-05." + "0" * 32 + ".1." + "9" * 19,
                                  "2026-03-05." + "0" * 32 + "." + "9" * 19 + ".1",
                                  "2026-03-05." + "0" * 32 + ".1.1 OR 1=1"])
def test_a_malformed_page_key_is_refused(text: str) -> None:
    with pytest.raises(InvalidFilter):
        listing.PageKey.parse(text)


def test_a_page_key_survives_a_url() -> None:
    key = listing.PageKey("2026-03-05", "ab" * 16, 12, 40)
    assert listing.PageKey.parse(str(key)) == key and str(key).isascii() and "&" not in str(key)


# --- schema 4 ------------------------------------------------------------------------------


def test_a_review_database_of_schema_4_gets_its_columns_from_the_bodies(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "old.db"
    # Made at schema 5 (the workflow's later schema would hold the columns dropped below).
    monkeypatch.setattr("reporter.review.schema.MIGRATIONS",
                        MIGRATIONS[:MIGRATIONS.index(WORKFLOW)])
    # ... so without the search index of schema 7 either: reports are added without it.
    monkeypatch.setattr(ReviewDB, "_index_report", lambda *args: None)
    with ReviewDB.create(path, REVIEW_PASSPHRASE) as db:
        db.pin_station(STATION_A, b"\x01" * 32)
        plain = db.add_report(STATION_A, 1, os.urandom(32),
                              incident("2026-01-01", perpetrators=["police"], source="heard"))
        files = db.add_report(STATION_A, 2, os.urandom(32), with_files(3))
        forged = db.add_report(STATION_A, 3, os.urandom(32),
                               incident("2026-01-02", perpetrators="police", source=7))
        c = db.connection
        c.execute("DROP INDEX reports_newest")
        c.execute("CREATE INDEX reports_submitted ON reports (submitted)")
        for table, column in (("reports", "source"), ("reports", "perpetrators"),
                              ("reports", "attachment_count"), ("reports", "imported"),
                              ("bundles", "imported")):
            c.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        c.execute("PRAGMA user_version = 4")
    monkeypatch.undo()
    with ReviewDB.open(path, REVIEW_PASSPHRASE) as db:
        assert sqlc.schema_version(db.connection) == len(MIGRATIONS)
        rows = {i: (s, json.loads(p), n, t) for i, s, p, n, t in db.connection.execute(
            "SELECT id, source, perpetrators, attachment_count, imported FROM reports")}
        assert rows[plain] == ("heard", ["police"], 0, None)
        assert rows[files] == ("witnessed", [], 3, None)
        # A station running modified software sealed a number and a string: not a
        # source, not a list of perpetrators (as report_columns treats them).
        assert rows[forged] == (None, [], 0, None)
        assert listing.count_reports(db, Filters(perpetrator="police")) == 1
        assert listing.count_reports(db, Filters(with_attachments=True)) == 1


def test_import_records_when_each_report_and_bundle_came(station: Station,
                                                         tmp_path: Path) -> None:
    from tests.desk import export

    add_reports(station, 2)
    with ReviewDB.create(tmp_path / "review.db", REVIEW_PASSPHRASE) as db:
        import_bundle(db, export(station, tmp_path / "1.rptr"), station.reviewer)
        [bundle] = db.bundles(station.station_id)
        stamps = [row[0] for row in db.connection.execute("SELECT imported FROM reports")]
    assert bundle.imported is not None and len(stamps) == 2
    for stamp in [bundle.imported, *stamps]:
        assert stamp is not None and len(stamp) == 20 and stamp.endswith("Z")


# --- the chain of custody --------------------------------------------------------------


def test_custody_names_the_station_key_bundle_chain_and_recipients(
        station: Station, tmp_path: Path) -> None:
    from reporter.formats.chain import genesis
    from reporter.formats.crypto import StationVerifyKey
    from tests.desk import export

    add_reports(station, 2)
    with ReviewDB.create(tmp_path / "review.db", REVIEW_PASSPHRASE) as db:
        import_bundle(db, export(station, tmp_path / "1.rptr"), station.reviewer)
        add_reports(station, 1)
        import_bundle(db, export(station, tmp_path / "2.rptr"), station.reviewer)
        ids = [row[0] for row in db.connection.execute("SELECT id FROM reports ORDER BY seq")]
        first, third = custody(db, ids[0]), custody(db, ids[2])
        pinned = StationVerifyKey(db.pinned_key(station.station_id) or b"").fingerprint()
        envelope = db.report_hash(station.station_id, 3)
    assert first.station == station.station_id.hex() and first.station_key == pinned
    assert (first.seq, third.seq) == (1, 3)
    assert third.envelope_hash == (envelope or b"").hex()
    [one] = first.bundles
    assert (one.number, one.first_seq, one.last_seq) == (1, 1, 2)
    assert one.chain_before == genesis(station.station_id).hex()
    assert one.recipients_state == "pinned" and one.imported is not None
    assert [(k.name, k.fingerprint) for k in one.sealed_to] == [
        ("reviewer", station.reviewer.public_key.fingerprint())]
    [two] = third.bundles
    assert two.number == 2 and two.chain_before == one.chain_head
    assert two.recipients_state == "same"


def test_custody_of_an_unknown_report(db: ReviewDB) -> None:
    with pytest.raises(records.UnknownReport):
        custody(db, 999)
