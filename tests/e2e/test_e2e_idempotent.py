"""One form sent twice is one report, through a real ``reporter serve``.

A double tap, a reload that sends the form again, a retry on a slow link:
the same body arrives twice (or at the same time). The station stores it
once and shows the same receipt each time; a failed first attempt does not
block the next; a form from before a restart comes back with what was typed.
SECURITY.md, "The web pages".
"""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from reporter.formats import envelope
from reporter.formats.chain import envelope_hash
from reporter.formats.report import Report
from reporter.storage.blobs import BlobStore
from tests.conftest import Server, Station, form_token, start_server, valid_report
from tests.e2e.test_e2e import RECEIPT_RE, multipart

pytestmark = pytest.mark.slow
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4000


def reports(station: Station) -> list[Report]:
    with station.store() as store:
        return [Report.from_body(envelope.open_envelope(r.envelope, station.reviewer))
                for r in store.reports()]


def token(server: Server, path: str = "/") -> str:
    return form_token(requests.get(server.url + path, timeout=10).text)


def receipt(response: requests.Response) -> str:
    assert response.status_code == 200, response.text[:3000]
    [code] = RECEIPT_RE.findall(response.text)
    return str(code)


def flat(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v if isinstance(v, str) else v[0] for k, v in data.items()}


def test_the_same_form_sent_twice_is_one_report_with_one_receipt(
        server: Server, station: Station) -> None:
    data = {"form_token": token(server), **valid_report(description="sent twice")}
    first = receipt(requests.post(server.url + "/", data=data, timeout=30))
    again = receipt(requests.post(server.url + "/", data=data, timeout=30))
    assert first == again
    [report] = reports(station)
    assert report.receipt == first and report.fields["description"] == "sent twice"
    # A new form is a new report.
    other = {"form_token": token(server), **valid_report(description="sent twice")}
    assert receipt(requests.post(server.url + "/", data=other, timeout=30)) != first
    assert len(reports(station)) == 2


def test_a_resend_with_attachments_stores_them_once(server: Server, station: Station) -> None:
    fields = {"form_token": token(server), **flat(valid_report(description="with photo"))}
    body, content_type = multipart(fields, [("attachments", "IMG_1.jpg", JPEG),
                                            ("attachments", "note.pdf", b"%PDF-1.7\n" + JPEG)])
    headers = {"Content-Type": content_type}
    codes = {receipt(requests.post(server.url + "/", data=body, headers=headers, timeout=60))
             for _ in range(3)}
    assert len(codes) == 1
    [report] = reports(station)
    assert [a.name for a in report.attachments] == ["IMG_1.jpg", "note.pdf"]
    with station.store() as store, BlobStore.open(station.path, station.key) as blobs:
        [stored] = list(store.reports())
        assert len(blobs.uploads_for(envelope_hash(stored.envelope))) == 2
        assert blobs.upload_count() == 2  # the resends' copies were deleted


def test_two_sends_of_one_body_at_once_store_one_report(server: Server,
                                                        station: Station) -> None:
    """Two connections stream the same upload at the same time (a double tap on a
    slow link), and finish together: both get the same receipt page, one report
    is stored."""
    photo = JPEG * 10
    fields = {"form_token": token(server), **flat(valid_report(description="double tap"))}
    body, content_type = multipart(fields, [("attachments", "IMG_9.jpg", photo)])
    host, port = server.url.removeprefix("http://").split(":")
    head = (f"POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    sockets = [socket.create_connection((host, int(port)), timeout=60) for _ in range(2)]
    for sock in sockets:  # both uploads under way...
        sock.sendall(head + body[:-64])
    time.sleep(0.5)
    for sock in sockets:  # ...and ending at the same moment
        sock.sendall(body[-64:])
    answers = []
    for sock in sockets:
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
        sock.close()
        assert reply.startswith(b"HTTP/1.1 200 "), reply[:3000]
        answers.append(RECEIPT_RE.findall(reply.decode()))
    assert answers[0] == answers[1] and len(answers[0]) == 1
    [report] = reports(station)
    assert [report.receipt] == answers[0]
    assert [(a.name, a.size) for a in report.attachments] == [("IMG_9.jpg", len(photo))]
    with BlobStore.open(station.path, station.key) as blobs:
        assert blobs.upload_count() == 1


def test_a_follow_up_sent_twice_is_one_follow_up(server: Server, station: Station) -> None:
    first = receipt(requests.post(server.url + "/", timeout=30, data={
        "form_token": token(server), **valid_report()}))
    data = {"form_token": token(server, "/follow-up"), "receipt": first.lower(),
            "description": "They came back."}
    pages = [requests.post(server.url + "/follow-up", data=data, timeout=30) for _ in range(2)]
    # Both pages show the monitor's own code, never the follow-up's internal one.
    assert [receipt(page) for page in pages] == [first, first]
    _original, follow_up = reports(station)
    assert follow_up.follows == first and follow_up.receipt not in pages[1].text


def test_a_form_with_an_error_can_be_corrected_and_sent_with_its_token(
        server: Server, station: Station) -> None:
    form = token(server)
    wrong = requests.post(server.url + "/", timeout=30, data={
        "form_token": form, **valid_report(description="")})
    assert wrong.status_code == 400
    assert form_token(wrong.text) == form  # the page keeps its token
    right = {"form_token": form, **valid_report(description="corrected")}
    code = receipt(requests.post(server.url + "/", data=right, timeout=30))
    assert receipt(requests.post(server.url + "/", data=right, timeout=30)) == code
    [report] = reports(station)
    assert report.fields["description"] == "corrected"


def test_a_form_from_before_a_restart_keeps_what_was_typed(
        station: Station, tmp_path: Path) -> None:
    before = start_server(station, tmp_path)
    try:
        old = token(before)
        data = {"form_token": old, **valid_report(description="typed before the restart")}
        code = receipt(requests.post(before.url + "/", data=data, timeout=30))
    finally:
        before.stop()
    after = start_server(station, tmp_path)
    try:
        page = requests.post(after.url + "/", data=data, timeout=30)
        assert page.status_code == 400
        assert "typed before the restart" in page.text
        assert "This form had expired, or the station was restarted." in page.text
        assert "If you already saw a receipt code for this report, it was received" in page.text
        assert code not in page.text
        assert form_token(page.text) != old  # a token this process can check
        assert len(reports(station)) == 1  # the resend stored nothing
    finally:
        after.stop()


def test_a_post_from_another_site_is_refused(server: Server, station: Station) -> None:
    data = {"form_token": token(server), **valid_report(description="cross-site")}
    refused = requests.post(server.url + "/", data=data, timeout=30,
                            headers={"Sec-Fetch-Site": "cross-site"})
    assert refused.status_code == 403
    assert "This form was sent from another website" in refused.text
    assert reports(station) == []
    for site in ("same-origin", "none"):  # the station's own page; typed or bookmarked
        accepted = requests.post(server.url + "/", data=data, timeout=30,
                                 headers={"Sec-Fetch-Site": site, "Origin": "null"})
        receipt(accepted)
    assert len(reports(station)) == 1


def test_a_stalled_first_send_does_not_hold_the_resend_for_ever(
        server: Server, station: Station) -> None:
    """The first send of a form hangs up halfway (the phone lost signal); the resend
    is processed normally and gets a receipt."""
    fields = {"form_token": token(server), **flat(valid_report(description="after a cut"))}
    body, content_type = multipart(fields, [("attachments", "IMG_3.jpg", JPEG * 4)])
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(f"POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n"
                     f"Content-Length: {len(body)}\r\n\r\n".encode() + body[: len(body) // 2])
        time.sleep(0.5)
    code = receipt(requests.post(server.url + "/", data=body, timeout=60,
                                 headers={"Content-Type": content_type}))
    [report] = reports(station)
    assert report.receipt == code
