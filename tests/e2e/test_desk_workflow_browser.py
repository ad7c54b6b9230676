"""The verification workflow in a real headless Chromium, against a real ``reporter
review serve``: a reviewer gives their name on the unlock page, changes a report's
status, tags it, adds a note, marks it sensitive, links it to a new incident and
sets the incident's count of people affected, with the keyboard only and
JavaScript off; axe-core finds no serious or critical violation on the new pages,
in English, French and Portuguese. Screenshots go to ``test-artifacts/``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from reporter.review import incidents as ri
from reporter.review import workflow as wf
from reporter.review.db import ReviewDB
from tests.browser import artifact
from tests.desk import (
    SCRIPT,
    Desk,
    Sample,
    fast_station,
    focused,
    make_sample,
    start_desk,
    tab_to,
    unlock_in,
)
from tests.e2e.test_desk_browser import LANGUAGES, axe, open_page
from tests.reviewing import REVIEW_PASSPHRASE

pytestmark = pytest.mark.slow
HOSTILE_TITLE = f"{SCRIPT}\"><img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    """A review database where the photo report is already verified, tagged, noted,
    sensitive and linked (with the hostile report) to an incident with a hostile title."""
    tmp = tmp_path_factory.mktemp("desk-workflow")
    with fast_station(tmp) as station:
        made = make_sample(station, tmp)
        with ReviewDB.open(made.path, REVIEW_PASSPHRASE) as db:
            photo, hostile = made.ids["photo"], made.ids["hostile"]
            wf.set_status(db, photo, "verified", "Beatriz <b>")
            wf.add_tag(db, photo, "\"><svg onload=alert(1)>", "Beatriz <b>")
            wf.add_note(db, photo, f"{SCRIPT}\nsecond line", "Beatriz <b>")
            wf.set_sensitive(db, photo, True, "Beatriz <b>")
            incident = ri.create_incident(db, ri.IncidentFields(
                title=HOSTILE_TITLE, date_from="2026-03-01", site="Marange",
                types=("shooting",), people_affected=3, note=SCRIPT), "Beatriz <b>",
                link=[photo])
            ri.mark_duplicate(db, hostile, photo, "Beatriz <b>")
            made.ids["incident"] = incident
        return made


@pytest.fixture(scope="module")
def desk(sample: Sample, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    running = start_desk(sample.path, tmp_path_factory.mktemp("desk-workflow-log"))
    yield running
    running.stop()


def send(page: Any) -> None:
    """Enter on the focused control, and wait for the page it leads to."""
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_a_reviewer_verifies_and_links_with_the_keyboard_and_javascript_off(
        browser: Any, desk: Desk, sample: Sample) -> None:
    context, page, watch = open_page(browser)
    heard = sample.ids["heard"]
    page.goto(desk.url + "/")
    assert "INPUT passphrase" in focused(page)
    page.keyboard.type(REVIEW_PASSPHRASE)
    page.keyboard.press("Tab")
    assert "INPUT reviewer" in focused(page)
    page.keyboard.type("Amina <i>K</i>")
    page.screenshot(path=artifact("desk-workflow-unlock-name.png"), full_page=True)
    page.keyboard.press("Enter")
    page.wait_for_url(desk.url + "/")
    assert "Amina <i>K</i>" in page.inner_text("header")
    report = f"{desk.url}/reports/{heard}"
    page.goto(report)

    # Status: the select takes a letter, the button sends the form.
    tab_to(page, "SELECT status")
    page.keyboard.type("V")
    tab_to(page, "Change the status")
    send(page)
    assert page.url == f"{report}?done=saved#verification"
    assert "Saved." in page.inner_text("[role=status]")
    assert page.inner_text(".verification dd.status").startswith("Verified")
    # A tag, a note, the sensitive mark.
    tab_to(page, "INPUT tag")
    page.keyboard.type("Child labour")
    send(page)
    assert page.url == f"{report}?done=saved#verification"
    tab_to(page, "TEXTAREA note")
    page.keyboard.type("Called the monitor: confirmed.")
    tab_to(page, "Add the note")
    send(page)
    assert page.url == f"{report}?done=saved#verification"
    tab_to(page, "Mark as sensitive")
    send(page)
    assert page.url == f"{report}?done=saved#verification"
    # A new incident: choose "a new incident" in the list, type its title.
    tab_to(page, "SELECT incident")
    page.keyboard.press("End")
    tab_to(page, "INPUT title")
    page.keyboard.type("Children at the Tshikapa pits")
    send(page)
    assert page.url == f"{report}?done=saved#verification"
    verification = page.inner_text(".verification")
    for expected in ("Child labour", "Called the monitor: confirmed.", "Marked as sensitive",
                     "Children at the Tshikapa pits", "Amina <i>K</i>"):
        assert expected in verification, expected
    page.screenshot(path=artifact("desk-workflow-report.png"), full_page=True)

    # The incident: its page from the link, the count of people affected.
    tab_to(page, "A /incidents/")  # the report's incident
    send(page)
    assert "/incidents/" in page.url
    incident_url = page.url
    tab_to(page, "INPUT people_affected")
    page.keyboard.type("14")
    send(page)
    assert page.url == incident_url + "?done=saved"
    assert "14" in page.inner_text("dl.fields")
    assert "1 report describes it" in page.inner_text("main")
    page.screenshot(path=artifact("desk-workflow-incident.png"), full_page=True)
    page.goto(desk.url + "/incidents")
    assert "Children at the Tshikapa pits" in page.inner_text("table.incidents")
    page.screenshot(path=artifact("desk-workflow-incidents.png"), full_page=True)
    page.goto(desk.url + "/?status=verified")
    assert page.locator("table.reports tbody tr").count() == 2
    page.screenshot(path=artifact("desk-workflow-inbox-verified.png"), full_page=True)
    context.close()
    assert watch.same_origin(desk) and watch.dialogs == []


def test_what_reviewers_typed_is_only_text(browser: Any, desk: Desk, sample: Sample) -> None:
    context, page, watch = open_page(browser, javascript=True)
    unlock_in(page, desk)
    for path in (f"/reports/{sample.ids['photo']}", f"/incidents/{sample.ids['incident']}",
                 "/incidents", "/"):
        page.goto(desk.url + path)
        page.wait_for_load_state("networkidle")
        assert page.title() != "pwned"
        assert page.evaluate("document.scripts.length") == 0
        assert page.evaluate("document.querySelectorAll('svg, img[src=x]').length") == 0
    page.goto(f"{desk.url}/incidents/{sample.ids['incident']}")
    assert HOSTILE_TITLE in page.inner_text("h1")
    page.screenshot(path=artifact("desk-workflow-incident-hostile.png"), full_page=True)
    context.close()
    assert watch.dialogs == [] and watch.same_origin(desk)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_workflow_pages_have_no_serious_accessibility_violation(
        browser: Any, desk: Desk, sample: Sample, language: str) -> None:
    context, page, _watch = open_page(browser, javascript=True, bypass_csp=True,
                                      locale=language)
    found: dict[str, list[str]] = {}
    page.goto(desk.url + "/unlock")
    page.fill("#passphrase", REVIEW_PASSPHRASE)
    page.fill("#reviewer", "x\u202ey")  # a bidi override: refused
    page.click("form.unlock button[type=submit]")
    found["unlock-bad-name"] = axe(page)
    page.fill("#passphrase", REVIEW_PASSPHRASE)
    page.fill("#reviewer", "Ana")
    page.click("form.unlock button[type=submit]")
    page.wait_for_url(desk.url + "/")
    pages = {"report": f"/reports/{sample.ids['photo']}",
             "report-duplicate": f"/reports/{sample.ids['hostile']}",
             "report-problem": f"/reports/{sample.ids['photo']}?problem=too-long",
             "incident": f"/incidents/{sample.ids['incident']}",
             "incidents": "/incidents", "reviewer": "/reviewer", "history": "/history",
             "inbox-workflow": "/?status=verified&sensitive=1&tag=x"}
    for name, path in pages.items():
        page.goto(desk.url + path)
        page.wait_for_load_state("networkidle")
        found[name] = axe(page)
        if name in ("report", "incident", "incidents", "history"):
            page.screenshot(path=artifact(f"desk-workflow-{name}-{language}.png"),
                            full_page=True)
    assert urlsplit(page.url).path == "/"
    context.close()
    assert {name: v for name, v in found.items() if v} == {}
