"""The charts page through a real ``reporter review serve``: over HTTP (headers, the
CSV, the SVG parsed as XML) and in a real headless Chromium (JavaScript off, the
keyboard alone, printing, axe-core), with site names a hostile monitor typed.
Screenshots go to ``test-artifacts/``."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.browser import artifact
from tests.desk import Desk, add_report, fast_station, focused, start_desk, tab_to, unlocked_session
from tests.e2e.test_desk_browser import axe, open_page, unlock_in
from tests.review.test_charts import HOSTILE_SITES, build, parse_svg, texts

pytestmark = pytest.mark.slow
SVG_POLICY = "default-src 'none'; style-src 'unsafe-inline'; sandbox"


@pytest.fixture(scope="module")
def review_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``tests/review/test_charts.py``'s reports, and one report per hostile site name."""
    tmp = tmp_path_factory.mktemp("charts")
    with fast_station(tmp) as station:
        for number, site in enumerate(HOSTILE_SITES[1:]):
            add_report(station, {
                "incident_types": ["intimidation-of-monitors"], "site_other": site,
                "incident_date": f"2026-01-{number + 10:02d}", "source": "heard",
                "contact": "none", "description": "hostile site name"})
        return build(station, tmp)[0]


@pytest.fixture(scope="module")
def desk(review_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    running = start_desk(review_db, tmp_path_factory.mktemp("charts-log"))
    yield running
    running.stop()


def test_charts_svg_and_csv_through_real_http(desk: Desk) -> None:
    # Locked: nothing but the unlock page.
    locked = requests.get(desk.url + "/charts/sites.svg", timeout=30, allow_redirects=False)
    assert locked.status_code == 303 and locked.headers["Location"].startswith("/unlock")
    session = unlocked_session(desk)
    page = session.get(desk.url + "/charts?perpetrator=police", timeout=30)
    assert page.status_code == 200 and "not a measure of all violations" in page.text
    assert 'src="/charts/types.svg?perpetrator=police&amp;unit=incidents"' in page.text
    for chart in ("types", "sites", "perpetrators", "people"):
        answer = session.get(f"{desk.url}/charts/{chart}.svg?unit=reports", timeout=60)
        assert answer.status_code == 200, chart
        assert answer.headers["Content-Type"] == "image/svg+xml; charset=utf-8"
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Content-Security-Policy"] == SVG_POLICY
        drawn = texts(parse_svg(answer.content))
        assert any("reports received" in t.lower() for t in drawn), chart
    sites = texts(parse_svg(session.get(desk.url + "/charts/sites.svg", timeout=60).content))
    assert "<script>alert(1)</script>" in sites  # text, in an XML text node
    assert max(len(t) for t in sites) < 120
    by_incident = texts(parse_svg(session.get(desk.url + "/charts/types.svg",
                                              timeout=60).content))
    assert any("incidents" in t.lower() for t in by_incident)
    data = session.get(desk.url + "/charts/types.csv?perpetrator=police&unit=reports",
                       timeout=30)
    assert data.headers["Content-Disposition"] == (
        "attachment; filename=chart-types-reports-received.csv")
    rows = list(csv.reader(io.StringIO(data.text, newline="")))
    assert rows == [["month", "category", "category_label", "reports_received"],
                    ["2026-03", "shooting", "Shooting or other violence", "2"],
                    ["2026-03", "killing", "Killing", "1"]]
    formula = session.get(desk.url + "/charts/sites.csv?site=hyperlink", timeout=30).text
    assert "'=HYPERLINK" in formula and "\n=HYPERLINK" not in formula
    # A request another page makes the browser send is refused, as for every page.
    refused = session.get(desk.url + "/charts/types.csv", timeout=30,
                          headers={"Sec-Fetch-Site": "cross-site"})
    assert refused.status_code == 403


def test_charts_in_the_browser_with_javascript_off(browser: Any, desk: Desk) -> None:
    context, page, watch = open_page(browser)
    unlock_in(page, desk)
    page.fill("#site", "a")
    page.click("form.filters button[type=submit]")
    page.click("text=Charts of these reports")
    assert page.url == desk.url + "/charts?site=a"
    page.wait_for_load_state("networkidle")
    assert page.locator("section.chart img").count() == 4
    # (Playwright reads the page's state from outside it: the page itself runs nothing.)
    sizes = page.evaluate("[...document.querySelectorAll('section.chart img')]"
                          ".map(i => [i.complete, i.naturalWidth > 0])")
    assert sizes == [[True, True]] * 4
    assert "not a measure of all violations" in page.inner_text("#caveat")
    page.screenshot(path=artifact("desk-charts.png"), full_page=True)
    # The SVG opened on its own: a sandboxed picture; nothing in it ran.
    page.goto(desk.url + "/charts/sites.svg")
    assert page.evaluate("document.contentType") == "image/svg+xml"
    page.screenshot(path=artifact("desk-chart-sites-hostile.png"))
    page.goto(desk.url + "/charts")
    page.emulate_media(media="print")
    assert not page.locator("header.bar").is_visible()
    assert page.locator("#caveat").is_visible()
    page.screenshot(path=artifact("desk-charts-print.png"), full_page=True)
    context.close()
    assert watch.dialogs == [] and watch.same_origin(desk)
    # Only the desk's own pages, its style sheet and the charts were asked for.
    paths = {urlsplit(u).path for u in watch.requests}
    assert paths <= {"/", "/unlock", "/charts", "/static/desk.css", "/charts/types.svg",
                     "/charts/sites.svg", "/charts/perpetrators.svg", "/charts/people.svg",
                     "/favicon.ico", "/idle.css"}, paths


def test_charts_with_the_keyboard_alone(browser: Any, desk: Desk) -> None:
    context, page, _watch = open_page(browser, javascript=True)
    unlock_in(page, desk)
    page.goto(desk.url + "/")
    tab_to(page, "A /charts Charts")
    page.keyboard.press("Enter")
    page.wait_for_url(desk.url + "/charts")
    tab_to(page, "A /charts/types.csv")
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    assert download.value.suggested_filename == "chart-types-incidents.csv"
    saved = download.value.path()
    assert saved is not None
    assert Path(saved).read_bytes().startswith(
        b"month,category,category_label,incidents\r\n")
    assert "charts" in focused(page)
    context.close()


@pytest.mark.parametrize("language", ["en", "fr", "pt"])
def test_the_charts_page_has_no_serious_accessibility_violation(
        browser: Any, desk: Desk, language: str) -> None:
    context, page, _watch = open_page(browser, javascript=True, bypass_csp=True,
                                      locale=language)
    unlock_in(page, desk)
    found = {}
    for name, path in {"charts": "/charts", "charts-filtered": "/charts?type=shooting",
                       "charts-bad-filter": "/charts?from=2026-02-30"}.items():
        page.goto(desk.url + path)
        page.wait_for_load_state("networkidle")
        found[name] = axe(page)
    if language != "en":
        page.goto(desk.url + "/charts")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=artifact(f"desk-charts-{language}.png"), full_page=True)
    context.close()
    assert {name: v for name, v in found.items() if v} == {}
