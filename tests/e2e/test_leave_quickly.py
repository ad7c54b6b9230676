""""Leave quickly" on every monitor page, in real Chromium with JavaScript off on a 360 px
screen, in every shipped language, against a real ``reporter serve``.

A monitor who must hide the page at once (someone is coming, the phone is
taken) taps one link at the top of the page: it is the first thing on the
page and in the tab order, a 44 px tap target, and leads to a harmless page
the station serves itself (a recipe: there may be no internet), which says
nothing about reporting. Back then returns to the station, but with nothing
in it: the form comes back empty and a receipt is not shown again (every
page is ``no-store``, the forms ``autocomplete="off"``). web/neutral.py.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import pytest

from reporter.i18n.languages import shipped_languages
from tests.browser import artifact
from tests.conftest import Server
from tests.e2e.test_browser_monitor import PHONE, fill_the_form, say, send

pytestmark = pytest.mark.slow
LANGUAGES = shipped_languages()
# Words the page behind the link must never show, in any language: what the station is.
GIVEAWAYS = ("reporter", "incident", "report", "rapport", "relatório", "ripoti", "station",
             "kituo", "sisitimu", "coalition", "monitor", "receipt", "formulaire", "fomu")


@contextlib.contextmanager
def phone(browser: Any) -> Iterator[tuple[Any, dict[str, dict[str, str]]]]:
    context = browser.new_context(java_script_enabled=False, viewport=PHONE, locale="en-US")
    page = context.new_page()
    headers: dict[str, dict[str, str]] = {}
    page.on("response", lambda r: headers.__setitem__(r.url, r.all_headers()))
    try:
        yield page, headers
        assert context.cookies() == []
    finally:
        context.close()


def check_the_link(page: Any, language: str, where: str) -> None:
    """At the top, first in the tab order, big enough for a thumb, in the page's language."""
    link = page.locator("header .leave a")
    assert link.count() == 1, where
    assert link.is_visible(), where
    assert link.inner_text().strip() == say(language, "Leave quickly"), where
    box = link.bounding_box()
    assert box is not None and box["width"] >= 44 and box["height"] >= 44, (where, box)
    assert box["y"] + box["height"] <= 120, (where, box)  # seen without scrolling
    page.keyboard.press("Tab")
    assert page.locator("header .leave a:focus").count() == 1, where


def leave(page: Any, language: str, headers: dict[str, dict[str, str]]) -> float:
    started = time.monotonic()
    page.click("header .leave a")
    page.wait_for_selector("h1")
    took = time.monotonic() - started
    assert page.inner_text("h1") == say(language, "Maize porridge")
    assert page.title() == say(language, "Maize porridge")
    assert page.get_attribute("html", "lang") == language
    shown = page.content().lower()
    assert not [w for w in GIVEAWAYS if w in shown], [w for w in GIVEAWAYS if w in shown]
    answer = headers[page.url]
    assert answer["clear-site-data"] == '"cache", "cookies", "storage"'
    assert "no-store" in answer["cache-control"]
    return took


def back(page: Any) -> str:
    """The browser's Back button; what it then shows.

    Back to a page that answered a POST shows Chromium's "Confirm form
    resubmission" error (``ERR_CACHE_MISS``: nothing was kept to show).
    """
    with contextlib.suppress(Exception):
        page.go_back(wait_until="load", timeout=10_000)
    for _ in range(50):  # an error page may still be replacing the document
        with contextlib.suppress(Exception):
            page.wait_for_load_state("load")
            return str(page.content())
        time.sleep(0.1)
    raise AssertionError("the page never settled after Back")


@pytest.mark.parametrize("language", LANGUAGES)
def test_leave_quickly_is_on_every_page_and_back_brings_nothing_back(
        browser: Any, server: Server, language: str) -> None:
    with phone(browser) as (page, headers):
        # The form, with something typed: leave, then Back.
        page.goto(f"{server.url}/?lang={language}")
        check_the_link(page, language, "form")
        fill_the_form(page, language, "Soldiers at the river, typed before leaving.")
        took = leave(page, language, headers)
        assert took < 5
        page.screenshot(path=artifact(f"leave-quickly-{language}.png"), full_page=True)
        back(page)
        page.wait_for_selector("#description")
        assert page.input_value("#description") == ""  # fetched again, empty
        assert not page.is_checked("input[name=incident_types][value=child-labour]")
        # The follow-up form and an error page.
        for path in ("/follow-up", "/no-such-page"):
            page.goto(f"{server.url}{path}?lang={language}")
            check_the_link(page, language, path)
            leave(page, language, headers)
        # The receipt: leave, then Back does not show the code again.
        page.goto(f"{server.url}/?lang={language}")
        fill_the_form(page, language, "A report whose receipt must not come back.")
        send(page)
        page.wait_for_selector(".receipt")
        code = page.inner_text(".receipt").strip()
        check_the_link(page, language, "receipt")
        leave(page, language, headers)
        shown = back(page)
        assert code not in shown and "ERR_CACHE_MISS" in shown
