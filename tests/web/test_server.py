"""reporter.web.server: the pieces of the HTTP server, one at a time.

The server as a whole is tested from outside, through real sockets, in
tests/e2e/test_slow_clients.py; these read as the rules its parts follow.
"""

from __future__ import annotations

import contextlib
import io
import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import h11
import pytest

from reporter.web.server import BodyCut, make_server
from reporter.web.server.body import MIN_PIECE_BYTES, PIECES_FREE
from reporter.web.server.limits import Incidents, ServerLimits
from reporter.web.server.wsgi import FRONT_ERROR, environ_for


def _request(*headers: tuple[bytes, bytes], target: bytes = b"/?lang=fr") -> h11.Request:
    return h11.Request(method=b"POST", target=target, headers=[(b"Host", b"x"), *headers])


def test_a_quarter_of_the_workers_never_take_uploads() -> None:
    assert ServerLimits.for_threads(16).upload_slots == 12
    assert ServerLimits.for_threads(4).upload_slots == 3
    assert ServerLimits.for_threads(2).upload_slots == 1
    assert ServerLimits.for_threads(16, upload_slots=5).upload_slots == 5


def test_the_app_never_sees_a_client_address() -> None:
    environ = environ_for(_request((b"X-Forwarded-For", b"10.1.2.3")), io.BytesIO(),
                          server_name="0.0.0.0", server_port=8080)  # noqa: S104
    assert "REMOTE_ADDR" not in environ and "REMOTE_PORT" not in environ
    assert environ["PATH_INFO"] == "/" and environ["QUERY_STRING"] == "lang=fr"
    assert environ["wsgi.input_terminated"] is True


def test_header_names_with_underscores_are_dropped() -> None:
    """``X_Forwarded_For`` must not pose as ``X-Forwarded-For`` (both map to one key)."""
    environ = environ_for(_request((b"X_Lang", b"evil"), (b"X-Lang", b"good")), io.BytesIO(),
                          server_name="h", server_port=1)
    assert environ["HTTP_X_LANG"] == "good"


def test_repeated_headers_are_joined() -> None:
    environ = environ_for(_request((b"Accept", b"a"), (b"Accept", b"b")), io.BytesIO(),
                          server_name="h", server_port=1)
    assert environ["HTTP_ACCEPT"] == "a,b"


def test_a_refused_request_keeps_only_what_chooses_the_language() -> None:
    request = _request((b"Accept-Language", b"fr"), (b"Cookie", b"lang=fr"),
                       (b"Content-Type", b"multipart/form-data"), (b"X-Other", b"1"),
                       target=b"/follow-up?x=1")
    environ = environ_for(request, io.BytesIO(), server_name="h", server_port=1,
                          front_error=413)
    assert environ[FRONT_ERROR] == 413
    assert environ["REQUEST_METHOD"] == "GET" and environ["PATH_INFO"] == "/"
    assert environ["HTTP_ACCEPT_LANGUAGE"] == "fr" and environ["HTTP_COOKIE"] == "lang=fr"
    assert "HTTP_X_OTHER" not in environ and "CONTENT_TYPE" not in environ


def test_a_path_is_decoded_as_latin_1_bytes() -> None:
    """PEP 3333: PATH_INFO carries the decoded bytes as latin-1 code points."""
    environ = environ_for(_request(target=b"/%C3%A9t%C3%A9"), io.BytesIO(),
                          server_name="h", server_port=1)
    assert environ["PATH_INFO"].encode("latin-1").decode("utf-8") == "/été"


def test_incidents_log_at_once_then_once_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    incidents = Incidents(every=60)
    with caplog.at_level(logging.WARNING, logger="reporter"):
        incidents.count("connections closed: request head too slow")
        for _ in range(500):
            incidents.count("connections closed: request head too slow")
        assert len(caplog.records) == 1
        incidents.maybe_log(force=True)
    assert len(caplog.records) == 2
    assert "request head too slow: 500" in caplog.records[1].getMessage()


# --- a whole server, on a real socket -------------------------------------------------


def _reads_exactly_content_length(environ: dict[str, Any], start: Any) -> list[bytes]:
    """As the desk's import page reads: exactly Content-Length bytes, never past them."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    left = length
    while left > 0:
        data = environ["wsgi.input"].read(min(65536, left))
        if not data:
            break
        left -= len(data)
    answer = f"read {length - left}".encode()
    start("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(answer)))])
    return [answer]


def _reads_nothing(environ: dict[str, Any], start: Any) -> list[bytes]:
    start("413 Too Large", [("Content-Type", "text/plain"), ("Content-Length", "7")])
    return [b"refused"]


@contextmanager
def _serving(app: Any) -> Iterator[int]:
    server = make_server(app, "127.0.0.1", 0, threads=2, max_body_bytes=1 << 30)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield server.effective_port
    finally:
        server.close()
        thread.join(10)


def _read_answer(sock: socket.socket) -> tuple[bytes, bytes]:
    """One answer with a Content-Length: its head and its body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":", 1)[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:")))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk
        body += chunk
    return head, body


def _post(size: int) -> bytes:
    return (f"POST /import HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {size}\r\n\r\n"
            .encode() + b"x" * size)


def test_an_upload_read_to_its_length_keeps_the_connection_for_the_next_request() -> None:
    """An upload (over 64 KiB: read from the socket by the app) that the app reads to
    exactly its length, never asking past it: the next request on the same connection
    is answered (it was closed unannounced, and the client lost that request)."""
    size = 300 * 1024
    with _serving(_reads_exactly_content_length) as port, \
            socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(_post(size))
        head, body = _read_answer(sock)
        assert head.startswith(b"HTTP/1.1 200") and body == f"read {size}".encode()
        assert b"connection: close" not in head.lower()
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        head, body = _read_answer(sock)
        assert head.startswith(b"HTTP/1.1 200") and body == b"read 0"


def test_an_upload_answered_unread_says_the_connection_closes() -> None:
    """The app answers before reading a large body: the answer carries
    ``Connection: close``, so the client opens a new connection for its next request."""
    with _serving(_reads_nothing) as port, \
            socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(_post(300 * 1024)[:100 * 1024])
        head, body = _read_answer(sock)
        assert head.startswith(b"HTTP/1.1 413") and body == b"refused"
        assert b"connection: close" in head.lower()


def _answers_a_page(environ: dict[str, Any], start: Any) -> list[bytes]:
    page = environ["PATH_INFO"].encode() + b" " + b"p" * 8_000
    start("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(page)))])
    return [page]


def test_pipelined_requests_are_all_answered_in_order() -> None:
    """A client that sends its requests before reading the answers (HTTP/1.1 allows it)
    gets every answer, in order, without delay: the front waits for it to read each
    answer before the next request goes to a worker, and it reads them."""
    requests = b"".join(f"GET /{n} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
                        for n in range(20))
    with _serving(_answers_a_page) as port, \
            socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        started = time.monotonic()
        sock.sendall(requests)
        answers = sock.makefile("rb")
        for n in range(20):
            assert answers.readline().startswith(b"HTTP/1.1 200")
            length = 0
            while (line := answers.readline()) != b"\r\n":
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            assert answers.read(length).startswith(f"/{n} ".encode())
        assert time.monotonic() - started < 5


def test_clients_that_never_read_their_answers_hold_no_worker() -> None:
    """Connections with many requests queued whose client never reads (a tiny receive
    buffer): once their socket buffers were full, each worker was stuck sending to
    one for ``send_timeout`` (60 s) and nobody else was answered. Now the front keeps
    such a connection's next request until its client reads: others are answered."""
    requests = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" * 1000
    held: list[socket.socket] = []
    with _serving(_answers_a_page) as port:
        try:
            for _ in range(4):  # twice the workers
                sock = socket.socket()
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                sock.connect(("127.0.0.1", port))
                sock.setblocking(False)
                with contextlib.suppress(BlockingIOError):
                    sock.send(requests)
                held.append(sock)
            time.sleep(3)  # the server writes answers until every buffer is full
            for _ in range(3):
                with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
                    sock.sendall(b"GET /me HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                    head, body = _read_answer(sock)  # TimeoutError: the workers are held
                    assert head.startswith(b"HTTP/1.1 200") and body.startswith(b"/me ")
                time.sleep(0.5)
        finally:
            for sock in held:
                sock.close()


def _reads_all_or_says_cut(environ: dict[str, Any], start: Any) -> list[bytes]:
    """Reads the whole body; ``BodyCut`` (the server's word for a body that stopped)
    becomes a 400, as the station's and the desk's views answer it."""
    total = 0
    try:
        while data := environ["wsgi.input"].read(65536):
            total += len(data)
    except BodyCut:
        answer = b"cut"
        start("400 Bad Request", [("Content-Length", str(len(answer)))])
        return [answer]
    answer = f"read {total}".encode()
    start("200 OK", [("Content-Length", str(len(answer)))])
    return [answer]


def _chunked(first: bytes, piece: bytes, pieces: int) -> bytes:
    """A chunked POST: ``first`` as one chunk (past the front's 64 KiB), then
    ``pieces`` chunks of ``piece``, then the end."""
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    return (b"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
            + f"{len(first):x}\r\n".encode() + first + b"\r\n" + chunk * pieces + b"0\r\n\r\n")


def test_an_upload_in_tiny_pieces_is_dropped_and_real_pieces_pass() -> None:
    """Each piece of an upload costs a worker Python work under the interpreter's lock:
    one-byte chunks from four connections slowed every page of the station 25 times.
    Past ``PIECES_FREE`` pieces they must average ``MIN_PIECE_BYTES``."""
    first = b"f" * (65 * 1024)
    with _serving(_reads_all_or_says_cut) as port:
        for piece, pieces, expected in (
                (b"a", PIECES_FREE + 100, b"cut"),
                (b"h" * (MIN_PIECE_BYTES // 2), PIECES_FREE + 100, b"cut"),
                (b"b" * 498, PIECES_FREE + 100, None),  # a Tor cell each, the smallest real
                (b"c", PIECES_FREE // 2, None)):  # a few small ones: free
            with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
                sock.sendall(_chunked(first, piece, pieces))
                head, body = _read_answer(sock)
            want = expected or f"read {len(first) + len(piece) * pieces}".encode()
            assert body == want, (len(piece), pieces, head[:40])
