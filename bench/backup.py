"""``reporter backup`` and ``reporter restore`` on a station with real-size contents.

Measures (issue 12), in one run, on a station of N text reports and M
attachments of S MB each (defaults: 2,000 reports, 8 attachments of 32 MB):

* **backup**: ``reporter backup`` as a process while ``reporter serve`` runs,
  wall time and the backup process's peak RSS (``VmHWM``), and the size of the
  file against the instance's files;
* **monitors during the backup**: a text report is sent through the real
  server every 50 ms while the backup runs; the slowest and median answer,
  against the same without a backup (nobody should wait for a backup);
* **restore**: ``reporter restore`` of that file into a new folder, wall time
  (every page of both databases is checked).

The station's key derivation is the cheapest (tests' cost) so that the times
are the copy's. Run: ``python -m bench.backup [--reports N] [--files M]
[--file-mb S]``.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from reporter.formats import crypto
from tests.conftest import valid_report

PASSPHRASE = "benchmark station passphrase"
ENV = {**os.environ, "REPORTER_PASSPHRASE": PASSPHRASE}
TOKEN = re.compile(r'name="form_token" value="([^"]+)"')


def make_station(folder: Path, reports: int, files: int, file_mb: int) -> Path:
    for profile in list(crypto.KDF_PROFILES):
        crypto.KDF_PROFILES[profile] = (crypto.argon2id.OPSLIMIT_MIN,
                                        crypto.argon2id.MEMLIMIT_MIN)
    from tests.conftest import add_report_with_attachments, add_reports, make_station

    station = make_station(folder / "station", sites=("Marange",), passphrase=PASSPHRASE)
    add_reports(station, reports)
    for _ in range(files):
        add_report_with_attachments(station, [("v.mp4", b"\0\0\0\x18ftypmp42"
                                               + os.urandom(file_mb * 1024 * 1024))])
    return station.path


def peak_rss(command: list[str]) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (KiB) and output of ``command``."""
    start = time.perf_counter()
    process = subprocess.Popen(command, env=ENV, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
    peak = 0
    while process.poll() is None:
        try:
            status = Path(f"/proc/{process.pid}/status").read_text()
            found = re.search(r"VmHWM:\s+(\d+)", status)
            peak = max(peak, int(found.group(1)) if found else 0)
        except (OSError, AttributeError):
            pass
        time.sleep(0.02)
    output = process.stdout.read().decode() if process.stdout else ""
    if process.returncode != 0:
        sys.exit(output)
    return time.perf_counter() - start, peak, output


def monitors(url: str, stop: threading.Event, times: list[float]) -> None:
    session = requests.Session()
    while not stop.is_set():
        started = time.perf_counter()
        token = TOKEN.search(session.get(url, timeout=60).text).group(1)  # type: ignore[union-attr]
        reply = session.post(url, timeout=60, data={"form_token": token, **valid_report()})
        if reply.status_code != 200 or "receipt" not in reply.text:
            sys.exit(f"a monitor's report was not received: {reply.status_code}")
        times.append(time.perf_counter() - started)
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, default=2000)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--file-mb", type=int, default=32)
    args = parser.parse_args()
    reporter = str(Path(sys.executable).with_name("reporter"))
    with tempfile.TemporaryDirectory(prefix="bench-backup-") as tmp:
        folder = Path(tmp)
        path = make_station(folder, args.reports, args.files, args.file_mb)
        sizes = {p.name: p.stat().st_size for p in path.iterdir() if p.is_file()}
        port = 18000 + os.getpid() % 1000
        server = subprocess.Popen([reporter, "--instance", str(path), "serve", "--port",
                                   str(port)], env=ENV, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}/"
        try:
            for _ in range(200):
                try:
                    requests.get(url, timeout=5)
                    break
                except requests.ConnectionError:
                    time.sleep(0.1)
            quiet: list[float] = []
            stop = threading.Event()
            sender = threading.Thread(target=monitors, args=(url, stop, quiet))
            sender.start()
            time.sleep(5)
            stop.set()
            sender.join()
            during: list[float] = []
            stop = threading.Event()
            sender = threading.Thread(target=monitors, args=(url, stop, during))
            sender.start()
            seconds, rss, _out = peak_rss([reporter, "--instance", str(path), "backup",
                                           "--out", str(folder / "station.rbk")])
            stop.set()
            sender.join()
        finally:
            server.terminate()
            server.wait(30)
        restore_s, restore_rss, _out = peak_rss([reporter, "--instance",
                                                 str(folder / "restored"), "restore",
                                                 str(folder / "station.rbk")])
        size = (folder / "station.rbk").stat().st_size
    total = sum(sizes.values())
    listed = ", ".join(f"{n} {s / 2**20:.1f} MiB" for n, s in sorted(sizes.items()))
    print(f"station: {args.reports} text reports + {args.files} attachments of "
          f"{args.file_mb} MB; files {listed}")
    print(f"backup:  {seconds:.1f} s, {total / 2**20 / seconds:.0f} MiB/s of instance, "
          f"peak RSS {rss / 1024:.0f} MiB; file {size / 2**20:.1f} MiB")
    print(f"monitors, text report (GET form + POST): without a backup median "
          f"{statistics.median(quiet) * 1000:.0f} ms, max {max(quiet) * 1000:.0f} ms "
          f"({len(quiet)}); during it median {statistics.median(during) * 1000:.0f} ms, "
          f"max {max(during) * 1000:.0f} ms ({len(during)})")
    print(f"restore: {restore_s:.1f} s (every page checked), peak RSS {restore_rss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
