"""The indexes behind fast filters and counts (``db._MIGRATION_FTS``): the full-text
index answers a text search exactly as the plain scan with ``fold()`` did, on
hostile and accented text; the code table and the other indexes select the same
reports as the plain clauses; a database made before them is migrated."""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import pytest

from reporter.review import listing, schema
from reporter.review.db import ReviewDB
from reporter.review.db_records import report_columns
from reporter.review.filters import Filters, fts_phrase, select_where
from reporter.review.schema import MIGRATIONS
from reporter.review.searchtext import body_text, fold
from reporter.storage import sqlc
from tests.review.test_reviewquery import (
    REVIEW_PASSPHRASE,
    STATION_A,
    STATION_B,
    follow_up,
    incident,
)

NUL = "\x00"
RLO, RLM, LRI, PDI = "\u202e", "\u200f", "\u2066", "\u2069"
HOSTILE = [
    f"Soldiers{NUL}fired at 10% of the diggers_near the river",
    f"{RLO}evil.exe{PDI} and {RLM}marks{LRI} ÉTÉ déplacés",
    "decomposed: e\u0301te\u0301 deplace\u0301s, Straße, İstanbul, ǅemal, ﬁnance",
    "<script>alert(1)</script> \"><img onerror=x> '; DROP TABLE reports; --",
    "=1+1 +cmd @SUM(A1) -2 \"quoted\" \"\"doubled\"\" AND OR NOT NEAR(a b) col:umn ^start *",
    "a" * 10_000 + "needle-in-a-long-text" + "b" * 100,
    "percent % under _ star * question ? backslash \\ caret ^ [brackets]",
    "mixed CASE ünïcödé ΣΊΣΥΦΟΣ σίσυφος ς 日本語のテキスト 🙂🙃 emoji",
    "line one\nline two\r\nline\tthree\u2028four\u2029five",
]
NEEDLES = [
    # substrings of the texts above, in other cases and forms
    "soldiers", f"Soldiers{NUL}fired", NUL, "10%", "% of", "%", "_", "diggers_near", "s_n",
    RLO, f"{RLO}evil", "evil.exe", RLM, f"{LRI}", "été", "ÉTÉ", "e\u0301te\u0301", "Été",
    "déplacés", "DEPLACE\u0301S", "strasse", "STRASSE", "straße", "i̇stanbul", "İSTANBUL", "ǆemal",
    "finance", "ﬁ", "<script>", "onerror", "drop table", "'; drop", "=1+1", "+cmd", "@sum",
    '"quoted"', '""doubled""', '"', '""', "near(a b)", "col:umn", "^start", "*", "and or not",
    "needle-in-a-long-text", "aaaaaaaaaa", "percent % under", "\\", "[brackets]", "? back",
    "σίσυφος", "ΣΊΣΥΦΟΣ", "sisyphus", "日本語", "テキスト", "🙂🙃", "line two", "two\r\nline",
    "one\nline", "\u2028four", "ab", "a", "zz", "no such words at all", "description",
    # values that are not text: codes, dates, receipts, numbers
    "shooting", "child-labour", "2026-03", "witnessed", "heard", "contact", "none", "7",
    "incident/1",
]


def hostile_database(path: Path) -> tuple[ReviewDB, list[int], str]:
    """A review database with every hostile text as a description, a site and a
    field, and a follow-up to one of them (its own receipt is not searched)."""
    db = ReviewDB.create(path, REVIEW_PASSPHRASE)
    db.pin_station(STATION_A, b"\x01" * 32)
    db.pin_station(STATION_B, b"\x02" * 32)
    ids = []
    seq = itertools.count(1)
    first = None
    for i, text in enumerate(HOSTILE):
        report = incident(f"2026-03-{1 + i:02d}", description=text, site_other=text[:50],
                          location=text[::-1], incident_types=["shooting", "child-labour"][
                              : 1 + i % 2], perpetrators=["police"] if i % 3 else [],
                          people_affected=7)
        first = first or report
        ids.append(db.add_report(STATION_A if i % 2 else STATION_B, next(seq),
                                 os.urandom(32), report))
    later = follow_up(first.receipt if first else "", "2026-04-01", HOSTILE[1])
    ids.append(db.add_report(STATION_A, next(seq), os.urandom(32), later))
    return db, ids, later.receipt


def selected(db: ReviewDB, filters: Filters, *, indexed: bool) -> list[int]:
    where, params = filters.where(indexed=indexed)
    select_where(db, "1 FROM reports AS r LIMIT 0", Filters())  # registers the functions
    return sorted(int(r[0]) for r in db.connection.execute(
        f"SELECT r.id FROM reports AS r{where}", params))  # noqa: S608 (constant clauses)


def oracle(db: ReviewDB, needle: str) -> list[int]:
    """The rule, in Python: the folded needle is in the folded description or in
    the folded values of the body (``searchtext``)."""
    wanted = fold(needle) or ""
    return sorted(int(i) for i, description, body in db.connection.execute(
        "SELECT id, description, body FROM reports")
        if wanted in (fold(description) or "") or wanted in (body_text(body) or ""))


def test_text_search_through_the_index_finds_what_the_scan_found(tmp_path: Path) -> None:
    db, ids, own_receipt = hostile_database(tmp_path / "review.db")
    with db:
        through_index = 0
        for needle in [*NEEDLES, own_receipt, own_receipt.upper()]:
            filters = Filters(search=needle)
            indexed = selected(db, filters, indexed=True)
            assert indexed == selected(db, filters, indexed=False), repr(needle)
            assert indexed == oracle(db, needle), repr(needle)
            if fts_phrase(fold(needle) or "") is not None and indexed:
                through_index += 1
            # ... and so does every count and list the CLI and the desk show.
            assert listing.count_reports(db, filters) == len(indexed)
            assert sorted(s.id for s in listing.list_reports(db, filters)) == indexed
        # Most needles really went through the index, and found something there.
        assert through_index >= 50
        # The follow-up's own receipt code is not searched, through the index either.
        assert selected(db, Filters(search=own_receipt), indexed=True) == []
        assert selected(db, Filters(search="soldiers"), indexed=True) == [ids[0]]


def test_the_index_is_used_only_where_it_can_answer() -> None:
    assert fts_phrase("ab") is None
    assert fts_phrase("a\x00bc") is None
    assert fts_phrase("abc") == '"abc"'
    assert fts_phrase('a"b') == '"a""b"'
    assert fts_phrase("ab\udcff") is None  # an argument that was not UTF-8
    where, params = Filters(search="Été").where()
    assert "reports_fts MATCH ?" in where and params == ['"été"']
    where, _ = Filters(search="é").where()
    assert "reports_fts" not in where


FILTERS: list[dict[str, Any]] = [
    {"site": "ÉTÉ"}, {"site": "%"}, {"site": "_"}, {"site": "evil"}, {"site": "zz"},
    {"incident_type": "shooting"}, {"incident_type": "child-labour"},
    {"incident_type": "killing"}, {"perpetrator": "police"}, {"perpetrator": "other"},
    {"station": "aa"}, {"station": "bb22"}, {"station": "c"}, {"source": "witnessed"},
    {"date_from": "2026-03-03", "date_to": "2026-03-06"}, {"date_from": "2026-03-31"},
    {"kind": "follow-up"}, {"with_attachments": True},
    {"site": "e", "incident_type": "shooting", "search": "the", "station": "a",
     "date_to": "2026-03-08", "perpetrator": "police"},
]


@pytest.mark.parametrize("chosen", FILTERS, ids=[repr(f) for f in FILTERS])
def test_every_filter_through_its_index_selects_what_the_scan_did(
        tmp_path: Path, chosen: dict[str, Any]) -> None:
    db, _ids, _ = hostile_database(tmp_path / "review.db")
    with db:
        filters = Filters(**chosen)
        found = selected(db, filters, indexed=True)
        assert found == selected(db, filters, indexed=False)
        assert listing.count_reports(db, filters) == len(found)  # on its own index, or the inbox's
        pages = listing.page(db, filters, 2)
        assert [s.id for s in pages.reports] == [s.id for s in listing.list_reports(db, filters, 2)]
    # Not vacuous: most of these filters select some reports, and not all.
    db = ReviewDB.open(tmp_path / "review.db", REVIEW_PASSPHRASE)
    with db:
        counts = [listing.count_reports(db, Filters(**f)) for f in FILTERS]
    assert sum(0 < c < len(HOSTILE) + 1 for c in counts) >= 12


def drop_search_index(conn: Any) -> None:
    """Undo ``_MIGRATION_FTS`` on a database (to make one as an older reporter did)."""
    for statement in ("DROP TABLE reports_fts", "DROP TABLE report_codes",
                      "DROP INDEX reports_day", "DROP INDEX reports_source",
                      "DROP INDEX reports_site",
                      "DROP INDEX reports_with_attachments"):
        conn.execute(statement)


def test_a_database_made_before_the_index_is_migrated(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Made with the migrations before this one (whatever their number), reports written
    as that reporter wrote them; opening it builds the index from the bodies."""
    path = tmp_path / "review.db"
    before = MIGRATIONS[:MIGRATIONS.index(schema._MIGRATION_FTS)]
    monkeypatch.setattr(schema, "MIGRATIONS", before)
    ReviewDB.create(path, REVIEW_PASSPHRASE).close()
    monkeypatch.undo()
    conn = sqlc.connect(path, ReviewDB.derive_key(path, REVIEW_PASSPHRASE), create=False,
                        owner="review database")
    assert sqlc.schema_version(conn) == len(before)
    conn.execute("INSERT INTO stations (station_id, verify_key) VALUES (?, ?)",
                 (STATION_A, b"\x01" * 32))
    reports = [incident(f"2026-03-{1 + i:02d}", description=text,
                        incident_types=["shooting", "other"], perpetrators=["police"])
               for i, text in enumerate(HOSTILE)]
    for seq, report in enumerate(reports, 1):
        c = report_columns(report)
        conn.execute(
            "INSERT INTO reports (station_id, history, seq, envelope_hash, kind, receipt, "
            "follows, locale, submitted, incident_date, site, types, description, body, "
            "source, perpetrators, attachment_count) "
            "VALUES (?, zeroblob(16), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (STATION_A, seq, os.urandom(32), c["kind"], c["receipt"], c["follows"],
             c["locale"], c["submitted"], c["incident_date"], c["site"], c["types"],
             c["description"], c["body"], c["source"], c["perpetrators"],
             c["attachment_count"]))
    conn.commit()
    conn.close()
    with ReviewDB.open(path, REVIEW_PASSPHRASE) as db:
        assert sqlc.schema_version(db.connection) == len(MIGRATIONS)
        assert db.connection.execute("SELECT count(*) FROM report_codes").fetchone()[0] == (
            3 * len(HOSTILE))
        for needle in NEEDLES:
            filters = Filters(search=needle)
            assert selected(db, filters, indexed=True) == selected(
                db, filters, indexed=False) == oracle(db, needle), repr(needle)
        assert listing.count_reports(db, Filters(search="DÉPLACÉS")) == 1
        assert listing.count_reports(db, Filters(incident_type="other")) == len(HOSTILE)
        # A report imported after the migration is indexed as it is added.
        db.add_report(STATION_A, 100, os.urandom(32), incident(
            "2026-05-01", description="Trucks at night, déplacés again"))
        assert listing.count_reports(db, Filters(search="DÉPLACÉS")) == 2


IMPORT_LOOKUPS = [
    # (what import and show ask of every report, the index that answers it)
    ("SELECT id, station_id, seq FROM reports WHERE receipt = ? AND kind = 'incident' "
     "ORDER BY id", ("x",), "reports_receipt"),
    ("SELECT 1 FROM reports WHERE envelope_hash = ?", (b"x",), "reports_envelope_hash"),
    ("SELECT r.id FROM reports AS r WHERE r.follows = ? AND r.kind = 'follow-up'", ("x",),
     "reports_follows"),
]


@pytest.mark.parametrize(("sql", "params", "index"), IMPORT_LOOKUPS)
def test_the_filter_indexes_never_take_over_an_import_lookup(
        tmp_path: Path, sql: str, params: tuple[object, ...], index: str) -> None:
    """An index on a column of two values (``kind``) was taken for the receipt lookup
    import makes of every report, which then read every first report: import went
    quadratic (10,000 reports in 134 s instead of 2.5 s)."""
    db, _ids, _ = hostile_database(tmp_path / "review.db")
    with db:
        plan = " ".join(str(row[-1]) for row in db.connection.execute(
            "EXPLAIN QUERY PLAN " + sql, params))
    assert f"INDEX {index} " in plan, plan
