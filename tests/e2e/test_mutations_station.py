"""The station's own checks, from the outside: a real server, the real CLI.

* Form tokens: a POST without a token this station made (none, another
  station's, a tampered one) stores nothing, keeps what the monitor typed,
  and the form sent again with its new token is stored once, however many
  times it is sent.
* Low-order reviewer keys: ``reporter recipients add`` refuses every one,
  and the station keeps sealing to its real reviewers only.
* Purge: after ``reporter purge`` (run while the server serves, then once
  more after it stops, as its note says), no page of ``station.db`` or
  ``attachments.db``, decrypted with the key as a forensic examiner would,
  holds a piece of a purged report or attachment.

Each test fails when one check is switched off (``tests/mutants.py``:
``form-token``, ``idempotent``, ``low-order-points``, ``secure-delete``); before them, each was
caught by unit tests only (``docs/testing.md``, "Mutation checks").
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import requests

from reporter.formats import bech32, envelope
from reporter.formats.chain import envelope_hash
from reporter.formats.crypto import PUBLIC_KEY_HRP
from reporter.station.instance import db_path
from reporter.storage.blobs import BlobStore
from tests.conftest import Station, form_token, make_station, start_server, valid_report
from tests.e2e.test_e2e import RECEIPT_RE
from tests.e2e.test_recipients import (
    Field,
    Sent,
    export_bundle,
    make_field_station,
    post_over_http,
    send_all,
)
from tests.station.test_purge import attachment_pages, decrypted_pages

pytestmark = pytest.mark.slow

# Curve25519's low-order points (Montgomery u), with non-canonical twins: sealing to
# any of them gives an all-zero shared secret, so anyone could open the report.
LOW_ORDER_POINTS = [
    bytes(32),
    bytes([1]) + bytes(31),
    bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    bytes.fromhex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
    bytes.fromhex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    bytes.fromhex("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    bytes.fromhex("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
]


@pytest.fixture
def field_station(tmp_path: Path) -> Field:
    """A station with three reviewers (``test_recipients.ADDED``), made with the CLI."""
    return make_field_station(tmp_path)


def stored_count(station: Station) -> int:
    with station.store() as store:
        return store.report_count()


def other_station(tmp_path: Path) -> Station:
    """Another station, with its own session secret."""
    return make_station(tmp_path / "other-instance", sites=("Marange",),
                        reviewer_name="someone")


def test_a_post_without_a_form_token_of_this_station_stores_nothing(
        field_station: Field, tmp_path: Path) -> None:
    station = field_station.station
    other = other_station(tmp_path)
    server = start_server(station, tmp_path)
    elsewhere = start_server(other, tmp_path)
    try:
        url = server.url + "/"
        form = valid_report(description="typed by the monitor CNRYtoken")

        def refused(response: requests.Response, why: str) -> None:
            assert response.status_code == 400, f"{why}: {response.status_code}"
            assert "typed by the monitor CNRYtoken" in response.text, why
            assert not RECEIPT_RE.search(response.text), why
            assert stored_count(station) == 0, why

        # No token at all (a plain cross-site form post, or a script).
        refused(requests.post(url, data=form, timeout=30), "no token")
        # A token from another station (another key, held in another process).
        token = form_token(requests.get(elsewhere.url + "/", timeout=10).text)
        refused(requests.post(url, data={"form_token": token, **form}, timeout=30),
                "another station's token")
        # A tampered token.
        token = form_token(requests.get(url, timeout=10).text)
        forged = token[:20] + ("A" if token[20] != "A" else "B") + token[21:]
        refused(requests.post(url, data={"form_token": forged, **form}, timeout=30),
                "a tampered token")

        # The form re-shown carries a new token: sent (twice), it is stored once.
        page = requests.post(url, data={"form_token": forged, **form}, timeout=30).text
        fresh = {"form_token": form_token(page), **form}
        first = requests.post(url, data=fresh, timeout=30)
        again = requests.post(url, data=fresh, timeout=30)
        assert first.status_code == again.status_code == 200
        assert RECEIPT_RE.findall(first.text) == RECEIPT_RE.findall(again.text) != []
        assert stored_count(station) == 1
    finally:
        server.stop()
        elsewhere.stop()


def test_no_low_order_point_is_accepted_as_a_reviewer_key(
        field_station: Field, tmp_path: Path) -> None:
    station, cli = field_station.station, field_station.cli
    code, before, _ = cli("recipients", "list")
    assert code == 0
    for number, point in enumerate(LOW_ORDER_POINTS):
        text = bech32.encode(PUBLIC_KEY_HRP, point)
        code, out, err = cli("recipients", "add", f"Mallory {number}", text)
        assert code != 0, f"{point.hex()} was added: {out}"
        assert "low-order" in err and "Traceback" not in err, err
    code, after, _ = cli("recipients", "list")
    assert after == before

    # Reports are still sealed to the three real reviewers, and to no one else.
    server = start_server(station, tmp_path)
    try:
        session = requests.Session()
        token = form_token(session.get(server.url + "/", timeout=10).text)
        response = session.post(server.url + "/", data={"form_token": token,
                                                        **valid_report()}, timeout=30)
        assert response.status_code == 200
    finally:
        server.stop()
    with station.store() as store:
        [row] = list(store.reports())
    assert row.envelope is not None
    assert envelope.inspect(row.envelope).recipients == len(field_station.reviewers)
    assert re.search(r"\bMallory\b", after) is None


def pieces(station: Station) -> dict[int, tuple[list[bytes], list[bytes]]]:
    """Per report: 64-byte pieces of its envelope, and of each of its attachments'
    stored ciphertext (from its second segment too, when it has one)."""
    out: dict[int, tuple[list[bytes], list[bytes]]] = {}
    with station.store() as store, BlobStore.open(station.path, station.key) as blobs:
        for row in store.reports():
            assert row.envelope is not None
            env = row.envelope
            found = []
            for upload in blobs.uploads_for(envelope_hash(env)):
                for segment in blobs.read(upload.id):
                    found.append(segment[5000:5064])
            out[row.seq] = ([env[i : i + 64] for i in (200, len(env) // 2, len(env) - 64)],
                            found)
    return out


def test_purge_leaves_no_page_holding_a_purged_report_or_attachment(
        field_station: Field, tmp_path: Path) -> None:
    station, cli = field_station.station, field_station.cli
    first = [Sent("report with a video, to be purged", [
                  ("VID_0009.mp4", b"\x00\x00\x00\x18ftypmp42" + os.urandom(3_000_000))]),
             Sent("report with files, to be purged", [
                  ("IMG_0001.jpg", b"\xff\xd8\xff\xe0" + os.urandom(400_000)),
                  ("statement.pdf", b"%PDF-1.7\n" + os.urandom(600_000))]),
             Sent("report without files, to be purged", [])]
    later = [Sent("report held after the purge", [
                  ("statement.pdf", b"%PDF-1.7\n" + os.urandom(500_000))])]
    server = start_server(station, tmp_path)
    try:
        send_all(first, lambda item, receipt: post_over_http(server.url, item, receipt))
        export_bundle(cli, tmp_path / "bundle-1.rptr", first)
        send_all(later, lambda item, receipt: post_over_http(server.url, item, receipt))
        stored = pieces(station)
        assert [len(stored[seq][1]) for seq in (1, 2, 3, 4)] == [3, 2, 0, 1]
        code, _, err = cli("purge", "--through", "1", "--yes")  # while it serves
        assert code == 0, err
    finally:
        server.stop()
    code, _, err = cli("purge", "--through", "1", "--yes")  # again, as the note says
    assert code == 0, err

    station_pages = b"".join(decrypted_pages(db_path(station.path), station.key))
    blob_pages = attachment_pages(station)
    for seq in (1, 2, 3):
        envelopes, files = stored[seq]
        assert not any(p in station_pages for p in envelopes), f"report {seq} is still there"
        assert not any(p in blob_pages for p in files), f"an attachment of {seq} is still there"
    envelopes, files = stored[4]
    assert all(p in station_pages for p in envelopes)  # control: the scan sees what is held
    assert all(p in blob_pages for p in files)
    for journal in ("-wal", "-journal"):
        for db in (db_path(station.path), station.path / "attachments.db"):
            leftover = Path(str(db) + journal)
            assert not leftover.exists() or leftover.stat().st_size == 0, leftover
