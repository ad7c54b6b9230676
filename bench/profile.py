"""Where a submission's time goes, in-process (``python -m bench.profile``).

Drives ``POST /`` through ``app.test_client()`` (no sockets, no Waitress) on
a throwaway station and reports:

1. a phase breakdown: the station's own functions are wrapped with timers at
   run time (nothing in ``reporter/`` is changed), exclusive time per phase,
   the rest being Flask / Werkzeug / Babel / session handling;
2. the same with one extra SQLCipher connection held open for the whole run
   (the last connection to close a WAL database checkpoints it), and a
   what-if where the views reuse one kept connection instead of opening one
   per request (``web.db.get_store`` patched in this process only);
3. the same POSTs through the trivial app (``bench.trivial``) and the same
   test client: what Flask + Werkzeug + the test client cost anyway;
4. cProfile's top functions by internal time and by cumulative time.

The phase timers add a few microseconds per call; cProfile inflates Python
code relative to C (SQLCipher, libsodium, fsync), so read its table for
ranking, the phase table for proportions.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import io
import pstats
import random
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from reporter.station.app import create_app
from reporter.station.config import load_config
from reporter.station.instance import open_store
from reporter.station.store import Store

from .payload import report_fields
from .procs import Station, make_station

TOKEN = re.compile(rb'<input type="hidden" name="form_token" value="([^"]+)">')


class PhaseTimer:
    """Exclusive wall time per phase, with nesting (a phase inside another is
    subtracted from the outer one)."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._stack: list[list[float]] = []  # [start, time spent in children]

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            frame = [time.perf_counter(), 0.0]
            self._stack.append(frame)
            try:
                return fn(*args, **kwargs)
            finally:
                self._stack.pop()
                elapsed = time.perf_counter() - frame[0]
                self.totals[name] = self.totals.get(name, 0.0) + elapsed - frame[1]
                self.calls[name] = self.calls.get(name, 0) + 1
                if self._stack:
                    self._stack[-1][1] += elapsed

        return wrapper


PHASES: list[tuple[str, str, str]] = [
    # (label, module path, attribute path)
    ("SQLCipher open (connect, key, first read, pragmas)",
     "reporter.station.connections", "open_store"),
    ("SQLCipher close (checkpoints WAL if last connection)",
     "reporter.station.store", "Store.close"),
    ("SQLCipher reads (sites, recipients)", "reporter.station.store", "Store.sites"),
    ("SQLCipher reads (sites, recipients)", "reporter.station.store", "Store.recipients"),
    ("durable append (BEGIN IMMEDIATE … COMMIT, fsync)",
     "reporter.station.store", "Store.append_report"),
    ("seal (libsodium)", "reporter.formats.envelope", "seal"),
    ("report JSON + receipt code", "reporter.station.web.intake", "build_report"),
    ("form construction (WTForms)", "reporter.station.web.intake", "_incident_form"),
    ("form validation (WTForms)", "reporter.station.forms", "IncidentForm.validate"),
    ("template rendering (Jinja2 + gettext)", "reporter.station.web.intake", "render_template"),
]


@contextmanager
def phase_timers(timer: PhaseTimer) -> Iterator[None]:
    import importlib

    patched: list[tuple[Any, str, Any]] = []
    try:
        for label, module_name, attr_path in PHASES:
            owner: Any = importlib.import_module(module_name)
            *parents, attr = attr_path.split(".")
            for p in parents:
                owner = getattr(owner, p)
            original = owner.__dict__[attr] if isinstance(owner, type) else getattr(owner, attr)
            patched.append((owner, attr, original))
            setattr(owner, attr, timer.wrap(label, original))
        yield
    finally:
        for owner, attr, original in reversed(patched):
            setattr(owner, attr, original)


def _client(station: Station) -> tuple[Any, Callable[[], str]]:
    """The app's test client, and where each submission's form token comes from.

    A token sent twice is one submission (the second stores nothing), so
    each POST needs a form of its own; the tokens are made by the app's own
    ``FormTokens`` (what ``GET /`` does), outside the measured POST.
    """
    from reporter.station.web.context import station as station_context

    app = create_app(load_config(station.path, station.key))
    client = app.test_client()
    page = client.get("/", headers={"Accept-Language": "en"})
    assert TOKEN.search(page.data), "no form_token on the form page"
    return client, station_context(app).tokens.issue


def _post(client: Any, token: Callable[[], str], rng: random.Random) -> None:
    data: dict[str, list[str]] = {"form_token": [token()]}
    for name, value in report_fields(rng):
        data.setdefault(name, []).append(value)
    response = client.post("/", data=data, headers={"Accept-Language": "en"})
    if response.status_code != 200 or b'class="receipt"' not in response.data:
        raise RuntimeError(f"POST / answered {response.status_code}")


@contextmanager
def kept_connection(station: Station) -> Iterator[None]:
    """What-if, patched at run time: the views use one connection kept open
    for the whole run instead of opening one per request."""
    import reporter.station.web.db as web_db
    import reporter.station.web.intake as web_intake

    store = open_store(station.path, station.key)
    original = web_db.get_store

    def kept() -> Store:
        return store

    for module in (web_db, web_intake):
        setattr(module, "get_store", kept)  # noqa: B010
    try:
        yield
    finally:
        for module in (web_db, web_intake):
            setattr(module, "get_store", original)  # noqa: B010
        store.close()


def timed_run(station: Station, n: int, *, variant: str) -> tuple[float, PhaseTimer]:
    client, token = _client(station)
    rng = random.Random(3)
    held = open_store(station.path, station.key) if variant == "held" else None
    timer = PhaseTimer()
    try:
        with kept_connection(station) if variant == "kept" else _nothing():
            for _ in range(20):  # warm-up: imports, template compilation, caches
                _post(client, token, rng)
            with phase_timers(timer):
                start = time.perf_counter()
                for _ in range(n):
                    _post(client, token, rng)
                total = time.perf_counter() - start
    finally:
        if held is not None:
            held.close()
    return total, timer


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def phase_table(total: float, timer: PhaseTimer, n: int) -> str:
    rows = sorted(timer.totals.items(), key=lambda kv: -kv[1])
    accounted = sum(timer.totals.values())
    lines = ["| phase | ms / request | share |", "|---|---:|---:|"]
    for label, seconds in rows:
        lines.append(f"| {label} | {1000 * seconds / n:.3f} | {100 * seconds / total:.0f} % |")
    rest = total - accounted
    lines.append(f"| rest: Flask, Werkzeug, Babel, form token, headers, test client | "
                 f"{1000 * rest / n:.3f} | {100 * rest / total:.0f} % |")
    lines.append(f"| **total** | **{1000 * total / n:.3f}** | 100 % |")
    return "\n".join(lines)


def trivial_run(n: int) -> float:
    """Seconds for ``n`` of the same POSTs through the trivial app's test client:
    what Flask, Werkzeug and the test client cost with no station work at all."""
    from .trivial import create_app as create_trivial

    client = create_trivial(1024 * 1024).test_client()
    rng = random.Random(3)

    def post() -> None:
        data: dict[str, list[str]] = {"form_token": ["x"]}
        for name, value in report_fields(rng):
            data.setdefault(name, []).append(value)
        response = client.post("/", data=data)
        if response.status_code != 200:
            raise RuntimeError(f"trivial POST / answered {response.status_code}")

    for _ in range(20):
        post()
    start = time.perf_counter()
    for _ in range(n):
        post()
    return time.perf_counter() - start


def cprofile_run(station: Station, n: int, top: int) -> str:
    client, token = _client(station)
    rng = random.Random(4)
    for _ in range(20):
        _post(client, token, rng)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(n):
        _post(client, token, rng)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    out.write(f"\n--- top {top} by internal time (tottime) ---\n")
    stats.sort_stats("tottime").print_stats(top)
    out.write(f"\n--- top {top} by cumulative time ---\n")
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=(
        "Profile POST / in-process (test client): phase breakdown and cProfile."))
    parser.add_argument("-n", "--requests", type=int, default=500,
                        help="submissions per measurement (default 500)")
    parser.add_argument("--top", type=int, default=25, help="cProfile rows (default 25)")
    parser.add_argument("--no-cprofile", action="store_true", help="phase tables only")
    parser.add_argument("--workdir", type=Path, help="where to make the throwaway station")
    args = parser.parse_args(argv)
    base = args.workdir
    if base is not None:
        base.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="reporter-profile-", dir=base))
    try:
        station = make_station(workdir / "station")
        n = args.requests
        for title, variant in (
                ("as the app runs today (a connection per request)", "today"),
                ("with one extra connection held open for the run (so closing a "
                 "request's connection never checkpoints)", "held"),
                ("what-if: the views reuse one kept connection (patched at run time)",
                 "kept")):
            total, timer = timed_run(station, n, variant=variant)
            print(f"### POST / in-process, {title}: {n} requests, "
                  f"{n / total:.0f} req/s, {1000 * total / n:.2f} ms each\n")
            print(phase_table(total, timer, n))
            print()
        trivial = trivial_run(n)
        print(f"### The trivial Flask app, same POSTs, same test client: "
              f"{n / trivial:.0f} req/s, {1000 * trivial / n:.3f} ms each\n")
        print("(That is the part of *rest* above that any Flask app pays; the remainder "
              "of *rest* is the station's Babel, form-token and header work.)\n")
        if not args.no_cprofile:
            print(cprofile_run(station, n, args.top))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
