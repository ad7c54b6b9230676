"""The raw floor: sealing and the durable append, in-process, without HTTP.

``seal+append`` keeps one open ``Store``: the least any submission can cost.
``open+seal+append`` opens a connection per report, reads the recipients and
closes it, which is what one request of the web app does (``web/db.py`` opens
a keyed SQLCipher connection per request). ``fsync`` times a bare 4 KiB
write + ``os.fsync`` in the instance folder: the disk's share of a commit.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reporter.formats import envelope
from reporter.station.instance import open_store
from reporter.station.intake import build_report

from .payload import report_fields_dict
from .procs import Station
from .stats import summarize

BODY_POOL = 32


def _bodies(seed: int = 7) -> list[bytes]:
    rng = random.Random(seed)
    return [build_report(report_fields_dict(rng), "en").to_body() for _ in range(BODY_POOL)]


def _loop(step: Callable[[int], None], warmup: float, duration: float) -> dict[str, Any]:
    perf, now = time.perf_counter, time.monotonic
    start = now()
    measure_from, end = start + warmup, start + warmup + duration
    latencies: list[float] = []
    cpu0 = None
    i = 0
    while True:
        t = now()
        if t >= end:
            break
        if cpu0 is None and t >= measure_from:
            cpu0 = time.process_time()
        began = perf()
        step(i)
        elapsed = perf() - began
        i += 1
        if now() >= measure_from and cpu0 is not None:
            latencies.append(elapsed)
    cpu = time.process_time() - (cpu0 if cpu0 is not None else time.process_time())
    return summarize(latencies, duration, errors={}, server_cpu=cpu, client_cpu=None)


def seal_append(station: Station, warmup: float, duration: float) -> dict[str, Any]:
    bodies = _bodies()
    with open_store(station.path, station.key) as store:
        recipients = [r.public_key for r in store.recipients()]

        def step(i: int) -> None:
            store.append_report(envelope.seal(bodies[i % BODY_POOL], recipients),
                                station.station_id)

        return _loop(step, warmup, duration)


def open_seal_append(station: Station, warmup: float, duration: float) -> dict[str, Any]:
    bodies = _bodies(8)

    def step(i: int) -> None:
        with open_store(station.path, station.key) as store:
            recipients = [r.public_key for r in store.recipients()]
            store.append_report(envelope.seal(bodies[i % BODY_POOL], recipients),
                                station.station_id)

    return _loop(step, warmup, duration)


def seal_only(warmup: float, duration: float, station: Station) -> dict[str, Any]:
    bodies = _bodies(9)
    with open_store(station.path, station.key) as store:
        recipients = [r.public_key for r in store.recipients()]

    def step(i: int) -> None:
        envelope.seal(bodies[i % BODY_POOL], recipients)

    return _loop(step, warmup, duration)


def fsync_probe(folder: Path, warmup: float, duration: float) -> dict[str, Any]:
    path = folder / "fsync-probe.bin"
    block = os.urandom(4096)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        def step(_i: int) -> None:
            os.write(fd, block)
            os.fsync(fd)

        return _loop(step, warmup, duration)
    finally:
        os.close(fd)
        path.unlink()
