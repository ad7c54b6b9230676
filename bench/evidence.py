"""Evidence package memory benchmark: ``python -m bench.evidence``.

One report with ``--videos`` attachments of ``--size-mb`` MiB each (an MP4's
magic bytes, then random bytes) and one 12-megapixel JPEG photo, received by
a station through ``submission.Draft`` in 1 MiB pieces as the web form feeds
it, exported as a bundle and imported into a review database (the real
path). Then a real ``reporter review serve`` process is started and
unlocked, and its memory read from ``/proc/PID/status``:

* ``idle``: VmRSS after unlocking and opening the inbox;
* ``small``: VmHWM after a package of a report with no attachment;
* ``package``: VmHWM while the package of the large report is downloaded (the
  client reads it as a browser would and hashes it; it is kept on disk only
  with ``--keep``, for ``unzip -t``), and the time it took.

Then ``import``: the same bundle uploaded on the import page of a desk
(``review serve --key``) over a new, empty review database, streamed with its
Content-Length as a browser sends it; the desk's peak until the result page.

The target: the peak grows by less than ``GROWTH_TARGET_MIB`` over the small
package's, whatever the videos' size (the package is streamed: a chunk at a
time; the photo and its stripped copy are the only whole files in memory).
The zip is checked as it arrives (each entry's CRC, with Python's zipfile,
after the download) only when ``--keep`` is given.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import nacl.pwhash.argon2id as argon2id
import requests
from PIL import Image

from reporter.formats import crypto, keyfile
from reporter.formats.crypto import RecipientPrivateKey
from reporter.formats.report import Report
from reporter.review.db import ReviewDB
from reporter.review.importer import import_bundle
from reporter.station.export import export_bundle
from reporter.station.instance import init_instance, load_identity, open_store, unlock

MIB = 1 << 20
MP4_MAGIC = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
PASSPHRASE = "bench station passphrase"
REVIEW_PASSPHRASE = "bench review passphrase"
KEY_PASSPHRASE = "bench key passphrase"
CHEAP_KDF = (argon2id.OPSLIMIT_MIN, argon2id.MEMLIMIT_MIN)
GROWTH_TARGET_MIB = 96
CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


def cheap_kdf() -> None:
    for profile in list(crypto.KDF_PROFILES):
        crypto.KDF_PROFILES[profile] = CHEAP_KDF


def photo_jpeg() -> bytes:
    """A 4000x3000 JPEG of noise (a 12-megapixel phone photo: a few MB)."""
    noise = Image.frombytes("RGB", (1000, 750), os.urandom(1000 * 750 * 3))
    out = io.BytesIO()
    noise.resize((4000, 3000)).save(out, format="JPEG", quality=85)
    return out.getvalue()


def make_review_db(workdir: Path, videos: int, size_mib: int) -> Path:
    """A review database holding the large report (and a small one): its path. The
    bundle stays as ``workdir/bundle.rptr``, the reviewer's key as ``reviewer.key``."""
    from reporter.station.intake import build_report
    from reporter.station.submission import Draft, Limits
    from reporter.storage.blobs import BlobStore

    cheap_kdf()
    instance = workdir / "station"
    init_instance(instance, PASSPHRASE)
    key = unlock(instance, PASSPHRASE)
    reviewer = RecipientPrivateKey.generate()
    with open_store(instance, key) as store, BlobStore.open(instance, key) as blobs:
        store.add_recipient("reviewer", reviewer.public_key)
        store.add_site("Marange")
        station_id = load_identity(store).station_id
        small = build_report({"description": "no files", "incident_types": ["other"],
                              "contact": "none"}, "en")
        draft = Draft(blobs, Limits(max_bytes=1 << 40, max_count=videos + 1))
        store.append_report(draft.seal(small, [reviewer.public_key]), station_id)
        draft.close()
        draft = Draft(blobs, Limits(max_bytes=1 << 40, max_count=videos + 1))
        for number in range(videos):
            incoming = draft.incoming(f"night-shift-{number + 1}.mp4")
            for i in range(size_mib):
                piece = os.urandom(MIB)
                incoming.write(MP4_MAGIC + piece[len(MP4_MAGIC):] if i == 0 else piece)
            incoming.finish()
            if incoming.problem is not None:
                raise RuntimeError(f"the video was refused: {incoming.problem}")
        item = draft.add("photo.jpg", photo_jpeg())
        if item.problem is not None:
            raise RuntimeError(f"the photo was refused: {item.problem}")
        report = build_report({"description": "long videos", "incident_types": ["shooting"],
                               "site": "Marange", "contact": "none"}, "en")
        report = Report(**{**report.__dict__, "attachments": draft.attachments()})
        store.append_report(draft.seal(report, [reviewer.public_key]), station_id)
        draft.close()
        bundle = workdir / "bundle.rptr"
        export_bundle(store, load_identity(store), bundle, blobs=blobs)
    path = workdir / "review.db"
    with ReviewDB.create(path, REVIEW_PASSPHRASE) as db:
        import_bundle(db, bundle, reviewer)
    (workdir / "reviewer.key").write_bytes(
        keyfile.dump(reviewer, KEY_PASSPHRASE, crypto.KdfParams.new()))
    shutil.rmtree(instance)
    return path


def status(pid: int) -> dict[str, int]:
    values = {"VmRSS": 0, "VmHWM": 0}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name = line.split(":")[0]
        if name in values:
            values[name] = int(line.split()[1])
    return values


def reset_peak(pid: int) -> None:
    """Linux >= 4.0: writing 5 to clear_refs resets VmHWM to the current RSS."""
    with open(f"/proc/{pid}/clear_refs", "w") as fh:
        fh.write("5")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def measure(review_db: Path, workdir: Path, *, keep: bool = False) -> dict[str, Any]:
    """Serve ``review_db``, unlock, make both packages; memory and time."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPORTER_")}
    log = open(workdir / "desk.log", "wb")
    desk = subprocess.Popen(
        [sys.executable, "-m", "reporter", "review", "--review-db", str(review_db),
         "serve", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        session = requests.Session()
        for _ in range(300):
            try:
                page = session.get(url + "/unlock", timeout=5)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        token = CSRF.search(page.text)
        assert token
        session.post(url + "/unlock", data={"csrf_token": token.group(1),
                                            "passphrase": REVIEW_PASSPHRASE}, timeout=60)
        inbox = session.get(url + "/", timeout=60)
        token = CSRF.search(inbox.text)
        assert token
        with ReviewDB.open(review_db, REVIEW_PASSPHRASE) as db:
            ids = [r[0] for r in db.connection.execute(
                "SELECT id FROM reports ORDER BY seq")]
        idle = status(desk.pid)
        small = session.post(url + "/evidence", data={"csrf_token": token.group(1),
                                                      "report": str(ids[0])}, timeout=60)
        small.raise_for_status()
        after_small = status(desk.pid)
        reset_peak(desk.pid)
        peak = [0]
        done = threading.Event()

        def watch() -> None:
            while not done.wait(0.05):
                peak[0] = max(peak[0], status(desk.pid)["VmHWM"])

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        started = time.monotonic()
        digest = hashlib.sha256()
        size = 0
        out = open(workdir / "package.zip", "wb") if keep else None
        with session.post(url + "/evidence", data={"csrf_token": token.group(1),
                                                   "report": str(ids[1])},
                          timeout=600, stream=True) as answer:
            answer.raise_for_status()
            for chunk in answer.iter_content(1 << 20):
                digest.update(chunk)
                size += len(chunk)
                if out is not None:
                    out.write(chunk)
        seconds = time.monotonic() - started
        done.set()
        watcher.join()
        peak[0] = max(peak[0], status(desk.pid)["VmHWM"])
        if out is not None:
            out.close()
            with zipfile.ZipFile(workdir / "package.zip") as z:
                bad = z.testzip()
                if bad is not None:
                    raise RuntimeError(f"the package's entry {bad} is damaged")
    finally:
        desk.terminate()
        desk.wait(10)
        log.close()
    return {"idle_rss_kib": idle["VmRSS"], "small_hwm_kib": after_small["VmHWM"],
            "package_hwm_kib": peak[0], "package_bytes": size, "seconds": seconds,
            "baseline_rss_kib": after_small["VmRSS"]}


def start(review_db: Path, workdir: Path, *args: str) -> tuple[subprocess.Popen[bytes],
                                                                 str, requests.Session, str]:
    """A real ``review serve``, unlocked: the process, its URL, the session, a token."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPORTER_")}
    with open(workdir / f"desk-{port}.log", "wb") as log:
        desk = subprocess.Popen(
            [sys.executable, "-m", "reporter", "review", "--review-db", str(review_db),
             "serve", "--port", str(port), *args], stdout=log, stderr=subprocess.STDOUT,
            env=env)
    url = f"http://127.0.0.1:{port}"
    session = requests.Session()
    for _ in range(300):
        try:
            page = session.get(url + "/unlock", timeout=5)
            break
        except requests.ConnectionError:
            time.sleep(0.1)
    token = CSRF.search(page.text)
    assert token
    session.post(url + "/unlock", data={"csrf_token": token.group(1),
                                        "passphrase": REVIEW_PASSPHRASE}, timeout=60)
    token = CSRF.search(session.get(url + "/import", timeout=60).text)
    assert token
    return desk, url, session, token.group(1)


class Body:
    """A request body read from bytes and a file in turn, with its length known (so
    requests sends Content-Length, as a browser does, not chunks)."""

    def __init__(self, parts: list[bytes | Path], length: int) -> None:
        self._parts = list(parts)
        self._length = length
        self._file: Any = None

    def __len__(self) -> int:
        return self._length

    def read(self, size: int = -1) -> bytes:
        while self._parts or self._file is not None:
            if self._file is not None:
                data: bytes = self._file.read(1 << 20)
                if data:
                    return data
                self._file.close()
                self._file = None
                continue
            part = self._parts.pop(0)
            if isinstance(part, Path):
                self._file = open(part, "rb")
                continue
            return part
        return b""


def measure_import(workdir: Path) -> dict[str, Any]:
    """Upload ``workdir/bundle.rptr`` on the import page of a desk over a new, empty
    review database, streamed from disk; the desk's peak memory until the import is
    done, and the time."""
    fresh = workdir / "fresh" / "review.db"
    fresh.parent.mkdir(exist_ok=True)
    ReviewDB.create(fresh, REVIEW_PASSPHRASE).close()
    bundle = workdir / "bundle.rptr"
    desk, url, session, token = start(fresh, workdir, "--key", str(workdir / "reviewer.key"))
    try:
        boundary = "bench" + os.urandom(8).hex()
        head = "".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
            f"{value}\r\n" for name, value in (("csrf_token", token),
                                                ("key_passphrase", KEY_PASSPHRASE)))
        head += (f'--{boundary}\r\nContent-Disposition: form-data; name="bundle"; '
                 'filename="bundle.rptr"\r\nContent-Type: application/octet-stream\r\n\r\n')
        tail = f"\r\n--{boundary}--\r\n".encode()
        length = len(head.encode()) + bundle.stat().st_size + len(tail)

        body = Body([head.encode(), bundle, tail], length)
        idle = status(desk.pid)
        reset_peak(desk.pid)
        started = time.monotonic()
        answer = session.post(url + "/import", data=body, headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            }, timeout=600, allow_redirects=False)
        assert answer.status_code == 303, answer.text[:300]
        uploaded = time.monotonic() - started
        result = ""
        for _ in range(1200):
            result = session.get(url + answer.headers["Location"], timeout=60).text
            if 'http-equiv="refresh"' not in result:
                break
        seconds = time.monotonic() - started
        if "reports added" not in result:
            raise RuntimeError("the import from the page did not add the reports")
        peak = status(desk.pid)["VmHWM"]
    finally:
        desk.terminate()
        desk.wait(10)
    return {"import_idle_rss_kib": idle["VmRSS"], "import_hwm_kib": peak,
            "bundle_bytes": bundle.stat().st_size, "upload_seconds": uploaded,
            "import_seconds": seconds}


def render_import(r: dict[str, Any]) -> str:
    growth = (r["import_hwm_kib"] - r["import_idle_rss_kib"]) / 1024
    return "\n".join([
        f"| import from the page: one {r['bundle_bytes'] / MIB:.0f} MiB bundle | |",
        "| --- | --- |",
        f"| desk RSS before | {r['import_idle_rss_kib'] / 1024:.1f} MiB |",
        f"| desk peak, upload and import | {r['import_hwm_kib'] / 1024:.1f} MiB "
        f"(+{growth:.1f} MiB) |",
        f"| upload / upload and import | {r['upload_seconds']:.1f} s / "
        f"{r['import_seconds']:.1f} s |",
    ])


def render(videos: int, size_mib: int, r: dict[str, Any]) -> str:
    def mib(kib: int) -> str:
        return f"{kib / 1024:.1f} MiB"

    growth = (r["package_hwm_kib"] - r["baseline_rss_kib"]) / 1024
    return "\n".join([
        f"| evidence package: {videos} × {size_mib} MiB videos + a 12-megapixel photo "
        f"({r['package_bytes'] / MIB:.0f} MiB zip) | |",
        "| --- | --- |",
        f"| desk RSS after unlock and the inbox | {mib(r['idle_rss_kib'])} |",
        f"| desk peak after a package with no file | {mib(r['small_hwm_kib'])} |",
        f"| desk peak while the large package streams | {mib(r['package_hwm_kib'])} "
        f"(+{growth:.1f} MiB over its RSS before; target < {GROWTH_TARGET_MIB} MiB) |",
        f"| time to download it | {r['seconds']:.1f} s "
        f"({r['package_bytes'] / MIB / r['seconds']:.0f} MiB/s) |",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.evidence",
                                     description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--videos", type=int, default=3)
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true",
                        help="write the package to WORKDIR/package.zip and test it")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="reporter-bench-evidence-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        print(f"Setting up {args.videos} × {args.size_mb} MiB videos in {workdir} ...",
              file=sys.stderr)
        review_db = make_review_db(workdir, args.videos, args.size_mb)
        result = measure(review_db, workdir, keep=args.keep)
        print(json.dumps(result), file=sys.stderr)
        print(render(args.videos, args.size_mb, result))
        imported = measure_import(workdir)
        print(json.dumps(imported), file=sys.stderr)
        print()
        print(render_import(imported))
        growth = (result["package_hwm_kib"] - result["baseline_rss_kib"]) / 1024
        return 0 if growth < GROWTH_TARGET_MIB else 1
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
