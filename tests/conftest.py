"""Shared fixtures: a real station (SQLCipher, libsodium), its app and client,
and a real ``reporter serve`` process for end-to-end tests."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from reporter.formats import crypto
from reporter.formats.crypto import RecipientPrivateKey
from reporter.station.app import create_app
from reporter.station.config import load_config
from reporter.station.instance import init_instance, open_store, unlock
from tests.browser import browser  # noqa: F401  (a session fixture for browser tests)

# The reviewer-side fixtures (``run`` the CLI against a station and a review
# database, ``key_file``); a module may define its own ``run`` instead.
pytest_plugins = ["tests.reviewing"]

PASSPHRASE = "correct horse battery staple"
# libsodium's minimum Argon2id cost: key derivation in microseconds. Tests only.
FAST_KDF = (crypto.argon2id.OPSLIMIT_MIN, crypto.argon2id.MEMLIMIT_MIN)


@pytest.fixture(autouse=True)
def fast_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every key derivation in this process cheap (tests only)."""
    for profile in list(crypto.KDF_PROFILES):
        monkeypatch.setitem(crypto.KDF_PROFILES, profile, FAST_KDF)


@dataclass
class Station:
    path: Path
    key: bytes
    station_id: bytes
    reviewer: RecipientPrivateKey

    def store(self):  # type: ignore[no-untyped-def]
        return open_store(self.path, self.key)


def make_station(path: Path, sites: tuple[str, ...] = ("Marange", "Tshikapa"),
                 reviewer_name: str = "reviewer", passphrase: str = PASSPHRASE) -> Station:
    """An initialised station at ``path`` with one reviewer (a new key) and ``sites``."""
    identity = init_instance(path, passphrase)
    key = unlock(path, passphrase)
    reviewer = RecipientPrivateKey.generate()
    with open_store(path, key) as store:
        store.add_recipient(reviewer_name, reviewer.public_key)
        for site in sites:
            store.add_site(site)
    return Station(path, key, identity.station_id, reviewer)


@pytest.fixture
def station(tmp_path: Path) -> Station:
    """An initialised station with one reviewer and two mine sites."""
    return make_station(tmp_path / "instance")


@pytest.fixture
def app(station: Station):  # type: ignore[no-untyped-def]
    return create_app(load_config(station.path, station.key, testing=True))


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


FORM_TOKEN_RE = re.compile(r'<input type="hidden" name="form_token" value="([^"]+)">')


def form_token(html: str) -> str:
    """The token of a form page (station/formtoken.py): send it back with the form."""
    match = FORM_TOKEN_RE.search(html)
    assert match, "no form token in the page"
    return match.group(1)


def valid_report(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "incident_types": ["shooting"],
        # The date as the form asks for it: day, month (1 to 12, from a list) and year.
        "incident_day": "1",
        "incident_month": "11",
        "incident_year": "2026",
        "site": "Marange",
        "description": "Soldiers fired on diggers near the river.",
        "source": "witnessed",
        "contact": "none",
    }
    data.update(overrides)
    return data


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it has not exited in 10 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def raw_request(url: str, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None,
                host: str | None = None) -> tuple[int, list[tuple[str, str]], bytes]:
    """One request on its own connection, written by hand (every header exactly as
    given, ``host`` as the Host header if set): the status, every header line of the
    answer in order (repeats kept), and the body."""
    address, port = url.removeprefix("http://").split(":")
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host or f'{address}:{port}'}",
             "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    with socket.create_connection((address, int(port)), timeout=30) as sock:
        try:
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b""))
        except (BrokenPipeError, ConnectionResetError):
            pass
        reply = b""
        try:
            while chunk := sock.recv(65536):
                reply += chunk
        except ConnectionResetError:
            pass
    head, _, rest = reply.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    pairs = [(n.strip(), v.strip()) for n, _, v in (x.partition(":") for x in header_lines)]
    return int(status_line.split()[1]), pairs, rest


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def stop(self) -> None:
        stop_process(self.process)


def start_server(station: Station, tmp_path: Path, *, env: dict[str, str] | None = None,
                 threads: int = 4, extra_args: list[str] | None = None) -> Server:
    """Run ``reporter serve`` as a real process and wait until it answers."""
    port = free_port()
    log = tmp_path / f"server-{port}.log"
    environment = {**os.environ, "REPORTER_PASSPHRASE": PASSPHRASE, **(env or {})}
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "reporter", "--instance", str(station.path), "serve",
             "--port", str(port), "--threads", str(threads), *(extra_args or [])],
            stdout=out, stderr=subprocess.STDOUT, env=environment,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log)
    wait_until_answering(process, server.url + "/", log, 20)
    return server


def wait_until_answering(process: subprocess.Popen[bytes], url: str, log: Path,
                         seconds: float) -> None:
    """Until a GET of ``url`` is answered (any status); stops the process and raises
    with its output if it exits or does not answer within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[3:6]} exited: {log.read_text()}")
        try:
            requests.get(url, timeout=5)
            return
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.05)
    stop_process(process)
    raise RuntimeError(f"{process.args[3:6]} did not answer in {seconds:g} s: "
                       f"{log.read_text()}")


@pytest.fixture
def server(station: Station, tmp_path: Path) -> Iterator[Server]:
    srv = start_server(station, tmp_path)
    yield srv
    srv.stop()


def add_reports(station: Station, count: int, text: str = "report") -> list[str]:
    """Submit ``count`` reports straight through intake; return their receipts."""
    from reporter.station.intake import accept, build_report

    receipts = []
    with station.store() as store:
        recipients = [r.public_key for r in store.recipients()]
        for i in range(count):
            report = build_report({"description": f"{text} {i}", "incident_types": ["other"],
                                   "site": "Marange"}, "en")
            accept(report, recipients, lambda e: store.append_report(e, station.station_id))
            receipts.append(report.receipt)
    return receipts


def add_report_with_attachments(station: Station, files: list[tuple[str, bytes]],
                                text: str = "report with attachments") -> str:
    """Submit one report whose attachments are sealed as the web form seals them.

    Returns its receipt code. ``files`` are (name, bytes); their kind is
    detected from their first bytes, so use real magic (``%PDF-``, JPEG, ...).
    """
    from reporter.formats.report import Report
    from reporter.station.intake import build_report
    from reporter.station.submission import Draft, Limits
    from reporter.storage.blobs import BlobStore

    with station.store() as store, BlobStore.open(station.path, station.key) as blobs:
        recipients = [r.public_key for r in store.recipients()]
        draft = Draft(blobs, Limits(max_bytes=1 << 40, max_count=255))
        for name, data in files:
            item = draft.add(name, data)
            assert item.problem is None, (name, item.problem)
        report = build_report({"description": text, "incident_types": ["other"],
                               "site": "Marange"}, "en")
        report = Report(**{**report.__dict__, "attachments": draft.attachments()})
        store.append_report(draft.seal(report, recipients), station.station_id)
        draft.close()
    return report.receipt
