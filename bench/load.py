"""The load generator: raw-socket HTTP/1.1 keep-alive clients (standard library only).

A *client* is one thread with one persistent connection. It GETs ``/`` for
a form and its hidden ``form_token``, then POSTs a report with it, again and
again on the same connection, as a monitor's browser would, only much
faster. Each report needs a form of its own: a token sent twice is the same
submission (the station shows the first receipt and stores nothing), so the
GET is part of the load; only the POST is timed. A request counts as a
success only if the answer is ``200`` and the page holds a receipt
(``class="receipt"``); any other status, a missing receipt or a broken
connection is an error.

Clients run in a few worker processes (``spawn``) so the client side is not
held back by one GIL; each process measures its own CPU time during the
measured window, so the report can show that the client was not the
bottleneck. All traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import random
import re
import resource
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .payload import form_body

RECEIPT_MARK = b'class="receipt"'
_TOKEN_INPUT = re.compile(rb'<input[^>]*name="form_token"[^>]*>')
_VALUE = re.compile(rb'value="([^"]*)"')
SOCKET_TIMEOUT = 30.0


class HttpError(Exception):
    """The connection broke or the answer was not HTTP/1.1 as expected."""


@dataclass
class Response:
    status: int
    body: bytes
    close: bool


class Connection:
    """One keep-alive HTTP/1.1 connection; requests are pre-built byte strings."""

    def __init__(self, host: str, port: int, timeout: float = SOCKET_TIMEOUT) -> None:
        self.host, self.port = host, port
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def request(self, raw: bytes) -> Response:
        self.sock.sendall(raw)
        return self._read_response()

    def _recv(self) -> bytes:
        chunk = self.sock.recv(262144)
        if not chunk:
            raise HttpError("connection closed by the server")
        return chunk

    def _read_response(self) -> Response:
        buf = self.buf
        end = buf.find(b"\r\n\r\n")
        while end < 0:
            buf += self._recv()
            end = buf.find(b"\r\n\r\n")
        lines = buf[:end].split(b"\r\n")
        rest = buf[end + 4 :]
        try:
            status = int(lines[0].split(b" ", 2)[1])
        except (IndexError, ValueError):
            raise HttpError(f"bad status line {lines[0][:80]!r}") from None
        length: int | None = None
        chunked = close = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = b"close" in value.lower()
        if chunked:
            body, rest = self._read_chunked(rest)
        elif length is not None:
            while len(rest) < length:
                rest += self._recv()
            body, rest = rest[:length], rest[length:]
        else:  # body runs to the end of the connection
            parts = [rest]
            while True:
                chunk = self.sock.recv(262144)
                if not chunk:
                    break
                parts.append(chunk)
            body, rest, close = b"".join(parts), b"", True
        self.buf = rest
        return Response(status, body, close)

    def _read_chunked(self, rest: bytes) -> tuple[bytes, bytes]:
        parts: list[bytes] = []
        while True:
            end = rest.find(b"\r\n")
            while end < 0:
                rest += self._recv()
                end = rest.find(b"\r\n")
            size = int(rest[:end].split(b";")[0], 16)
            rest = rest[end + 2 :]
            while len(rest) < size + 2:
                rest += self._recv()
            if size == 0:
                # No trailers are expected; skip the final CRLF.
                return b"".join(parts), rest[2:]
            parts.append(rest[:size])
            rest = rest[size + 2 :]


def get_request(host: str, port: int, path: str) -> bytes:
    head = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Accept-Language: en",
            "User-Agent: reporter-bench"]
    return "\r\n".join(head).encode("ascii") + b"\r\n\r\n"


def post_request(host: str, port: int, path: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept-Language: en\r\n"
        "User-Agent: reporter-bench\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode("ascii")
    return head + body


def form_token(html: bytes) -> str:
    tag = _TOKEN_INPUT.search(html)
    value = _VALUE.search(tag.group(0)) if tag else None
    if value is None:
        raise HttpError("no form_token in the form page")
    return value.group(1).decode("ascii")


def fetch_form(conn: Connection) -> str:
    """GET ``/``: the token of a new form."""
    response = conn.request(get_request(conn.host, conn.port, "/"))
    if response.status != 200:
        raise HttpError(f"GET / answered {response.status}")
    if response.close:
        conn.close()
        raise HttpError("GET / closed the connection")
    return form_token(response.body)


# --- one worker process ---------------------------------------------------------


@dataclass
class ClientResult:
    ok: int = 0
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)
    total_requests: int = 0
    receipts: int = 0  # every receipt, warm-up included: each is a stored report


_TAG = re.compile(r"<[^>]+>")
_STYLE = re.compile(r"<style.*?</style>|<head.*?</head>", re.S)


_ERROR_P = re.compile(r'<p class="error"[^>]*>(.*?)</p>', re.S)
_MAIN = re.compile(r"<main[^>]*>(.*?)</main>", re.S)


def _page_text(body: bytes) -> str:
    """What an unexpected page says, for the error samples: the form's error
    messages if it has any, else the visible text of its main part."""
    html = body.decode("utf-8", "replace")
    errors = _ERROR_P.findall(html)
    if errors:
        html = " / ".join(errors)
    elif main := _MAIN.search(html):
        html = main.group(1)
    else:
        html = _STYLE.sub(" ", html)
    return " ".join(_TAG.sub(" ", html).split())


def _record_error(result: ClientResult, kind: str, detail: str) -> None:
    result.errors[kind] += 1
    if len(result.error_samples) < 5:
        result.error_samples.append(f"{kind}: {detail[:300]}")


def _client_thread(host: str, port: int, seed: int, ready: threading.Barrier,
                   go: threading.Event, times: dict[str, float], result: ClientResult) -> None:
    rng = random.Random(seed)
    try:
        conn = Connection(host, port)
        fetch_form(conn)
    except (OSError, HttpError) as exc:
        _record_error(result, "setup", repr(exc))
        ready.abort()
        return
    try:
        ready.wait()
    except threading.BrokenBarrierError:
        conn.close()
        return
    go.wait()
    if "end" not in times:  # aborted before the start
        conn.close()
        return
    measure_from, end = times["measure_from"], times["end"]
    perf, now = time.perf_counter, time.monotonic
    while now() < end:
        result.total_requests += 1
        try:
            raw = post_request(host, port, "/", form_body(fetch_form(conn), rng))
            started = perf()
            response = conn.request(raw)
        except (OSError, HttpError, ValueError) as exc:
            _record_error(result, f"connection:{type(exc).__name__}", repr(exc))
            conn.close()
            try:
                conn = Connection(host, port)
            except OSError as exc2:
                _record_error(result, "reconnect", repr(exc2))
                time.sleep(0.05)
            continue
        elapsed = perf() - started
        done = now()
        if response.status != 200:
            _record_error(result, f"status:{response.status}", _page_text(response.body))
        elif RECEIPT_MARK not in response.body:
            _record_error(result, "no-receipt", _page_text(response.body))
        else:
            result.receipts += 1
            if measure_from <= done <= end:
                result.ok += 1
                result.latencies.append(elapsed)
        if response.close:
            conn.close()
            conn = Connection(host, port)
    conn.close()


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def worker(index: int, host: str, port: int, clients: int, warmup: float,
           duration: float, barriers: tuple[Any, Any], start_at: Any, out: Any) -> None:
    """Entry point of one client process: run ``clients`` threads, report results.

    ``barriers`` are (ready, go): every process passes *ready* once its
    clients hold a connection and a form; the parent then sets ``start_at`` (a monotonic
    time, system-wide on Linux) and everyone passes *go*.
    """
    start_barrier, go_barrier = barriers
    results = [ClientResult() for _ in range(clients)]
    times: dict[str, float] = {}
    ready = threading.Barrier(clients + 1)
    go = threading.Event()
    threads = [
        threading.Thread(target=_client_thread,
                         args=(host, port, index * 1000 + n, ready, go, times, results[n]),
                         daemon=True)
        for n in range(clients)
    ]
    for t in threads:
        t.start()
    aborted = False
    try:
        ready.wait(timeout=60)  # every client has its connection
    except threading.BrokenBarrierError:
        aborted = True
    if aborted:
        start_barrier.abort()
        go_barrier.abort()
    else:
        try:
            start_barrier.wait(timeout=120)  # every process is ready
            go_barrier.wait(timeout=30)  # the parent has set start_at
        except threading.BrokenBarrierError:
            aborted = True
    if aborted:
        ready.abort()
        go.set()
        for t in threads:
            t.join(timeout=SOCKET_TIMEOUT + 5)
        out.put(_summary(index, results, 0.0, aborted=True))
        return
    t0 = start_at.value
    times["measure_from"] = t0 + warmup
    times["end"] = t0 + warmup + duration
    go.set()  # release the clients
    sleep_until(times["measure_from"])
    cpu0 = _cpu_seconds()
    sleep_until(times["end"])
    cpu1 = _cpu_seconds()
    for t in threads:
        t.join(timeout=SOCKET_TIMEOUT + 5)
    out.put(_summary(index, results, cpu1 - cpu0, aborted=False))


def sleep_until(deadline: float) -> None:
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, 0.5))


def _summary(index: int, results: list[ClientResult], cpu: float, *,
             aborted: bool) -> dict[str, Any]:
    errors: Counter[str] = Counter()
    samples: list[str] = []
    latencies: list[float] = []
    for r in results:
        errors.update(r.errors)
        samples.extend(r.error_samples)
        latencies.extend(r.latencies)
    return {
        "index": index,
        "aborted": aborted,
        "ok": sum(r.ok for r in results),
        "total_requests": sum(r.total_requests for r in results),
        "receipts": sum(r.receipts for r in results),
        "latencies": latencies,
        "errors": dict(errors),
        "error_samples": samples[:5],
        "cpu_seconds": cpu,
    }
