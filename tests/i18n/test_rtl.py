"""Right-to-left: a test locale proves dir="rtl" and a mirrored layout.

No right-to-left language ships yet, so the test makes one: the French texts
compiled as an Arabic (``ar``) catalogue in a copy of the translations. Babel
knows Arabic is written right to left; the page must say so and mirror.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from reporter.i18n import languages as i18n
from reporter.station.app import create_app
from reporter.station.config import load_config
from reporter.web.server import make_server
from tests.browser import artifact
from tests.conftest import Station, free_port


@pytest.fixture
def rtl_app(station: Station, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    copy = tmp_path / "translations"
    shutil.copytree(i18n.TRANSLATIONS_DIR, copy)
    with open(copy / "fr" / "LC_MESSAGES" / "messages.po", "rb") as fh:
        catalog = read_po(fh, locale="ar")
    (copy / "ar" / "LC_MESSAGES").mkdir(parents=True)
    with open(copy / "ar" / "LC_MESSAGES" / "messages.mo", "wb") as fh:
        write_mo(fh, catalog)
    with open(copy / "LINGUAS", "a", encoding="utf-8") as fh:
        fh.write("ar\n")
    monkeypatch.setattr(i18n, "TRANSLATIONS_DIR", copy)
    config = load_config(station.path, station.key, testing=True)
    return create_app(config), config


def test_a_right_to_left_language_gets_dir_rtl(rtl_app) -> None:  # type: ignore[no-untyped-def]
    app, _config = rtl_app
    page = app.test_client().get("/?lang=ar").get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in page
    english = app.test_client().get("/?lang=en").get_data(as_text=True)
    assert '<html lang="en" dir="ltr">' in english


@pytest.fixture
def rtl_server(rtl_app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    app, config = rtl_app
    server = make_server(app, "127.0.0.1", free_port(), threads=2,
                         max_body_bytes=config.max_request_bytes)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"  # type: ignore[union-attr]
    server.close()
    thread.join(5)


@pytest.mark.slow
def test_the_layout_mirrors_on_a_phone(browser, rtl_server: str) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(java_script_enabled=False, viewport={"width": 360,
                                                                      "height": 640})
    page = context.new_page()
    page.goto(rtl_server + "/?lang=ar")
    page.screenshot(path=artifact("form-rtl-test-locale.png"), full_page=True)
    box = page.locator("input[name=incident_types]").first.bounding_box()
    label = page.locator("label.choice").first.bounding_box()
    context.close()
    assert box is not None and label is not None
    # The check box sits at the right edge of its line, as a mirrored layout wants.
    assert box["x"] > 360 / 2, box
    assert box["x"] + box["width"] >= label["x"] + label["width"] - 20
    measure = browser.new_context(viewport={"width": 360, "height": 640})
    page = measure.new_page()
    page.goto(rtl_server + "/?lang=ar")
    width = page.evaluate("document.documentElement.scrollWidth")
    measure.close()
    assert width <= 360
