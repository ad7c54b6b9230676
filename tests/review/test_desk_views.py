"""The review desk's views, through Flask's test client over a real review database
(SQLCipher, reports imported from a real bundle): the gate (Host, fetch metadata,
session, CSRF, locked), unlock and lock, the inbox, the report page and the files,
with hostile text and files. ``tests/e2e/test_desk_server.py`` does it again
through a real ``reporter review serve``."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from reporter.review.desk.app import create_app
from reporter.review.desk.config import DeskConfig
from reporter.review.desk.security import FILE_POLICY, PAGE_POLICY
from reporter.review.desk.vault import Vault
from reporter.web.server import FRONT_ERROR
from tests.conftest import Station
from tests.desk import (
    COMMENT_CANARY,
    EXIF_CANARY,
    HOSTILE_SITE,
    POLYGLOT,
    SCRIPT,
    Sample,
    jpeg_with_metadata,
    make_sample,
    wav_tone,
)
from tests.reviewing import REVIEW_PASSPHRASE

PORT = 8765
BASE = f"http://127.0.0.1:{PORT}"
COOKIE = f"reporter_desk_{PORT}"
TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def sample(station: Station, tmp_path: Path) -> Sample:
    return make_sample(station, tmp_path, extra_reports=55)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(sample: Sample, clock: Clock) -> Flask:
    config = DeskConfig(review_db=sample.path, port=PORT, idle_seconds=600, testing=True)
    return create_app(config, Vault(sample.path, 600, clock=clock))


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def get(client: FlaskClient, path: str, **kwargs: Any) -> Any:
    return client.get(path, base_url=BASE, **kwargs)


def post(client: FlaskClient, path: str, data: dict[str, str], **kwargs: Any) -> Any:
    return client.post(path, base_url=BASE, data=data, **kwargs)


def token(client: FlaskClient) -> str:
    """This session's CSRF token, from the unlock page (or, once unlocked, the inbox)."""
    answer = get(client, "/unlock")
    if answer.status_code == 303:
        answer = get(client, "/")
    match = TOKEN.search(answer.get_data(as_text=True))
    assert match
    return match.group(1)


def unlock(client: FlaskClient) -> Any:
    answer = post(client, "/unlock", {"csrf_token": token(client),
                                      "passphrase": REVIEW_PASSPHRASE})
    assert answer.status_code == 303, answer.get_data(as_text=True)
    return answer


@pytest.fixture
def unlocked(client: FlaskClient) -> FlaskClient:
    unlock(client)
    return client


def page_token(html: str) -> str:
    match = TOKEN.search(html)
    assert match
    return match.group(1)


# --- locked: nothing but the unlock page -------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/?site=Marange", "/reports/56", "/reports/56/attachments/1",
                                  "/reports/56/attachments/1/preview",
                                  "/reports/56/attachments/1/stripped"])
def test_locked_every_page_leads_to_the_unlock_page(client: FlaskClient, sample: Sample,
                                                    path: str) -> None:
    answer = get(client, path.replace("56", str(sample.ids["photo"])))
    assert answer.status_code == 303
    assert answer.headers["Location"].startswith("/unlock?next=")
    assert b"Soldiers" not in answer.data and answer.data.count(b"\xff\xd8") == 0


def test_the_unlock_page_asks_for_the_passphrase_in_a_post_form(client: FlaskClient) -> None:
    answer = get(client, "/unlock")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert '<form method="post" action="/unlock"' in html
    assert 'type="password" id="passphrase" name="passphrase"' in html
    assert "review.db" in html
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert flags == {"httponly", "path=/", "samesite=strict"}  # no Secure, no Expires


def test_a_wrong_passphrase_is_said_and_unlocks_nothing(client: FlaskClient,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    answer = post(client, "/unlock", {"csrf_token": token(client),
                                      "passphrase": "not the passphrase at all"})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 403 and "Wrong passphrase" in html
    assert "not the passphrase at all" not in html
    assert get(client, "/").status_code == 303
    assert "not the passphrase" not in caplog.text and "WrongPassphrase" in caplog.text


def test_an_empty_passphrase_is_asked_again(client: FlaskClient) -> None:
    answer = post(client, "/unlock", {"csrf_token": token(client), "passphrase": ""})
    assert answer.status_code == 400 and b"Type the passphrase" in answer.data


def test_a_passphrase_in_the_url_is_never_used(client: FlaskClient) -> None:
    get(client, "/unlock")
    assert get(client, f"/unlock?passphrase={REVIEW_PASSPHRASE}").status_code == 200
    assert get(client, "/").status_code == 303


@pytest.mark.parametrize("forged", ["", "0" * 64, "missing"])
def test_unlock_needs_this_sessions_csrf_token(client: FlaskClient, forged: str) -> None:
    get(client, "/unlock")
    data = {"passphrase": REVIEW_PASSPHRASE}
    if forged != "missing":
        data["csrf_token"] = forged
    answer = post(client, "/unlock", data)
    assert answer.status_code == 403 and b"This form has expired" in answer.data
    assert get(client, "/").status_code == 303


def test_another_sessions_token_is_refused(app: Flask) -> None:
    mine, theirs = app.test_client(), app.test_client()
    their_token = token(theirs)
    get(mine, "/unlock")
    answer = post(mine, "/unlock", {"csrf_token": their_token, "passphrase": REVIEW_PASSPHRASE})
    assert answer.status_code == 403
    assert get(mine, "/").status_code == 303 and get(theirs, "/").status_code == 303


def test_unlocking_gives_a_new_session_and_only_it_is_let_in(app: Flask) -> None:
    client = app.test_client()
    get(client, "/unlock")
    before = client.get_cookie(COOKIE, domain="127.0.0.1")
    assert before is not None
    answer = unlock(client)
    assert answer.headers["Location"] == "/"
    after = client.get_cookie(COOKIE, domain="127.0.0.1")
    assert after is not None and after.value != before.value
    assert get(client, "/").status_code == 200
    # Whoever held the id from before unlocking (planted by another page) is not let in.
    planted = app.test_client()
    planted.set_cookie(COOKIE, before.value, domain="127.0.0.1")
    assert get(planted, "/").status_code == 303


def test_unlock_returns_to_the_page_asked_for_and_never_elsewhere(client: FlaskClient,
                                                                   sample: Sample) -> None:
    path = f"/reports/{sample.ids['photo']}"
    get(client, path)
    answer = post(client, "/unlock", {"csrf_token": token(client),
                                      "passphrase": REVIEW_PASSPHRASE, "next": path})
    assert answer.headers["Location"] == path
    for bad in ("//evil.example/", "http://evil.example/", "/\\evil.example", "javascript:x"):
        answer = post(client, "/unlock", {"csrf_token": token(client),
                                          "passphrase": REVIEW_PASSPHRASE, "next": bad})
        assert answer.headers["Location"] == "/"


# --- the gate: Host and where a request comes from ---------------------------------------


@pytest.mark.parametrize("host", ["evil.example:8765", "evil.example", "127.0.0.1:8766",
                                  "127.0.0.1", "localhost", "[::1]:8765", "10.0.0.1:8765"])
@pytest.mark.parametrize("path", ["/unlock", "/", "/static/desk.css", "/no-such-page"])
def test_a_request_for_another_host_is_refused(unlocked: FlaskClient, host: str,
                                               path: str) -> None:
    answer = get(unlocked, path, headers={"Host": host})
    assert answer.status_code == 421 and b"Wrong address" in answer.data
    assert b"Soldiers" not in answer.data and "Set-Cookie" not in answer.headers


def test_a_post_for_another_host_is_refused_before_anything_is_done(
        client: FlaskClient) -> None:
    answer = post(client, "/unlock", {"csrf_token": token(client),
                                      "passphrase": REVIEW_PASSPHRASE},
                  headers={"Host": "evil.example:8765"})
    assert answer.status_code == 421
    assert get(client, "/").status_code == 303


def test_localhost_is_the_same_desk(unlocked: FlaskClient) -> None:
    # A browser at http://localhost:8765/ sends this Host (its cookie is localhost's).
    answer = unlocked.get("/unlock", base_url=f"http://localhost:{PORT}")
    assert answer.status_code == 200


@pytest.mark.parametrize("site", ["cross-site", "same-site", "CROSS-SITE"])
def test_requests_another_page_makes_the_browser_send_are_refused(
        unlocked: FlaskClient, sample: Sample, site: str) -> None:
    for path in ("/", f"/reports/{sample.ids['photo']}",
                 f"/reports/{sample.ids['photo']}/attachments/1"):
        answer = get(unlocked, path, headers={"Sec-Fetch-Site": site})
        assert answer.status_code == 403 and b"Soldiers" not in answer.data
    html = get(unlocked, "/").get_data(as_text=True)
    answer = post(unlocked, "/lock", {"csrf_token": page_token(html)},
                  headers={"Sec-Fetch-Site": site})
    assert answer.status_code == 403
    assert get(unlocked, "/").status_code == 200  # not locked


@pytest.mark.parametrize("site", ["same-origin", "none"])
def test_the_desks_own_pages_and_typed_addresses_are_served(unlocked: FlaskClient,
                                                            site: str) -> None:
    assert get(unlocked, "/", headers={"Sec-Fetch-Site": site}).status_code == 200


# --- headers --------------------------------------------------------------------------------


def common_headers(answer: Any) -> None:
    h = answer.headers
    assert h["Cache-Control"] == "no-store, max-age=0"
    assert h["Referrer-Policy"] == "no-referrer"
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["X-Frame-Options"] == "DENY"
    assert h["Cross-Origin-Resource-Policy"] == "same-origin"
    assert h["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "camera=()" in h["Permissions-Policy"]


def test_every_page_has_the_security_headers(unlocked: FlaskClient, sample: Sample) -> None:
    pages = ["/", "/?type=fire", f"/reports/{sample.ids['photo']}", "/reports/99999",
             "/unlock", "/no-such-page", "/static/desk.css"]
    for path in pages:
        answer = get(unlocked, path)
        common_headers(answer)
        assert answer.headers["Content-Security-Policy"] == PAGE_POLICY, path
    assert "script-src" not in PAGE_POLICY and "unsafe" not in PAGE_POLICY
    assert "default-src 'none'" in PAGE_POLICY and "frame-ancestors 'none'" in PAGE_POLICY
    answer = get(unlocked, "/", headers={"Host": "evil.example"})
    common_headers(answer)


def test_pages_have_no_script_and_load_nothing_from_elsewhere(unlocked: FlaskClient,
                                                              sample: Sample) -> None:
    for path in ("/", f"/reports/{sample.ids['photo']}", f"/reports/{sample.ids['hostile']}"):
        html = get(unlocked, path).get_data(as_text=True)
        assert not re.search(r"<script\b|<svg\b|<iframe\b|\son[a-z]+=\"", html, re.I), path
        for url in re.findall(r'(?:src|href|action)="([^"]*)"', html):
            assert url == "#main" or (url.startswith("/") and not url.startswith("//")), url


# --- the inbox ------------------------------------------------------------------------------


def test_the_inbox_is_newest_first_a_page_at_a_time(unlocked: FlaskClient,
                                                    sample: Sample) -> None:
    html = get(unlocked, "/").get_data(as_text=True)
    assert "59 reports in the database" in html
    ids = [int(i) for i in re.findall(r'href="/reports/(\d+)"', html)]
    assert len(ids) == 50 and ids == sorted(ids, reverse=True)
    assert ids[0] == sample.ids["hostile"]
    older = re.search(r'href="/\?(after=[^"]+)" rel="next"', html)
    assert older is not None and 'rel="prev"' not in html
    html = get(unlocked, "/?" + older.group(1).replace("&amp;", "&")).get_data(as_text=True)
    rest = [int(i) for i in re.findall(r'href="/reports/(\d+)"', html)]
    assert rest == sorted(set(range(1, 60)) - set(ids), reverse=True)
    assert 'rel="prev"' in html and 'rel="next"' not in html


def test_filters_count_and_keep_themselves_in_the_page_links(unlocked: FlaskClient,
                                                             sample: Sample) -> None:
    def ids(query: str) -> list[int]:
        html = get(unlocked, "/?" + query).get_data(as_text=True)
        return [int(i) for i in re.findall(r'href="/reports/(\d+)"', html)]

    assert ids("source=heard") == [sample.ids["hostile"], sample.ids["heard"]]
    assert ids("perpetrator=police") == [sample.ids["photo"]]
    assert ids("files=1") == [sample.ids["hostile"], sample.ids["photo"]]
    assert ids("type=child-labour&site=tshik") == [sample.ids["heard"]]
    assert ids("kind=follow-up") == [sample.ids["follow-up"]]
    assert ids("from=2026-02-01&to=2026-02-28") == [sample.ids["heard"]]
    assert ids("q=SOLDIERS") == [sample.ids["photo"]]
    assert ids("q=older+report+54") == [55]  # the 55th report, "older report 54"
    html = get(unlocked, "/?q=older+report").get_data(as_text=True)
    assert "55 reports match these filters" in html and "(of 59 in the database)" in html
    assert re.search(r'href="/\?q=older\+report&amp;after=[^"]+" rel="next"', html)
    assert 'value="older report"' in html  # the form shows what was typed


def test_each_choice_of_a_filter_says_how_many_reports_it_would_show(
        unlocked: FlaskClient, sample: Sample) -> None:
    """The count beside a choice is the number of reports that choosing it shows, the
    other filters as they are (review/facets.py); a wrong filter shows no counts."""
    html = get(unlocked, "/").get_data(as_text=True)
    assert "Only reports with attachments (2)</label>" in html
    assert re.search(r'<option value="heard">[^<(]+\(2\)</option>', html)
    assert re.search(r'<option value="follow-up">[^<(]+\(1\)</option>', html)
    html = get(unlocked, "/?q=older+report").get_data(as_text=True)
    assert "Only reports with attachments (0)</label>" in html
    assert re.search(r'<option value="incident">[^<(]+\(55\)</option>', html)
    # The source list's own choice leaves its other choice's count as it was.
    html = get(unlocked, "/?source=heard").get_data(as_text=True)
    assert re.search(r'<option value="heard" selected>[^<(]+\(2\)</option>', html)
    assert re.search(r'<option value="witnessed">[^<(]+\((\d+)\)</option>', html)
    html = get(unlocked, "/?from=not-a-date").get_data(as_text=True)
    assert "Only reports with attachments</label>" in html


def test_a_wrong_filter_is_named_and_what_was_typed_comes_back_escaped(
        unlocked: FlaskClient) -> None:
    answer = get(unlocked, "/?from=2026-02-30&q=%3Cscript%3Ealert(1)%3C/script%3E&type=fire")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert 'id="from-error"' in html and 'id="type-error"' in html
    assert 'aria-invalid="true" aria-describedby="from-error"' in html
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html
    assert 'href="/reports/' not in html


def test_hostile_text_is_escaped_and_its_controls_shown_in_the_inbox(
        unlocked: FlaskClient) -> None:
    html = get(unlocked, "/").get_data(as_text=True)
    assert SCRIPT not in html and HOSTILE_SITE not in html
    assert "&lt;script&gt;document.title" in html and "&lt;img src=x" in html
    assert "\x1b" not in html and "\u202e" not in html
    assert "<bdi>" in html


def test_the_filter_form_is_a_get_form_with_a_label_for_each_field(
        unlocked: FlaskClient) -> None:
    html = get(unlocked, "/").get_data(as_text=True)
    form = html[html.index('<form method="get"'):html.index("</form>", html.index(
        '<form method="get"'))]
    names = re.findall(r'name="([a-z]+)"', form)
    assert names == ["q", "site", "type", "perpetrator", "source", "kind", "station", "from",
                     "to", "status", "tag", "sensitive", "files"]
    for field_id in re.findall(r'<(?:input|select)[^>]* id="([a-z]+)"', form):
        assert f'<label for="{field_id}">' in form
    assert "csrf_token" not in form  # a GET form changes nothing


# --- the report page -----------------------------------------------------------------------


def test_the_report_page_shows_every_field_with_the_cli_labels(unlocked: FlaskClient,
                                                               sample: Sample) -> None:
    html = get(unlocked, f"/reports/{sample.ids['photo']}").get_data(as_text=True)
    for label in ("What happened", "Incident date", "Mine site", "Where exactly",
                  "People affected", "Who did it", "How the monitor knows", "Contact",
                  "Description", "Receipt", "Received"):
        assert f"<dt>{label}</dt>" in html or f"<h3>{label}</h3>" in html, label
    assert ("Shooting or other violence <span class=\"code\">[<bdi>shooting</bdi>]</span> "
            "<span class=\"code\">HURIDOCS 020101000000</span>") in html
    assert ("Police <span class=\"code\">[<bdi>police</bdi>]</span> "
            "<span class=\"code\">HURIDOCS 010104000000</span>") in html
    assert "Near the river" in html and "2026-03-01" in html
    assert "(not given)" in html


def test_the_thread_shows_the_follow_ups_with_their_text(unlocked: FlaskClient,
                                                         sample: Sample) -> None:
    html = get(unlocked, f"/reports/{sample.ids['photo']}").get_data(as_text=True)
    assert "1 follow-up" in html and "Two of the wounded died." in html
    assert f'href="/reports/{sample.ids["follow-up"]}"' in html
    html = get(unlocked, f"/reports/{sample.ids['follow-up']}").get_data(as_text=True)
    assert "The report it follows" in html and f'href="/reports/{sample.ids["photo"]}"' in html
    assert "Soldiers fired at diggers" in html


def test_attachments_are_previewed_played_and_offered_with_their_hash(
        unlocked: FlaskClient, sample: Sample) -> None:
    photo = sample.ids["photo"]
    html = get(unlocked, f"/reports/{photo}").get_data(as_text=True)
    assert f'<img src="/reports/{photo}/attachments/1/preview"' in html
    assert f'<audio controls preload="none" src="/reports/{photo}/attachments/2"' in html
    assert f'<img src="/reports/{photo}/attachments/3/preview"' in html
    assert hashlib.sha256(jpeg_with_metadata()).hexdigest() in html
    assert hashlib.sha256(wav_tone()).hexdigest() in html
    assert hashlib.sha256(POLYGLOT).hexdigest() in html
    assert "Download the original (3-evidence-html.jpg)" in html
    assert "The name says .html, but the file is image/jpeg" in html


def test_hostile_fields_and_names_are_escaped_on_the_report_page(unlocked: FlaskClient,
                                                                 sample: Sample) -> None:
    html = get(unlocked, f"/reports/{sample.ids['hostile']}").get_data(as_text=True)
    assert SCRIPT not in html and "<svg" not in html and HOSTILE_SITE not in html
    assert "&lt;svg onload=alert(1)&gt;" in html
    assert "<dt><bdi>x&lt;b&gt;unknown&lt;/b&gt;</bdi></dt>" in html
    assert "\u202e" not in html and "\x1b" not in html
    assert "\ufffdgpj.exe" in html  # the override in the name, made visible


def test_the_chain_of_custody_is_shown(unlocked: FlaskClient, sample: Sample,
                                       station: Station) -> None:
    from reporter.review.custody import custody
    from reporter.review.db import ReviewDB

    with ReviewDB.open(sample.path, REVIEW_PASSPHRASE) as db:
        chain = custody(db, sample.ids["photo"])
    html = get(unlocked, f"/reports/{sample.ids['photo']}").get_data(as_text=True)
    section = html[html.index("Chain of custody"):]
    for value in (chain.station, chain.station_key, chain.envelope_hash, "Bundle 1",
                  chain.bundles[0].hash, chain.bundles[0].chain_before,
                  chain.bundles[0].chain_head, station.reviewer.public_key.fingerprint(),
                  "verified at import with the pinned station key", str(chain.imported)):
        assert value in section, value


def test_an_unknown_report_is_a_404_page(unlocked: FlaskClient) -> None:
    answer = get(unlocked, "/reports/99999")
    assert answer.status_code == 404 and b"Not found" in answer.data


# --- files ------------------------------------------------------------------------------------


def file_headers(answer: Any) -> None:
    common_headers(answer)
    assert answer.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert FILE_POLICY == "default-src 'none'; sandbox"


def test_an_original_is_a_download_typed_by_its_bytes(unlocked: FlaskClient,
                                                      sample: Sample) -> None:
    photo = sample.ids["photo"]
    for number, data, kind, name in (
            (1, jpeg_with_metadata(), "image/jpeg", "1-photo.jpg"),
            (2, wav_tone(), "audio/wav", "2-statement.wav"),
            (3, POLYGLOT, "image/jpeg", "3-evidence-html.jpg")):
        answer = get(unlocked, f"/reports/{photo}/attachments/{number}")
        assert answer.status_code == 200 and answer.data == data
        file_headers(answer)
        assert answer.headers["Content-Type"] == kind
        assert answer.headers["Content-Disposition"] == f"attachment; filename={name}"
        assert answer.headers["Accept-Ranges"] == "bytes"
        assert int(answer.headers["Content-Length"]) == len(data)


def test_a_hostile_name_never_reaches_the_header(unlocked: FlaskClient,
                                                 sample: Sample) -> None:
    answer = get(unlocked, f"/reports/{sample.ids['hostile']}/attachments/1")
    disposition = answer.headers["Content-Disposition"]
    assert disposition.startswith("attachment; filename=")
    assert "<" not in disposition and "\u202e" not in disposition and "\n" not in disposition
    assert disposition.endswith('.jpg"') or disposition.endswith(".jpg")


def test_ranges_for_players(unlocked: FlaskClient, sample: Sample) -> None:
    path = f"/reports/{sample.ids['photo']}/attachments/2"
    data = wav_tone()
    answer = get(unlocked, path, headers={"Range": "bytes=100-199"})
    assert answer.status_code == 206 and answer.data == data[100:200]
    assert answer.headers["Content-Range"] == f"bytes 100-199/{len(data)}"
    answer = get(unlocked, path, headers={"Range": f"bytes={len(data) - 10}-"})
    assert answer.status_code == 206 and answer.data == data[-10:]
    answer = get(unlocked, path, headers={"Range": "bytes=-5"})
    assert answer.data == data[-5:]
    answer = get(unlocked, path, headers={"Range": f"bytes={len(data) + 5}-"})
    assert answer.status_code == 416 and answer.headers["Content-Range"] == f"bytes */{len(data)}"
    answer = get(unlocked, path, headers={"Range": "bytes=0-1,5-6"})  # several: the whole
    assert answer.status_code == 200 and answer.data == data
    answer = get(unlocked, path, headers={"Range": "pages=1"})
    assert answer.status_code == 200 and answer.data == data


def test_a_preview_is_the_pixels_only_inline_under_a_sandbox(unlocked: FlaskClient,
                                                             sample: Sample) -> None:
    for number in (1, 3):
        answer = get(unlocked, f"/reports/{sample.ids['photo']}/attachments/{number}/preview")
        assert answer.status_code == 200
        file_headers(answer)
        assert answer.headers["Content-Type"] == "image/jpeg"
        assert "Content-Disposition" not in answer.headers
        assert answer.data.startswith(b"\xff\xd8\xff")
        assert EXIF_CANARY.encode() not in answer.data and COMMENT_CANARY not in answer.data
        assert b"<script" not in answer.data


def test_a_copy_without_metadata_is_a_download(unlocked: FlaskClient, sample: Sample) -> None:
    answer = get(unlocked, f"/reports/{sample.ids['photo']}/attachments/1/stripped")
    file_headers(answer)
    assert answer.headers["Content-Disposition"] == "attachment; filename=1-stripped-photo.jpg"
    assert EXIF_CANARY.encode() not in answer.data and answer.data.startswith(b"\xff\xd8")


def test_what_is_no_picture_has_no_preview(unlocked: FlaskClient, sample: Sample) -> None:
    answer = get(unlocked, f"/reports/{sample.ids['photo']}/attachments/2/preview")
    assert answer.status_code == 422 and b"No copy without metadata" in answer.data
    assert b"RIFF" not in answer.data


@pytest.mark.parametrize("path", ["/reports/{id}/attachments/4", "/reports/{id}/attachments/0",
                                  "/reports/{id}/attachments/9/preview",
                                  "/reports/99999/attachments/1"])
def test_an_unknown_attachment_is_a_404(unlocked: FlaskClient, sample: Sample,
                                        path: str) -> None:
    answer = get(unlocked, path.format(id=sample.ids["photo"]))
    assert answer.status_code == 404


# --- lock and idle lock ---------------------------------------------------------------------


def test_the_lock_button_drops_the_key(unlocked: FlaskClient, app: Flask) -> None:
    html = get(unlocked, "/").get_data(as_text=True)
    assert 'action="/lock"' in html
    answer = post(unlocked, "/lock", {"csrf_token": page_token(html)})
    assert answer.status_code == 303 and answer.headers["Location"] == "/unlock"
    assert not app.extensions["reporter_desk"].vault.unlocked
    assert get(unlocked, "/").status_code == 303
    assert b"The desk is locked." in get(unlocked, "/unlock").data


def test_only_the_unlocked_session_can_lock(unlocked: FlaskClient, app: Flask) -> None:
    stranger = app.test_client()
    answer = post(stranger, "/lock", {"csrf_token": token(stranger)})
    assert answer.status_code == 303
    assert get(unlocked, "/").status_code == 200


def test_the_desk_locks_itself_after_the_idle_period(unlocked: FlaskClient, app: Flask,
                                                     clock: Clock, sample: Sample) -> None:
    clock.now += 599
    assert get(unlocked, "/").status_code == 200  # a request starts the period again
    clock.now += 599
    assert get(unlocked, "/").status_code == 200
    clock.now += 600
    answer = get(unlocked, f"/reports/{sample.ids['photo']}")
    assert answer.status_code == 303
    assert answer.headers["Location"] == f"/unlock?next=/reports/{sample.ids['photo']}"
    assert app.extensions["reporter_desk"].vault._key is None
    html = get(unlocked, "/unlock").get_data(as_text=True)
    assert "The desk locked itself after 10 minutes without use." in html


def test_a_stream_stops_when_the_desk_is_locked(unlocked: FlaskClient, app: Flask,
                                                sample: Sample) -> None:
    assert len(wav_tone()) > 64 * 1024  # two chunks: the test client takes the first
    answer = get(unlocked, f"/reports/{sample.ids['photo']}/attachments/2", buffered=False)
    assert answer.status_code == 200
    app.extensions["reporter_desk"].vault.lock("button")
    with pytest.raises(Exception, match="locked"):
        b"".join(answer.response)
    answer.close()


# --- nothing in the log ------------------------------------------------------------------------


def test_reading_logs_nothing(unlocked: FlaskClient, sample: Sample,
                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("photo", "hostile", "follow-up"):
        get(unlocked, f"/reports/{sample.ids[name]}")
    get(unlocked, "/?q=soldiers")
    get(unlocked, f"/reports/{sample.ids['photo']}/attachments/1/preview")
    assert caplog.text == ""


@pytest.fixture(autouse=True)
def _no_leftover_files(tmp_path: Path) -> Iterator[None]:
    """Nothing the desk shows is ever written beside the database."""
    yield
    names = sorted(p.name for p in tmp_path.iterdir() if not p.is_dir())
    assert not [n for n in names if not n.startswith(("review.db", "bundle-"))], names


@pytest.mark.parametrize(("status", "title"), [
    (503, "The desk is busy"), (431, "Something was wrong with that request"),
    (413, "Too large")])
def test_a_request_the_server_refused_gets_its_page_not_the_inbox(
        unlocked: FlaskClient, status: int, title: str) -> None:
    """The server's front marks a request it refused (``FRONT_ERROR``) and hands it over
    as ``GET /``: even unlocked, the answer is the page for that status."""
    answer = get(unlocked, "/", environ_overrides={FRONT_ERROR: status})
    html = answer.get_data(as_text=True)
    assert answer.status_code == status and title in html
    assert "reports in the database" not in html
    assert answer.headers["Content-Security-Policy"] == PAGE_POLICY
