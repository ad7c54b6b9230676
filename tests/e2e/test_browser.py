"""The form in a real headless Chromium, JavaScript off, on a small phone screen."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from reporter.formats import envelope
from reporter.formats.report import Report
from reporter.i18n.languages import shipped_languages
from tests.browser import artifact
from tests.conftest import Server, Station

pytestmark = pytest.mark.slow
PHONE = {"width": 360, "height": 640}


def _page(browser, server: Server, requests_seen: list[str]):  # type: ignore[no-untyped-def]
    context = browser.new_context(java_script_enabled=False, viewport=PHONE,
                                  locale="en-GB")
    page = context.new_page()
    page.on("request", lambda request: requests_seen.append(request.url))
    return context, page


def _no_sideways_scroll(browser, html_url: str) -> int:  # type: ignore[no-untyped-def]
    # Measuring needs script, so a second, script-enabled context reads the
    # same page; the page itself carries no script either way.
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto(html_url)
    width = int(page.evaluate("document.documentElement.scrollWidth"))
    context.close()
    return width


def test_a_monitor_reports_with_javascript_off(browser, server: Server,  # type: ignore[no-untyped-def]
                                               station: Station) -> None:
    seen: list[str] = []
    context, page = _page(browser, server, seen)
    page.goto(server.url + "/")
    page.screenshot(path=artifact("form-en.png"), full_page=True)
    page.check("input[name=incident_types][value=shooting]")
    page.check("input[name=incident_types][value=child-labour]")
    page.fill("#incident_day", "2")
    page.select_option("#incident_month", "11")
    page.fill("#incident_year", "2026")
    page.select_option("#site", "Marange")
    page.fill("#location", "Near the river")
    page.fill("#people_affected", "3")
    page.fill("#description", "Guards beat three diggers. Browser test.")
    page.check("input[name=source][value=witnessed]")
    page.click("main button[type=submit]")
    page.wait_for_selector(".receipt")
    page.screenshot(path=artifact("receipt-en.png"), full_page=True)
    receipt = page.inner_text(".receipt").strip()
    context.close()

    origin = urlsplit(server.url).netloc
    assert seen and all(urlsplit(url).netloc == origin for url in seen), seen
    with station.store() as store:
        [stored] = list(store.reports())
    report = Report.from_body(envelope.open_envelope(stored.envelope, station.reviewer))
    assert report.receipt == receipt
    assert report.fields["incident_types"] == ["shooting", "child-labour"]
    assert report.fields["incident_date"] == "2026-11-02"
    assert report.fields["description"] == "Guards beat three diggers. Browser test."


def test_errors_show_beside_fields_with_javascript_off(browser, server: Server) -> None:  # type: ignore[no-untyped-def]
    seen: list[str] = []
    context, page = _page(browser, server, seen)
    page.goto(server.url + "/?lang=fr")
    page.fill("#description", "Texte gardé après l'erreur")
    page.click("main button[type=submit]")
    page.wait_for_selector(".alert")
    page.screenshot(path=artifact("form-errors-fr.png"), full_page=True)
    assert page.input_value("#description") == "Texte gardé après l'erreur"
    assert page.locator("#incident_types-error").count() == 1
    assert page.get_attribute("html", "lang") == "fr"
    context.close()


@pytest.mark.parametrize("language", shipped_languages())
@pytest.mark.parametrize("path", ["/", "/follow-up", "/nope"])
def test_pages_fit_a_360_pixel_screen_in_every_language(browser, server: Server,  # type: ignore[no-untyped-def]
                                                        path: str, language: str) -> None:
    assert _no_sideways_scroll(browser, f"{server.url}{path}?lang={language}") <= PHONE["width"]


@pytest.mark.parametrize("language", shipped_languages())
def test_a_monitor_reports_in_every_language(browser, server: Server, station: Station,  # type: ignore[no-untyped-def]
                                            language: str) -> None:
    seen: list[str] = []
    context, page = _page(browser, server, seen)
    page.goto(f"{server.url}/?lang={language}")
    assert page.get_attribute("html", "lang") == language
    page.screenshot(path=artifact(f"form-{language}.png"), full_page=True)
    page.check("input[name=incident_types][value=eviction-destruction]")
    page.fill("#date_approximate", "2026-10")
    page.fill("#description", f"Test report in {language}.")
    page.check("input[name=source][value=heard]")
    page.click("main button[type=submit]")
    page.wait_for_selector(".receipt")
    assert page.get_attribute("html", "lang") == language
    box = page.locator(".receipt").bounding_box()
    assert box is not None and box["height"] < 70, "the receipt code wraps onto two lines"
    page.screenshot(path=artifact(f"receipt-{language}.png"), full_page=True)
    page.goto(f"{server.url}/follow-up?lang={language}")
    page.screenshot(path=artifact(f"follow-up-{language}.png"), full_page=True)
    context.close()
    origin = urlsplit(server.url).netloc
    assert all(urlsplit(url).netloc == origin for url in seen), seen
    with station.store() as store:
        [stored] = list(store.reports())
    assert stored.envelope is not None
    report = Report.from_body(envelope.open_envelope(stored.envelope, station.reviewer))
    assert report.locale == language


def test_a_monitor_attaches_files_with_javascript_off(browser, server: Server,  # type: ignore[no-untyped-def]
                                                      station: Station, tmp_path) -> None:
    from reporter.formats.chain import envelope_hash
    from reporter.storage.blobs import BlobStore

    photo = tmp_path / "IMG_0042.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4000)
    note = tmp_path / "voice-note.ogg"
    note.write_bytes(b"OggS\x00\x02" + bytes(200_000))
    refused = tmp_path / "script.sh"
    refused.write_bytes(b"#!/bin/sh\necho hi\n")
    seen: list[str] = []
    context, page = _page(browser, server, seen)
    page.goto(server.url + "/?lang=sw")
    page.check("input[name=incident_types][value=shooting]")
    page.fill("#date_approximate", "jana")
    page.fill("#description", "Picha ya majeraha.")
    page.check("input[name=source][value=witnessed]")
    page.set_input_files("#attachments", [str(photo), str(refused)])
    page.click("main button[type=submit]")
    page.wait_for_selector("#attachments-error")
    page.screenshot(path=artifact("attachments-refused-sw.png"), full_page=True)
    assert "script.sh" in page.inner_text("#attachments-error")
    assert page.input_value("#description") == "Picha ya majeraha."
    page.set_input_files("#attachments", [str(photo), str(note)])
    page.click("main button[type=submit]")
    page.wait_for_selector(".receipt")
    context.close()
    origin = urlsplit(server.url).netloc
    assert all(urlsplit(url).netloc == origin for url in seen), seen
    with station.store() as store, BlobStore.open(station.path, station.key) as blobs:
        [stored] = list(store.reports())
        assert stored.envelope is not None
        report = Report.from_body(envelope.open_envelope(stored.envelope, station.reviewer))
        assert len(blobs.uploads_for(envelope_hash(stored.envelope))) == 2
    assert [(a.name, a.type, a.size) for a in report.attachments] == [
        ("IMG_0042.jpg", "image/jpeg", photo.stat().st_size),
        ("voice-note.ogg", "audio/ogg", note.stat().st_size)]
