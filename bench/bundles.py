"""Bundle benchmark (issue 3): ``python -m bench.bundles``.

Export and import of N text reports, side by side in one run with the raw
floor, at two sizes (default 1,000 and 10,000) to show whether memory stays
flat as the bundle grows.

For each size the bench makes a throwaway station (cheap Argon2id, one
reviewer key whose private half it keeps) and fills it with N realistic
reports (``bench.payload``: two incident types, counts, a 2,000-character
description; about 2.6 KB of JSON, a 4.2 KB envelope), sealed and appended
in batches on one open store. That set-up is not timed.

Then, each in a fresh subprocess (``bench.bundle_ops``) so that the peak RSS
(``VmHWM``) belongs to one operation only, ``--repeat`` times (default 5),
interleaved:

* ``export``: ``export_bundle`` of all N reports (reads the store, hashes,
  signs, encrypts, fsyncs the file);
* ``verify``: ``verify_bundle`` (every check import makes, no database);
* ``import``: ``import_bundle`` into a new, empty review database, and closing
  it (the last close checkpoints the WAL);
* ``floor``: ``Report.from_body(open_envelope(env, key))`` for the same N
  envelopes held in a list (read from the station before the timer starts):
  the least a reviewer's machine must do per report;
* ``floor-stream``: the same loop over ``Store.reports()`` (SQLCipher reads,
  256 rows per page): the memory floor, since it holds nothing;
* ``baseline``: a process that only imports the same modules.

Rates and times are the median over the repeats; so is the peak RSS.

Targets (from the issue): import at >= 50 % of the floor's reports/s; memory
flat as the bundle grows. "Flat" is read as: the peak RSS of an operation
grows by less than 20 MB (decimal) from 1,000 to 10,000 reports, i.e. less
than 20 MB x (large - small) / 9,000 for other sizes, while the bundle itself
grows by about 59 MB (8.4 to 67.1 MB: bundles are padded to powers of two).
A reader that held the bundle, its plaintext or the
decrypted reports in memory would fail it.

``python -m bench.bundles --profile`` instead profiles ``import_bundle``
in-process on the largest size: a phase breakdown (functions wrapped with
timers at run time; nothing in ``reporter/`` is changed) and cProfile's top
functions.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from reporter.formats import crypto, envelope
from reporter.formats.crypto import RecipientPrivateKey
from reporter.station.instance import init_instance, load_identity, open_store, unlock
from reporter.station.intake import build_report

from .bundle_ops import CHEAP_KDF, REVIEW_PASSPHRASE, SECRETS_FILE
from .markdown import table, verdict
from .payload import SITE, report_fields_dict

PASSPHRASE = "bench station passphrase"
REPO = Path(__file__).resolve().parent.parent
TARGET_RATIO = 0.50
FLAT_LIMIT_BYTES = 20_000_000  # growth allowed from 1,000 to 10,000 reports
FLAT_SPAN = 9_000
OPS = ("export", "verify", "import", "floor", "floor-stream")
FILL_BATCH = 1000
CHILD_TIMEOUT = 600


# --- settings -------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bundles",
        description="Benchmark bundle export and import against the raw decryption floor: "
                    "reports/s and peak RSS, each operation in a fresh process.",
    )
    parser.add_argument("--sizes", help="comma-separated report counts "
                        "(default 1000,10000; --quick 500,2000)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 500 and 2,000 "
                        "reports, one repeat")
    parser.add_argument("--repeat", type=int,
                        help="fresh-process runs of each operation (default 5, --quick 1)")
    parser.add_argument("--json", type=Path, metavar="FILE",
                        help="also write the results as JSON to FILE")
    parser.add_argument("--workdir", type=Path, help="where to make the throwaway stations "
                        "(default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--profile", action="store_true",
                        help="instead: profile import_bundle in-process on the largest size")
    parser.add_argument("--top", type=int, default=20, help="cProfile rows (--profile)")
    args = parser.parse_args(argv)
    default = "500,2000" if args.quick else "1000,10000"
    try:
        args.size_list = sorted({int(s) for s in (args.sizes or default).split(",")
                                 if s.strip()})
    except ValueError:
        parser.error("--sizes takes numbers separated by commas, e.g. 1000,10000")
    if not args.size_list or args.size_list[0] < 1 or args.size_list[-1] > 200_000:
        parser.error("--sizes: each size must be between 1 and 200,000")
    if args.repeat is None:
        args.repeat = 1 if args.quick else 5
    if not 1 <= args.repeat <= 9:
        parser.error("--repeat must be between 1 and 9")
    return args


def _progress(message: str) -> None:
    print(f"[bench.bundles] {message}", file=sys.stderr, flush=True)


# --- the station under test ------------------------------------------------------


@contextmanager
def cheap_kdf() -> Iterator[None]:
    """libsodium's minimum Argon2id cost, in this process only, while inside."""
    saved = dict(crypto.KDF_PROFILES)
    for profile in saved:
        crypto.KDF_PROFILES[profile] = CHEAP_KDF
    try:
        yield
    finally:
        crypto.KDF_PROFILES.update(saved)


def make_filled_station(folder: Path, n: int, seed: int = 11) -> dict[str, Any]:
    """A station in ``folder/station`` holding ``n`` sealed reports, and
    ``folder/secrets.json`` (its key and the reviewer's private key) for the
    child processes. Returns facts about the reports."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "station"
    with cheap_kdf():
        identity = init_instance(path, PASSPHRASE)
        key = unlock(path, PASSPHRASE)
    reviewer = RecipientPrivateKey.generate()
    rng = random.Random(seed)
    body_bytes = envelope_bytes = 0
    with open_store(path, key) as store:
        store.add_recipient("reviewer", reviewer.public_key)
        store.add_site(SITE)
        recipients = [r.public_key for r in store.recipients()]
        done = 0
        while done < n:
            batch = []
            for _ in range(min(FILL_BATCH, n - done)):
                body = build_report(report_fields_dict(rng), "en").to_body()
                sealed = envelope.seal(body, recipients)
                body_bytes += len(body)
                envelope_bytes += len(sealed)
                batch.append(sealed)
            store.append_reports(batch, identity.station_id)
            done += len(batch)
        if store.report_count() != n:
            raise RuntimeError("the station does not hold the reports just added")
    secrets = folder / SECRETS_FILE
    fd = os.open(secrets, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"station": str(path), "station_key": key.hex(),
                   "reviewer_key": reviewer.raw().hex()}, fh)
    return {"reports": n, "avg_body_bytes": round(body_bytes / n),
            "avg_envelope_bytes": round(envelope_bytes / n),
            "station_db_bytes": sum(p.stat().st_size for p in path.glob("station.db*"))}


# --- one operation in a fresh process ----------------------------------------------


def child(op: str, folder: Path, *, out: Path | None = None,
          bundle: Path | None = None) -> dict[str, Any]:
    argv = [sys.executable, "-m", "bench.bundle_ops", op, str(folder)]
    if out is not None:
        argv += ["--out", str(out)]
    if bundle is not None:
        argv += ["--bundle", str(bundle)]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True,
                          timeout=CHILD_TIMEOUT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{op} on {folder} failed ({done.returncode}): "
                           f"{done.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run_size(folder: Path, rep: int) -> dict[str, dict[str, Any]]:
    """Export, verify, import and both floors once each, in fresh processes."""
    bundle = folder / f"bundle-{rep}.bdl"
    review = folder / f"review-{rep}" / "review.db"
    review.parent.mkdir()
    out = {"export": child("export", folder, out=bundle)}
    out["verify"] = child("verify", folder, bundle=bundle)
    out["import"] = child("import", folder, bundle=bundle, out=review)
    out["floor"] = child("floor", folder)
    out["floor-stream"] = child("floor-stream", folder)
    bundle.unlink()
    shutil.rmtree(review.parent)
    return out


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median seconds / CPU / peak RSS over repeats; the rate from the median time."""
    first = runs[0]
    seconds = statistics.median(r["seconds"] for r in runs)
    agg = {
        "op": first["op"],
        "reports": first["reports"],
        "runs": len(runs),
        "seconds": round(seconds, 4),
        "seconds_all": [r["seconds"] for r in runs],
        "cpu_seconds": round(statistics.median(r["cpu_seconds"] for r in runs), 4),
        "rate_per_s": round(first["reports"] / seconds, 1)
        if first["reports"] and seconds > 0 else None,
        "peak_rss_kib": int(statistics.median(r["peak_rss_kib"] for r in runs)),
        "peak_rss_kib_all": [r["peak_rss_kib"] for r in runs],
        "rss_before_kib": int(statistics.median(r["rss_before_kib"] for r in runs)),
    }
    for key in ("bundle_bytes", "review_db_bytes", "held_envelope_bytes"):
        if key in first:
            agg[key] = first[key]
    return agg


# --- output ----------------------------------------------------------------------------


def _mb(kib: float) -> str:
    return f"{kib * 1024 / 1e6:.1f}"


LABELS = {
    "export": "export (`export_bundle`)",
    "verify": "verify (`verify_bundle`)",
    "import": "import (`import_bundle` + close)",
    "floor": "raw floor: `open_envelope` + `Report.from_body`, envelopes in a list",
    "floor-stream": "floor streamed from the station store (`Store.reports()`)",
}


def render(results: dict[str, Any]) -> str:
    base_kib = results["baseline"]["peak_rss_kib"]
    out = [f"### Export, import and the floor (median of {results['settings']['repeat']} "
           "fresh processes per cell)", ""]
    rows = []
    for size in results["sizes"]:
        s = results["by_size"][str(size)]
        floor_rate = s["floor"]["rate_per_s"]
        for op in OPS:
            r = s[op]
            ratio = f"{100 * r['rate_per_s'] / floor_rate:.0f} %" \
                if floor_rate and r["rate_per_s"] else "–"
            note = ""
            if op == "export":
                note = f"bundle {r['bundle_bytes'] / 1e6:.1f} MB"
            elif op == "import":
                note = f"review DB {r['review_db_bytes'] / 1e6:.1f} MB"
            elif op == "floor":
                note = f"holds {r['held_envelope_bytes'] / 1e6:.1f} MB of envelopes"
            rows.append([f"{size:,}", LABELS[op], f"{r['rate_per_s']:,.0f}",
                         f"{r['seconds']:.2f}", f"{r['cpu_seconds']:.2f}",
                         "100 %" if op == "floor" else ratio,
                         _mb(r["peak_rss_kib"]), f"+{_mb(r['peak_rss_kib'] - base_kib)}",
                         note])
    rows.append(["–", "baseline: a process that imports the same modules", "–", "–", "–",
                 "–", _mb(base_kib), "+0.0", ""])
    out.append(table(["reports", "operation", "reports/s", "seconds", "CPU s", "vs floor",
                       "peak RSS MB", "over baseline MB", ""], rows))
    out.append("")
    out.append("*seconds* and *CPU s* are wall and CPU time of the timed part only (process "
               "start, imports and opening the store or creating the review DB excluded); "
               "*peak RSS* is `VmHWM` of that process at its end (MB = 10^6 bytes).")
    out.append("")
    out.append("### Targets")
    out.append("")
    rows = []
    for v in results["verdicts"]["ratio"]:
        rows.append([f"import / floor, {v['size']:,} reports",
                     f"{100 * v['ratio']:.0f} % ({v['import']:,.0f} / {v['floor']:,.0f} "
                     "reports/s)", f"≥ {100 * TARGET_RATIO:.0f} %", verdict(v["ok"])])
    for v in results["verdicts"]["export_ratio"]:
        rows.append([f"export / floor, {v['size']:,} reports",
                     f"{100 * v['ratio']:.0f} % ({v['export']:,.0f} / {v['floor']:,.0f} "
                     "reports/s)", "(context)", "–"])
    for v in results["verdicts"]["flat"]:
        rows.append([
            f"peak RSS growth, {v['op']}, {v['small']:,} → {v['large']:,} reports",
            f"{v['growth_bytes'] / 1e6:+.1f} MB ({v['per_1000_bytes'] / 1e3:,.0f} KB per "
            f"1,000 reports; bundle grows {v['bundle_growth_bytes'] / 1e6:.1f} MB)",
            f"< {v['limit_bytes'] / 1e6:.1f} MB" if v["target"] else "(context)",
            verdict(v["ok"]) if v["target"] else "–"])
    out.append(table(["measure", "result", "target", "verdict"], rows))
    out.append("")
    out.append(f"Memory flat means: peak RSS at {results['sizes'][-1]:,} reports minus at "
               f"{results['sizes'][0]:,} below {FLAT_LIMIT_BYTES / 1e6:.0f} MB × "
               f"({results['sizes'][-1]:,} − {results['sizes'][0]:,}) / {FLAT_SPAN:,} "
               f"(= {FLAT_LIMIT_BYTES / 1e6:.0f} MB for 1,000 → 10,000), for export and "
               "import; verify and the floors are context.")
    if results["sizes"][0] < 2500:
        out.append("")
        out.append("Note: each SQLCipher connection's page cache (`cache_size = -8000`, 8 MB) "
                   "fills up until about 2,000 reports have been read or written, so growth "
                   "between sizes below that is mostly the cache and overstates the slope.")
    return "\n".join(out)


def verdicts(results: dict[str, Any]) -> dict[str, Any]:
    sizes = results["sizes"]
    by = results["by_size"]
    ratio, export_ratio, flat = [], [], []
    for size in sizes:
        s = by[str(size)]
        f = s["floor"]["rate_per_s"]
        r = s["import"]["rate_per_s"] / f
        ratio.append({"size": size, "import": s["import"]["rate_per_s"], "floor": f,
                      "ratio": round(r, 3), "ok": r >= TARGET_RATIO})
        export_ratio.append({"size": size, "export": s["export"]["rate_per_s"], "floor": f,
                             "ratio": round(s["export"]["rate_per_s"] / f, 3)})
    if len(sizes) >= 2:
        small, large = sizes[0], sizes[-1]
        limit = FLAT_LIMIT_BYTES * (large - small) / FLAT_SPAN
        bundle_growth = (by[str(large)]["export"]["bundle_bytes"]
                         - by[str(small)]["export"]["bundle_bytes"])
        for op in ("export", "import", "verify", "floor-stream", "floor"):
            growth = 1024 * (by[str(large)][op]["peak_rss_kib"]
                             - by[str(small)][op]["peak_rss_kib"])
            target = op in ("export", "import")
            flat.append({"op": op, "small": small, "large": large, "growth_bytes": growth,
                         "per_1000_bytes": round(1000 * growth / (large - small)),
                         "limit_bytes": round(limit), "bundle_growth_bytes": bundle_growth,
                         "target": target, "ok": growth < limit})
    return {"ratio": ratio, "export_ratio": export_ratio, "flat": flat}


def render_facts(facts: dict[str, Any], argv: list[str], elapsed: float,
                 stations: dict[str, Any]) -> str:
    pk = ", ".join(f"{k} {facts['packages'][k]}" for k in ("pynacl", "sqlcipher3"))
    sizes = "; ".join(f"{int(n):,} reports: body {s['avg_body_bytes']:,} B, envelope "
                      f"{s['avg_envelope_bytes']:,} B on average"
                      for n, s in stations.items())
    return "\n".join([
        f"- command: `.venv/bin/python -m bench.bundles"
        f"{' ' + ' '.join(argv) if argv else ''}` ({elapsed:.0f} s)",
        f"- date: {facts['date']}",
        f"- CPU: {facts['nproc']} × {facts['cpu_model']}; memory {facts['memory']}",
        f"- Linux {facts['kernel']}; Python {facts['python']}",
        f"- work folder: {facts['workdir_fs']}",
        f"- code: commit {facts['commit'] or '?'}"
        + (f" with {facts['reporter_uncommitted_files']} uncommitted file(s) under reporter/"
           if facts["reporter_uncommitted_files"] else ""),
        f"- packages: {pk}",
        f"- reports: {sizes}; one reviewer key (one stanza per envelope and per bundle)",
    ])


# --- profiling -----------------------------------------------------------------------------

# (label, module, attribute path). Exclusive time: a phase inside another is
# subtracted from the outer one. The same label may wrap several names (a
# function imported into several modules).
IMPORT_PHASES: list[tuple[str, str, str]] = [
    ("bundle: file read + secretstream pull (64 KiB chunks)", "reporter.formats.bundle",
     "BundleReader._pull"),
    ("bundle: frame slicing (bytearray copy + delete)",
     "reporter.formats.bundle", "BundleReader._read"),
    ("bundle: padding check (any() over the zero padding, Python-level loop)",
     "reporter.formats.bundle", "BundleReader._check_padding"),
    ("bundle: manifest (JSON parsed twice, canonical re-check, signature, hash)",
     "reporter.formats.bundle", "BundleReader.__init__"),
    ("envelope hash, BLAKE2b (3 per report)", "reporter.formats.bundle", "envelope_hash"),
    ("envelope hash, BLAKE2b (3 per report)", "reporter.review.importer", "envelope_hash"),
    ("envelope hash, BLAKE2b (3 per report)", "reporter.station.store", "envelope_hash"),
    ("hash chain link", "reporter.formats.bundle", "chain_link"),
    ("duplicate check: 2 SELECTs per report", "reporter.review.db_records",
     "ImportRecords.report_hash"),
    ("duplicate check: 2 SELECTs per report", "reporter.review.db_records",
     "ImportRecords.unreadable_hash"),
    ("stanza unseal (X25519 crypto_box_seal_open)", "reporter.formats.crypto",
     "RecipientPrivateKey.unseal"),
    ("open_envelope: checks, secretstream decrypt, unpad + any() over its padding",
     "reporter.review.importer", "open_envelope"),
    ("Report.from_body: JSON parse + checks", "reporter.formats.report", "Report.from_body"),
    ("Report.to_body: JSON re-serialised for the body column", "reporter.formats.report",
     "Report.to_body"),
    ("report_columns (types JSON, field picks)", "reporter.review.db_records", "report_columns"),
    ("INSERT INTO reports (SQLCipher, 3 indexes + unique)", "reporter.review.db_records",
     "ImportRecords.add_report"),
    ("COMMIT (WAL, fsync)", "reporter.storage.sqlc", "Transaction.__exit__"),
    ("close (WAL checkpoint into the database)", "reporter.review.db", "ReviewDB.close"),
]


@contextmanager
def phase_timers(timer: Any) -> Iterator[None]:
    import importlib

    patched: list[tuple[Any, str, Any]] = []
    try:
        for label, module_name, attr_path in IMPORT_PHASES:
            owner: Any = importlib.import_module(module_name)
            *parents, attr = attr_path.split(".")
            for p in parents:
                owner = getattr(owner, p)
            original = owner.__dict__[attr] if isinstance(owner, type) else getattr(owner, attr)
            if isinstance(original, classmethod):
                wrapped: Any = classmethod(timer.wrap(label, original.__func__))
            else:
                wrapped = timer.wrap(label, original)
            patched.append((owner, attr, original))
            setattr(owner, attr, wrapped)
        yield
    finally:
        for owner, attr, original in reversed(patched):
            setattr(owner, attr, original)


def profile(args: argparse.Namespace, workdir: Path) -> int:
    from reporter.formats.envelope import open_envelope
    from reporter.formats.report import Report
    from reporter.review.db import ReviewDB
    from reporter.review.importer import import_bundle
    from reporter.station.export import export_bundle

    from .profile import PhaseTimer

    n = args.size_list[-1]
    folder = workdir / str(n)
    _progress(f"filling a station with {n:,} reports")
    make_filled_station(folder, n)
    secrets = json.loads((folder / SECRETS_FILE).read_text())
    key = bytes.fromhex(secrets["station_key"])
    reviewer = RecipientPrivateKey(bytes.fromhex(secrets["reviewer_key"]))
    bundle = folder / "bundle.bdl"
    with open_store(folder / "station", key) as store:
        export_bundle(store, load_identity(store), bundle)
        envelopes = [r.envelope for r in store.reports() if r.envelope is not None]

    def fresh_db(name: str) -> Any:
        with cheap_kdf():
            return ReviewDB.create(folder / name / "review.db", REVIEW_PASSPHRASE)

    def timed_import(name: str) -> float:
        (folder / name).mkdir()
        db = fresh_db(name)
        start = time.perf_counter()
        import_bundle(db, bundle, reviewer)
        db.close()
        return time.perf_counter() - start

    start = time.perf_counter()
    for env in envelopes:
        Report.from_body(open_envelope(env, reviewer))
    floor_s = time.perf_counter() - start
    plain = timed_import("plain")
    timer = PhaseTimer()
    with phase_timers(timer):
        timed = timed_import("timed")
    print(f"### import_bundle in-process, {n:,} reports\n")
    print(f"Without timers: {plain:.2f} s ({n / plain:,.0f} reports/s, "
          f"{1e6 * plain / n:.0f} µs each); raw floor in the same process: "
          f"{floor_s:.2f} s ({n / floor_s:,.0f} reports/s, {1e6 * floor_s / n:.0f} µs each).\n")
    print(f"With phase timers: {timed:.2f} s. Exclusive time per phase:\n")
    lines = ["| phase | calls | µs / report | share |", "|---|---:|---:|---:|"]
    for label, seconds in sorted(timer.totals.items(), key=lambda kv: -kv[1]):
        lines.append(f"| {label} | {timer.calls[label]:,} | {1e6 * seconds / n:.1f} | "
                     f"{100 * seconds / timed:.0f} % |")
    rest = timed - sum(timer.totals.values())
    lines.append(f"| rest: loops and generators in review.py / bundle.py, timers | – | "
                 f"{1e6 * rest / n:.1f} | {100 * rest / timed:.0f} % |")
    lines.append(f"| **total** | – | **{1e6 * timed / n:.1f}** | 100 % |")
    print("\n".join(lines))
    print()
    (folder / "traced").mkdir()
    db = fresh_db("traced")
    cache = db.connection.execute("PRAGMA cache_size").fetchone()[0]
    tracemalloc.start()
    import_bundle(db, bundle, reviewer)
    db.close()
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"Python heap peak during the import (tracemalloc): {peak / 1e6:.1f} MB "
          f"({peak / n:,.0f} bytes per report). Not counted there: SQLite's page cache, "
          f"cache_size = {cache} ({'KiB' if cache < 0 else 'pages'}) per connection.\n")
    (folder / "cprofile").mkdir()
    db = fresh_db("cprofile")
    profiler = cProfile.Profile()
    profiler.runcall(import_bundle, db, bundle, reviewer)
    profiler.runcall(db.close)
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text).strip_dirs()
    text.write(f"\n--- top {args.top} by internal time (tottime) ---\n")
    stats.sort_stats("tottime").print_stats(args.top)
    text.write(f"\n--- top {args.top} by cumulative time ---\n")
    stats.sort_stats("cumulative").print_stats(args.top)
    print(text.getvalue())
    return 0


# --- main ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    raw_argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(raw_argv)
    started = time.monotonic()
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="reporter-bench-bundles-", dir=args.workdir))
    try:
        _progress(f"work folder {workdir}")
        if args.profile:
            return profile(args, workdir)
        from .run import machine_facts

        facts = machine_facts(workdir)
        stations = {}
        for size in args.size_list:
            t0 = time.monotonic()
            stations[str(size)] = make_filled_station(workdir / str(size), size)
            _progress(f"station with {size:,} reports filled in {time.monotonic() - t0:.1f} s")
        runs: dict[str, dict[str, list[dict[str, Any]]]] = {
            str(s): {op: [] for op in OPS} for s in args.size_list}
        baseline: list[dict[str, Any]] = []
        for rep in range(args.repeat):
            baseline.append(child("baseline", workdir / str(args.size_list[0])))
            for size in args.size_list:
                one = run_size(workdir / str(size), rep)
                for op in OPS:
                    runs[str(size)][op].append(one[op])
                _progress(f"repeat {rep + 1}/{args.repeat}, {size:,} reports: " + ", ".join(
                    f"{op} {one[op]['rate_per_s']:,.0f}/s "
                    f"{one[op]['peak_rss_kib'] / 1024:.1f} MiB" for op in OPS))
        results: dict[str, Any] = {
            "machine": facts,
            "settings": {"sizes": args.size_list, "repeat": args.repeat, "quick": args.quick},
            "sizes": args.size_list,
            "stations": stations,
            "baseline": median_of(baseline),
            "by_size": {s: {op: median_of(r) for op, r in ops.items()}
                        for s, ops in runs.items()},
            "targets": {"import_over_floor": TARGET_RATIO,
                        "flat_growth_bytes_per_9000": FLAT_LIMIT_BYTES},
        }
        results["verdicts"] = verdicts(results)
        results["elapsed_s"] = round(time.monotonic() - started, 1)
        text = "\n\n".join([
            "## Bundles: export and import",
            render_facts(facts, raw_argv, results["elapsed_s"], stations),
            render(results)])
        print(text)
        _progress(f"done in {results['elapsed_s']:.0f} s")
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(results, indent=2) + "\n")
            _progress(f"results written to {args.json}")
        return 0
    finally:
        if args.keep:
            _progress(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
