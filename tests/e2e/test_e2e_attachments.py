"""Attachments through a real server process: canaries, dropped connections, kill -9.

Each test starts ``reporter serve`` (its own server) and talks to it over a socket,
as a phone would: slowly, cut off halfway, lying about its length.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from pathlib import Path

import pytest
import requests

from reporter.storage.blobs import BlobStore
from tests.conftest import Server, Station, form_token, start_server, valid_report
from tests.e2e.test_e2e import RECEIPT_RE, assert_nowhere_on_disk, canary, multipart, submit
from tests.station.test_web_attachments import stored

pytestmark = pytest.mark.slow
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00"


def upload_count(station: Station) -> int:
    with BlobStore.open(station.path, station.key) as blobs:
        return blobs.upload_count()


def form_body(server: Server, secret: str, size: int) -> tuple[bytes, str]:
    """A valid report with one large attachment full of ``secret``."""
    token = form_token(requests.get(server.url + "/", timeout=10).text)
    fields = {"form_token": token, **{k: v if isinstance(v, str) else v[0]
                                     for k, v in valid_report(description=secret).items()}}
    video = MP4 + (secret.encode() + b"-") * (size // (len(secret) + 1))
    body, content_type = multipart(fields, [("attachments", "shooting.mp4", video)])
    return body, content_type


def send(server: Server, body: bytes, content_type: str, *,
         upto: int | None = None, content_length: int | None = None,
         pause: float = 0.0, midway: object = None) -> bytes:
    """Send a POST over a raw socket; stop after ``upto`` bytes (then hang up)."""
    host, port = server.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=60)
    length = len(body) if content_length is None else content_length
    sock.sendall(f"POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n"
                 f"Content-Length: {length}\r\n"
                 "Connection: close\r\n\r\n".encode())
    end = len(body) if upto is None else upto
    step = 256 * 1024
    for start in range(0, end, step):
        sock.sendall(body[start : min(start + step, end)])
        if pause:
            time.sleep(pause)
        if callable(midway) and start <= end // 2 < start + step:
            midway()
    if upto is not None:
        sock.close()  # the phone lost its signal
        return b""
    reply = b""
    while chunk := sock.recv(65536):
        reply += chunk
    sock.close()
    return reply


def wait_until(condition: object, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_canaries_in_a_large_attachment_never_reach_the_disk(
        station: Station, tmp_path: Path) -> None:
    tmp = tmp_path / "server-tmp"
    tmp.mkdir()
    server = start_server(station, tmp_path, env={"TMPDIR": str(tmp)})
    secret = canary("video")
    scans: list[str] = []

    def scan() -> None:
        assert_nowhere_on_disk([secret], [station.path, tmp, server.log.parent])
        scans.append("midway")

    try:
        body, content_type = form_body(server, secret, 24 << 20)
        reply = send(server, body, content_type, pause=0.002, midway=scan)
        assert b" 200 " in reply.split(b"\r\n", 1)[0], reply[:300]
        assert RECEIPT_RE.search(reply.decode("utf-8", "replace"))
    finally:
        server.stop()
    assert scans == ["midway"]
    assert_nowhere_on_disk([secret], [station.path, tmp, server.log.parent])
    [(report, [video])] = stored(station)
    assert video.startswith(MP4) and secret.encode() in video
    assert report.attachments[0].size == len(video) and report.fields["description"] == secret


def test_an_upload_cut_off_halfway_leaves_nothing(station: Station, tmp_path: Path) -> None:
    tmp = tmp_path / "server-tmp"
    tmp.mkdir()
    server = start_server(station, tmp_path, env={"TMPDIR": str(tmp)})
    secret = canary("cutoff")
    try:
        body, content_type = form_body(server, secret, 16 << 20)
        send(server, body, content_type, upto=len(body) // 2)
        wait_until(lambda: upload_count(station) == 0)
        # The server keeps serving others meanwhile and afterwards.
        assert submit(requests.Session(), server.url, valid_report()).status_code == 200
    finally:
        server.stop()
    assert_nowhere_on_disk([secret], [station.path, tmp, server.log.parent])
    assert [r.fields["description"] for r, _ in stored(station)] == [
        valid_report()["description"]]
    assert "Traceback" not in server.log.read_text()


def test_a_lying_content_length_stores_nothing(station: Station, tmp_path: Path) -> None:
    server = start_server(station, tmp_path)
    try:
        body, content_type = form_body(server, canary("liar"), 2 << 20)
        reply = send(server, body, content_type, content_length=len(body) // 3)
        assert reply.split(b"\r\n", 1)[0].split()[1] in (b"400", b"413"), reply[:200]
        wait_until(lambda: upload_count(station) == 0)
        assert requests.get(server.url + "/", timeout=10).status_code == 200
    finally:
        server.stop()
    assert stored(station) == []


def test_a_slow_upload_does_not_hold_up_other_monitors(station: Station,
                                                       tmp_path: Path) -> None:
    server = start_server(station, tmp_path)
    try:
        body, content_type = form_body(server, canary("slow"), 6 << 20)
        replies: list[bytes] = []
        slow = threading.Thread(target=lambda: replies.append(
            send(server, body, content_type, pause=0.05)))
        slow.start()
        time.sleep(0.3)
        started = time.monotonic()
        for _ in range(3):
            assert submit(requests.Session(), server.url, valid_report()).status_code == 200
        quick = time.monotonic() - started
        slow.join(60)
        assert b" 200 " in replies[0].split(b"\r\n", 1)[0]
    finally:
        server.stop()
    assert quick < 10, f"three reports took {quick:.1f} s during a slow upload"
    assert len(stored(station)) == 4


def test_kill_9_mid_upload_keeps_every_acknowledged_attachment(
        station: Station, tmp_path: Path) -> None:
    server = start_server(station, tmp_path)
    try:
        first, content_type = form_body(server, canary("kept"), 3 << 20)
        reply = send(server, first, content_type)
        assert b" 200 " in reply.split(b"\r\n", 1)[0]
        body, content_type = form_body(server, canary("killed"), 16 << 20)
        threading.Thread(target=lambda: _quietly(
            lambda: send(server, body, content_type, pause=0.01)), daemon=True).start()
        wait_until(lambda: upload_count(station) == 2)
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait()
    finally:
        server.stop()
    assert upload_count(station) == 2, "the cut-off upload is still there until restart"
    restarted = start_server(station, tmp_path)
    try:
        # Erased beside the server, which answers at once (start_server waited for it).
        wait_until(lambda: "Deleted 1 unfinished upload" in restarted.log.read_text())
    finally:
        restarted.stop()
    assert upload_count(station) == 1
    [(report, [video])] = stored(station)
    assert report.attachments[0].size == len(video) and video.startswith(MP4)


def _quietly(action: object) -> None:
    try:
        if callable(action):
            action()
    except OSError:
        pass
