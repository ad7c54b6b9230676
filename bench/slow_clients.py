"""``python -m bench.slow_clients``: connections held by an attacker vs. a new monitor.

For each kind of held connection (silent, one byte, an unfinished head, a
complete head whose body trickles) and each count, a fresh ``reporter
serve`` (16 threads) is started, the connections are opened, and a new
monitor then asks for the form and sends a text-only report: the table
gives the seconds each took (or "timeout" past ``--timeout``) and the
server's resident memory with the connections held.

``--tree DIR`` serves from another checkout (e.g. the commit before the
server was replaced, with Cheroot installed in the venv) to measure the
baseline with the same client.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from .markdown import table
from .procs import PASSPHRASE, free_port, make_station

KINDS = {
    "silent": b"",
    "one byte": b"G",
    "unfinished head": b"GET / HTTP/1.1\r\nHost: x\r\n",
    "trickling body": (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n"
                       b"Content-Type: application/x-www-form-urlencoded\r\n\r\nd="),
}
TOKEN_RE = re.compile(r'<input type="hidden" name="form_token" value="([^"]+)">')
RECEIPT_RE = re.compile(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def monitor(url: str, timeout: float) -> tuple[str, str]:
    """Seconds to get the form, and to send a report (or "timeout"/"error")."""
    session = requests.Session()
    start = time.monotonic()
    try:
        page = session.get(url, timeout=timeout)
    except requests.RequestException:
        return "timeout", "-"
    got = f"{time.monotonic() - start:.3f}"
    match = TOKEN_RE.search(page.text)
    if page.status_code != 200 or not match:
        return f"{page.status_code}", "-"
    data = {"form_token": match.group(1), "incident_types": "shooting", "site": "Marange",
            "incident_day": "1", "incident_month": "11", "incident_year": "2026",
            "description": "bench", "source": "witnessed",
            "contact": "none"}
    start = time.monotonic()
    try:
        answer = session.post(url, data=data, timeout=timeout)
    except requests.RequestException:
        return got, "timeout"
    sent = f"{time.monotonic() - start:.3f}" if RECEIPT_RE.search(answer.text) else "no receipt"
    return got, sent


def one_cell(tree: Path, instance: Path, kind: bytes, count: int, timeout: float,
             log: Path) -> list[str]:
    port = free_port()
    env = {**os.environ, "REPORTER_PASSPHRASE": PASSPHRASE, "PYTHONPATH": str(tree)}
    with open(log, "ab") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "reporter", "--instance", str(instance), "serve",
             "--port", str(port), "--threads", "16"],
            cwd=tree, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    held: list[socket.socket] = []
    try:
        for _ in range(200):
            try:
                requests.get(url, timeout=2)
                break
            except requests.RequestException:
                time.sleep(0.05)
        for _ in range(count):
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
                if kind:
                    s.sendall(kind)
            except OSError:
                break
            held.append(s)
        time.sleep(1.0)
        got, sent = monitor(url, timeout)
        return [str(len(held)), got, sent, f"{rss_mib(server.pid):.0f}"]
    finally:
        for s in held:
            s.close()
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tree", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--counts", default="0,15,16,100,1000,5000")
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    counts = [int(c) for c in args.counts.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        station = make_station(Path(tmp) / "station")
        log = Path(tmp) / "server.log"
        rows = []
        for name, kind in KINDS.items():
            for count in counts:
                cells = one_cell(args.tree, station.path, kind, count, args.timeout, log)
                rows.append([name, *cells])
                print(" | ".join(rows[-1]), file=sys.stderr)
    print(table(["held connections", "held", "form (s)", "report (s)", "server RSS (MiB)"],
                rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
