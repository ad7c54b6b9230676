"""The station-wide submission limit and the disk guard, through a real ``reporter serve``.

Over Tor every client is 127.0.0.1, so the limit is the station's, not a
client's (station/ratelimit.py); a flood of uploads must not fill the disk
(station/diskspace.py). Either way the monitor turned away gets the form back
in their language with what they typed, nothing is stored, the form's token
stays unused (so the same page sent again later gets its receipt), and the
log has counts, never a line per request. The disk is a simulated one
(``REPORTER_TEST_DISK_SIZE_FILE``, fault injection only): the instance's own
files fill it, so an upload really crosses the threshold as it streams.
SECURITY.md, "Availability".
"""

from __future__ import annotations

import html
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from reporter.i18n.languages import shipped_languages
from reporter.storage.blobs import BlobStore
from tests.conftest import PASSPHRASE, Server, Station, form_token, start_server, valid_report
from tests.e2e.test_browser_monitor import say
from tests.e2e.test_e2e import RECEIPT_RE, multipart

pytestmark = pytest.mark.slow
MIB = 1024 * 1024
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 400


def flat(data: dict[str, Any]) -> dict[str, str]:
    return {k: v if isinstance(v, str) else v[0] for k, v in data.items()}


def fresh_token(server: Server, lang: str = "en", path: str = "/") -> str:
    return form_token(requests.get(f"{server.url}{path}?lang={lang}", timeout=10).text)


def post(server: Server, fields: dict[str, str], files: list[tuple[str, str, bytes]] | None = None,
         path: str = "/") -> requests.Response:
    """The form as a browser sends it: multipart, the file field last."""
    body, content_type = multipart(fields, files or [("attachments", "", b"")])
    return requests.post(server.url + path, data=body, headers={"Content-Type": content_type},
                         timeout=120)


def page_text(response: requests.Response) -> str:
    return html.unescape(response.text)


def report_count(station: Station) -> int:
    with station.store() as store:
        return int(store.report_count())


def upload_count(station: Station) -> int:
    with BlobStore.open(station.path, station.key) as blobs:
        return int(blobs.upload_count())


def receipt_of(response: requests.Response) -> str:
    assert response.status_code == 200, response.text[:2000]
    [code] = RECEIPT_RE.findall(response.text)
    return str(code)


def log_lines(server: Server, needle: str) -> list[str]:
    return [line for line in server.log.read_text().splitlines() if needle in line]


# --- the submission limit ---------------------------------------------------------------


@pytest.fixture
def limited(station: Station, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Three submissions at once, then one every two seconds."""
    server = start_server(station, tmp_path, extra_args=[
        "--max-submissions-per-minute", "3", "--submission-window", "6"])
    yield server
    server.stop()


def test_a_flood_is_shed_politely_and_the_same_page_sent_later_gets_its_receipt(
        limited: Server, station: Station) -> None:
    for i in range(3):  # the burst: taken at once
        receipt_of(post(limited, {"form_token": fresh_token(limited),
                                  **flat(valid_report(description=f"burst {i}"))}))
    sent = []
    for i in range(8):  # the flood, each with a form of its own, in Swahili
        fields = {"form_token": fresh_token(limited, "sw"), "lang": "sw",
                  **flat(valid_report(description=f"Mafuriko {i}: askari walifyatua risasi."))}
        sent.append((fields, post(limited, fields)))
        # A GET of the form is never limited.
        assert requests.get(limited.url + "/?lang=sw", timeout=10).status_code == 200
    shed = [(fields, answer) for fields, answer in sent if answer.status_code == 429]
    taken = [answer for _fields, answer in sent if answer.status_code == 200]
    assert len(shed) >= 5 and len(shed) + len(taken) == 8, [a.status_code for _f, a in sent]
    for fields, answer in shed:
        text = page_text(answer)
        assert 'lang="sw"' in answer.text
        assert say("sw", "The station is busy.") in text
        assert say("sw", "Nothing was saved, and your answers are still below. Please wait a "
                         "minute, then send again.") in text
        assert fields["description"] in text  # what was typed is kept
        assert form_token(answer.text) == fields["form_token"]  # the same, unused token
        assert 1 <= int(answer.headers["Retry-After"]) <= 6
        assert "no-store" in answer.headers["Cache-Control"]
        assert "Set-Cookie" not in answer.headers
    assert report_count(station) == 3 + len(taken)  # nothing of the shed ones stored
    # Later, the same page sent again (its own token) is taken and gets its receipt.
    fields, answer = shed[0]
    time.sleep(int(answer.headers["Retry-After"]) + 0.5)
    code = receipt_of(post(limited, fields))
    assert report_count(station) == 4 + len(taken)
    assert receipt_of(post(limited, fields)) == code  # and a resend of it stores nothing new
    assert report_count(station) == 4 + len(taken)
    # Counted, never logged per request, and never what was typed.
    lines = log_lines(limited, "the station turned submissions away")
    assert 1 <= len(lines) <= 2 and "shed by the station-wide limit" in lines[0]
    assert "Mafuriko" not in limited.log.read_text()


def test_a_shed_upload_stores_nothing_and_says_to_choose_the_files_again(
        station: Station, tmp_path: Path) -> None:
    server = start_server(station, tmp_path, extra_args=[
        "--max-submissions-per-minute", "1", "--submission-window", "3600"])
    try:
        receipt_of(post(server, {"form_token": fresh_token(server), **flat(valid_report())}))
        fields = {"form_token": fresh_token(server, "pt"), "lang": "pt",
                  **flat(valid_report(description="Com fotografia."))}
        blobs = station.path / "attachments.db"  # made by the first form's (empty) file part
        before = blobs.stat()
        answer = post(server, fields, [("attachments", "IMG_7.jpg", JPEG * 20)])
        assert answer.status_code == 429
        text = page_text(answer)
        assert say("pt", "Your files were not kept: please choose them again.") in text
        assert "Com fotografia." in text
        assert upload_count(station) == 0 and report_count(station) == 1
        # Shed before its body was read: its 2 MB were dropped, never sealed or written
        # (a file sealed, then deleted, would leave the same count but change the file).
        after = blobs.stat()
        assert (after.st_mtime_ns, after.st_size) == (before.st_mtime_ns, before.st_size)
    finally:
        server.stop()


def test_the_busy_page_in_every_language_and_a_language_change_is_never_shed(
        station: Station, tmp_path: Path) -> None:
    server = start_server(station, tmp_path, extra_args=[
        "--max-submissions-per-minute", "1", "--submission-window", "3600"])
    try:
        receipt_of(post(server, {"form_token": fresh_token(server), **flat(valid_report())}))
        for lang in shipped_languages():
            fields = {"form_token": fresh_token(server, lang), "lang": lang,
                      **flat(valid_report(description=f"typed in {lang}"))}
            answer = post(server, fields)
            assert answer.status_code == 429, lang
            assert f'<html lang="{lang}"' in answer.text
            assert say(lang, "The station is busy.") in page_text(answer)
            # Changing the language is not a submission: never shed.
            switched = requests.post(f"{server.url}/?lang={lang}",
                                     data={**fields, "switch_lang": lang}, timeout=10)
            assert switched.status_code == 200 and "typed in" in switched.text
            # The follow-up form is limited the same way.
            follow = {"form_token": fresh_token(server, lang, "/follow-up"), "lang": lang,
                      "receipt": "7KQM-3XHD-9TWA-R2PC", "description": "more"}
            assert post(server, follow, path="/follow-up").status_code == 429
        assert report_count(station) == 1
    finally:
        server.stop()


def test_hostile_bodies_to_a_busy_station_get_pages_never_errors(
        station: Station, tmp_path: Path) -> None:
    """What the HTTP fuzzer sends, while the limit sheds (the fuzzer runs with it off)."""
    server = start_server(station, tmp_path, extra_args=[
        "--max-submissions-per-minute", "1", "--submission-window", "3600"])
    try:
        receipt_of(post(server, {"form_token": fresh_token(server), **flat(valid_report())}))
        for path in ("/", "/follow-up"):
            fields = {"form_token": fresh_token(server, path=path), **flat(valid_report()),
                      "receipt": "7KQM-3XHD-9TWA-R2PC"}
            body, content_type = multipart(fields, [("attachments", "x.jpg", JPEG)])
            for kind, headers, data in (
                    ("form", {"Content-Type": "application/x-www-form-urlencoded"},
                     "&".join(f"{k}={v}" for k, v in fields.items()).encode()),
                    ("multipart", {"Content-Type": content_type}, body),
                    ("json", {"Content-Type": "application/json"}, b'{"description": 1}'),
                    ("text", {"Content-Type": "text/plain"}, b"description=x"),
                    ("none", {}, b""),
                    ("garbage", {"Content-Type": "multipart/form-data; boundary=x"},
                     bytes(range(256)) * 3),
                    ("cut", {"Content-Type": content_type}, body[: len(body) // 2])):
                answer = requests.post(server.url + path, data=data, headers=headers,
                                       timeout=30)
                assert answer.status_code < 500, (path, kind, answer.status_code)
                assert "Traceback" not in answer.text
                if kind in ("form", "multipart"):
                    assert answer.status_code == 429, (path, kind)
        assert report_count(station) == 1 and upload_count(station) == 0
        log = server.log.read_text()
        assert "Traceback" not in log and "unhandled" not in log and "escaped" not in log
    finally:
        server.stop()


# --- the disk guard ---------------------------------------------------------------------


def instance_bytes(station: Station) -> int:
    return sum(p.stat().st_size for p in station.path.rglob("*") if p.is_file())


class Disk:
    """A simulated disk the instance's own files fill (the server reads it at each check)."""

    def __init__(self, station: Station, tmp_path: Path) -> None:
        self.station = station
        self.file = tmp_path / "disk-size"
        self.free(10 * 1024 * MIB)

    def free(self, size: int) -> None:
        """Make the free space ``size`` bytes now."""
        self.file.write_text(str(instance_bytes(self.station) + size))


def guarded(station: Station, tmp_path: Path, min_free_mib: int) -> tuple[Server, Disk]:
    disk = Disk(station, tmp_path)
    server = start_server(station, tmp_path, env={"REPORTER_TEST_DISK_SIZE_FILE": str(disk.file)},
                          extra_args=["--min-free-mib", str(min_free_mib)])
    return server, disk


def test_short_of_space_files_are_refused_and_text_is_still_taken(
        station: Station, tmp_path: Path) -> None:
    server, disk = guarded(station, tmp_path, 64)
    try:
        disk.free(32 * MIB)  # under 64 MiB, over the 16 MiB reserve
        fields = {"form_token": fresh_token(server, "fr"), "lang": "fr",
                  **flat(valid_report(description="Avec une photo."))}
        answer = post(server, fields, [("attachments", "IMG_8.jpg", JPEG)])
        assert answer.status_code == 507
        text = page_text(answer)
        assert say("fr", "The station is running out of storage space and cannot take files "
                         "now.") in text
        assert say("fr", "Files cannot be received now: the station is running out of "
                         "storage space.") in text
        assert "Avec une photo." in text and form_token(answer.text) == fields["form_token"]
        assert upload_count(station) == 0 and report_count(station) == 0
        # The same page sent without the file: taken (its token was not used).
        receipt_of(post(server, fields))
        assert report_count(station) == 1 and upload_count(station) == 0
        assert log_lines(server, "submissions with files refused")
    finally:
        server.stop()


def test_under_the_reserve_nothing_is_taken_until_there_is_room_again(
        station: Station, tmp_path: Path) -> None:
    server, disk = guarded(station, tmp_path, 64)
    try:
        disk.free(8 * MIB)  # under the reserve (a quarter of 64 MiB)
        fields = {"form_token": fresh_token(server, "sn"), "lang": "sn",
                  **flat(valid_report(description="Pasina nzvimbo."))}
        answer = post(server, fields)
        assert answer.status_code == 507
        text = page_text(answer)
        assert say("sn", "The station is out of storage space.") in text
        assert "Pasina nzvimbo." in text
        assert report_count(station) == 0
        assert requests.get(server.url + "/", timeout=10).status_code == 200  # the form: always
        disk.free(1024 * MIB)  # the operator made room
        receipt_of(post(server, fields))
        assert report_count(station) == 1
    finally:
        server.stop()


def chunked_post(server: Server, body: bytes, content_type: str) -> tuple[int, str]:
    """A POST with no Content-Length (chunked): the station cannot see its size coming."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=120) as sock:
        sock.sendall(f"POST / HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: {content_type}"
                     "\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".encode())
        for start in range(0, len(body), 64 * 1024):
            piece = body[start : start + 64 * 1024]
            sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        sock.sendall(b"0\r\n\r\n")
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, _, rest = reply.partition(b"\r\n\r\n")
    return int(head.split()[1]), html.unescape(rest.decode("utf-8", "replace"))


VIDEO = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00" + os.urandom(12 * MIB)


def test_an_upload_that_fills_the_disk_as_it_streams_is_stopped_and_nothing_stays(
        station: Station, tmp_path: Path) -> None:
    server, disk = guarded(station, tmp_path, 16)
    try:
        before = (station.path / "attachments.db").stat().st_size \
            if (station.path / "attachments.db").exists() else 0
        disk.free(16 * MIB + 6 * MIB)  # room for 6 MiB of files, not 12
        fields = {"form_token": fresh_token(server, "ln"), "lang": "ln",
                  **flat(valid_report(description="Video monene."))}
        body, content_type = multipart(fields, [("attachments", "mine.mp4", VIDEO)])
        status, text = chunked_post(server, body, content_type)
        assert status == 507
        assert say("ln", "Files cannot be received now: the station is running out of storage "
                         "space.") in text
        assert "Video monene." in text
        assert upload_count(station) == 0 and report_count(station) == 0
        # Stopped on the way: the incidents line names the mid-stream stop, and what was
        # written of it was handed back (the file is no larger than 7 MiB past its start).
        assert log_lines(server, "uploads stopped: free disk space fell under")
        assert (station.path / "attachments.db").stat().st_size < before + 7 * MIB
        # And the station goes on: the same page without the file is taken.
        receipt_of(post(server, fields))
        assert report_count(station) == 1
        log = server.log.read_text()
        assert "Traceback" not in log and "unhandled" not in log and "Video monene" not in log
    finally:
        server.stop()


def test_an_upload_announced_too_large_for_the_room_left_is_refused_before_it_is_read(
        station: Station, tmp_path: Path) -> None:
    server, disk = guarded(station, tmp_path, 16)
    try:
        disk.free(16 * MIB + 6 * MIB)
        fields = {"form_token": fresh_token(server, "pt"), "lang": "pt",
                  **flat(valid_report(description="Vídeo grande."))}
        answer = post(server, fields, [("attachments", "mine.mp4", VIDEO)])  # Content-Length
        assert answer.status_code == 507
        assert say("pt", "Files cannot be received now: the station is running out of storage "
                         "space.") in page_text(answer)
        assert upload_count(station) == 0 and report_count(station) == 0
        # Refused from its Content-Length, not stopped on the way.
        assert log_lines(server, "submissions with files refused")
        assert not log_lines(server, "uploads stopped")
    finally:
        server.stop()


def run_status(station: Station, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "reporter", "--instance", str(station.path), "status"],
        env={**os.environ, "REPORTER_PASSPHRASE": PASSPHRASE, **env},
        capture_output=True, text=True, timeout=60, check=True)
    return result.stdout


def test_status_shows_free_space_and_warns_when_it_is_low(
        station: Station, tmp_path: Path) -> None:
    stat = os.statvfs(station.path)
    real = run_status(station, {})
    [line] = [x for x in real.splitlines() if x.startswith("Free disk space:")]
    shown = int(line.split(":", 1)[1].split("MiB")[0].replace(",", ""))
    assert abs(shown - stat.f_bavail * stat.f_frsize // MIB) < 256
    assert "files refused below 512 MiB, every report below 128 MiB" in line
    disk = Disk(station, tmp_path)
    disk.free(300 * MIB + MIB // 2)  # the status command itself opens the database
    low = run_status(station, {"REPORTER_TEST_DISK_SIZE_FILE": str(disk.file)})
    assert "Free disk space:  300 MiB" in low
    assert "WARNING: free disk space on the instance's file system is 300 MiB, under 512 " \
           "MiB: the station refuses files" in low
    disk.free(100 * MIB)
    full = run_status(station, {"REPORTER_TEST_DISK_SIZE_FILE": str(disk.file)})
    assert "under 128 MiB: the station takes no report at all" in full
    off = run_status(station, {"REPORTER_TEST_DISK_SIZE_FILE": str(disk.file),
                               "REPORTER_MIN_FREE_MIB": "0"})
    assert "WARNING" not in off
