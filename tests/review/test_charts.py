"""The charts: exact counts over a review database built through the real bundle path
(sealed at a station, exported, imported), the same SVG bytes for the same data (in
this process and another), hostile site names drawn as inert text, and the desk's
``/charts`` page, SVG and CSV through Flask's test client (``tests/e2e/
test_desk_charts.py`` does it again through a real server and in Chromium)."""

from __future__ import annotations

import csv
import hashlib
import io
import subprocess
import sys
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from flask import Flask
from flask.testing import FlaskClient

from reporter.review import charts, incidents
from reporter.review.db import ReviewDB
from reporter.review.desk.app import create_app
from reporter.review.desk.config import DeskConfig
from reporter.review.desk.vault import Vault
from reporter.review.filters import Filters
from reporter.review.importer import import_bundle
from tests.conftest import Station
from tests.desk import add_report, export
from tests.reviewing import REVIEW_PASSPHRASE

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE_SITES = [
    "<script>alert(1)</script>",
    "]]><script>alert(2)</script><![CDATA[",
    '"><img src=x onerror=alert(3)>',
    "\u202eevil\u2066site\u200f",
    "=HYPERLINK(\"http://127.0.0.1:9/\")",
    "nul\x00here",
    "$\\frac{1}{0}$ \\undefined{",
    "x" * 10_000,
]


def identity(text: str) -> str:
    return text


def build(station: Station, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """Five first reports and a follow-up, sealed, bundled and imported."""
    first = add_report(station, {
        "incident_types": ["shooting", "killing"], "perpetrators": ["police"],
        "incident_date": "2026-03-01", "site": "Marange", "people_affected": 3,
        "source": "witnessed", "contact": "none", "description": "one"})
    add_report(station, {
        "incident_types": ["shooting"], "perpetrators": ["police", "state-security"],
        "incident_date": "2026-03-15", "site": "marange", "people_affected": 2,
        "source": "witnessed", "contact": "none", "description": "two"})
    add_report(station, {
        "incident_types": ["child-labour"], "perpetrators": ["armed-group"],
        "incident_date": "2026-02-01", "site": "Tshikapa", "source": "heard",
        "contact": "none", "description": "three"})
    add_report(station, {"description": "a follow-up is not counted"}, follows=first)
    # What only a station running modified software seals: not numbers the form allows.
    add_report(station, {
        "incident_types": ["other", 7], "site_other": HOSTILE_SITES[0],
        "incident_date": "2026-04-02", "people_affected": 10**12, "source": "heard",
        "contact": "none", "description": "four"})
    add_report(station, {
        "incident_types": ["smuggling"], "incident_date": "2025-12-24", "site": "Marange",
        "people_affected": "7", "source": "heard", "contact": "none",
        "description": "five"})
    path = tmp_path / "charts.db"
    with ReviewDB.create(path, REVIEW_PASSPHRASE) as db:
        import_bundle(db, export(station, tmp_path / "bundle.rptr"), station.reviewer)
    return path, {"first": first}


@pytest.fixture
def built(station: Station, tmp_path: Path) -> Path:
    return build(station, tmp_path)[0]


@pytest.fixture
def db(built: Path) -> Any:
    with ReviewDB.open(built, REVIEW_PASSPHRASE) as opened:
        yield opened


def cells(table: charts.Table) -> list[tuple[str, str | None, int]]:
    return [(r.month, r.key, r.count) for r in table.rows]


def test_reports_per_month_by_type(db: ReviewDB) -> None:
    table = charts.count(db, Filters(), "types")
    assert table.unit is charts.REPORTS
    assert cells(table) == [
        ("2025-12", "smuggling", 1),
        ("2026-02", "child-labour", 1),
        ("2026-03", "shooting", 2), ("2026-03", "killing", 1),
        ("2026-04", "other", 1),  # its code 7 is no category
    ]
    assert table.undated == 0  # the import checks every date


def test_reports_per_month_by_site_merge_case(db: ReviewDB) -> None:
    table = charts.count(db, Filters(), "sites")
    assert cells(table) == [("2025-12", "Marange", 1), ("2026-02", "Tshikapa", 1),
                            ("2026-03", "Marange", 2),
                            ("2026-04", HOSTILE_SITES[0], 1)]


def test_reports_per_month_by_perpetrator(db: ReviewDB) -> None:
    assert cells(charts.count(db, Filters(), "perpetrators")) == [
        ("2026-02", "armed-group", 1),
        ("2026-03", "police", 2), ("2026-03", "state-security", 1),
    ]


def test_people_affected_counts_only_numbers_the_form_allows(db: ReviewDB) -> None:
    table = charts.count(db, Filters(), "people")
    assert [(r.month, r.people, r.count, r.with_number) for r in table.rows] == [
        ("2025-12", 0, 1, 0), ("2026-02", 0, 1, 0), ("2026-03", 5, 2, 2),
        ("2026-04", 0, 1, 0)]


def test_the_inbox_filters_apply(db: ReviewDB) -> None:
    assert cells(charts.count(db, Filters(perpetrator="state-security"), "types")) == [
        ("2026-03", "shooting", 1)]
    assert cells(charts.count(db, Filters(site="MARANGE"), "sites")) == [
        ("2025-12", "Marange", 1), ("2026-03", "Marange", 2)]
    assert cells(charts.count(db, Filters(date_from="2026-03-10"), "types")) == [
        ("2026-03", "shooting", 1), ("2026-04", "other", 1)]
    # Follow-ups are never counted: they add to a report already counted.
    assert charts.count(db, Filters(kind="follow-up"), "types").rows == ()


def test_the_unit_is_a_parameter(db: ReviewDB) -> None:
    """Another unit counts another thing through the same queries (here: distinct
    sites, a stand-in for the incidents the lead will wire in)."""
    sites = charts.Unit("sites", "sites", "sites", "Sites", "reviewquery_fold(r.site)")
    table = charts.count(db, Filters(), "types", sites)
    assert table.unit is sites
    assert cells(table) == [("2025-12", "smuggling", 1), ("2026-02", "child-labour", 1),
                            ("2026-03", "killing", 1),
                            ("2026-03", "shooting", 1), ("2026-04", "other", 1)]
    assert "sites\r\n" in charts.csv_text(table, identity).splitlines(True)[0]
    # A unit reached through a join (as incidents will be, through their link table):
    # one station sent them all, so every cell counts 1.
    stations = charts.Unit("stations", "stations", "stations", "Stations", "s.station_id",
                           " JOIN stations AS s ON s.station_id = r.station_id")
    for chart in charts.CHARTS:
        assert {r.count for r in charts.count(db, Filters(), chart, stations).rows} == {1}
    people = charts.count(db, Filters(), "people", stations)
    assert [(r.month, r.people) for r in people.rows][2] == ("2026-03", 5)


def test_csv_names_its_unit_and_guards_formulas(db: ReviewDB) -> None:
    text = charts.csv_text(charts.count(db, Filters(), "sites"), identity)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == ["month", "category", "category_label", "reports_received"]
    assert rows[1:] == [["2025-12", "Marange", "Marange", "1"],
                        ["2026-02", "Tshikapa", "Tshikapa", "1"],
                        ["2026-03", "Marange", "Marange", "2"],
                        ["2026-04", HOSTILE_SITES[0], HOSTILE_SITES[0], "1"]]
    table = charts.Table("sites", charts.REPORTS, (charts.Row("2026-01", "=1+1", 1),
                                                   charts.Row("2026-01", None, 1)))
    rows = list(csv.reader(io.StringIO(charts.csv_text(table, identity), newline="")))
    assert rows[1] == ["2026-01", "'=1+1", "'=1+1", "1"]
    assert rows[2] == ["2026-01", "", "(no site)", "1"]
    people = charts.csv_text(charts.count(db, Filters(), "people"), identity)
    assert people.splitlines()[:2] == [
        "month,people_affected,reports_received,reports_received_giving_a_number",
        "2025-12,0,1,0"]


# --- SVG --------------------------------------------------------------------------------


def parse_svg(data: bytes) -> ElementTree.Element:
    """The SVG as XML (a malformed one fails here), checked inert: no script, no
    event attribute, no foreign object, no link but to its own ids."""
    root = ElementTree.fromstring(data)  # noqa: S314 (our own output, checked here)
    assert root.tag == SVG + "svg"
    for element in root.iter():
        name = element.tag.rsplit("}", 1)[-1].lower()
        assert name not in ("script", "foreignobject", "iframe", "a", "image"), name
        for attribute, value in element.attrib.items():
            local = attribute.rsplit("}", 1)[-1].lower()
            assert not local.startswith("on"), (name, attribute)
            if local == "href":
                assert value.startswith("#"), value
    return root


def texts(root: ElementTree.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(SVG + "text")]


def hostile_table() -> charts.Table:
    rows = tuple(charts.Row("2026-0" + str(1 + n % 3), site, n + 1)
                 for n, site in enumerate(HOSTILE_SITES))
    return charts.Table("sites", charts.REPORTS, rows)


def test_hostile_site_names_are_inert_text() -> None:
    data = charts.draw(hostile_table(), identity)
    root = parse_svg(data)
    drawn = texts(root)
    assert b"<script" not in data and b"onerror=" not in data.replace(b"onerror=alert", b"")
    assert "<script>alert(1)</script>" in drawn  # as text, whole (it is short)
    assert any(t.startswith("]]><script>alert(2)</scri") and t.endswith("…") for t in drawn)
    assert "evilsite" in drawn  # bidi controls removed
    assert "nulhere" in drawn  # NUL removed
    assert max(len(t) for t in drawn) < 120  # 10,000 characters shortened
    assert "x" * (charts.MAX_LABEL - 1) + "…" in drawn
    assert len(data) < 60_000  # text as <text>, not glyph paths


def test_too_many_categories_fold_into_others() -> None:
    rows = tuple(charts.Row("2026-01", f"site {n:02d}", 100 - n) for n in range(20))
    table = charts.Table("sites", charts.REPORTS, rows)
    series = charts.series_of(table, ["2026-01"], identity)
    assert len(series) == charts.MAX_SERIES
    assert [s.label for s in series[:2]] == ["site 00", "site 01"]
    assert series[-1].label == "Others (13 more)"
    assert series[-1].values == (sum(100 - n for n in range(7, 20)),)
    assert "Others (13 more)" in texts(parse_svg(charts.draw(table, identity)))


def test_months_without_reports_are_drawn_empty_and_old_ones_are_cut() -> None:
    table = charts.Table("types", charts.REPORTS, (
        charts.Row("2019-01", "killing", 1), charts.Row("2026-03", "killing", 2)))
    months = charts.drawn_months(table)
    assert len(months) == charts.MAX_MONTHS and months[-1] == "2026-03"
    assert months[0] == "2021-04"
    gap = charts.Table("types", charts.REPORTS, (
        charts.Row("2025-11", "killing", 1), charts.Row("2026-02", "killing", 2)))
    assert charts.drawn_months(gap) == ["2025-11", "2025-12", "2026-01", "2026-02"]


def test_the_same_data_gives_the_same_bytes(db: ReviewDB) -> None:
    for chart in charts.CHARTS:
        table = charts.count(db, Filters(), chart)
        first = charts.draw(table, identity)
        assert charts.draw(table, identity) == first
        parse_svg(first)
    # ... and in another process (another hash seed, a fresh matplotlib).
    table = hostile_table()
    here = hashlib.sha256(charts.draw(table, identity)).hexdigest()
    program = ("import hashlib, tests.review.test_charts as t; from reporter.review import "
               "charts; print(hashlib.sha256(charts.draw(t.hostile_table(), t.identity))"
               ".hexdigest())")
    there = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                           check=True, timeout=120, env={"PYTHONHASHSEED": "12345",
                                                         "PATH": "/usr/bin:/bin"},
                           cwd=Path(__file__).resolve().parents[2])
    assert there.stdout.strip() == here


def test_every_chart_says_what_it_counts(db: ReviewDB) -> None:
    for chart in charts.CHARTS:
        drawn = " ".join(texts(parse_svg(charts.draw(
            charts.count(db, Filters(), chart), identity))))
        assert "reports received" in drawn.lower(), chart
        assert "not a measure of all violations" in drawn, chart
    empty = charts.draw(charts.count(db, Filters(kind="follow-up"), "types"), identity)
    assert "No reports match these filters." in texts(parse_svg(empty))


def test_matplotlib_is_imported_only_when_a_chart_is_drawn() -> None:
    program = ("import sys; from reporter.review.desk import app; from reporter.review "
               "import charts; print('matplotlib' in sys.modules)")
    answer = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                            check=True, timeout=120)
    assert answer.stdout.strip() == "False"


# --- the desk, in-process ------------------------------------------------------------------

BASE = "http://127.0.0.1:8766"


@pytest.fixture
def desk_client(built: Path) -> FlaskClient:
    config = DeskConfig(review_db=built, port=8766, idle_seconds=600, testing=True)
    app: Flask = create_app(config, Vault(built, 600))
    client = app.test_client()
    page = client.get("/unlock", base_url=BASE).get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1][:64]
    answer = client.post("/unlock", base_url=BASE, data={
        "csrf_token": token, "passphrase": REVIEW_PASSPHRASE})
    assert answer.status_code == 303
    return client


def test_the_charts_page_follows_the_filters(desk_client: FlaskClient) -> None:
    answer = desk_client.get("/charts?site=marange&type=shooting", base_url=BASE)
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    for chart in charts.CHARTS:
        drawn = "?site=marange&amp;type=shooting&amp;unit=incidents"
        assert f'src="/charts/{chart}.svg{drawn}"' in html
        assert f'href="/charts/{chart}.csv{drawn}"' in html
    assert "not a measure of all violations" in html
    # Incidents by default; a link counts reports received instead, and says so.
    assert 'href="/charts?site=marange&amp;type=shooting&amp;unit=reports"' in html
    counted = desk_client.get("/charts?site=marange&unit=reports", base_url=BASE)
    assert 'src="/charts/types.svg?site=marange&amp;unit=reports"' in counted.get_data(
        as_text=True)
    assert "<script" not in html
    bad = desk_client.get("/charts?type=nonsense", base_url=BASE)
    assert bad.status_code == 400 and "<img" not in bad.get_data(as_text=True)
    assert desk_client.get("/charts/types.svg?from=2026-99-01", base_url=BASE).status_code == 400
    assert desk_client.get("/charts/nothing.svg", base_url=BASE).status_code == 404


def test_the_svg_and_csv_are_served_inert(desk_client: FlaskClient) -> None:
    answer = desk_client.get("/charts/sites.svg", base_url=BASE)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "image/svg+xml; charset=utf-8"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Content-Security-Policy"] == (
        "default-src 'none'; style-src 'unsafe-inline'; sandbox")
    assert "<script>alert(1)</script>" in texts(parse_svg(answer.data))
    data = desk_client.get("/charts/sites.csv?site=marange&unit=reports", base_url=BASE)
    assert data.headers["Content-Disposition"] == (
        "attachment; filename=chart-sites-reports-received.csv")
    assert data.headers["Content-Type"].startswith("text/csv")
    assert data.get_data(as_text=True) == (
        "month,category,category_label,reports_received\r\n2025-12,Marange,Marange,1\r\n"
        "2026-03,Marange,Marange,2\r\n")


def test_the_charts_speak_the_reviewers_language(desk_client: FlaskClient) -> None:
    html = desk_client.get("/charts?unit=reports", base_url=BASE,
                           headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert "rapports reçus" in html
    svg = desk_client.get("/charts/types.svg?unit=reports", base_url=BASE,
                          headers={"Accept-Language": "pt"}).data
    assert "relatórios recebidos" in " ".join(texts(parse_svg(svg))).lower()
    svg = desk_client.get("/charts/types.svg", base_url=BASE,
                          headers={"Accept-Language": "pt"}).data
    assert "incidentes" in " ".join(texts(parse_svg(svg))).lower()


def test_drawing_writes_nothing_but_matplotlibs_font_list(tmp_path: Path) -> None:
    """Charts are drawn in memory: the only file matplotlib writes is its list of the
    system's fonts, and no site name reaches the disk."""
    home, temp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    temp.mkdir()
    program = ("from reporter.review import charts; t = charts.Table('sites', charts.REPORTS, "
               "(charts.Row('2026-01', 'CANARY-SITE-NAME', 1),)); charts.draw(t, str)")
    subprocess.run([sys.executable, "-c", program], check=True, timeout=120,
                   cwd=Path(__file__).resolve().parents[2],
                   env={"HOME": str(home), "TMPDIR": str(temp), "PATH": "/usr/bin:/bin"})
    written = [p for p in [*home.rglob("*"), *temp.rglob("*")] if p.is_file()]
    assert [p.name for p in written if not p.name.startswith("fontlist-")] == []
    assert all(b"CANARY-SITE-NAME" not in p.read_bytes() for p in written)


# --- counting incidents ------------------------------------------------------------------


def march_ids(db: ReviewDB) -> list[int]:
    return [int(i) for (i,) in db.connection.execute(
        "SELECT id FROM reports WHERE kind = 'incident' AND incident_date LIKE '2026-03-%' "
        "ORDER BY id")]


def test_before_any_link_each_first_report_is_an_incident_of_its_own(db: ReviewDB) -> None:
    for chart in charts.CHARTS:
        by_reports = charts.count(db, Filters(), chart, charts.REPORTS)
        by_incidents = charts.count(db, Filters(), chart, charts.INCIDENTS)
        assert cells(by_incidents) == cells(by_reports), chart
    people = charts.count(db, Filters(), "people", charts.INCIDENTS)
    assert [(r.month, r.people, r.count) for r in people.rows][2] == ("2026-03", 5, 2)


def test_two_reports_linked_into_one_incident_count_once(db: ReviewDB) -> None:
    one, two = march_ids(db)
    incident = incidents.create_incident(db, incidents.IncidentFields("Checkpoint shooting"),
                                        "Amina", link=[one, two])
    types = cells(charts.count(db, Filters(), "types", charts.INCIDENTS))
    assert ("2026-03", "shooting", 1) in types  # two reports, one incident
    assert ("2026-03", "killing", 1) in types
    assert ("2026-03", "shooting", 2) in cells(charts.count(db, Filters(), "types"))
    # People: the largest number its reports give (3, not 3 + 2) ...
    people = {r.month: (r.people, r.count, r.with_number)
              for r in charts.count(db, Filters(), "people", charts.INCIDENTS).rows}
    assert people["2026-03"] == (3, 1, 1)
    # ... until reviewers give their own count.
    incidents.update_incident(db, incident, incidents.IncidentFields(
        "Checkpoint shooting", people_affected=11), "Amina")
    people = {r.month: (r.people, r.count, r.with_number)
              for r in charts.count(db, Filters(), "people", charts.INCIDENTS).rows}
    assert people["2026-03"] == (11, 1, 1)
    table = charts.count(db, Filters(), "sites", charts.INCIDENTS)
    assert charts.csv_text(table, identity).splitlines()[0] == (
        "month,category,category_label,incidents")
