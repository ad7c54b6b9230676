"""The station stays on the air while idle and trickling connections pile up.

Attackers on the Wi-Fi (or anyone, through an onion service, where every
client is 127.0.0.1) open connections and send nothing, half a request head,
or a body a byte at a time. None of that may hold a worker: a new monitor
gets the form and can send a report at once. Everything here goes through a
real ``reporter serve`` process and real sockets.
"""

from __future__ import annotations

import contextlib
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import Server, Station, form_token, start_server, valid_report

pytestmark = pytest.mark.slow

# A new monitor must be served this fast while the attack runs.
PROMPT = 5.0


def _port(server: Server) -> int:
    return int(server.url.rsplit(":", 1)[1])


@contextlib.contextmanager
def held_sockets(server: Server, count: int, first_bytes: bytes) -> Iterator[list[socket.socket]]:
    held: list[socket.socket] = []
    try:
        for _ in range(count):
            s = socket.create_connection(("127.0.0.1", _port(server)), timeout=5)
            if first_bytes:
                s.sendall(first_bytes)
            held.append(s)
        yield held
    finally:
        for s in held:
            s.close()


def _monitor_gets_the_form(server: Server) -> float:
    start = time.monotonic()
    page = requests.get(server.url + "/", timeout=PROMPT)
    assert page.status_code == 200
    return time.monotonic() - start


def _monitor_sends_a_report(server: Server) -> None:
    session = requests.Session()
    token = form_token(session.get(server.url + "/", timeout=PROMPT).text)
    answer = session.post(server.url + "/", data=valid_report(form_token=token), timeout=PROMPT)
    assert answer.status_code == 200, answer.text[:300]
    assert re.search(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", answer.text)


def assert_no_client_data(log: str) -> None:
    """The log names no client: no address outside the line that says where it serves."""
    lines = [line for line in log.splitlines() if not line.startswith("Serving the station on")]
    assert lines, "the server logged nothing"
    assert not [line for line in lines if "127.0.0.1" in line or "GET" in line or "POST" in line]


TRICKLE_HEAD = (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                b"Content-Length: 100000\r\n")
TRICKLE_BODY = TRICKLE_HEAD + b"\r\ndescription="


@pytest.mark.parametrize("first_bytes", [
    b"",                                   # connect and say nothing
    b"G",                                  # one byte of a request line
    b"GET / HTTP/1.1\r\nHost: x\r\n",      # a head that never ends
    TRICKLE_HEAD,                          # a POST head that never ends
], ids=["silent", "one-byte", "unfinished-head", "unfinished-post-head"])
def test_many_idle_connections_do_not_take_the_station_off_the_air(
        station: Station, tmp_path: Path, first_bytes: bytes) -> None:
    server = start_server(station, tmp_path, threads=4)
    try:
        with held_sockets(server, 200, first_bytes):
            time.sleep(0.5)
            assert _monitor_gets_the_form(server) < PROMPT
            _monitor_sends_a_report(server)
    finally:
        server.stop()


def test_trickled_bodies_hold_no_worker_for_the_form(station: Station, tmp_path: Path) -> None:
    """Complete heads with bodies that crawl: uploads, at most, are what they hold."""
    server = start_server(station, tmp_path, threads=4)
    try:
        with held_sockets(server, 40, TRICKLE_BODY) as held:
            for _ in range(3):
                time.sleep(0.5)
                for s in held:
                    with contextlib.suppress(OSError):
                        s.sendall(b"x")
            assert _monitor_gets_the_form(server) < PROMPT
            _monitor_sends_a_report(server)
    finally:
        server.stop()


# --- uploads must keep a minimum rate ------------------------------------------------

def _closed_by_server(s: socket.socket, within: float) -> bool:
    """True if the server closes ``s`` (EOF or reset) within ``within`` seconds."""
    s.settimeout(0.2)
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            s.sendall(b"x")
            if s.recv(65536) == b"":
                return True
        except TimeoutError:
            continue
        except OSError:
            return True
        time.sleep(0.3)
    return False


def test_an_upload_below_the_minimum_rate_is_dropped_and_logged(
        station: Station, tmp_path: Path) -> None:
    server = start_server(station, tmp_path, threads=4, extra_args=[
        "--upload-rate-window", "2", "--min-upload-rate", "2000"])
    try:
        # A real start (the first 70 KB at once), then a crawl.
        head = (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 900000\r\n"
                b"Content-Type: multipart/form-data; boundary=b\r\n\r\n--b\r\n"
                b'Content-Disposition: form-data; name="description"\r\n\r\n'
                + b"d" * 70_000)
        with held_sockets(server, 3, head) as held:
            assert all(_closed_by_server(s, within=8) for s in held)
        _monitor_sends_a_report(server)
        log = server.log.read_text()
        assert "uploads dropped below the minimum rate" in log
        assert_no_client_data(log)
    finally:
        server.stop()


def test_a_real_upload_at_a_modest_rate_is_not_dropped(station: Station, tmp_path: Path) -> None:
    """40 KB/s (a poor Tor circuit) over several windows passes a 2,000 B/s minimum."""
    from tests.e2e.test_e2e import multipart
    server = start_server(station, tmp_path, threads=4, extra_args=[
        "--upload-rate-window", "1", "--min-upload-rate", "2000"])
    try:
        session = requests.Session()
        page = session.get(server.url + "/", timeout=PROMPT)
        body, content_type = multipart(valid_report(form_token=form_token(page.text)), [
            ("attachments", "pit.pdf", b"%PDF-1.4\n" + b"p" * (160 * 1024))])
        with socket.create_connection(("127.0.0.1", _port(server)), timeout=30) as s:
            s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                      b"Content-Type: " + content_type.encode() + b"\r\n"
                      b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")
            for i in range(0, len(body), 8192):
                s.sendall(body[i:i + 8192])
                time.sleep(0.2)
            answer = b""
            while chunk := s.recv(65536):
                answer += chunk
        status, _headers, text = _head_and_body(answer)
        assert status == 200, text[:300]
        assert re.search(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", text)
    finally:
        server.stop()


def test_crawling_uploads_never_take_an_upload_slot(station: Station, tmp_path: Path) -> None:
    """Until its first 64 KiB have come, an upload waits in the front, not in a slot:
    with every slot's worth of crawling bodies open, a real upload goes straight in."""
    from tests.e2e.test_e2e import multipart
    server = start_server(station, tmp_path, threads=4, extra_args=["--head-timeout", "30"])
    try:
        crawl = (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 900000\r\n"
                 b"Content-Type: multipart/form-data; boundary=b\r\n\r\n--b\r\n")
        with held_sockets(server, 40, crawl):
            session = requests.Session()
            token = form_token(session.get(server.url + "/", timeout=PROMPT).text)
            body, content_type = multipart(valid_report(form_token=token), [
                ("attachments", "pit.pdf", b"%PDF-1.4\n" + b"p" * (2 * 1024 * 1024))])
            answer = session.post(server.url + "/", data=body, timeout=PROMPT,
                                  headers={"Content-Type": content_type})
            assert answer.status_code == 200, answer.text[:300]
            assert re.search(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", answer.text)
    finally:
        server.stop()


# --- heads must arrive in time; connections beyond the cap push out the oldest ---------

def test_an_unfinished_head_is_closed_after_the_head_timeout(
        station: Station, tmp_path: Path) -> None:
    server = start_server(station, tmp_path, extra_args=["--head-timeout", "2"])
    try:
        with held_sockets(server, 5, b"GET / HTTP/1.1\r\nHost: x\r\n") as held:
            start = time.monotonic()
            assert all(_closed_by_server(s, within=8) for s in held)
            assert time.monotonic() - start < 8
        time.sleep(0.2)
        log = server.log.read_text()
        assert "request head too slow" in log
        assert_no_client_data(log)
    finally:
        server.stop()


def test_past_the_connection_cap_the_oldest_idle_ones_give_way(
        station: Station, tmp_path: Path) -> None:
    server = start_server(station, tmp_path, extra_args=["--max-connections", "50"])
    try:
        with held_sockets(server, 300, b"G"):
            assert _monitor_gets_the_form(server) < PROMPT
            _monitor_sends_a_report(server)
        log = server.log.read_text()
        assert "connections shed: too many open" in log
        assert_no_client_data(log)
    finally:
        server.stop()


def test_thousands_of_idle_connections(station: Station, tmp_path: Path) -> None:
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 2600
    if hard != resource.RLIM_INFINITY and hard < wanted:
        pytest.skip(f"this process may open only {hard} files")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    server = start_server(station, tmp_path)
    try:
        with held_sockets(server, 2000, b""):
            assert _monitor_gets_the_form(server) < PROMPT
            _monitor_sends_a_report(server)
    finally:
        server.stop()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


# --- the server's own refusals are the station's pages ---------------------------------

def _exchange(server: Server, raw: bytes, timeout: float = 5) -> bytes:
    with socket.create_connection(("127.0.0.1", _port(server)), timeout=timeout) as s:
        s.sendall(raw)
        chunks = []
        while True:
            try:
                data = s.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks)


def _head_and_body(answer: bytes) -> tuple[int, dict[str, str], str]:
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body.decode("utf-8", "replace")


REFUSED = [
    (b"GARBAGE\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n", 431),
    (b"GET /" + b"a" * 10000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    (b"GET / HTTP/1.1\r\n\r\n", 400),                       # no Host
    (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999\r\n"
     b"Accept-Language: fr\r\n\r\n", 413),
]


@pytest.mark.parametrize(("raw", "status"), REFUSED,
                         ids=["garbage", "huge-header", "huge-uri", "no-host", "negative-length",
                              "two-lengths", "body-too-large"])
def test_refusals_are_pages_with_every_security_header(
        server: Server, raw: bytes, status: int) -> None:
    answer = _exchange(server, raw)
    code, headers, body = _head_and_body(answer)
    assert code == status, answer[:300]
    assert "server" not in headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-frame-options"] == "DENY"
    assert "<html" in body and "Traceback" not in body
    if status == 413:
        assert 'lang="fr"' in body


def test_no_answer_names_the_server(server: Server) -> None:
    answer = requests.get(server.url + "/", timeout=5)
    assert "Server" not in answer.headers
    assert "Date" not in answer.headers


def test_pipelined_requests_on_one_connection(server: Server) -> None:
    answer = _exchange(server, b"GET /?lang=fr HTTP/1.1\r\nHost: x\r\n\r\n"
                               b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"
                               b"GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert answer.count(b"HTTP/1.1 200") == 2
    assert answer.count(b"HTTP/1.1 404") == 1
    assert answer.count(b"<html") == 2  # HEAD has no body


def test_a_chunked_upload_with_expect_continue(server: Server) -> None:
    """curl's way: chunked, and Expect: 100-continue before the body."""
    from tests.e2e.test_e2e import multipart
    session = requests.Session()
    token = form_token(session.get(server.url + "/", timeout=PROMPT).text)
    body, content_type = multipart(valid_report(form_token=token), [
        ("attachments", "pit.pdf", b"%PDF-1.4\n" + b"p" * (300 * 1024))])
    answer = session.post(server.url + "/", data=iter([body[:100000], body[100000:]]),
                          headers={"Content-Type": content_type, "Expect": "100-continue"},
                          timeout=30)
    assert answer.status_code == 200, answer.text[:300]
    assert re.search(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", answer.text)
