"""Orchestrates one benchmark run and prints the results as Markdown.

Order: make two throwaway stations (one served, one for the in-process
floor), start ``reporter serve`` and the trivial Flask app, read the idle RSS
and the page sizes, then for each client count load the station and then the
trivial app (warm-up, then a fixed measured window), read the RSS after the
load, stop both servers, and run the in-process floor and an fsync probe.
The exit status is 1 if any request failed or the store does not hold exactly
one report per receipt handed out.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import multiprocessing
import os
import platform
import queue
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from reporter.station.instance import open_store

from . import floor, load
from .load import Connection, fetch_form, get_request, post_request
from .markdown import table, verdict
from .payload import form_body
from .procs import (
    REPO,
    ServerProcess,
    free_port,
    machine_busy,
    make_station,
    start_reporter,
    start_trivial,
)
from .stats import summarize

HOST = "127.0.0.1"
TARGET_RATIO = 0.60
# The units, read strictly as decimal: 60 MB = 60,000,000 bytes, 30 KB = 30,000.
TARGET_RSS_KIB = 60_000_000 / 1024
TARGET_PAGE_BYTES = 30_000
NOISY_OTHER_PCT = 25


# --- settings -----------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark the station's intake: real server vs trivial Flask POST "
                    "vs in-process floor, RSS and page sizes.",
    )
    parser.add_argument("--quick", action="store_true",
                        help="a ~30 s smoke run (1 s warm-up, 3 s per level)")
    parser.add_argument("--json", type=Path, metavar="FILE",
                        help="also write the results as JSON to FILE")
    parser.add_argument("--clients", default="1,4,16",
                        help="comma-separated concurrent client counts (default 1,4,16)")
    parser.add_argument("--duration", type=float, help="measured seconds per level "
                        "(default 12, --quick 3)")
    parser.add_argument("--warmup", type=float, help="warm-up seconds per level "
                        "(default 3, --quick 1)")
    parser.add_argument("--threads", type=int, default=16,
                        help="server threads for both servers (default 16, as 'reporter serve')")
    parser.add_argument("--client-procs", type=int, default=2,
                        help="client processes (threads are split between them; default 2)")
    parser.add_argument("--workdir", type=Path,
                        help="where to make the throwaway stations (default: a temp dir; "
                             "the disk matters: every report is fsync'd)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    try:
        args.levels = [int(c) for c in args.clients.split(",") if c.strip()]
    except ValueError:
        parser.error("--clients takes numbers separated by commas, e.g. 1,4,16")
    if not args.levels or min(args.levels) < 1 or max(args.levels) > 256:
        parser.error("--clients: each count must be between 1 and 256")
    if args.duration is None:
        args.duration = 3.0 if args.quick else 12.0
    if args.warmup is None:
        args.warmup = 1.0 if args.quick else 3.0
    if args.duration <= 0 or args.warmup < 0:
        parser.error("--duration must be positive and --warmup not negative")
    args.floor_warmup = 0.25 if args.quick else 1.0
    args.floor_duration = 1.5 if args.quick else 5.0
    return args


# --- facts about the machine ------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _filesystem(path: Path) -> str:
    """The mount (device, type) holding ``path``, from /proc/mounts."""
    best, found = "", "unknown"
    try:
        target = str(path.resolve())
        for line in Path("/proc/mounts").read_text().splitlines():
            device, mount, fstype = line.split()[:3]
            if (target == mount or target.startswith(mount.rstrip("/") + "/")) and \
                    len(mount) > len(best):
                best, found = mount, f"{fstype} on {device} (mounted at {mount})"
    except OSError:
        pass
    return found


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def _git(*args: str) -> str | None:
    """A read-only git query about the tree under test (None without git)."""
    try:
        done = subprocess.run(["git", "--no-optional-locks", "-C", str(REPO), *args],
                              capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def machine_facts(workdir: Path) -> dict[str, Any]:
    mem = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) // 1024} MiB"
    except OSError:
        pass
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": _cpu_model(),
        "memory": mem,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "workdir_fs": _filesystem(workdir),
        "commit": _git("rev-parse", "--short", "HEAD"),
        "reporter_uncommitted_files": None if (st := _git(
            "status", "--porcelain", "--", "reporter")) is None
        else len([line for line in st.splitlines() if line.strip()]),
        "packages": {n: _version(n) for n in
                     ("flask", "werkzeug", "h11", "wtforms", "jinja2",
                      "pynacl", "sqlcipher3")},
    }


# --- one load level -----------------------------------------------------------------


def run_level(server: ServerProcess, clients: int, args: argparse.Namespace) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    procs = max(1, min(args.client_procs, clients))
    split = [clients // procs + (1 if i < clients % procs else 0) for i in range(procs)]
    ready, go = ctx.Barrier(procs + 1), ctx.Barrier(procs + 1)
    start_at = ctx.Value("d", 0.0)
    out: Any = ctx.Queue()
    workers = [
        ctx.Process(target=load.worker, daemon=True, args=(
            i, HOST, server.port, split[i], args.warmup, args.duration, (ready, go),
            start_at, out))
        for i in range(procs)
    ]
    for w in workers:
        w.start()
    aborted = False
    try:
        ready.wait(timeout=120)
        start_at.value = time.monotonic() + 0.05
        go.wait(timeout=30)
    except Exception:  # BrokenBarrierError: a client could not get a form
        aborted = True
    t0 = start_at.value
    measure_from, end = t0 + args.warmup, t0 + args.warmup + args.duration
    server_cpu = busy = None
    if not aborted:
        try:
            load.sleep_until(measure_from)
            cpu0, (busy0, total0) = server.cpu_seconds(), machine_busy()
            load.sleep_until(end)
            cpu1, (busy1, total1) = server.cpu_seconds(), machine_busy()
        except OSError:  # the server process is gone; reported below
            pass
        else:
            server_cpu = cpu1 - cpu0
            # Busy CPU of the whole machine, in % of one core (200 % = 2 cores busy).
            cores = len(os.sched_getaffinity(0))
            busy = round(100 * cores * (busy1 - busy0) / max(1.0, total1 - total0), 1)
    summaries: list[dict[str, Any]] = []
    deadline = time.monotonic() + load.SOCKET_TIMEOUT + 60
    while len(summaries) < procs and time.monotonic() < deadline:
        try:
            summaries.append(out.get(timeout=1))
        except queue.Empty:
            if not any(w.is_alive() for w in workers) and out.empty():
                break
    for w in workers:
        w.join(timeout=10)
        if w.is_alive():
            w.terminate()
            w.join()
    errors: dict[str, int] = {}
    latencies: list[float] = []
    samples: list[str] = []
    client_cpu = 0.0
    receipts = total = 0
    for s in summaries:
        latencies.extend(s["latencies"])
        for kind, n in s["errors"].items():
            errors[kind] = errors.get(kind, 0) + n
        samples.extend(s["error_samples"])
        client_cpu += s["cpu_seconds"]
        receipts += s["receipts"]
        total += s["total_requests"]
        aborted = aborted or s["aborted"]
    if len(summaries) < procs:
        errors["client-process-lost"] = procs - len(summaries)
    if aborted and not errors:
        errors["aborted"] = 1
    if not server.alive():
        errors["server-died"] = 1
    result = summarize(latencies, args.duration, errors=errors, server_cpu=server_cpu,
                       client_cpu=client_cpu if not aborted else None, machine_busy=busy)
    other = None
    if busy is not None and result["server_cpu_pct"] is not None \
            and result["client_cpu_pct"] is not None:
        # What neither the server nor our clients used: other processes, kernel I/O.
        other = round(max(0.0, busy - result["server_cpu_pct"] - result["client_cpu_pct"]), 1)
    result.update(clients=clients, client_procs=procs, receipts_total=receipts,
                  requests_total=total, error_samples=samples[:5], other_cpu_pct=other)
    return result


# --- pages and memory -------------------------------------------------------------------


def page_sizes(port: int) -> tuple[dict[str, int], int]:
    """Body bytes of the form, the follow-up form and a receipt page; and the
    number of reports stored on the way (one)."""
    conn = Connection(HOST, port)
    try:
        form = conn.request(get_request(HOST, port, "/"))
        follow_up = conn.request(get_request(HOST, port, "/follow-up"))
        receipt = conn.request(post_request(HOST, port, "/",
                                            form_body(fetch_form(conn), random.Random(1))))
    finally:
        conn.close()
    for name, response in (("GET /", form), ("GET /follow-up", follow_up),
                           ("POST / (receipt)", receipt)):
        if response.status != 200:
            raise RuntimeError(f"{name} answered {response.status}")
    if load.RECEIPT_MARK not in receipt.body:
        raise RuntimeError("the receipt page holds no receipt")
    return {
        "form_page": len(form.body),
        "follow_up_page": len(follow_up.body),
        "receipt_page": len(receipt.body),
    }, 1


# --- output ------------------------------------------------------------------------------


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _mb(kib: int) -> str:
    return f"{kib * 1024 / 1e6:.1f} MB ({kib / 1024:.1f} MiB)"


def render(results: dict[str, Any]) -> str:
    cfg, out = results["settings"], []
    out.append(f"### Throughput and latency ({cfg['warmup_s']:g} s warm-up, "
               f"{cfg['duration_s']:g} s measured per level, {cfg['threads']} server threads)")
    out.append("")
    rows = []
    for level in results["levels"]:
        for name, key in (("station `POST /` (seal + fsync)", "station"),
                          ("trivial Flask `POST /` (ceiling)", "trivial")):
            r = level[key]
            rows.append([name, str(level["clients"]), _fmt(r["rate_per_s"]),
                         _fmt(r["p50_ms"], 2), _fmt(r["p99_ms"], 2), _fmt(r["ok"]),
                         _fmt(r["errors"]), _fmt(r["server_cpu_pct"], 0) + " %",
                         _fmt(r["client_cpu_pct"], 0) + " %",
                         _fmt(r["client_cpu_us_per_req"], 0),
                         _fmt(r["other_cpu_pct"], 0) + " %"])
    for name, key in (("raw floor: seal + append (1 open store)", "seal_append"),
                      ("floor + open store per report (as the app)", "open_seal_append"),
                      ("seal only (libsodium)", "seal_only"),
                      ("fsync probe: 4 KiB write + fsync", "fsync")):
        r = results["floor"][key]
        rows.append([name, "1 (in-process)", _fmt(r["rate_per_s"]), _fmt(r["p50_ms"], 3),
                     _fmt(r["p99_ms"], 3), _fmt(r["ok"]), "0",
                     _fmt(r["server_cpu_pct"], 0) + " %", "–", "–", "–"])
    out.append(table(["scenario", "clients", "req/s", "p50 ms", "p99 ms", "ok", "errors",
                       "server CPU (of 1 core)", "client CPU (of 1 core)",
                       "client CPU µs/req", "other CPU (of 1 core)"], rows))
    out.append("")
    out.append(f"CPU columns are CPU time used during the measured window in % of one core "
               f"(this machine has {results['machine']['nproc']}); *other* is what neither "
               "the server nor the load generator used (other processes, kernel I/O threads).")
    noisy = [f"{lv['clients']} ({key})" for lv in results["levels"]
             for key in ("station", "trivial")
             if (lv[key].get("other_cpu_pct") or 0) > NOISY_OTHER_PCT]
    if noisy:
        out.append("")
        out.append(f"**Warning:** other processes used more than {NOISY_OTHER_PCT} % of a "
                   f"core during: {', '.join(noisy)} clients; those numbers are disturbed.")
    out.append("")
    out.append("### Targets")
    out.append("")
    rows = []
    for level in results["levels"]:
        ratio = level["ratio"]
        rows.append([f"submissions / trivial POST, {level['clients']} client(s)",
                     f"{ratio * 100:.0f} % ({_fmt(level['station']['rate_per_s'])} / "
                     f"{_fmt(level['trivial']['rate_per_s'])} req/s)",
                     f"≥ {TARGET_RATIO * 100:.0f} %", verdict(ratio >= TARGET_RATIO)])
    floor_rate = results["floor"]["seal_append"]["rate_per_s"]
    best = max(level["station"]["rate_per_s"] for level in results["levels"])
    rows.append(["best submissions / raw floor (seal + append)",
                 f"{100 * best / floor_rate:.0f} % ({_fmt(best)} / {_fmt(floor_rate)} req/s)"
                 if floor_rate else "–", "(context)", "–"])
    rss = results["rss_kib"]
    for label, key in (("idle RSS of `reporter serve` (after start + 1 GET)", "station_idle"),
                       ("same, station made with the shipped 'moderate' Argon2id cost",
                        "station_idle_real_kdf"),
                       ("RSS of `reporter serve` after the load", "station_after_load")):
        value = rss[key]["VmRSS"]
        rows.append([label, _mb(value) if value else "– (server gone)",
                     "< 60 MB", verdict(0 < value < TARGET_RSS_KIB)])
    rows.append(["peak RSS (VmHWM) of `reporter serve` during the run",
                 _mb(rss["station_after_load"]["VmHWM"]), "(context)", "–"])
    rows.append(["peak RSS (VmHWM) at start-up with the shipped Argon2id cost",
                 _mb(rss["station_idle_real_kdf"]["VmHWM"]), "(context)", "–"])
    rows.append(["idle RSS of the trivial Flask app (context)",
                 _mb(rss["trivial_idle"]["VmRSS"]), "(context)", "–"])
    for label, key in (("form page `GET /` (body, CSS inline)", "form_page"),
                       ("follow-up page `GET /follow-up`", "follow_up_page"),
                       ("receipt page (answer to `POST /`)", "receipt_page")):
        size = results["page_bytes"][key]
        target = key != "receipt_page"
        rows.append([label, f"{size:,} bytes", "< 30 KB" if target else "(context)",
                     verdict(size < TARGET_PAGE_BYTES) if target else "–"])
    out.append(table(["measure", "result", "target", "verdict"], rows))
    out.append("")
    for level in results["levels"]:
        for key in ("station", "trivial"):
            if level[key]["errors"]:
                kinds = ", ".join(f"{k} × {n}" for k, n in level[key]["error_kinds"].items())
                out.append(f"Errors, {key}, {level['clients']} client(s): {kinds}.")
                out.append("")
    checks = results["checks"]
    out.append(f"Reports stored: {checks['reports_stored']:,}; receipts handed out: "
               f"{checks['receipts_handed_out']:,} "
               f"({'match' if checks['store_matches_receipts'] else 'MISMATCH'}). "
               f"Failed requests: {checks['failed_requests']:,}.")
    return "\n".join(out)


def render_facts(facts: dict[str, Any], argv: list[str]) -> str:
    pk = ", ".join(f"{k} {v}" for k, v in facts["packages"].items())
    return "\n".join([
        f"- command: `.venv/bin/python -m bench{' ' + ' '.join(argv) if argv else ''}`",
        f"- date: {facts['date']}",
        f"- CPU: {facts['nproc']} × {facts['cpu_model']}; memory {facts['memory']}",
        f"- Linux {facts['kernel']}; Python {facts['python']}",
        f"- work folder: {facts['workdir_fs']}",
        f"- code: commit {facts['commit'] or '?'}"
        + (f" with {facts['reporter_uncommitted_files']} uncommitted file(s) under reporter/"
           if facts["reporter_uncommitted_files"] else ""),
        f"- packages: {pk}",
    ])


# --- main ----------------------------------------------------------------------------------


def _progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _line(name: str, r: dict[str, Any]) -> str:
    return (f"{name}: {r['rate_per_s']:.1f} req/s, p50 {_fmt(r['p50_ms'], 2)} ms, "
            f"p99 {_fmt(r['p99_ms'], 2)} ms, {r['errors']} errors")


def main(argv: list[str] | None = None) -> int:
    raw_argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(raw_argv)
    started = time.monotonic()
    base = args.workdir
    if base is not None:
        base.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="reporter-bench-", dir=base))
    facts = machine_facts(workdir)
    servers: list[ServerProcess] = []
    try:
        _progress(f"work folder {workdir}")
        station = make_station(workdir / "station")
        floor_station = make_station(workdir / "floor")
        reporter = start_reporter(station, free_port(), args.threads, workdir / "reporter.log")
        servers.append(reporter)
        trivial = start_trivial(free_port(), args.threads, workdir / "trivial.log")
        servers.append(trivial)
        reporter.wait_ready()  # one GET / has been answered
        trivial.wait_ready()
        rss = {"station_idle": reporter.rss_kib(), "trivial_idle": trivial.rss_kib()}
        _progress(f"reporter serve pid {reporter.pid} idle RSS "
                  f"{rss['station_idle']['VmRSS'] / 1024:.1f} MiB")
        # The same, for a station made with the shipped Argon2id cost: the
        # 256 MiB it takes to unlock must be given back before serving.
        real = start_reporter(make_station(workdir / "station-real-kdf", real_kdf=True),
                              free_port(), args.threads, workdir / "reporter-real-kdf.log")
        servers.append(real)
        real.wait_ready(timeout=120)
        rss["station_idle_real_kdf"] = real.rss_kib()
        real.stop()
        _progress(f"with the shipped KDF: idle RSS "
                  f"{rss['station_idle_real_kdf']['VmRSS'] / 1024:.1f} MiB, peak "
                  f"{rss['station_idle_real_kdf']['VmHWM'] / 1024:.1f} MiB")
        pages, stored_by_pages = page_sizes(reporter.port)
        _progress(f"page bytes {pages}")

        levels = []
        for clients in args.levels:
            level: dict[str, Any] = {"clients": clients}
            for key, server in (("station", reporter), ("trivial", trivial)):
                r = run_level(server, clients, args)
                level[key] = r
                _progress(_line(f"{key:8} {clients:3} clients", r))
                for sample in r["error_samples"]:
                    _progress(f"  error sample: {sample}")
            trivial_rate = level["trivial"]["rate_per_s"]
            level["ratio"] = level["station"]["rate_per_s"] / trivial_rate if trivial_rate else 0
            levels.append(level)

        rss["station_after_load"] = reporter.rss_kib()
        rss["trivial_after_load"] = trivial.rss_kib()
        for server in servers:
            server.stop()
        with open_store(station.path, station.key) as store:
            stored = store.report_count()
        receipts = stored_by_pages + sum(lv["station"]["receipts_total"] for lv in levels)

        _progress("in-process floor")
        floors = {
            "seal_append": floor.seal_append(floor_station, args.floor_warmup,
                                             args.floor_duration),
            "open_seal_append": floor.open_seal_append(floor_station, args.floor_warmup,
                                                       args.floor_duration),
            "seal_only": floor.seal_only(args.floor_warmup, args.floor_duration,
                                         floor_station),
            "fsync": floor.fsync_probe(workdir, args.floor_warmup, args.floor_duration),
        }
        for key, r in floors.items():
            _progress(_line(f"floor {key}", r))

        failed = sum(lv[k]["errors"] for lv in levels for k in ("station", "trivial"))
        if not rss["station_after_load"]["VmRSS"]:
            failed += 1  # the server died: make sure the run fails
        results: dict[str, Any] = {
            "machine": facts,
            "settings": {"clients": args.levels, "duration_s": args.duration,
                         "warmup_s": args.warmup, "threads": args.threads,
                         "client_procs": args.client_procs, "quick": args.quick,
                         "floor_duration_s": args.floor_duration},
            "levels": levels,
            "floor": floors,
            "rss_kib": rss,
            "page_bytes": pages,
            "checks": {"reports_stored": stored, "receipts_handed_out": receipts,
                       "store_matches_receipts": stored == receipts,
                       "failed_requests": failed},
            "targets": {"ratio": TARGET_RATIO, "rss_kib": TARGET_RSS_KIB,
                        "page_bytes": TARGET_PAGE_BYTES},
            "elapsed_s": round(time.monotonic() - started, 1),
        }
        text = "\n\n".join(["## Station intake benchmark", render_facts(facts, raw_argv),
                            render(results)])
        print(text)
        _progress(f"done in {results['elapsed_s']:.0f} s")
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(results, indent=2) + "\n")
            _progress(f"results written to {args.json}")
        if failed or stored != receipts:
            _progress(f"FAILED: {failed} failed requests; {stored} reports stored for "
                      f"{receipts} receipts")
            return 1
        return 0
    finally:
        for server in servers:
            server.stop()
        if args.keep:
            _progress(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

