"""The reviewer's journey from import to evidence package in a real headless Chromium,
against a real ``reporter review serve --key``: JavaScript off, the keyboard only
(but for the operating system's file chooser), axe-core with no serious or critical
violation on the new pages in English, French and Portuguese. Screenshots of each
page go to ``test-artifacts/``."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.browser import artifact
from tests.conftest import Station
from tests.desk import Desk, add_report, export, jpeg_with_metadata, start_desk, tab_to, unlock_in
from tests.e2e.test_desk_browser import axe, open_page
from tests.reviewing import KEY_PASSPHRASE, REVIEW_PASSPHRASE, new_review_db

pytestmark = pytest.mark.slow


@pytest.fixture
def bundle(station: Station, tmp_path: Path) -> Path:
    add_report(station, {
        "incident_types": ["shooting"], "site": "Marange", "source": "witnessed",
        "contact": "none", "description": "Guards fired at diggers. <script>x</script>",
    }, files=[("photo.jpg", jpeg_with_metadata())])
    add_report(station, {
        "incident_types": ["child-labour"], "site": "Tshikapa", "source": "heard",
        "contact": "contact", "contact_details": "+243 81 000 0000",
        "description": "Children carry gravel at night.",
    })
    return export(station, tmp_path / "bundle-1.rptr")


@pytest.fixture
def desk(tmp_path: Path, key_file: Path) -> Iterator[Desk]:
    review_db = new_review_db(tmp_path / "review.db")
    running = start_desk(review_db, tmp_path, "--key", str(key_file))
    yield running
    running.stop()


def test_from_import_to_evidence_package_with_the_keyboard_and_no_javascript(
        browser: Any, desk: Desk, bundle: Path) -> None:
    context, page, watch = open_page(browser)
    page.goto(desk.url + "/")
    page.wait_for_selector("#passphrase:focus")  # the page's autofocus
    page.keyboard.type(REVIEW_PASSPHRASE)
    page.keyboard.press("Enter")
    page.wait_for_url(desk.url + "/")
    tab_to(page, "/import")
    page.keyboard.press("Enter")
    page.wait_for_url(desk.url + "/import")
    page.screenshot(path=artifact("desk-import.png"), full_page=True)
    tab_to(page, "key_passphrase")
    page.keyboard.type(KEY_PASSPHRASE)
    tab_to(page, "bundle")
    page.set_input_files("#bundle", str(bundle))  # the system's file chooser
    tab_to(page, "Import")
    page.keyboard.press("Enter")
    page.wait_for_url("**/import/*")
    # The page refreshes itself (no script) until the import has finished.
    page.wait_for_selector("text=Import finished", timeout=60_000)
    text = page.inner_text("main")
    assert "New station" in text and "2 reports added" in text
    assert "missing bundles: none" in text
    page.screenshot(path=artifact("desk-import-finished.png"), full_page=True)
    tab_to(page, "Back to the inbox")
    page.keyboard.press("Enter")
    page.wait_for_url(desk.url + "/")
    page.screenshot(path=artifact("desk-inbox-exports.png"), full_page=True)

    # Export the inbox as CSV: a sensitive report is named first, then sent.
    tab_to(page, "CSV file")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Confirm the export")
    text = page.inner_text("main")
    assert "carries the monitor's contact details" in text and "Child labour" in text
    assert "+243" not in text
    page.screenshot(path=artifact("desk-export-confirm.png"), full_page=True)
    tab_to(page, "Export with these reports")
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    csv = Path(download.value.path()).read_bytes()
    assert download.value.suggested_filename.endswith(".csv")
    assert csv.startswith(b"id,station,seq,") and csv.count(b"\r\n") == 3

    # Tick the first report and make its evidence package.
    page.goto(desk.url + "/?site=Marange")
    tab_to(page, "pick-")
    page.keyboard.press("Space")
    tab_to(page, "Evidence package of the ticked reports")
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    data = Path(download.value.path()).read_bytes()
    assert download.value.suggested_filename.startswith("evidence-")
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert z.testzip() is None
        names = z.namelist()
        root = names[0].split("/")[0]
        manifest = json.loads(z.read(f"{root}/manifest.json"))
        summary = z.read(f"{root}/summary.html").decode()
    assert [r["kind"] for r in manifest["reports"]] == ["incident"]
    assert any("/stripped/" in n for n in names) and any("/originals/" in n for n in names)
    # The summary, opened in the browser as the lawyer would: nothing runs, nothing loads.
    summary_page = context.new_page()
    summary_page.set_content(summary)
    assert summary_page.locator("script, img, iframe, link").count() == 0
    summary_page.screenshot(path=artifact("evidence-summary.png"), full_page=True)
    summary_page.close()
    context.close()
    assert watch.dialogs == [] and watch.same_origin(desk)


def axe_between_refreshes(page: Any) -> list[str]:
    """axe on a page that reloads itself: tried again when a reload interrupts it."""
    for _ in range(20):
        try:
            page.wait_for_load_state("load")
            return axe(page)
        except PlaywrightError as exc:
            if "Execution context was destroyed" not in str(exc):
                raise
    raise AssertionError("the progress page never stayed long enough for axe")


@pytest.mark.parametrize("language", ("en", "fr", "pt"))
def test_the_new_pages_have_no_serious_accessibility_violation(
        browser: Any, desk: Desk, bundle: Path, language: str) -> None:
    context, page, _watch = open_page(browser, javascript=True, bypass_csp=True,
                                      locale=language)
    unlock_in(page, desk)
    found: dict[str, list[str]] = {}
    page.goto(desk.url + "/import")
    found["import"] = axe(page)
    page.fill("#key_passphrase", KEY_PASSPHRASE)
    page.set_input_files("#bundle", str(bundle))
    page.click("form.import button[type=submit]")
    page.wait_for_url("**/import/*")
    found["import-progress"] = axe_between_refreshes(page)
    for _ in range(120):
        try:
            page.wait_for_load_state("load")
            if page.locator("meta[http-equiv=refresh]").count() == 0:
                break
        except PlaywrightError as exc:  # a reload under way
            if "Execution context was destroyed" not in str(exc):
                raise
        page.wait_for_timeout(500)
    found["import-finished"] = axe(page)
    page.screenshot(path=artifact(f"desk-import-finished-{language}.png"), full_page=True)
    page.goto(desk.url + "/")
    found["inbox-with-exports"] = axe(page)
    page.locator("button[value=csv]").click()
    page.wait_for_selector("input[name=confirm]", state="attached")
    found["export-confirm"] = axe(page)
    page.screenshot(path=artifact(f"desk-export-confirm-{language}.png"), full_page=True)
    context.close()
    assert {name: v for name, v in found.items() if v} == {}
