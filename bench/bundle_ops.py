"""One bundle operation in a fresh process, for ``python -m bench.bundles``.

``python -m bench.bundle_ops OP WORKDIR [--out FILE] [--bundle FILE]`` runs
one of the operations below on the throwaway station that ``bench.bundles``
made in ``WORKDIR`` and prints one line of JSON: the number of reports, wall
and CPU seconds of the timed part, and the process's memory (``VmHWM``, the
peak resident set size, from ``/proc/self/status`` at the very end; also
``ru_maxrss`` and the ``VmRSS`` just before the timed part).

Every operation imports the same modules up front, so ``baseline`` (import
them, do nothing) is the RSS every other row starts from. The process does
nothing else: a peak RSS here belongs to that one operation.

Operations:

* ``baseline``: nothing.
* ``export``: ``export_bundle(store, identity, out, all_held=True)``.
* ``import``: ``import_bundle`` into a new, empty review database (made
  before the timer starts, with a cheap Argon2id cost).
* ``verify``: ``verify_bundle`` (everything import checks, no database).
* ``floor``: the raw floor. The station's envelopes are first read into a
  list (not timed), then ``Report.from_body(open_envelope(env, key))`` for
  each in a plain loop: no bundle, no database, no hash.
* ``floor-stream``: the same loop over ``Store.reports()``, which reads the
  envelopes from the station's SQLCipher store 256 at a time: the floor for
  memory (nothing held) at the price of the SQLCipher reads.

Standard library and ``reporter`` only: the process stays as small as the
operation lets it.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

import nacl.pwhash.argon2id as argon2id

from reporter.formats import crypto
from reporter.formats.crypto import RecipientPrivateKey
from reporter.formats.envelope import open_envelope
from reporter.formats.report import Report
from reporter.review.db import ReviewDB
from reporter.review.importer import import_bundle, verify_bundle
from reporter.station.export import export_bundle
from reporter.station.instance import load_identity, open_store

OPERATIONS = ("baseline", "export", "import", "verify", "floor", "floor-stream")
SECRETS_FILE = "secrets.json"
REVIEW_PASSPHRASE = "bench review database passphrase"
CHEAP_KDF = (argon2id.OPSLIMIT_MIN, argon2id.MEMLIMIT_MIN)


def proc_status() -> dict[str, int]:
    """VmRSS and VmHWM of this process, in KiB."""
    out = {"VmRSS": 0, "VmHWM": 0}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in out:
            out[name] = int(rest.split()[0])
    return out


def read_secrets(workdir: Path) -> tuple[Path, bytes, RecipientPrivateKey]:
    """The station folder, its database key and the reviewer's private key."""
    data = json.loads((workdir / SECRETS_FILE).read_text())
    return (Path(data["station"]), bytes.fromhex(data["station_key"]),
            RecipientPrivateKey(bytes.fromhex(data["reviewer_key"])))


def run(op: str, workdir: Path, out: Path | None, bundle: Path | None) -> dict[str, Any]:
    station, station_key, reviewer = read_secrets(workdir)
    extra: dict[str, Any] = {}
    reports = 0
    if op == "baseline":
        before = proc_status()
        t0, c0 = time.perf_counter(), time.process_time()
    elif op == "export":
        assert out is not None
        store = open_store(station, station_key)
        identity = load_identity(store)
        before = proc_status()
        t0, c0 = time.perf_counter(), time.process_time()
        result = export_bundle(store, identity, out, all_held=True)
        reports = result.reports
        extra["bundle_bytes"] = result.size
        store.close()
    elif op == "import":
        assert bundle is not None and out is not None
        for profile in list(crypto.KDF_PROFILES):
            crypto.KDF_PROFILES[profile] = CHEAP_KDF
        db = ReviewDB.create(out, REVIEW_PASSPHRASE)
        before = proc_status()
        t0, c0 = time.perf_counter(), time.process_time()
        imported = import_bundle(db, bundle, reviewer)
        reports = imported.added
        if imported.unreadable or imported.already_present:
            raise RuntimeError(f"unexpected import result {imported}")
        db.close()  # part of the timed work: the last close checkpoints the WAL
        extra["review_db_bytes"] = sum(
            p.stat().st_size for p in out.parent.glob(out.name + "*"))
    elif op == "verify":
        assert bundle is not None
        before = proc_status()
        t0, c0 = time.perf_counter(), time.process_time()
        reports = verify_bundle(bundle, reviewer).reports
    elif op == "floor":
        with open_store(station, station_key) as store:
            envelopes = [r.envelope for r in store.reports() if r.envelope is not None]
        before = proc_status()
        t0, c0 = time.perf_counter(), time.process_time()
        for envelope in envelopes:
            Report.from_body(open_envelope(envelope, reviewer))
            reports += 1
        extra["held_envelope_bytes"] = sum(len(e) for e in envelopes)
    elif op == "floor-stream":
        store = open_store(station, station_key)
        before = proc_status()
        t0, c0 = time.perf_counter(), time.process_time()
        for stored in store.reports():
            if stored.envelope is None:
                raise RuntimeError(f"report {stored.seq} was purged")
            Report.from_body(open_envelope(stored.envelope, reviewer))
            reports += 1
        store.close()
    else:
        raise SystemExit(f"unknown operation {op!r}; one of {', '.join(OPERATIONS)}")
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - c0
    status = proc_status()
    return {
        "op": op,
        "reports": reports,
        "seconds": round(seconds, 4),
        "cpu_seconds": round(cpu, 4),
        "rate_per_s": round(reports / seconds, 1) if reports and seconds > 0 else None,
        "rss_before_kib": before["VmRSS"],
        "peak_rss_kib": status["VmHWM"],
        "ru_maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        **extra,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bundle_ops")
    parser.add_argument("op", choices=OPERATIONS)
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--out", type=Path, help="bundle to write / review db to create")
    parser.add_argument("--bundle", type=Path, help="bundle to read")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.op, args.workdir, args.out, args.bundle)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
