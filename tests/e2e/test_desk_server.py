"""The review desk as a reviewer runs it: ``reporter review serve`` in its own
process, real sockets, real HTTP. It listens on 127.0.0.1 only, answers only its
own Host, unlocks with the passphrase typed on its page, locks itself when left
alone, streams files without writing them anywhere, and logs nothing of what it
shows."""

from __future__ import annotations

import hashlib
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import Station
from tests.desk import (
    EXIF_CANARY,
    HOSTILE_TEXT,
    Desk,
    Sample,
    add_report,
    csrf,
    export,
    make_sample,
    start_desk,
    unlocked_session,
    wav_tone,
)
from tests.reviewing import REVIEW_PASSPHRASE

pytestmark = pytest.mark.slow
# A video of 3 MB: ISO base media (``ftyp``) bytes, so the station takes it as video/mp4.
VIDEO = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + hashlib.shake_256(
    b"video").digest(3 * 1024 * 1024)


@pytest.fixture
def sample(station: Station, tmp_path: Path) -> Sample:
    return make_sample(station, tmp_path)


@pytest.fixture
def desk(sample: Sample, tmp_path: Path) -> Iterator[Desk]:
    running = start_desk(sample.path, tmp_path, env={"TMPDIR": str(tmp_path / "tmp")})
    (tmp_path / "tmp").mkdir(exist_ok=True)
    yield running
    running.stop()


def raw(desk: Desk, request: bytes) -> bytes:
    """One request on a raw socket: the exact bytes answered."""
    with socket.create_connection(("127.0.0.1", desk.port), timeout=10) as s:
        s.sendall(request)
        answer = b""
        while True:
            data = s.recv(65536)
            if not data:
                break
            answer += data
            if b"\r\n\r\n" in answer:
                head, _, body = answer.partition(b"\r\n\r\n")
                length = re.search(rb"(?i)content-length: (\d+)", head)
                if length and len(body) >= int(length.group(1)):
                    break
    return answer


def test_it_starts_locked_on_127_0_0_1_only(desk: Desk) -> None:
    assert f"http://127.0.0.1:{desk.port}/" in desk.output() and "locked" in desk.output()
    listening = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port = local.split(":")
            if state == "0A" and int(port, 16) == desk.port:
                listening.add(address)
    assert listening == {"0100007F"}  # 127.0.0.1, and nothing else
    answer = requests.get(desk.url + "/", timeout=30, allow_redirects=False)
    assert answer.status_code == 303 and answer.headers["Location"].startswith("/unlock")


def test_unlock_read_and_download_through_real_http(desk: Desk, sample: Sample) -> None:
    session = unlocked_session(desk)
    inbox = session.get(desk.url + "/", timeout=30)
    assert inbox.status_code == 200 and "4 reports in the database" in inbox.text
    photo = sample.ids["photo"]
    page = session.get(f"{desk.url}/reports/{photo}", timeout=30)
    assert "Chain of custody" in page.text and "Soldiers fired" in page.text
    assert HOSTILE_TEXT not in page.text and "&lt;script&gt;" in page.text
    wav = session.get(f"{desk.url}/reports/{photo}/attachments/2", timeout=30)
    assert wav.content == wav_tone()
    assert hashlib.sha256(wav.content).hexdigest() in page.text
    assert wav.headers["Content-Disposition"] == "attachment; filename=2-statement.wav"
    preview = session.get(f"{desk.url}/reports/{photo}/attachments/1/preview", timeout=60)
    assert preview.status_code == 200 and EXIF_CANARY.encode() not in preview.content
    assert preview.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    # No Server header naming the machine, no address in anything answered.
    assert wav.headers.get("Server", "reporter-desk") == "reporter-desk"


def test_the_wrong_host_is_refused_on_the_wire(desk: Desk) -> None:
    """DNS rebinding: a page at evil.example:PORT resolved to 127.0.0.1 sends its own Host."""
    session = unlocked_session(desk)
    cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
    for host in (f"evil.example:{desk.port}", "evil.example", f"127.0.0.1:{desk.port + 1}",
                 f"localhost.evil.example:{desk.port}"):
        answer = raw(desk, f"GET / HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\n"
                           "Connection: close\r\n\r\n".encode())
        assert answer.startswith(b"HTTP/1.1 421 "), answer[:200]
        assert b"Soldiers" not in answer and b"reports in the database" not in answer
    answer = raw(desk, f"GET / HTTP/1.1\r\nHost: localhost:{desk.port}\r\nCookie: {cookie}"
                       "\r\nConnection: close\r\n\r\n".encode())
    assert answer.startswith(b"HTTP/1.1 200 ")
    answer = raw(desk, f"GET / HTTP/1.0\r\nCookie: {cookie}\r\n\r\n".encode())  # no Host
    assert answer.startswith(b"HTTP/1.1 421 ") or answer.startswith(b"HTTP/1.1 400 ")


def test_cross_site_requests_are_refused(desk: Desk, sample: Sample) -> None:
    session = unlocked_session(desk)
    for site in ("cross-site", "same-site"):
        answer = session.get(f"{desk.url}/reports/{sample.ids['photo']}",
                             headers={"Sec-Fetch-Site": site}, timeout=30)
        assert answer.status_code == 403 and "Soldiers" not in answer.text


def test_a_forged_form_changes_nothing(desk: Desk) -> None:
    session = unlocked_session(desk)
    lock = session.post(desk.url + "/lock", data={"csrf_token": "0" * 64}, timeout=30,
                        allow_redirects=False)
    assert lock.status_code == 403
    assert session.get(desk.url + "/", timeout=30, allow_redirects=False).status_code == 200
    token = csrf(session.get(desk.url + "/", timeout=30).text)
    lock = session.post(desk.url + "/lock", data={"csrf_token": token}, timeout=30,
                        allow_redirects=False)
    assert lock.status_code == 303
    assert session.get(desk.url + "/", timeout=30, allow_redirects=False).status_code == 303


def test_a_wrong_passphrase_and_a_restart_unlock_nothing(desk: Desk, sample: Sample,
                                                         tmp_path: Path) -> None:
    session = requests.Session()
    token = csrf(session.get(desk.url + "/unlock", timeout=30).text)
    answer = session.post(desk.url + "/unlock", data={
        "csrf_token": token, "passphrase": "guess " * 3}, timeout=60)
    assert answer.status_code == 403 and "Wrong passphrase" in answer.text
    assert session.get(desk.url + "/", timeout=30, allow_redirects=False).status_code == 303
    unlocked = unlocked_session(desk)
    token = csrf(unlocked.get(desk.url + "/", timeout=30).text)
    desk.stop()
    again = start_desk(sample.path, tmp_path, port=desk.port)
    try:
        # The old cookie and form token mean nothing to the new process: it starts locked.
        answer = unlocked.get(again.url + "/", timeout=30, allow_redirects=False)
        assert answer.status_code == 303
        answer = unlocked.post(again.url + "/lock", data={"csrf_token": token}, timeout=30)
        assert answer.status_code == 403 and "This form has expired" in answer.text
    finally:
        again.stop()


def test_the_desk_locks_itself_when_left_alone(sample: Sample, tmp_path: Path) -> None:
    desk = start_desk(sample.path, tmp_path, "--idle-lock", "0.02")  # 1.2 s
    try:
        session = unlocked_session(desk)
        assert session.get(desk.url + "/", timeout=30, allow_redirects=False).status_code == 200
        time.sleep(3.5)
        answer = session.get(desk.url + "/", timeout=30, allow_redirects=False)
        assert answer.status_code == 303
        page = session.get(desk.url + "/unlock", timeout=30).text
        assert "locked itself after 1 minutes without use" in page
    finally:
        desk.stop()


def test_what_the_desk_shows_is_never_written_nor_logged(station: Station, tmp_path: Path,
                                                          sample: Sample) -> None:
    add_report(station, {"description": "a video", "incident_types": ["other"]},
               files=[("clip.mp4", VIDEO)])
    from reporter.review.db import ReviewDB
    from reporter.review.importer import import_bundle

    with ReviewDB.open(sample.path, REVIEW_PASSPHRASE) as db:
        import_bundle(db, export(station, tmp_path / "bundle-2.rptr"), station.reviewer)
        [video_id] = [r[0] for r in db.connection.execute(
            "SELECT id FROM reports WHERE description = 'a video'")]
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    before = {p: p.stat().st_size for p in tmp_path.iterdir() if p.is_file()}
    desk = start_desk(sample.path, tmp_path, env={"TMPDIR": str(scratch)})
    try:
        session = unlocked_session(desk)
        url = f"{desk.url}/reports/{video_id}/attachments/1"
        got = session.get(url, timeout=60)
        assert got.content == VIDEO and got.headers["Content-Type"] == "video/mp4"
        part = session.get(url, headers={"Range": "bytes=2000000-2000099"}, timeout=60)
        assert part.status_code == 206 and part.content == VIDEO[2000000:2000100]
        # A download abandoned half way leaves the desk serving.
        with socket.create_connection(("127.0.0.1", desk.port), timeout=10) as s:
            cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
            s.sendall(f"GET /reports/{video_id}/attachments/1 HTTP/1.1\r\nHost: "
                      f"127.0.0.1:{desk.port}\r\nCookie: {cookie}\r\n\r\n".encode())
            assert s.recv(1000).startswith(b"HTTP/1.1 200 ")
        for name in ("photo", "hostile", "follow-up"):
            session.get(f"{desk.url}/reports/{sample.ids[name]}", timeout=30)
        session.get(f"{desk.url}/reports/{sample.ids['photo']}/attachments/1/preview",
                    timeout=60)
        session.get(f"{desk.url}/?q=soldiers", timeout=30)
        assert session.get(desk.url + "/", timeout=30).status_code == 200
    finally:
        desk.stop()
    assert list(scratch.iterdir()) == []
    after = {p: p.stat().st_size for p in tmp_path.iterdir() if p.is_file()
             and not p.name.startswith("desk-")}
    assert set(after) <= set(before) | {
        p for p in after if p.name.startswith("review.db")}, sorted(map(str, after))
    log = desk.output()
    for secret in (REVIEW_PASSPHRASE, "Soldiers", "wounded", "<script", "a video"):
        assert secret not in log, secret
    assert log.count("\n") <= 2, log  # the start line (and nothing per request)


def test_a_file_altered_on_disk_is_never_sent_whole(station: Station, tmp_path: Path,
                                                    sample: Sample) -> None:
    add_report(station, {"description": "a video", "incident_types": ["other"]},
               files=[("clip.mp4", VIDEO)])
    from reporter.review.db import ReviewDB, attachments_path
    from reporter.review.importer import import_bundle

    with ReviewDB.open(sample.path, REVIEW_PASSPHRASE) as db:
        import_bundle(db, export(station, tmp_path / "bundle-2.rptr"), station.reviewer)
        [video_id] = [r[0] for r in db.connection.execute(
            "SELECT id FROM reports WHERE description = 'a video'")]
    store = attachments_path(sample.path)
    with open(store, "r+b") as f:  # a byte of the video's last segment, near the end
        size = os.fstat(f.fileno()).st_size
        f.seek(size - 100_000)
        byte = f.read(1)
        f.seek(size - 100_000)
        f.write(bytes([byte[0] ^ 0x40]))
    desk = start_desk(sample.path, tmp_path)
    try:
        session = unlocked_session(desk)
        try:
            got = session.get(f"{desk.url}/reports/{video_id}/attachments/1", timeout=60)
        except requests.exceptions.ChunkedEncodingError:
            pass  # the connection was dropped half way: an unfinished download
        else:
            assert got.status_code == 503, got.status_code  # failed before it started
        assert session.get(desk.url + "/", timeout=30).status_code == 200  # still serving
    finally:
        desk.stop()
    assert "a file stopped half way" in desk.output() and "Traceback" not in desk.output()


def test_a_passphrase_in_the_environment_neither_unlocks_nor_stays(sample: Sample,
                                                                    tmp_path: Path) -> None:
    desk = start_desk(sample.path, tmp_path,
                      env={"REPORTER_REVIEW_PASSPHRASE": REVIEW_PASSPHRASE})
    try:
        answer = requests.get(desk.url + "/", timeout=30, allow_redirects=False)
        assert answer.status_code == 303  # still locked
        environ = Path(f"/proc/{desk.process.pid}/environ").read_bytes()
        assert REVIEW_PASSPHRASE.encode() not in environ
    finally:
        desk.stop()


def test_many_requests_at_once(desk: Desk, sample: Sample) -> None:
    session = unlocked_session(desk)
    paths = [f"/reports/{sample.ids[n]}" for n in ("photo", "heard", "follow-up", "hostile")]
    paths += [f"/reports/{sample.ids['photo']}/attachments/{i}/preview" for i in (1, 3)]
    paths += ["/", "/?source=heard", "/static/desk.css"]
    failures: list[str] = []

    def fetch(path: str) -> None:
        answer = session.get(desk.url + path, timeout=120)
        if answer.status_code != 200:
            failures.append(f"{path}: {answer.status_code}")

    threads = [threading.Thread(target=fetch, args=(p,)) for p in paths * 3]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert failures == []
