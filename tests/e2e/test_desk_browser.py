"""The review desk in a real headless Chromium, against a real ``reporter review serve``.

A reviewer unlocks it, filters the inbox, opens a report with a picture, a sound
recording and a "photo" named ``.html`` with a script glued after it, and locks
it: with JavaScript off (the desk needs none), with the keyboard only, in
English, French and Portuguese, and with axe-core finding no serious or critical
accessibility violation on any page. Nothing from a report runs; nothing is
loaded from another origin. Screenshots of each page go to ``test-artifacts/``.

The page itself never runs a script (its CSP allows none); where a test must
read the page's state (focus, a picture's size, a player's duration) it asks
the browser through Playwright, from outside the page.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

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
from tests.e2e.test_accessibility import SERIOUS, _axe_source
from tests.reviewing import REVIEW_PASSPHRASE

pytestmark = pytest.mark.slow
DESKTOP = {"width": 1280, "height": 900}
LANGUAGES = ("en", "fr", "pt")


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    """One review database for the module (the tests only read it)."""
    tmp = tmp_path_factory.mktemp("desk")
    with fast_station(tmp) as station:
        return make_sample(station, tmp,
                           extra_reports=60)


@pytest.fixture(scope="module")
def desk(sample: Sample, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    running = start_desk(sample.path, tmp_path_factory.mktemp("desk-log"))
    yield running
    running.stop()


class Watch:
    """Every request the page makes, every dialog it opens, every console message."""

    def __init__(self, page: Any) -> None:
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.console: list[str] = []
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        page.on("console", lambda m: self.console.append(m.text))

    def same_origin(self, desk: Desk) -> bool:
        origin = urlsplit(desk.url).netloc
        return all(urlsplit(u).netloc == origin for u in self.requests
                   if not u.startswith(("data:", "about:")))


def open_page(browser: Any, *, javascript: bool = False, locale: str = "en-GB",
              bypass_csp: bool = False) -> tuple[Any, Any, Watch]:
    context = browser.new_context(java_script_enabled=javascript, viewport=DESKTOP,
                                  locale=locale, accept_downloads=True,
                                  bypass_csp=bypass_csp)
    page = context.new_page()
    return context, page, Watch(page)


def test_a_reviewer_reads_reports_with_javascript_off(browser: Any, desk: Desk,
                                                      sample: Sample) -> None:
    context, page, watch = open_page(browser)
    page.goto(desk.url + "/")
    assert urlsplit(page.url).path == "/unlock"
    page.screenshot(path=artifact("desk-unlock.png"), full_page=True)
    page.fill("#passphrase", "not the passphrase at all")
    page.click("form.unlock button[type=submit]")
    assert "Wrong passphrase" in page.inner_text("#unlock-error")
    page.screenshot(path=artifact("desk-unlock-wrong.png"), full_page=True)
    page.fill("#passphrase", REVIEW_PASSPHRASE)
    page.click("form.unlock button[type=submit]")
    page.wait_for_url(desk.url + "/")
    assert "64 reports in the database" in page.inner_text("#results-heading")
    page.screenshot(path=artifact("desk-inbox.png"), full_page=True)

    # Filters are a GET form: the filtered inbox is a link to keep.
    page.fill("#site", "tshik")
    page.select_option("#source", "heard")
    page.click("form.filters button[type=submit]")
    assert "site=tshik" in page.url and "source=heard" in page.url
    assert page.locator("table.reports tbody tr").count() == 1
    assert "1 report matches these filters" in page.inner_text("#results-heading")
    page.screenshot(path=artifact("desk-inbox-filtered.png"), full_page=True)
    page.goto(desk.url + "/?from=2026-02-30&type=fire")
    assert page.locator("#from-error").count() == 1
    page.screenshot(path=artifact("desk-inbox-bad-filter.png"), full_page=True)

    # Pages: older, then newer again.
    page.goto(desk.url + "/")
    page.click("a[rel=next]")
    assert page.locator("table.reports tbody tr").count() == 14
    page.click("a[rel=prev]")
    assert page.locator("table.reports tbody tr").count() == 50

    page.click(f"a[href='/reports/{sample.ids['photo']}']")
    page.wait_for_url(f"{desk.url}/reports/{sample.ids['photo']}")
    assert "Chain of custody" in page.inner_text("main")
    assert page.locator("audio[controls]").count() == 1
    assert page.locator("figure img").count() == 2
    page.screenshot(path=artifact("desk-report.png"), full_page=True)

    page.click("form.lock button")
    assert urlsplit(page.url).path == "/unlock"
    assert "The desk is locked." in page.inner_text("main")
    page.goto(f"{desk.url}/reports/{sample.ids['photo']}")
    assert urlsplit(page.url).path == "/unlock"
    page.screenshot(path=artifact("desk-locked.png"), full_page=True)
    context.close()
    assert watch.same_origin(desk), watch.requests
    assert watch.dialogs == []


def test_pictures_show_and_sound_plays(browser: Any, desk: Desk, sample: Sample) -> None:
    context, page, watch = open_page(browser, javascript=True)
    unlock_in(page, desk)
    page.goto(f"{desk.url}/reports/{sample.ids['photo']}")
    page.wait_for_load_state("networkidle")
    sizes = page.evaluate("[...document.querySelectorAll('figure img')]"
                          ".map(i => [i.complete, i.naturalWidth, i.naturalHeight])")
    assert sizes == [[True, 320, 240], [True, 64, 48]]
    duration = page.evaluate("""() => new Promise((done, fail) => {
        const audio = document.querySelector('audio');
        audio.addEventListener('loadedmetadata', () => done(audio.duration), {once: true});
        audio.addEventListener('error', () => fail(String(audio.error && audio.error.code)),
                               {once: true});
        audio.preload = 'auto';
        audio.load();
    })""")
    assert 5.9 < duration < 6.1
    assert page.evaluate("document.scripts.length") == 0
    context.close()
    assert watch.same_origin(desk) and watch.dialogs == []


def test_a_photo_named_html_never_runs(browser: Any, desk: Desk, sample: Sample) -> None:
    context, page, watch = open_page(browser, javascript=True)
    unlock_in(page, desk)
    report = f"{desk.url}/reports/{sample.ids['photo']}"
    page.goto(report)
    page.wait_for_load_state("networkidle")
    assert page.title().startswith("Report ")
    # The original opened directly is a download, never a page.
    with page.expect_download() as download:
        try:
            page.goto(f"{report}/attachments/3")
        except Exception as exc:  # Chromium: "net::ERR_ABORTED" / "Download is starting"
            assert "Download" in str(exc) or "ERR_ABORTED" in str(exc)
    assert download.value.suggested_filename == "3-evidence-html.jpg"
    saved = download.value.path()
    assert saved is not None and Path(saved).read_bytes().startswith(b"\xff\xd8\xff")
    # Its preview opened on its own is a sandboxed picture.
    page.goto(f"{report}/attachments/3/preview")
    assert page.evaluate("document.contentType") == "image/jpeg"
    page.goto(report)
    assert page.title().startswith("Report ") and page.title() != "pwned"
    context.close()
    assert not any("pwned" in u for u in watch.requests), watch.requests
    assert watch.dialogs == []


def test_hostile_text_is_only_text(browser: Any, desk: Desk, sample: Sample) -> None:
    context, page, watch = open_page(browser, javascript=True)
    unlock_in(page, desk)
    for path in ("/", f"/reports/{sample.ids['hostile']}", f"/reports/{sample.ids['photo']}"):
        page.goto(desk.url + path)
        page.wait_for_load_state("networkidle")
        assert page.title() != "pwned"
        assert page.evaluate("document.scripts.length") == 0
        assert page.evaluate("document.querySelectorAll('svg, iframe, object, embed').length") == 0
    assert SCRIPT in page.inner_text("main")  # shown as the text it is
    page.goto(f"{desk.url}/reports/{sample.ids['hostile']}")
    text = page.inner_text("main")
    assert "\u202e" not in text and "\x1b" not in text and "\ufffd" in text
    page.screenshot(path=artifact("desk-report-hostile.png"), full_page=True)
    context.close()
    assert watch.dialogs == [] and watch.same_origin(desk)


def test_the_keyboard_alone_reads_and_locks(browser: Any, desk: Desk, sample: Sample) -> None:
    context, page, _watch = open_page(browser, javascript=True)
    page.goto(desk.url + "/")
    assert "INPUT passphrase" in focused(page)  # autofocus on the only field
    page.keyboard.type(REVIEW_PASSPHRASE)
    page.keyboard.press("Enter")
    page.wait_for_url(desk.url + "/")
    page.keyboard.press("Tab")
    assert "Skip to the content" in focused(page)
    page.keyboard.press("Enter")
    tab_to(page, "INPUT q")
    page.keyboard.type("soldiers")
    page.keyboard.press("Enter")
    page.wait_for_url("**/?q=soldiers**")
    tab_to(page, f"A /reports/{sample.ids['photo']}")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{desk.url}/reports/{sample.ids['photo']}")
    tab_to(page, f"/reports/{sample.ids['photo']}/attachments/1/stripped")
    tab_to(page, "AUDIO")
    tab_to(page, "Lock the desk")
    page.keyboard.press("Enter")
    page.wait_for_url(desk.url + "/unlock")
    context.close()


def axe(page: Any) -> list[str]:
    page.evaluate(_axe_source())
    found = page.evaluate(
        "async () => (await axe.run()).violations"
        ".map(v => [v.id, v.impact, v.nodes.map(n => n.target.join(' ')).slice(0, 3)])")
    return [f"{rule} ({impact}): {targets}" for rule, impact, targets in found
            if impact in SERIOUS]


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_page_has_a_serious_accessibility_violation(browser: Any, desk: Desk,
                                                       sample: Sample, language: str) -> None:
    context, page, _watch = open_page(browser, javascript=True, bypass_csp=True,
                                      locale=language)
    found: dict[str, list[str]] = {}
    page.goto(desk.url + "/unlock")
    found["unlock"] = axe(page)
    page.fill("#passphrase", "wrong passphrase here")
    page.click("form.unlock button[type=submit]")
    found["unlock-wrong"] = axe(page)
    page.fill("#passphrase", REVIEW_PASSPHRASE)
    page.click("form.unlock button[type=submit]")
    page.wait_for_url(desk.url + "/")
    assert page.get_attribute("html", "lang") == language
    pages = {"inbox": "/", "inbox-filtered": "/?source=heard&files=1",
             "inbox-bad-filter": "/?from=2026-02-30",
             "report": f"/reports/{sample.ids['photo']}",
             "report-hostile": f"/reports/{sample.ids['hostile']}",
             "report-follow-up": f"/reports/{sample.ids['follow-up']}",
             "not-found": "/reports/99999"}
    for name, path in pages.items():
        page.goto(desk.url + path)
        page.wait_for_load_state("networkidle")
        found[name] = axe(page)
        if language != "en" and name in ("inbox", "report"):
            page.screenshot(path=artifact(f"desk-{name}-{language}.png"), full_page=True)
    page.click("form.lock button")
    found["locked"] = axe(page)
    context.close()
    assert {name: v for name, v in found.items() if v} == {}


def test_the_desk_locks_itself_in_the_browser(browser: Any, sample: Sample,
                                              tmp_path: Path) -> None:
    desk = start_desk(sample.path, tmp_path, "--idle-lock", "0.02")  # 1.2 s
    try:
        context, page, _watch = open_page(browser)
        unlock_in(page, desk)
        time.sleep(3.5)
        # The page left open has left the screen: only the notice shows.
        assert page.is_visible(".idle-notice") and not page.is_visible("main")
        page.goto(f"{desk.url}/reports/{sample.ids['photo']}")
        assert urlsplit(page.url).path == "/unlock"
        assert "locked itself" in page.inner_text("main")
        page.screenshot(path=artifact("desk-idle-locked.png"), full_page=True)
        # Unlocking again goes back to the report asked for.
        page.fill("#passphrase", REVIEW_PASSPHRASE)
        page.click("form.unlock button[type=submit]")
        page.wait_for_url(f"{desk.url}/reports/{sample.ids['photo']}")
        context.close()
    finally:
        desk.stop()
