"""Uploads through a real onion service, against a bare HTTP sink through the same tor.

Measures (issue 12), on a private Tor network on 127.0.0.1 (``tests/tornet.py``:
3 directory authorities, 3 relays, a client), in one run:

* **station**: a report with one N MB attachment POSTed through the onion to
  ``reporter serve --onion`` (its own tor joins the network with
  ``--tor-config``), from the first byte sent to the whole receipt page
  received: sealed, stored with ``synchronous=FULL``, acknowledged.
* **sink**: the same bytes POSTed through the same tor client to a second
  onion service on the **station's own tor** (added with stem's
  ``create_ephemeral_hidden_service``), whose server reads the body and
  answers 200 with nothing else: what Tor alone costs on this network.

The ratio station/sink is what the station adds to a Tor upload. Every
request goes client -> guard -> middle -> rendezvous <- middle <- the
service's tor: six hops on one 2-core machine, so the absolute speed is what
this machine's CPU allows tor, not what the real Tor network gives a phone
(see docs/onion.md, "What a monitor should expect"). The client speaks
SOCKS5 itself (PySocks) and sends a prepared body, so requests are timed,
not Python HTTP libraries.

Run: ``python -m bench.onion [--size-mb 20 ...] [--repeat R] [--json FILE]``
(about a minute to build the network, then seconds per upload).
"""

from __future__ import annotations

import argparse
import html
import json
import os
import random
import re
import socketserver
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import socks
import stem.control

from tests.tornet import TorNetwork

from .markdown import table
from .memory import children, proc_memory
from .payload import report_fields
from .procs import PASSPHRASE, ServerProcess, free_port, make_station

MIB = 1024 * 1024
BOUNDARY = "benchonionboundary51c2"
PDF_MAGIC = b"%PDF-1.7\n"


class Sink(socketserver.ThreadingTCPServer):
    """An HTTP server that reads a request's body and answers ``200 ok``: nothing else."""

    daemon_threads = True
    allow_reuse_address = True


class SinkHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        sock = self.request
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        match = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        remaining = (int(match.group(1)) if match else 0) - len(body)
        while remaining > 0:
            chunk = sock.recv(min(remaining, 262144))
            if not chunk:
                return
            remaining -= len(chunk)
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")


def connect(socks_port: int, host: str) -> socks.socksocket:
    """A TCP connection to ``host``:80 through the client tor (it resolves the name)."""
    sock = socks.socksocket()
    sock.set_proxy(socks.SOCKS5, "127.0.0.1", socks_port, rdns=True)
    sock.settimeout(600)
    sock.connect((host, 80))
    return sock


def exchange(socks_port: int, host: str, head: bytes, body_parts: list[bytes],
             size: int, block: bytes) -> tuple[float, float, bytes]:
    """Send a request (head, parts, ``size`` bytes of ``block``, tail): the seconds from
    the first byte sent to the last byte of the answer, the seconds from the last byte
    sent to the first of the answer (what a browser shows as "99 %"), and the answer."""
    sock = connect(socks_port, host)
    try:
        started = time.perf_counter()
        sock.sendall(head + body_parts[0])
        sent = 0
        while sent < size:
            piece = (PDF_MAGIC + block[len(PDF_MAGIC):] if sent == 0 else block)[: size - sent]
            sock.sendall(piece)
            sent += len(piece)
        sock.sendall(body_parts[1])
        sent_all = time.perf_counter()
        reply = sock.recv(65536)
        waited = time.perf_counter() - sent_all
        while data := sock.recv(65536):
            reply += data
        return time.perf_counter() - started, waited, reply
    finally:
        sock.close()


def get(socks_port: int, host: str, tries: int = 30) -> tuple[bytes, str]:
    """``GET /`` (retried while a new rendezvous settles): the page and its cookie header."""
    last = ""
    for _ in range(tries):
        try:
            _, _, reply = exchange(socks_port, host, f"GET / HTTP/1.1\r\nHost: {host}\r\n"
                                f"Connection: close\r\n\r\n".encode(), [b"", b""], 0, b"")
            if b" 200 " in reply.split(b"\r\n", 1)[0]:
                cookies = re.findall(rb"(?im)^set-cookie:\s*([^;\r\n]+)", reply)
                return reply, "; ".join(c.decode() for c in cookies)
            last = reply[:200].decode(errors="replace")
        except OSError as exc:
            last = repr(exc)
        time.sleep(2)
    raise RuntimeError(f"GET {host} never answered 200: {last}")


def hidden_fields(page: bytes) -> list[tuple[str, str]]:
    """The form's hidden inputs (its token), whatever their names, as a browser sends them."""
    fields = []
    for tag in re.findall(rb"<input\b[^>]*>", page):
        attributes = dict(re.findall(rb'([a-z_-]+)="([^"]*)"', tag))
        if attributes.get(b"type") == b"hidden" and b"name" in attributes:
            fields.append((attributes[b"name"].decode(),
                           html.unescape(attributes.get(b"value", b"").decode())))
    return fields


def form_parts(hidden: list[tuple[str, str]]) -> tuple[bytes, bytes]:
    fields = [*hidden, *report_fields(random.Random(7))]
    head = b"".join(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        .encode() for name, value in fields)
    head += (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="attachments"; '
             'filename="evidence.pdf"\r\nContent-Type: application/pdf\r\n\r\n').encode()
    return head, f"\r\n--{BOUNDARY}--\r\n".encode()


def post(socks_port: int, host: str, size: int, block: bytes, *,
         station: bool) -> tuple[float, float]:
    """One upload of ``size`` bytes as a report (station) or the same body (sink)."""
    page, cookie = get(socks_port, host)  # the sink's warms the circuit the same way
    hidden = hidden_fields(page) if station else [("token", "x" * 40)]
    if station and not hidden:
        raise RuntimeError("the station's form has no hidden input (form token)")
    parts = form_parts(hidden)
    length = len(parts[0]) + size + len(parts[1])
    cookie_line = f"Cookie: {cookie}\r\n" if cookie else ""
    head = (f"POST / HTTP/1.1\r\nHost: {host}\r\n{cookie_line}"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
            f"Content-Length: {length}\r\nConnection: close\r\n\r\n").encode()
    seconds, waited, reply = exchange(socks_port, host, head, list(parts), size, block)
    status = reply.split(b"\r\n", 1)[0]
    if b" 200 " not in status or (station and b'class="receipt"' not in reply):
        raise RuntimeError(f"the upload to {'the station' if station else 'the sink'} was "
                           f"not accepted: {status!r}")
    return seconds, waited


def wait_published(log: Path, timeout: float = 300) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if "The onion service is published" in text:
            match = re.search(r"http://([a-z2-7]{56}\.onion)/", text)
            if match:
                return match.group(1)
        time.sleep(0.5)
    raise RuntimeError(f"the station's service was not published: {log.read_text()[-2000:]}")


def run(sizes: list[int], repeat: int, workdir: Path) -> dict[str, Any]:
    block = os.urandom(MIB)
    network = TorNetwork.build(workdir / "network")
    launched = time.monotonic()
    network.start()
    sink = Sink(("127.0.0.1", 0), SinkHandler)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    server = None
    try:
        bootstrap = network.wait_for_client()
        station = make_station(workdir / "station")
        config = workdir / "network.torrc"
        config.write_text("".join(f"{n} {v}\n" for n, v in network.torrc_lines()))
        port = free_port()
        server = ServerProcess(
            "reporter serve --onion",
            [sys.executable, "-m", "reporter", "--instance", str(station.path), "serve",
             "--host", "127.0.0.1", "--port", str(port), "--onion", "--tor-config",
             str(config)],
            port, workdir / "station.log", env={"REPORTER_PASSPHRASE": PASSPHRASE})
        onion = wait_published(server.log)
        published = time.monotonic() - launched
        get(network.socks_port, onion)
        first_page = time.monotonic() - launched
        tor_pids = children(server.pid)
        memory: dict[str, Any] = {"idle": {"station": proc_memory(server.pid),
                                           "tor": [proc_memory(p) for p in tor_pids]}}
        written = (station.path / "tor" / "control-port").read_text().strip()
        with stem.control.Controller.from_port(port=int(written.rsplit(":", 1)[1])) as tor:
            tor.authenticate()
            sink_service = tor.create_ephemeral_hidden_service(
                {80: f"127.0.0.1:{sink.server_address[1]}"}, await_publication=True,
                timeout=300)
            sink_onion = sink_service.service_id + ".onion"
            runs: list[dict[str, Any]] = []
            for size_mb in sizes:
                for i in range(repeat):
                    size = size_mb * MIB
                    order = [True, False] if i % 2 == 0 else [False, True]
                    figures: dict[str, Any] = {"size_mb": size_mb}
                    for to_station in order:
                        print(f"{size_mb} MiB to the {'station' if to_station else 'sink'} "
                              f"({i + 1}/{repeat}) ...", file=sys.stderr, flush=True)
                        name = "station" if to_station else "sink"
                        figures[f"{name}_s"], figures[f"{name}_answer_s"] = post(
                            network.socks_port, onion if to_station else sink_onion, size,
                            block, station=to_station)
                    runs.append(figures)
            memory["after"] = {"station": proc_memory(server.pid),
                               "tor": [proc_memory(p) for p in tor_pids]}
    finally:
        if server is not None:
            server.stop()
        sink.shutdown()
        network.stop()
    return {"bootstrap_s": bootstrap, "published_s": published, "first_page_s": first_page,
            "runs": runs, "memory": memory}


def render(result: dict[str, Any]) -> str:
    rows = []
    for size_mb in sorted({r["size_mb"] for r in result["runs"]}):
        runs = [r for r in result["runs"] if r["size_mb"] == size_mb]
        st = statistics.median(r["station_s"] for r in runs)
        sk = statistics.median(r["sink_s"] for r in runs)
        answer = statistics.median(r["station_answer_s"] for r in runs)
        sink_answer = statistics.median(r["sink_answer_s"] for r in runs)
        mb = size_mb * MIB / 1e6
        rows.append([f"{size_mb} MiB attachment, {len(runs)} run(s)",
                     f"{st:.1f} s ({mb / st:.1f} MB/s)", f"{sk:.1f} s ({mb / sk:.1f} MB/s)",
                     f"{st / sk:.2f}", f"{answer:.1f} s / {sink_answer:.1f} s"])
    timing = (f"Network: client bootstrapped {result['bootstrap_s']:.0f} s after launch; the "
              f"station's service published {result['published_s']:.0f} s after launch; "
              f"first page through it at {result['first_page_s']:.0f} s.")
    memory = result["memory"]

    def mib(kib: int) -> str:
        return f"{kib / 1024:.0f} MiB"

    def tor(when: str, field: str) -> str:
        return " + ".join(mib(t[field]) for t in memory[when]["tor"]) or "-"
    memory_table = table(
        ["memory", "station", "its tor"],
        [["published, idle: RSS", mib(memory["idle"]["station"]["VmRSS"]),
          tor("idle", "VmRSS")],
         ["after the uploads: RSS", mib(memory["after"]["station"]["VmRSS"]),
          tor("after", "VmRSS")],
         ["after the uploads: peak (VmHWM)", mib(memory["after"]["station"]["VmHWM"]),
          tor("after", "VmHWM")]])
    return (timing + "\n\n" + memory_table + "\n\n" + table(
        ["upload through the onion (median)", "station (report, sealed, stored)",
         "bare HTTP sink, same tor", "station / sink",
         "answer after the client's last byte, station / sink"], rows))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, nargs="+", default=[20],
                        help="attachment sizes in MiB")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="reporter-bench-onion-") as tmp:
        result = run(args.size_mb, args.repeat, Path(tmp))
    print(render(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
