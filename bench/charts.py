"""The review desk's charts on a review database of N reports: time and memory.

A modest benchmark (the 100,000-report database through real bundles is
``bench`` of the desk's inbox, another one): the reports are written straight
into a new review database (``ReviewDB.add_report``, one transaction: the
same rows an import writes, without sealing and bundles), with random types,
perpetrators, 40 sites, incident dates over three years and numbers of
people. Then, in a fresh process (so that its memory is the charts' alone):

* **count**: ``charts.count`` of each chart (the SQL), no filter and a site
  filter;
* **draw**: ``charts.draw`` of each chart: the first (which imports
  matplotlib) and the median of three more;
* **memory**: the process's resident size with the database open, and its
  peak (``VmHWM``) after drawing the four charts; the SVG sizes.

Run: ``python -m bench.charts [--reports N]`` (default 10,000).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from reporter.formats.receipt import new_receipt
from reporter.formats.report import FORM_VERSION, INCIDENT_TYPES, PERPETRATORS, Report
from reporter.review import charts
from reporter.review.db import ReviewDB
from reporter.review.filters import Filters

PASSPHRASE = "a long benchmark review passphrase"
STATION = bytes.fromhex("ab" * 16)


def build(path: Path, reports: int, seed: int = 13) -> None:
    rng = random.Random(seed)
    sites = [f"Site {n:02d}" for n in range(40)]
    with ReviewDB.create(path, PASSPHRASE, kdf_profile="interactive") as db:
        with db.transaction():
            db.pin_station(STATION, b"\x01" * 32)
            for seq in range(1, reports + 1):
                year, month, day = rng.choice((2024, 2025, 2026)), rng.randint(1, 12), 1
                fields = {
                    "incident_types": rng.sample(INCIDENT_TYPES, rng.randint(1, 3)),
                    "perpetrators": rng.sample(PERPETRATORS, rng.randint(0, 2)),
                    "incident_date": f"{year}-{month:02d}-{day + rng.randint(0, 27):02d}",
                    "site": rng.choice(sites), "people_affected": rng.randint(0, 40),
                    "source": rng.choice(("witnessed", "heard")), "contact": "none",
                    "description": "benchmark report " + "x" * rng.randint(20, 400),
                }
                report = Report(kind="incident", receipt=new_receipt(), locale="en",
                                submitted="2026-11-01", fields=fields, form=FORM_VERSION)
                db.add_report(STATION, seq, seq.to_bytes(32, "big"), report)


def _vm(name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    return 0


def measure(path: Path, key: bytes) -> dict[str, Any]:
    """In this (fresh) process: count and draw every chart. The key comes from the
    parent (on standard input), so Argon2id's memory is not counted here."""
    result: dict[str, Any] = {"count": {}, "draw_first": {}, "draw": {}, "svg_bytes": {}}
    with ReviewDB.open_with_key(path, key) as db:
        result["rss_open_kib"] = _vm("VmRSS")
        result["matplotlib_loaded_before"] = "matplotlib" in sys.modules
        tables = {}
        for chart in charts.CHARTS:
            start = time.perf_counter()
            tables[chart] = charts.count(db, Filters(), chart)
            result["count"][chart] = time.perf_counter() - start
        start = time.perf_counter()
        charts.count(db, Filters(site="site 1"), "types")
        result["count_filtered_types"] = time.perf_counter() - start
    for chart, table in tables.items():
        start = time.perf_counter()
        svg = charts.draw(table, str)
        result["draw_first"][chart] = time.perf_counter() - start
        times = []
        for _ in range(3):
            start = time.perf_counter()
            again = charts.draw(table, str)
            times.append(time.perf_counter() - start)
        assert again == svg  # the same bytes every time
        result["draw"][chart] = statistics.median(times)
        result["svg_bytes"][chart] = len(svg)
    result["rss_after_kib"] = _vm("VmRSS")
    result["peak_kib"] = _vm("VmHWM")
    return result


def render(reports: int, db_bytes: int, build_s: float, r: dict[str, Any]) -> str:
    def ms(seconds: float) -> str:
        return f"{seconds * 1000:,.0f} ms"

    lines = [f"review database: {reports:,} reports, {db_bytes / 2**20:.1f} MiB "
             f"(built in {build_s:.1f} s)",
             "| chart | count (SQL) | first draw | draw (median of 3) | SVG |",
             "|---|---:|---:|---:|---:|"]
    for chart in charts.CHARTS:
        lines.append(f"| {chart} | {ms(r['count'][chart])} | {ms(r['draw_first'][chart])} | "
                     f"{ms(r['draw'][chart])} | {r['svg_bytes'][chart] / 1024:.0f} KiB |")
    lines.append(f"count of types with a site filter: {ms(r['count_filtered_types'])}")
    lines.append(f"memory: RSS {r['rss_open_kib'] / 1024:.0f} MiB with the database open "
                 f"(matplotlib loaded: {r['matplotlib_loaded_before']}), "
                 f"{r['rss_after_kib'] / 1024:.0f} MiB after the charts, peak "
                 f"{r['peak_kib'] / 1024:.0f} MiB")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.charts")
    parser.add_argument("--reports", type=int, default=10_000)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure, bytes.fromhex(sys.stdin.readline().strip()))))
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-charts-") as tmp:
        path = Path(tmp) / "review.db"
        start = time.perf_counter()
        build(path, args.reports)
        build_s = time.perf_counter() - start
        key = ReviewDB.derive_key(path, PASSPHRASE)
        child = subprocess.run([sys.executable, "-m", "bench.charts", "--measure", str(path)],
                               input=key.hex() + "\n", capture_output=True, text=True,
                               check=True, timeout=3600)
        result = json.loads(child.stdout)
        print(render(args.reports, path.stat().st_size, build_s, result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
