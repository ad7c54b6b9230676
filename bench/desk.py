"""The review desk on 100,000 reports (issue 13): ``python -m bench.desk --reports 100000``.

**Build, through the real path** (cached): ``--stations`` real station instances
(``init_instance``, their SQLCipher store, reports sealed by the station's own
code to two reviewer keys, a few with an attachment taken in through the
station's upload ``Draft``), each exported as real signed bundles of
``--bundle-size`` reports (``export_bundle``), then imported one by one with the
real importer (``import_bundle``) into a new review database, as the first
reviewer. Fields vary as a coalition's would: ten sites (a few typed by hand),
one to three incident types, one or two perpetrators, incident dates over two
years (a tenth without one), witnessed or heard, one report in 25 a follow-up,
descriptions of 300 to 2,000 characters; the word ``cyanide`` in one report in
100 and ``déplacés`` in one in 50 (search targets whose counts are known). The
station's arrival date (``submitted``) is spread over the same two years in
sequence order (a real station writes today's date). The built database is
kept under ``--cache`` (default ``~/.cache/reporter-bench/desk``) in a folder
named by a hash of the generator's parameters and ``GENERATOR_VERSION``, with
the build and import times, so later runs skip the build. Each run works on a
copy (opening it may migrate it to a newer schema).

**Measure, over real HTTP**: a real ``reporter review serve`` process (the CLI,
the shared server, 8 threads), unlocked through its page (the first unlock opens the
database, migrating it if the code is newer: timed). Then, ``--repeat`` times
each, interleaved: the inbox with no filter, each filter of ``review list``
(station, site, type, perpetrator, date range, witnessed/heard, attachments,
text search, a combination), deep pages (keyset positions 1,000, 50,000 and
the last page), each timed as one ``GET`` (the page and its count). Beside
each, in this process, on its own connection to the same database file: the
bare query of the same filter, i.e. what the desk runs for that page without
HTTP, Flask or templates (``listing.page`` of 50 plus ``listing.count_reports``),
the count alone, and the count per filter (``facets.facet_counts``: the number
beside each choice of the form's lists). The desk keeps a filter's counts per
filter while unlocked, so its first visit of a view is timed apart (``desk
first``): the later ones (paging, coming back) take them from memory. The
counts the page shows are checked against the bare count (and against the
generator's known numbers for the text searches).
Memory of the desk: ``VmRSS`` idle after unlocking, ``VmRSS`` after the run,
and ``VmHWM`` (peak).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

# 2: built by the schema with the workflow (6) before the search index (7); a database
# cached by version 1 had the search index as its schema 6 and is not reused.
GENERATOR_VERSION = 2
REVIEW_PASSPHRASE = "bench review desk passphrase"
STATION_PASSPHRASE = "bench station passphrase"
REPO = Path(__file__).resolve().parent.parent
PAGE_SIZE = 50
SITES = ("Marange (Chiadzwa)", "Tshikapa", "Kolwezi – Kasulo", "Mbuji-Mayi",
         "Catoca (Lunda Sul)", "Cafunfo", "Shinkolobwe", "Kamituga", "Mutoko", "Lubumbashi")
HAND_TYPED_SITES = ("near the Kasulo pits", "Kamituga river, lower camp",
                    "Cafunfo – new diggings")
RARE_WORD = "cyanide"  # in 1 % of first reports
ACCENTED_WORD = "déplacés"  # in 2 % of first reports; searched as "DÉPLACÉS"
START = date(2024, 12, 1)
SPAN_DAYS = 730
CHILD_TIMEOUT = 60


def _progress(message: str) -> None:
    print(f"[bench.desk] {message}", file=sys.stderr, flush=True)


# --- building the review database through real bundles ---------------------------------


@contextmanager
def cheap_kdf() -> Any:
    """libsodium's minimum Argon2id cost, in this process, while inside: a benchmark's
    databases protect nothing (the cost is written beside each, so the desk uses it)."""
    import nacl.pwhash.argon2id as argon2id

    from reporter.formats import crypto

    saved = dict(crypto.KDF_PROFILES)
    for profile in saved:
        crypto.KDF_PROFILES[profile] = (argon2id.OPSLIMIT_MIN, argon2id.MEMLIMIT_MIN)
    try:
        yield
    finally:
        crypto.KDF_PROFILES.update(saved)


def _tiny_jpeg() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (48, 32), (120, 90, 60)).save(out, format="JPEG", quality=70)
    return out.getvalue()


def _description(rng: random.Random, extra: list[str]) -> str:
    from .payload import _SENTENCES

    target = rng.randint(300, 2000)
    parts: list[str] = []
    length = 0
    while length < target:
        sentence = rng.choice(_SENTENCES)
        parts.append(sentence)
        length += len(sentence) + 1
    for word in extra:
        parts.insert(rng.randrange(len(parts) + 1), f"The {word} was seen again.")
    return " ".join(parts)


def _fields(rng: random.Random, submitted: date, extra: list[str]) -> dict[str, Any]:
    from reporter.formats.report import INCIDENT_TYPES, PERPETRATORS

    hand = rng.random() < 0.05
    people = rng.randint(1, 40)
    incident = submitted - timedelta(days=rng.randint(0, 30))
    return {
        "incident_types": sorted(rng.sample(INCIDENT_TYPES, rng.choice((1, 1, 2, 2, 3)))),
        "incident_date": None if rng.random() < 0.10 else incident.isoformat(),
        "date_approximate": "about a week before" if rng.random() < 0.2 else "",
        "site": "" if hand else rng.choice(SITES),
        "site_other": rng.choice(HAND_TYPED_SITES) if hand else "",
        "location": "Near the river crossing below pit 7",
        "people_affected": people,
        "children_affected": rng.randint(0, people // 3),
        "women_affected": rng.randint(0, people // 2),
        "perpetrators": sorted(rng.sample(PERPETRATORS, rng.choice((1, 1, 1, 2)))),
        "perpetrator_other": "",
        "description": _description(rng, extra),
        "source": "witnessed" if rng.random() < 0.6 else "heard",
        "monitor_code": "",
        "contact": "none",
        "contact_details": "",
    }


def build(folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Stations, bundles and the review database in ``folder``; returns the facts."""
    from reporter.formats import envelope
    from reporter.formats.crypto import RecipientPrivateKey
    from reporter.review.db import ReviewDB
    from reporter.review.importer import import_bundle
    from reporter.station.export import export_bundle
    from reporter.station.instance import init_instance, open_store, unlock
    from reporter.station.intake import build_report
    from reporter.station.submission import Draft, Limits
    from reporter.storage.blobs import BlobStore

    rng = random.Random(args.seed)
    first_reviewer = RecipientPrivateKey.generate()
    second_reviewer = RecipientPrivateKey.generate()
    photo = _tiny_jpeg()
    per_station = [args.reports // args.stations + (1 if i < args.reports % args.stations
                                                     else 0) for i in range(args.stations)]
    expected = {"reports": args.reports, "follow_ups": 0, "with_attachments": 0,
                RARE_WORD: 0, ACCENTED_WORD: 0}
    bundles: list[tuple[int, int, Path]] = []  # (bundle number, station index, path)
    started = time.monotonic()
    for s, n in enumerate(per_station):
        path = folder / f"station-{s}"
        with cheap_kdf():
            init_instance(path, STATION_PASSPHRASE)
            key = unlock(path, STATION_PASSPHRASE)
        with open_store(path, key) as store, BlobStore.open(path, key) as blobs:
            from reporter.station.instance import load_identity

            identity = load_identity(store)
            store.add_recipient("first reviewer", first_reviewer.public_key)
            store.add_recipient("second reviewer", second_reviewer.public_key)
            for site in SITES:
                store.add_site(site)
            recipients = [r.public_key for r in store.recipients()]
            receipts: list[str] = []
            batch: list[bytes] = []
            number = 0
            for i in range(n):
                day = START + timedelta(days=SPAN_DAYS * i // max(1, n))
                follow = receipts and rng.random() < 0.04
                if follow:
                    report = build_report({"description": _description(rng, [])}, "en",
                                          follows=rng.choice(receipts[-2000:]))
                    expected["follow_ups"] += 1
                else:
                    extra = []
                    if rng.random() < 0.01:
                        extra.append(RARE_WORD)
                        expected[RARE_WORD] += 1
                    if rng.random() < 0.02:
                        extra.append(ACCENTED_WORD)
                        expected[ACCENTED_WORD] += 1
                    report = build_report(_fields(rng, day, extra), rng.choice(
                        ("en", "en", "fr", "pt")))
                    receipts.append(report.receipt)
                report = replace(report, submitted=day.isoformat())
                if not follow and rng.random() < 0.02:  # a photo, through the upload path
                    if batch:
                        store.append_reports(batch, identity.station_id)
                        batch = []
                    draft = Draft(blobs, Limits(max_bytes=1 << 30, max_count=8))
                    item = draft.add("photo.jpg", photo)
                    if item.problem is not None:
                        raise RuntimeError(f"the station refused the photo: {item.problem}")
                    report = replace(report, attachments=tuple(draft.attachments()))
                    store.append_report(draft.seal(report, recipients), identity.station_id)
                    draft.close()
                    expected["with_attachments"] += 1
                else:
                    batch.append(envelope.seal(report.to_body(), recipients))
                if len(batch) >= 500:
                    store.append_reports(batch, identity.station_id)
                    batch = []
                if (i + 1) % args.bundle_size == 0 or i + 1 == n:
                    if batch:
                        store.append_reports(batch, identity.station_id)
                        batch = []
                    number += 1
                    out = folder / f"station-{s}-bundle-{number:04d}.rptr"
                    export_bundle(store, identity, out, blobs=blobs)
                    bundles.append((number, s, out))
        _progress(f"station {s + 1}/{args.stations}: {n:,} reports sealed and exported "
                  f"({time.monotonic() - started:.0f} s so far)")
    build_s = time.monotonic() - started
    review = folder / "review.db"
    started = time.monotonic()
    with cheap_kdf():
        db = ReviewDB.create(review, REVIEW_PASSPHRASE)
    try:
        for count, (_number, _s, bundle) in enumerate(sorted(bundles), 1):
            import_bundle(db, bundle, first_reviewer)
            bundle.unlink()
            if count % 20 == 0:
                _progress(f"imported {count}/{len(bundles)} bundles "
                          f"({time.monotonic() - started:.0f} s)")
        imported = db.report_count()
    finally:
        db.close()
    import_s = time.monotonic() - started
    if imported != args.reports:
        raise RuntimeError(f"imported {imported} reports, expected {args.reports}")
    for s in range(args.stations):
        shutil.rmtree(folder / f"station-{s}")
    return {"build_s": round(build_s, 1), "import_s": round(import_s, 1),
            "bundles": len(bundles), "expected": expected,
            "review_db_bytes": sum(p.stat().st_size for p in folder.glob("review.db*")),
            "generator": GENERATOR_VERSION}


def parameters(args: argparse.Namespace) -> dict[str, Any]:
    return {"reports": args.reports, "stations": args.stations,
            "bundle_size": args.bundle_size, "seed": args.seed,
            "generator": GENERATOR_VERSION}


def cached_database(args: argparse.Namespace) -> tuple[Path, dict[str, Any], bool]:
    """The built database's folder (building it if the cache has none), its facts, and
    whether this run built it."""
    params = parameters(args)
    name = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]
    folder = args.cache / f"{args.reports}-{name}"
    facts_file = folder / "facts.json"
    if facts_file.is_file() and not args.rebuild:
        return folder, json.loads(facts_file.read_text()), False
    shutil.rmtree(folder, ignore_errors=True)
    partial = args.cache / f".building-{name}-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    _progress(f"building {args.reports:,} reports through real bundles in {partial}")
    facts = build(partial, args)
    facts["parameters"] = params
    (partial / "facts.json").write_text(json.dumps(facts, indent=2) + "\n")
    partial.rename(folder)
    return folder, facts, True


# --- the desk, over HTTP ------------------------------------------------------------------


def _kib(pid: int) -> dict[str, int]:
    out = {"VmRSS": 0, "VmHWM": 0}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in out:
            out[name] = int(value.split()[0])
    return out


_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')
_COUNT = re.compile(r"([0-9][0-9,\u202f\xa0 ]*) reports? match")


def shown_count(html: str) -> int | None:
    match = _COUNT.search(html)
    return None if match is None else int(re.sub(r"[^0-9]", "", match.group(1)))


def filters(stations: list[str]) -> list[tuple[str, dict[str, str]]]:
    """(label, query string) of each measured inbox view."""
    return [
        ("inbox, no filter", {}),
        ("station (8-hex prefix)", {"station": stations[0][:8]}),
        ("site contains 'kolwezi'", {"site": "kolwezi"}),
        ("type = child-labour", {"type": "child-labour"}),
        ("perpetrator = police", {"perpetrator": "police"}),
        ("date range (one quarter)", {"from": "2025-07-01", "to": "2025-09-30"}),
        ("heard (not witnessed)", {"source": "heard"}),
        ("has attachments", {"files": "1"}),
        (f"text '{RARE_WORD}' (1 %)", {"q": RARE_WORD}),
        ("text 'DÉPLACÉS' (2 %, folded)", {"q": ACCENTED_WORD.upper()}),
        ("text 'soldiers' (common)", {"q": "soldiers"}),
        ("text 'wolframite' (no match)", {"q": "wolframite"}),
        ("combination: site + type + dates + heard",
         {"site": "marange", "type": "shooting", "from": "2025-01-01", "to": "2025-12-31",
          "source": "heard"}),
    ]


def _to_filters(values: dict[str, str]) -> Any:
    from reporter.review.filters import Filters

    return Filters(site=values.get("site"), incident_type=values.get("type"),
                   date_from=values.get("from"), date_to=values.get("to"),
                   search=values.get("q"), station=values.get("station"),
                   perpetrator=values.get("perpetrator"), source=values.get("source"),
                   with_attachments=values.get("files") == "1")


def _pct(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))]


def _ms(values: list[float]) -> dict[str, float]:
    return {"p50_ms": round(1000 * statistics.median(values), 2),
            "p95_ms": round(1000 * _pct(values, 0.95), 2), "n": len(values)}


def measure(work: Path, facts: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    import requests

    from reporter.review import facets, listing
    from reporter.review.db import ReviewDB

    review = work / "review.db"
    port = args.port or _free_port()
    log = work / "desk.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPORTER_")}
    with open(log, "wb") as out:
        desk = subprocess.Popen(
            [sys.executable, "-m", "reporter", "review", "--review-db", str(review), "serve",
             "--port", str(port)], cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        session = requests.Session()
        deadline = time.monotonic() + 60
        while True:
            if desk.poll() is not None:
                raise RuntimeError(f"the desk exited: {log.read_text()[-2000:]}")
            try:
                page = session.get(url + "/unlock", timeout=5)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        rss_started = _kib(desk.pid)["VmRSS"]
        token = _CSRF.search(page.text)
        if token is None:
            raise RuntimeError("no CSRF token on the unlock page")
        t0 = time.perf_counter()
        answer = session.post(url + "/unlock", data={"csrf_token": token.group(1),
                                                     "passphrase": REVIEW_PASSPHRASE},
                              allow_redirects=False, timeout=3600)
        unlock_s = time.perf_counter() - t0
        if answer.status_code != 303:
            raise RuntimeError(f"unlock answered {answer.status_code}: {answer.text[:500]}")
        t0 = time.perf_counter()
        first = session.get(url + "/", timeout=3600)
        first_inbox_s = time.perf_counter() - t0
        if first.status_code != 200:
            raise RuntimeError(f"the inbox answered {first.status_code}")
        _progress(f"desk unlocked in {unlock_s:.2f} s, first inbox {first_inbox_s:.2f} s")
        rss_idle = _kib(desk.pid)["VmRSS"]
        # The bare side: this process, its own connection, the same file and code.
        key = ReviewDB.derive_key(review, REVIEW_PASSPHRASE)
        db = ReviewDB.open_with_key(review, key)
        stations = [sid.hex() for sid, _ in db.stations()]
        views = filters(stations)
        newest = ("SELECT submitted, lower(hex(station_id)), seq, id FROM reports "
                  "ORDER BY submitted DESC, station_id DESC, seq DESC, id DESC "
                  "LIMIT 1 OFFSET ?")
        total = facts["expected"]["reports"]
        for depth in sorted({min(d, total - 1) for d in (1_000, total // 2,
                                                         max(0, total - PAGE_SIZE - 1))}):
            row = db.connection.execute(newest, (depth,)).fetchone()
            key_text = f"{row[0]}.{row[1]}.{row[2]}.{row[3]}"
            views.append((f"page after position {depth:,}", {"after": key_text}))
        results: dict[str, Any] = {}
        desk_times: dict[str, list[float]] = {label: [] for label, _ in views}
        bare_times: dict[str, list[float]] = {label: [] for label, _ in views}
        count_times: dict[str, list[float]] = {label: [] for label, _ in views}
        facet_times: dict[str, list[float]] = {label: [] for label, _ in views}
        first_visit: dict[str, float] = {}
        counts: dict[str, dict[str, Any]] = {}
        for rep in range(args.repeat):
            for label, values in views:
                target = url + "/?" + urlencode(values) if values else url + "/"
                t0 = time.perf_counter()
                got = session.get(target, timeout=600)
                took = time.perf_counter() - t0
                if rep == 0:
                    first_visit[label] = took
                else:
                    desk_times[label].append(took)
                if got.status_code != 200:
                    raise RuntimeError(f"{label}: the desk answered {got.status_code}")
                chosen = _to_filters(values)
                after = listing.PageKey.parse(values["after"]) if "after" in values else None
                t0 = time.perf_counter()
                n = (db.report_count() if not chosen.active
                     else listing.count_reports(db, chosen))
                page = _page(listing, db, chosen, after, n)
                bare_times[label].append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                counted = listing.count_reports(db, chosen)
                count_times[label].append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                facets.facet_counts(db, chosen)
                facet_times[label].append(time.perf_counter() - t0)
                if rep == 0:
                    counts[label] = {"shown": shown_count(got.text), "matches": n,
                                     "page_rows": len(page.reports)}
                    if chosen.active and counts[label]["shown"] not in (None, n):
                        raise RuntimeError(f"{label}: the desk shows "
                                           f"{counts[label]['shown']}, the query {n}")
                    if counted != n:
                        raise RuntimeError(f"{label}: two counts differ")
            _progress(f"repeat {rep + 1}/{args.repeat} done")
        for word, label in ((RARE_WORD, views[8][0]), (ACCENTED_WORD, views[9][0])):
            # Text search also finds a follow-up quoting nothing: these words appear in
            # first reports only, so the counts are exact.
            if counts[label]["matches"] != facts["expected"][word]:
                raise RuntimeError(f"{label}: counted {counts[label]['matches']}, the generator "
                                   f"wrote {facts['expected'][word]}")
        db.close()
        memory = _kib(desk.pid)
        for label, _ in views:
            results[label] = {"desk": _ms(desk_times[label] or [first_visit[label]]),
                              "desk_first_ms": round(1000 * first_visit[label], 2),
                              "bare": _ms(bare_times[label]),
                              "count": _ms(count_times[label]),
                              "facets": _ms(facet_times[label]), **counts[label]}
        return {"views": results, "unlock_s": round(unlock_s, 3),
                "first_inbox_s": round(first_inbox_s, 3),
                "rss_kib": {"started_locked": rss_started, "idle_unlocked": rss_idle,
                            "after_run": memory["VmRSS"], "peak": memory["VmHWM"]}}
    finally:
        desk.terminate()
        try:
            desk.wait(10)
        except subprocess.TimeoutExpired:
            desk.kill()
            desk.wait()


def _page(listing: Any, db: Any, chosen: Any, after: Any, n: int) -> Any:
    """``listing.page`` as the desk calls it (given the count, where the code takes it)."""
    import inspect

    if "matches" in inspect.signature(listing.page).parameters:
        return listing.page(db, chosen, PAGE_SIZE, after=after, matches=n)
    return listing.page(db, chosen, PAGE_SIZE, after=after)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- output ----------------------------------------------------------------------------


def render(facts: dict[str, Any], run: dict[str, Any], machine: dict[str, Any],
           argv: list[str], built: bool) -> str:
    from .markdown import table

    exp = facts["expected"]
    lines = [
        "### The review desk on "
        f"{exp['reports']:,} reports",
        "",
        f"- command: `.venv/bin/python -m bench.desk{' ' + ' '.join(argv) if argv else ''}`",
        f"- date: {machine['date']}; code: commit {machine['commit'] or '?'}"
        + (f" with {machine['reporter_uncommitted_files']} uncommitted file(s) under reporter/"
           if machine["reporter_uncommitted_files"] else ""),
        f"- CPU: {machine['nproc']} × {machine['cpu_model']}; memory {machine['memory']}; "
        f"Linux {machine['kernel']}; Python {machine['python']}; "
        f"sqlcipher3 {machine['packages'].get('sqlcipher3')}",
        f"- database: {exp['reports']:,} reports from {facts['parameters']['stations']} "
        f"stations in {facts['bundles']} signed bundles of "
        f"{facts['parameters']['bundle_size']:,} ({exp['follow_ups']:,} follow-ups, "
        f"{exp['with_attachments']:,} with a photo, '{RARE_WORD}' in {exp[RARE_WORD]:,}, "
        f"'{ACCENTED_WORD}' in {exp[ACCENTED_WORD]:,}); "
        f"{facts['review_db_bytes'] / 1e6:,.0f} MB as built",
        f"- build (seal on the stations + export the bundles): {facts['build_s']:,.0f} s; "
        f"import of the {facts['bundles']} bundles: {facts['import_s']:,.0f} s "
        f"({exp['reports'] / facts['import_s']:,.0f} reports/s)"
        + ("" if built else " (built by an earlier run, from the cache)"),
        f"- desk: first unlock {run['unlock_s']:.2f} s (opens the database: runs any "
        f"migration), first inbox {run['first_inbox_s']:.2f} s; "
        f"{run['views'][next(iter(run['views']))]['desk']['n']} repeats of every row",
        "",
    ]
    rows = []
    for label, v in run["views"].items():
        rows.append([label, f"{v['matches']:,}", f"{v['desk_first_ms']:,.1f}",
                     f"{v['desk']['p50_ms']:,.1f}", f"{v['desk']['p95_ms']:,.1f}",
                     f"{v['bare']['p50_ms']:,.1f}", f"{v['bare']['p95_ms']:,.1f}",
                     f"{v['count']['p50_ms']:,.1f}", f"{v['facets']['p50_ms']:,.1f}"])
    lines.append(table(["view", "matches", "desk first ms", "desk p50 ms", "desk p95 ms",
                        "bare p50 ms", "bare p95 ms", "count alone p50 ms",
                        "count per filter p50 ms"], rows))
    rss = run["rss_kib"]
    lines += [
        "",
        "*desk*: one `GET /?<filter>` over HTTP to `reporter review serve` (page of 50, "
        "its count and the count per filter, rendered); *desk first*: the first visit of "
        "that view (the counts per filter made, not yet remembered), *desk p50/p95* the "
        "later ones; *bare*: the same page and count in the bench's own process on its "
        "own connection (`listing.page` + `listing.count_reports`, no HTTP, Flask or "
        "template); *count alone*: `listing.count_reports`; *count per filter*: "
        "`facets.facet_counts` in the bench's process.",
        "",
        f"`review serve` memory: {rss['started_locked'] / 1024:.1f} MiB started (locked), "
        f"{rss['idle_unlocked'] / 1024:.1f} MiB unlocked and idle, "
        f"{rss['after_run'] / 1024:.1f} MiB after the run, peak (VmHWM) "
        f"{rss['peak'] / 1024:.1f} MiB.",
    ]
    return "\n".join(lines)


# --- main ----------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.desk", description=__doc__.split(
        "\n\n")[0])
    parser.add_argument("--reports", type=int, default=100_000)
    parser.add_argument("--stations", type=int, default=4)
    parser.add_argument("--bundle-size", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--cache", type=Path, default=Path(os.environ.get(
        "XDG_CACHE_HOME", Path.home() / ".cache")) / "reporter-bench" / "desk")
    parser.add_argument("--rebuild", action="store_true", help="build even if cached")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--json", type=Path, metavar="FILE")
    parser.add_argument("--workdir", type=Path, help="where the run's copy goes (temp dir)")
    args = parser.parse_args(argv)
    if not 1 <= args.reports <= 1_000_000 or not 1 <= args.stations <= 50:
        parser.error("--reports 1..1,000,000, --stations 1..50")
    if not 1 <= args.bundle_size <= 100_000 or not 1 <= args.repeat <= 1000:
        parser.error("--bundle-size 1..100,000, --repeat 1..1000")
    return args


def main(argv: list[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(raw)
    from .run import machine_facts

    folder, facts, built = cached_database(args)
    _progress(f"database: {folder} (build {facts['build_s']} s, import {facts['import_s']} s"
              f"{', built now' if built else ', cached'})")
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="reporter-bench-desk-", dir=args.workdir))
    try:
        for name in ("review.db", "review.db.json", "review.db.attachments"):
            if (folder / name).exists():
                shutil.copy2(folder / name, work / name)
        machine = machine_facts(work)
        run = measure(work, facts, args)
        text = render(facts, run, machine, raw, built)
        print(text)
        if args.json:
            args.json.write_text(json.dumps({"facts": facts, "run": run, "machine": machine},
                                            indent=2) + "\n")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
