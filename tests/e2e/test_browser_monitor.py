"""A monitor never loses a receipt, what they typed, or gets two reports for one
(issue 11, sections 1 and 2), in real Chromium with JavaScript off on a 360 px
screen, in every shipped language, against a real ``reporter serve``.

A double tap on a slow link is made real with a relay between the browser and
the station that holds the station's answers back (``SlowLink``): the first
send is stored while its answer is still on its way, and the monitor taps
again. The same relay stands in front of a restarted station for the expired
form. Every answer any test sees is checked for ``Set-Cookie``.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from babel.dates import get_month_names

from reporter.formats import envelope
from reporter.formats.report import Report
from reporter.i18n.languages import shipped_languages
from reporter.storage.blobs import BlobStore
from tests.browser import artifact
from tests.conftest import Server, Station, start_server
from tests.i18n.test_i18n import _translations

pytestmark = pytest.mark.slow
PHONE = {"width": 360, "height": 640}
LANGUAGES = shipped_languages()
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 1200


def say(language: str, msgid: str) -> str:
    """What the page says in ``language`` for the English ``msgid``."""
    return (_translations(language).get(msgid) if language != "en" else None) or msgid


def other(language: str) -> str:
    """Another shipped language to switch to."""
    return LANGUAGES[(LANGUAGES.index(language) + 1) % len(LANGUAGES)]


def port_of(server: Server) -> int:
    return int(server.url.rsplit(":", 1)[1])


# --- the phone -----------------------------------------------------------------------


@dataclass
class Seen:
    urls: list[str] = field(default_factory=list)
    set_cookie: list[str] = field(default_factory=list)
    sent: list[tuple[str, str, str, int]] = field(default_factory=list)

    def request(self, request: Any) -> None:
        body = request.post_data_buffer or b""
        kind = (request.headers.get("content-type") or "").split(";")[0]
        self.sent.append((request.method, request.url, kind, len(body)))

    def response(self, response: Any) -> None:
        self.urls.append(response.url)
        headers = response.all_headers()
        if "set-cookie" in headers:
            self.set_cookie.append(f"{response.url}: {headers['set-cookie']}")


@contextlib.contextmanager
def phone(browser: Any) -> Iterator[tuple[Any, Seen]]:
    """A page on a small phone with JavaScript off; afterwards, no cookie was ever set."""
    context = browser.new_context(java_script_enabled=False, viewport=PHONE, locale="en-US")
    page = context.new_page()
    seen = Seen()
    page.on("response", seen.response)
    page.on("request", seen.request)
    try:
        yield page, seen
        assert seen.set_cookie == [], seen.set_cookie
        assert context.cookies() == []
    finally:
        context.close()


def reports(station: Station) -> list[Report]:
    with station.store() as store:
        return [Report.from_body(envelope.open_envelope(r.envelope, station.reviewer))
                for r in store.reports()]


def fill_the_form(page: Any, language: str, text: str) -> None:
    """Every kind of answer: check boxes, the date (month by its name), a list, text, radios."""
    page.check("input[name=incident_types][value=eviction-destruction]")
    page.check("input[name=incident_types][value=child-labour]")
    page.fill("#incident_day", "14")
    page.select_option("#incident_month",
                       label=get_month_names("wide", context="stand-alone", locale=language)[3])
    page.fill("#incident_year", "2026")
    page.select_option("#site", "Marange")
    page.fill("#location", "Behind the school,\nnear pit 7")
    page.fill("#people_affected", "12")
    page.check("input[name=perpetrators][value=police]")
    page.fill("#description", text)
    page.check("input[name=source][value=heard]")
    page.check("input[name=contact][value=contact]")
    page.fill("#contact_details", "Ask for Tendai")


def assert_the_form_kept(page: Any, text: str) -> None:
    for box in ("incident_types][value=eviction-destruction", "incident_types][value=child-labour",
                "perpetrators][value=police", "source][value=heard", "contact][value=contact"):
        assert page.is_checked(f"input[name={box}]"), box
    assert page.input_value("#incident_day") == "14"
    assert page.input_value("#incident_month") == "3"
    assert page.input_value("#incident_year") == "2026"
    assert page.input_value("#site") == "Marange"
    assert page.input_value("#location") == "Behind the school,\nnear pit 7"
    assert page.input_value("#people_affected") == "12"
    assert page.input_value("#description") == text
    assert page.input_value("#contact_details") == "Ask for Tendai"


def send(page: Any) -> None:
    page.click("main button[type=submit]")


def send_button(page: Any) -> tuple[float, float]:
    """Where a thumb taps Send, once the button is on the screen."""
    button = page.locator("main button[type=submit]")
    button.scroll_into_view_if_needed()
    box = button.bounding_box()
    assert box is not None
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def tap(page: Any, where: tuple[float, float]) -> None:
    """A raw tap: unlike ``click``, it does not wait for a navigation already under way
    (the first tap's) to finish, nor for the button to be found again."""
    page.mouse.click(*where)


# --- a slow link, and a station that restarts behind it --------------------------------


class SlowLink:
    """A TCP relay in front of the station: each answer is held back ``delay`` seconds
    (a slow link), the POSTs going through are counted, and the station behind it
    can be swapped for another (a restart at the same address)."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.delay = 0.0
        self.posts = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            upstream = socket.create_connection(("127.0.0.1", self.target), timeout=120)
            threading.Thread(target=self._pipe, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, True), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, answers: bool) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if answers and data.startswith(b"HTTP/1.") and self.delay:
                    time.sleep(self.delay)
                if not answers:
                    with self._lock:
                        self.posts += data.count(b"POST / HTTP/1.1\r\n")
                sink.sendall(data)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


@pytest.fixture
def link(server: Server) -> Iterator[SlowLink]:
    relay = SlowLink(port_of(server))
    yield relay
    relay.close()


def wait_until(condition: Any, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


# --- one form, one report --------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_double_tap_on_a_slow_link_shows_one_receipt_and_stores_one_report(
        browser: Any, link: SlowLink, station: Station, language: str) -> None:
    with phone(browser) as (page, seen):
        page.goto(f"{link.url}/?lang={language}")
        fill_the_form(page, language, f"Double tap in {language}.")
        link.delay = 1.5  # the answer takes its time to come back
        where = send_button(page)
        tap(page, where)
        wait_until(lambda: len(reports(station)) == 1)  # stored; its receipt still on the way
        tap(page, where)  # the monitor taps again
        page.wait_for_selector(".receipt", timeout=30_000)
        page.screenshot(path=artifact(f"double-tap-{language}.png"), full_page=True)
        shown = page.inner_text(".receipt").strip()
    assert link.posts == 2  # both taps reached the station
    [report] = reports(station)
    assert report.receipt == shown and report.locale == language
    assert all(urlsplit(u).netloc == urlsplit(link.url).netloc for u in seen.urls), seen.urls


@pytest.mark.parametrize("language", LANGUAGES)
def test_reloading_the_receipt_page_sends_again_and_shows_the_same_receipt(
        browser: Any, server: Server, station: Station, language: str, tmp_path: Path) -> None:
    photo = tmp_path / "IMG_0042.jpg"
    photo.write_bytes(JPEG)
    with phone(browser) as (page, seen):
        page.goto(f"{server.url}/?lang={language}")
        fill_the_form(page, language, "Sent, then the page reloaded.")
        page.set_input_files("#attachments", [str(photo)])
        send(page)
        page.wait_for_selector(".receipt")
        first = page.inner_text(".receipt").strip()
        page.reload()  # Chromium sends the form again, photo and all
        page.wait_for_selector(".receipt")
        assert page.inner_text(".receipt").strip() == first
    posts = [u for u in seen.urls if urlsplit(u).path == "/"]
    assert len(posts) == 3  # the form, the send, the resend
    [report] = reports(station)
    assert report.receipt == first and [a.name for a in report.attachments] == ["IMG_0042.jpg"]
    with BlobStore.open(station.path, station.key) as blobs:
        assert blobs.upload_count() == 1


def test_a_double_tap_with_a_photo_stores_the_photo_once(
        browser: Any, link: SlowLink, station: Station, tmp_path: Path) -> None:
    photo = tmp_path / "IMG_0043.jpg"
    photo.write_bytes(JPEG * 4)
    with phone(browser) as (page, _seen):
        page.goto(f"{link.url}/?lang=sn")
        fill_the_form(page, "sn", "Mufananidzo wakatumirwa kaviri.")
        page.set_input_files("#attachments", [str(photo)])
        link.delay = 1.5
        where = send_button(page)
        tap(page, where)
        wait_until(lambda: len(reports(station)) == 1)
        tap(page, where)
        page.wait_for_selector(".receipt", timeout=30_000)
        shown = page.inner_text(".receipt").strip()
    assert link.posts == 2
    [report] = reports(station)
    assert report.receipt == shown
    assert [(a.name, a.size) for a in report.attachments] == [("IMG_0043.jpg", len(JPEG) * 4)]
    with BlobStore.open(station.path, station.key) as blobs:
        assert blobs.upload_count() == 1


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_form_sent_after_a_restart_comes_back_with_everything_typed(
        browser: Any, station: Station, tmp_path: Path, language: str) -> None:
    before = start_server(station, tmp_path)
    relay = SlowLink(port_of(before))
    after: Server | None = None
    try:
        with phone(browser) as (page, _seen):
            page.goto(f"{relay.url}/?lang={language}")
            fill_the_form(page, language, f"Typed before the restart ({language}).")
            before.stop()
            after = start_server(station, tmp_path)
            relay.target = port_of(after)  # the same address, a new process
            send(page)
            page.wait_for_selector(".alert")
            page.screenshot(path=artifact(f"expired-{language}.png"), full_page=True)
            alert = page.inner_text(".alert")
            assert say(language, "This form had expired, or the station was restarted.") in alert
            assert say(language, "If you already saw a receipt code for this report, it was "
                                 "received: do not send it again.") in alert
            assert page.get_attribute("html", "lang") == language
            assert_the_form_kept(page, f"Typed before the restart ({language}).")
            assert reports(station) == []
            send(page)  # checked, and sent again
            page.wait_for_selector(".receipt")
        [report] = reports(station)
        assert report.fields["description"] == f"Typed before the restart ({language})."
    finally:
        relay.close()
        before.stop()
        if after is not None:
            after.stop()


# --- changing the language -------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_changing_the_language_on_the_form_keeps_everything_typed(
        browser: Any, server: Server, station: Station, language: str, tmp_path: Path) -> None:
    start = other(language)
    photo = tmp_path / "IMG_0044.jpg"
    photo.write_bytes(JPEG)
    text = f"Written in {start}, sent in {language}."
    with phone(browser) as (page, seen):
        page.goto(f"{server.url}/?lang={start}")
        fill_the_form(page, start, text)
        page.set_input_files("#attachments", [str(photo)])
        page.click(f"nav.languages button[value={language}]")
        page.wait_for_selector(f"html[lang={language}]")
        page.screenshot(path=artifact(f"switched-{start}-to-{language}.png"), full_page=True)
        assert_the_form_kept(page, text)
        # Nothing was checked or sent: no error, no receipt; the file must be chosen again.
        assert page.locator(".alert").count() == 0 and page.locator(".receipt").count() == 0
        note = say(language, "Files are not kept when the language changes. Please choose "
                             "them again.")
        assert note in page.inner_text(".note") and note in page.inner_text("#attachments-error")
        assert reports(station) == []
        # The month list is now in the new language, and keeps the month chosen.
        assert page.inner_text("#incident_month option:checked") == get_month_names(
            "wide", context="stand-alone", locale=language)[3]
        send(page)
        page.wait_for_selector(".receipt")
    # No file went up with the language change: the only POST with a body is the send.
    [report] = reports(station)
    assert report.locale == language and report.fields["description"] == text
    assert report.fields["incident_date"] == "2026-03-14"
    # A browser sends a text area's line breaks as CR LF (HTML's form encoding).
    assert report.fields["location"] == "Behind the school,\r\nnear pit 7"
    assert list(report.attachments) == []
    # The language change sent the answers, not the photo (URL-encoded, the file's name only).
    [(kind, size)] = [(t, n) for m, u, t, n in seen.sent if urlsplit(u).query == f"lang={language}"
                      and m == "POST"]
    assert kind == "application/x-www-form-urlencoded" and size < 5000 < len(JPEG)


@pytest.mark.parametrize("language", LANGUAGES)
def test_changing_the_language_on_the_receipt_page_keeps_the_receipt(
        browser: Any, server: Server, station: Station, language: str) -> None:
    with phone(browser) as (page, _seen):
        page.goto(f"{server.url}/?lang={language}")
        fill_the_form(page, language, "Keep my receipt.")
        send(page)
        page.wait_for_selector(".receipt")
        code = page.inner_text(".receipt").strip()
        target = other(language)
        page.click(f"nav.languages button[value={target}]")
        page.wait_for_selector(f"html[lang={target}]")
        assert page.inner_text(".receipt").strip() == code
        assert say(target, "Thank you: your report was received") in page.inner_text("h1")
        assert code not in page.url  # never in a URL, so never in the history
        # And back again.
        page.click(f"nav.languages button[value={language}]")
        page.wait_for_selector(f"html[lang={language}]")
        assert page.inner_text(".receipt").strip() == code
    assert len(reports(station)) == 1


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_follow_up_with_an_error_changes_language_and_stays_a_follow_up(
        browser: Any, server: Server, station: Station, language: str) -> None:
    with phone(browser) as (page, _seen):
        page.goto(f"{server.url}/?lang={language}")
        fill_the_form(page, language, "First report.")
        send(page)
        page.wait_for_selector(".receipt")
        code = page.inner_text(".receipt").strip()
        page.click("ul.actions a >> nth=0")  # add to this report
        page.fill("#receipt", code[:-1])  # a character short: refused
        page.fill("#description", "They came back at night.")
        send(page)
        page.wait_for_selector(".alert")
        target = other(language)
        page.click(f"nav.languages button[value={target}]")
        page.wait_for_selector(f"html[lang={target}]")
        assert page.input_value("#receipt") == code[:-1]
        assert page.input_value("#description") == "They came back at night."
        assert page.locator("#receipt").count() == 1  # still the follow-up form
        page.fill("#receipt", code)
        send(page)
        page.wait_for_selector(".receipt")
        assert page.inner_text(".receipt").strip() == code  # the monitor's own code
        title = say(target, "Thank you: what you added was received")
        assert page.inner_text("h1") == title and page.title() == title
    first, follow_up = reports(station)
    assert follow_up.follows == first.receipt == code


def test_enter_in_a_field_sends_the_form_not_a_language_change(
        browser: Any, server: Server, station: Station) -> None:
    with phone(browser) as (page, _seen):
        page.goto(f"{server.url}/?lang=fr")
        fill_the_form(page, "fr", "Envoyé avec la touche Entrée.")
        page.press("#contact_details", "Enter")
        page.wait_for_selector(".receipt")
        assert page.get_attribute("html", "lang") == "fr"
    assert len(reports(station)) == 1


# --- the form on a cheap phone ---------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_form_says_what_is_required_and_asks_the_date_its_own_way(
        browser: Any, server: Server, language: str) -> None:
    with phone(browser) as (page, _seen):
        page.goto(f"{server.url}/?lang={language}")
        marks = page.locator(".required")
        assert marks.count() == 4 and all(marks.nth(i).is_visible() for i in range(4))
        assert page.locator('[aria-required="true"]').count() == 2
        assert page.locator("input[type=date]").count() == 0
        names = get_month_names("wide", context="stand-alone", locale=language)
        options = page.locator("#incident_month option").all_inner_texts()
        assert options[1:] == [names[n] for n in range(1, 13)]
        for control in ("#incident_day", "#incident_month", "#incident_year"):
            box = page.locator(control).bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], control
        note = say(language, "A photo or video may record where and when it was taken, and on "
                             "which phone. Only the reviewers can see it; if that could put "
                             "you in danger, do not send the file.")
        assert page.inner_text("#attachments-note") == note
        location = page.locator("#location")
        assert location.evaluate("e => e.tagName") == "TEXTAREA"
        box = location.bounding_box()
        assert box and box["height"] >= 70  # a few lines, not a 32-character slot
        width = page.locator("html").bounding_box()
        assert width and width["width"] <= PHONE["width"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_after_an_error_the_top_banner_says_to_choose_the_files_again(
        browser: Any, server: Server, language: str, tmp_path: Path) -> None:
    photo = tmp_path / "IMG_0045.jpg"
    photo.write_bytes(JPEG)
    with phone(browser) as (page, _seen):
        page.goto(f"{server.url}/?lang={language}")
        fill_the_form(page, language, "")  # the description is missing
        page.set_input_files("#attachments", [str(photo)])
        send(page)
        page.wait_for_selector(".alert")
        banner = page.inner_text(".alert")
        assert say(language, "Your files were not kept: please choose them again.") in banner
        alert_box = page.locator(".alert").bounding_box()
        assert alert_box and alert_box["y"] < PHONE["height"]  # seen without scrolling


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_link_and_button_is_a_44_pixel_tap_target(
        browser: Any, server: Server, language: str) -> None:
    def targets(page: Any, where: str) -> list[str]:
        small = []
        for element in page.locator("a:visible, button:visible").all():
            box = element.bounding_box()
            if box is None or box["height"] < 44 or box["width"] < 44:
                small.append(f"{where}: {element.inner_text()!r} {box}")
        return small

    with phone(browser) as (page, _seen):
        page.goto(f"{server.url}/?lang={language}")
        problems = targets(page, "form")
        fill_the_form(page, language, "Tap targets.")
        send(page)
        page.wait_for_selector(".receipt")
        page.screenshot(path=artifact(f"receipt-taps-{language}.png"), full_page=True)
        problems += targets(page, "receipt")
        assert page.locator("ul.actions a").count() == 2
        page.goto(f"{server.url}/no-such-page?lang={language}")
        problems += targets(page, "404")
    assert problems == []
