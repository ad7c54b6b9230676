"""End to end: a real ``reporter serve`` process, real HTTP, real SQLCipher.

These tests prove the station's promises from the outside:
no plaintext byte reaches the disk (canaries), nothing is spooled to a
temporary file even for a large body (watched live in /proc), and a
``kill -9`` loses no report whose receipt was shown.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from reporter.formats import envelope
from reporter.formats.report import Report
from tests.conftest import Server, Station, form_token, free_port, start_server, valid_report

pytestmark = pytest.mark.slow
RECEIPT_RE = re.compile(r'class="receipt"[^>]*>([0-9A-Z-]{19})<')


def canary(label: str) -> str:
    # Letters and digits only, so it is the same bytes URL-encoded or not.
    return f"CNRY{label}{uuid.uuid4().hex}"


def submit(session: requests.Session, url: str, data: dict[str, object],
           path: str = "/") -> requests.Response:
    token = form_token(session.get(url + path, timeout=10).text)
    return session.post(url + path, data={"form_token": token, **data}, timeout=30)


def decrypted_reports(station: Station) -> list[Report]:
    with station.store() as store:
        return [Report.from_body(envelope.open_envelope(r.envelope, station.reviewer))
                for r in store.reports()]


def files_under(*roots: Path) -> list[Path]:
    found = []
    for root in roots:
        for dirpath, _dirs, names in os.walk(root):
            found.extend(Path(dirpath) / name for name in names)
    return found


def assert_nowhere_on_disk(canaries: list[str], roots: list[Path]) -> None:
    files = files_under(*roots)
    assert files, "nothing to scan"
    for path in files:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue  # a journal deleted while the server runs: nothing left to leak

        for value in canaries:
            for form in (value.encode(), value.encode("utf-16-le")):
                assert form not in data, f"canary {value} found in {path}"


def test_a_report_over_real_http(server: Server, station: Station) -> None:
    response = submit(requests.Session(), server.url, valid_report())
    assert response.status_code == 200
    [receipt] = RECEIPT_RE.findall(response.text)
    [report] = decrypted_reports(station)
    assert report.receipt == receipt


def test_canaries_never_reach_the_disk_but_reach_the_reviewer(
        station: Station, tmp_path: Path) -> None:
    tmp = tmp_path / "server-tmp"
    tmp.mkdir()
    server = start_server(station, tmp_path, env={"TMPDIR": str(tmp)})
    try:
        fields = {name: canary(name.replace("_", "")) for name in (
            "date_approximate", "site_other", "location", "perpetrator_other",
            "description", "monitor_code", "contact_details")}
        session = requests.Session()
        accepted = submit(session, server.url, valid_report(
            site="other", contact="contact", perpetrators=["other"], **fields))
        assert accepted.status_code == 200, accepted.text
        [receipt] = RECEIPT_RE.findall(accepted.text)
        follow_text = canary("followup")
        follow = submit(session, server.url, {"receipt": receipt, "description": follow_text},
                        path="/follow-up")
        assert follow.status_code == 200
        # Refused submissions must leave no trace either.
        rejected_text = canary("rejected")
        rejected = submit(session, server.url, valid_report(description=rejected_text,
                                                            source="nonsense"))
        assert rejected.status_code == 400
        oversized_text = canary("oversized")
        too_big = session.post(server.url + "/", data={
            "description": oversized_text + "x" * (1536 * 1024)}, timeout=30)
        assert too_big.status_code == 413
        all_canaries = [*fields.values(), follow_text, rejected_text, oversized_text]
    finally:
        server.stop()

    assert_nowhere_on_disk(all_canaries, [station.path, tmp, server.log.parent])
    reports = decrypted_reports(station)
    assert len(reports) == 2
    first, second = reports
    for name, value in fields.items():
        assert first.fields[name] == value
    assert second.fields["description"] == follow_text
    assert second.follows == receipt


# --- no temporary files, watched live ---------------------------------------------

def _open_files(pid: int) -> set[str]:
    paths = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    for fd in fd_dir.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith(("socket:", "pipe:", "anon_inode:", "/dev/")):
            continue
        paths.add(target)
    return paths


def multipart(fields: dict[str, Any], files: list[tuple[str, str, bytes]],
              boundary: str = "reporter-test-boundary-7c1e") -> tuple[bytes, str]:
    """A multipart/form-data body, as a browser sends it, and its Content-Type.

    A field whose value is a list is sent once per item, as check boxes are.
    """
    parts = []
    for name, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"'
                         '\r\n\r\n'.encode() + str(item).encode() + b"\r\n")
    for field, filename, data in files:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
                     f'filename="{filename}"\r\nContent-Type: application/octet-stream'
                     "\r\n\r\n".encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _slow_upload_watching_fds(url: str, pid: int, body: bytes, content_type: str) -> set[str]:
    """Send ``body`` slowly and list every file the server holds open meanwhile."""
    host, port = url.removeprefix("http://").split(":")
    seen: set[str] = set()
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: " + host.encode() + b"\r\n"
            b"Content-Type: " + content_type.encode() + b"\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n"
        )
        for start in range(0, len(body), 64 * 1024):
            sock.sendall(body[start : start + 64 * 1024])
            time.sleep(0.005)
            seen |= _open_files(pid)
        sock.settimeout(30)
        while sock.recv(65536):
            seen |= _open_files(pid)
    return seen


def test_a_large_upload_is_never_spooled_to_a_temporary_file(
        station: Station, tmp_path: Path) -> None:
    tmp = tmp_path / "server-tmp"
    tmp.mkdir()
    server = start_server(station, tmp_path, env={"TMPDIR": str(tmp)})
    secret = canary("spool")
    try:
        body, content_type = multipart(
            {"description": secret},
            [("attachments", "video.mp4",
              b"\x00\x00\x00\x18ftypmp42" + secret.encode() * 1000 + b"x" * (6 << 20))])
        seen = _slow_upload_watching_fds(server.url, server.process.pid, body, content_type)
    finally:
        server.stop()
    allowed = {str(station.path / name) for name in
               ("station.db", "station.db-wal", "station.db-shm", "attachments.db",
                "attachments.db-journal")}
    allowed.add(str(station.path))  # SQLite fsyncs the folder after a journal comes or goes
    unexpected = {p for p in seen if p not in allowed and p != str(server.log)}
    assert not unexpected, f"the server opened files during the upload: {unexpected}"
    assert str(station.path / "attachments.db") in seen, "the upload was streamed in"
    assert_nowhere_on_disk([secret], [station.path, tmp, server.log.parent])


def test_the_spool_probe_does_catch_werkzeugs_default(tmp_path: Path) -> None:
    """Control for the test above: with Werkzeug's default request (spooling file
    parts above 500 KB to a temporary file), the same probe sees the file."""
    port = free_port()
    code = (
        "from reporter.web.server import ServerLimits, HTTPServer\n"
        "from werkzeug.wrappers import Request\n"
        "def app(environ, start_response):\n"
        "    Request(environ).files\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [b'ok']\n"
        f"HTTPServer(app, '127.0.0.1', {port}, ServerLimits()).run()\n"
    )
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                requests.get(url, timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.05)
        body, content_type = multipart({}, [("f", "a.bin", b"x" * (1400 * 1024))])
        seen = _slow_upload_watching_fds(url, process.pid, body, content_type)
    finally:
        process.kill()
        process.wait()
    assert any("(deleted)" in p for p in seen), seen


# --- kill -9 loses nothing acknowledged ----------------------------------------------

def _hammer(url: str, stop: threading.Event, receipts: list[str], lock: threading.Lock,
            client: int) -> None:
    session = requests.Session()
    n = 0
    while not stop.is_set():
        try:
            response = submit(session, url, valid_report(description=f"client {client} #{n}"))
        except (requests.RequestException, AssertionError):
            return
        n += 1
        found = RECEIPT_RE.findall(response.text) if response.status_code == 200 else []
        if found:
            with lock:
                receipts.append(found[0])


@pytest.mark.parametrize("run_for", [0.7, 1.6])
def test_kill_9_loses_no_acknowledged_report(station: Station, tmp_path: Path,
                                             run_for: float) -> None:
    server = start_server(station, tmp_path, threads=8)
    receipts: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    clients = [threading.Thread(target=_hammer, args=(server.url, stop, receipts, lock, i))
               for i in range(8)]
    for thread in clients:
        thread.start()
    time.sleep(run_for)
    server.process.send_signal(signal.SIGKILL)
    server.process.wait()
    stop.set()
    for thread in clients:
        thread.join(30)
    with lock:
        acknowledged = list(receipts)
    assert len(acknowledged) >= 5, "the load did not get going before the kill"

    with station.store() as store:
        store.verify_chain(station.station_id)
    stored = {report.receipt for report in decrypted_reports(station)}
    missing = set(acknowledged) - stored
    assert not missing, f"{len(missing)} acknowledged reports were lost"

    # The station comes back and keeps appending to the same chain.
    again = start_server(station, tmp_path)
    try:
        assert submit(requests.Session(), again.url, valid_report()).status_code == 200
    finally:
        again.stop()
    with station.store() as store:
        store.verify_chain(station.station_id)
