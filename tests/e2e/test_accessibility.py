"""axe-core in real Chromium: no serious or critical accessibility violation,
on every monitor-facing page, in every shipped language.

Monitors may read poorly, use a screen reader or very large text. axe-core
comes from the npm registry (``make test`` installs it into node_modules/); it
is evaluated in a context that bypasses the CSP, since the pages themselves
allow no script at all.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from reporter.i18n import languages as i18n
from reporter.i18n.languages import shipped_languages
from reporter.station.app import create_app
from reporter.station.config import load_config
from reporter.web.server import make_server
from tests.browser import _unavailable
from tests.conftest import Server, Station, free_port

pytestmark = pytest.mark.slow
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")


def _axe_source() -> str:
    if not AXE.is_file():
        _unavailable("axe-core is not installed (make test installs it with npm)")
    return AXE.read_text(encoding="utf-8")


def _violations(browser, url: str, submit_empty: bool = False,  # type: ignore[no-untyped-def]
                submit_valid: bool = False) -> list[str]:
    context = browser.new_context(bypass_csp=True, viewport={"width": 360, "height": 640})
    page = context.new_page()
    page.goto(url)
    if submit_empty:
        page.click("main button[type=submit]")
        page.wait_for_selector(".alert")
    if submit_valid:  # the receipt page, with its language menu (a form)
        page.check("input[name=incident_types][value=shooting]")
        page.fill("#date_approximate", "2026-10")
        page.fill("#description", "axe")
        page.check("input[name=source][value=heard]")
        page.click("main button[type=submit]")
        page.wait_for_selector(".receipt")
    page.evaluate(_axe_source())
    found = page.evaluate(
        "async () => (await axe.run()).violations"
        ".map(v => [v.id, v.impact, v.nodes.map(n => n.target.join(' ')).slice(0, 3)])")
    context.close()
    return [f"{rule} ({impact}): {targets}" for rule, impact, targets in found
            if impact in SERIOUS]


@pytest.mark.parametrize("language", shipped_languages())
@pytest.mark.parametrize("path", ["/", "/follow-up", "/no-such-page", "/recipe"])
def test_pages_have_no_serious_accessibility_violation(browser, server: Server,  # type: ignore[no-untyped-def]
                                                       path: str, language: str) -> None:
    assert _violations(browser, f"{server.url}{path}?lang={language}") == []


@pytest.mark.parametrize("language", shipped_languages())
def test_the_form_with_errors_has_no_serious_accessibility_violation(  # type: ignore[no-untyped-def]
        browser, server: Server, language: str) -> None:
    assert _violations(browser, f"{server.url}/?lang={language}", submit_empty=True) == []


@pytest.mark.parametrize("language", shipped_languages())
def test_the_receipt_page_has_no_serious_accessibility_violation(  # type: ignore[no-untyped-def]
        browser, server: Server, language: str) -> None:
    assert _violations(browser, f"{server.url}/?lang={language}", submit_valid=True) == []


@pytest.fixture
def preview_server(station: Station, tmp_path: Path,
                   monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A station serving in-progress languages (a copy where Swahili is not shipped)."""
    copy = tmp_path / "translations"
    shutil.copytree(i18n.TRANSLATIONS_DIR, copy)
    (copy / "LINGUAS").write_text("en\nfr\n", encoding="utf-8")
    monkeypatch.setattr(i18n, "TRANSLATIONS_DIR", copy)
    config = load_config(station.path, station.key, testing=True, preview_languages=True)
    server = make_server(create_app(config), "127.0.0.1", free_port(), threads=2,
                         max_body_bytes=config.max_request_bytes)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"  # type: ignore[union-attr]
    server.close()
    thread.join(5)


@pytest.mark.parametrize("language", ["en", "sw"])
def test_the_preview_menu_has_no_serious_accessibility_violation(  # type: ignore[no-untyped-def]
        browser, preview_server: str, language: str) -> None:
    """The "(translation not finished)" marks a translator sees in the language menu."""
    context = browser.new_context(viewport={"width": 360, "height": 640})
    page = context.new_page()
    page.goto(f"{preview_server}/?lang={language}")
    assert page.locator("nav.languages small.in-progress").count() >= 4
    width = page.evaluate("document.documentElement.scrollWidth")
    context.close()
    assert width <= 360
    assert _violations(browser, f"{preview_server}/?lang={language}") == []
