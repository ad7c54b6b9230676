"""``python -m bench.soak --minutes N``: a field day, compressed, against a real station.

Many monitors at once, in random order and every shipped language: reports
with 0 to 5 attachments of every accepted kind (0 bytes to tens of MB),
follow-ups, uploads cut off half-way, slow clients (throttled sockets, as
over Tor), double taps, form errors with files; idle and trickling sockets
all along; an operator who exports and purges while monitors keep sending;
and now and then a ``kill -9`` of the server and a restart.

At the end every report that got a receipt is exported, imported by two
reviewers (one key each) and compared field by field and byte for byte
(every attachment's SHA-256, from the files the reviewer writes out).
Checked too: nothing without a receipt is stored (except a request that was
in flight when the server was killed), no canary from a report is anywhere
on disk (instance, log, temporary folder, bundles), no answer was a 5xx, and
the server's memory stayed bounded. ``tests/e2e/test_soak.py`` runs a
75-second version in ``make test``. The station-wide submission limit is off
(``--max-submissions-per-minute 0``): a handful of monitors sending without
pause is many times a field day's rate; shedding is tested on its own
(``tests/e2e/test_e2e_guard.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from reporter.formats.report import INCIDENT_TYPES

from .markdown import table

PASSPHRASE = "soak station passphrase"
REVIEW_PASSPHRASE = "soak review passphrase"
KEY_PASSPHRASE = "soak key passphrase"
LANGUAGES = ("en", "fr", "pt", "sw", "ln", "sn")
TOKEN_RE = re.compile(r'<input type="hidden" name="form_token" value="([^"]+)">')
RECEIPT_RE = re.compile(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}\b")
CANARY = b"SOAKCANARY"
# Magic bytes of each accepted kind (reporter/formats/filetypes.py).
MAGIC = {
    "photo.jpg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
    "photo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "clip.mp4": b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00",
    "voice.ogg": b"OggS\x00\x02" + b"\x00" * 8,
    "voice.wav": b"RIFF\x24\x00\x00\x00WAVEfmt ",
    "clip.webm": b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81",
    "voice.mp3": b"ID3\x04\x00\x00\x00\x00\x00\x00",
    "voice.amr": b"#!AMR\n",
    "scan.pdf": b"%PDF-1.7\n",
    "note.flac": b"fLaC\x00\x00\x00\x22",
}


@dataclass
class Sent:
    """A submission the station acknowledged with a receipt."""
    tag: str                      # unique, inside the description
    kind: str                     # "incident" or "follow-up"
    receipt: str
    files: list[str]              # SHA-256 of each attachment, in order
    fields: dict[str, Any]


@dataclass
class Ledger:
    lock: threading.Lock = field(default_factory=threading.Lock)
    acknowledged: dict[str, Sent] = field(default_factory=dict)
    maybe: set[str] = field(default_factory=set)      # in flight at a kill: stored or not
    never: set[str] = field(default_factory=set)      # refused or cut off: never stored
    receipts: list[str] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    form_seconds: list[float] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)
    operator_seconds: list[float] = field(default_factory=list)
    harness_errors: list[str] = field(default_factory=list)

    def note(self, kind: str) -> None:
        with self.lock:
            self.requests[kind] += 1

    def fail(self, cause: str) -> None:
        with self.lock:
            self.failures[cause] += 1

    def status(self, code: int, what: str) -> None:
        with self.lock:
            self.statuses[code] += 1
            if code >= 500:
                self.server_errors.append(f"{code} on {what}")


class Station:
    """The ``reporter serve`` process under test, restarted after each kill."""

    def __init__(self, instance: Path, port: int, log: Path, tmp: Path, threads: int) -> None:
        self.instance, self.port, self.log, self.tmp, self.threads = (
            instance, port, log, tmp, threads)
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.up = threading.Event()
        self.peak_rss_kib = 0
        self.kills = 0

    def start(self) -> None:
        env = {**os.environ, "REPORTER_PASSPHRASE": PASSPHRASE, "TMPDIR": str(self.tmp)}
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "reporter", "--instance", str(self.instance), "serve",
                 "--port", str(self.port), "--threads", str(self.threads),
                 "--max-submissions-per-minute", "0"],
                env=env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("the station exited at start: " + self.log.read_text()[-2000:])
            try:
                requests.get(self.url + "/", timeout=5)
                self.up.set()
                return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError("the station did not answer within 60 s")

    def kill(self) -> None:
        self.up.clear()
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.kills += 1

    def stop(self) -> None:
        self.up.clear()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def sample_rss(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    self.peak_rss_kib = max(self.peak_rss_kib, int(line.split()[1]))


# --- what monitors send -------------------------------------------------------------

def attachment(rng: random.Random, big: int) -> tuple[str, bytes]:
    name = rng.choice(sorted(MAGIC))
    roll = rng.random()
    size = min(big, rng.randint(64, 64 * 1024) if roll < 0.6 else
               rng.randint(64 * 1024, 1024 * 1024) if roll < 0.9 else
               rng.randint(1024 * 1024, max(big, 1024 * 1024)))
    tag = CANARY + os.urandom(6).hex().encode()
    body = MAGIC[name] + tag + rng.randbytes(max(0, size - len(MAGIC[name]) - 2 * len(tag))) + tag
    return name, body


def incident_fields(tag: str, token: str, rng: random.Random) -> dict[str, Any]:
    return {
        "form_token": token,
        "incident_types": rng.sample(list(INCIDENT_TYPES), rng.randint(1, 3)),
        "incident_day": str(rng.randint(1, 9)),
        "incident_month": "11",
        "incident_year": "2026",
        "site": "Marange",
        "location": f"pit {rng.randint(1, 99)}",
        "description": f"{tag} soldiers at the river {CANARY.decode()}",
        "source": rng.choice(["witnessed", "heard"]),
        "contact": "none",
    }


def multipart(fields: dict[str, Any], files: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = "soak" + os.urandom(8).hex()
    parts = []
    for name, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                         .encode() + str(item).encode() + b"\r\n")
    for name, data in files or [("", b"")]:  # no file chosen: an empty part, as browsers send
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="attachments"; '
                     f'filename="{name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
                     .encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class Monitor:
    def __init__(self, station: Station, ledger: Ledger, rng: random.Random, big: int,
                 think: float = 0.0) -> None:
        self.station, self.ledger, self.rng, self.big = station, ledger, rng, big
        self.think = think  # mean seconds between two actions (0: none)

    def _form(self, path: str = "/") -> tuple[requests.Session, str, str]:
        session = requests.Session()
        lang = self.rng.choice(LANGUAGES)
        start = time.monotonic()
        page = session.get(f"{self.station.url}{path}?lang={lang}", timeout=60)
        with self.ledger.lock:
            self.ledger.form_seconds.append(time.monotonic() - start)
        self.ledger.status(page.status_code, "GET " + path)
        match = TOKEN_RE.search(page.text)
        if page.status_code != 200 or not match:
            raise RuntimeError(f"no form ({page.status_code})")
        return session, match.group(1), lang

    def _send(self, session: requests.Session, path: str, lang: str, body: bytes,
              content_type: str, tag: str) -> requests.Response | None:
        """POST; a connection that fails after sending is 'maybe stored'."""
        try:
            answer = session.post(f"{self.station.url}{path}?lang={lang}", data=body,
                                  headers={"Content-Type": content_type}, timeout=300)
        except requests.RequestException:
            with self.ledger.lock:
                self.ledger.maybe.add(tag)
            self.ledger.fail("connection failed (station killed or restarting)")
            return None
        self.ledger.status(answer.status_code, "POST " + path)
        return answer

    def _record(self, answer: requests.Response | None, tag: str, kind: str,
                files: list[tuple[str, bytes]], fields: dict[str, Any]) -> None:
        if answer is None:
            return
        receipt = RECEIPT_RE.search(answer.text) if answer.status_code == 200 else None
        with self.ledger.lock:
            if receipt:
                sent = Sent(tag, kind, receipt.group(0),
                            [hashlib.sha256(d).hexdigest() for _n, d in files], fields)
                self.ledger.acknowledged[tag] = sent
                if kind == "incident":
                    self.ledger.receipts.append(sent.receipt)
            else:
                self.ledger.never.add(tag)
        if not receipt:
            self.ledger.fail(f"refused with {answer.status_code}")

    def report(self) -> None:
        self.ledger.note("report")
        session, token, lang = self._form()
        tag = "SOAK-" + os.urandom(6).hex()
        files = [attachment(self.rng, self.big) for _ in range(self.rng.randint(0, 5))]
        fields = incident_fields(tag, token, self.rng)
        body, content_type = multipart(fields, files)
        self._record(self._send(session, "/", lang, body, content_type, tag), tag,
                     "incident", files, fields)

    def double_tap(self) -> None:
        """The same form sent twice: one report, and the same receipt both times."""
        self.ledger.note("double tap")
        session, token, lang = self._form()
        tag = "SOAK-" + os.urandom(6).hex()
        files = [attachment(self.rng, 256 * 1024) for _ in range(self.rng.randint(0, 2))]
        fields = incident_fields(tag, token, self.rng)
        body, content_type = multipart(fields, files)
        first = self._send(session, "/", lang, body, content_type, tag)
        self._record(first, tag, "incident", files, fields)
        second = self._send(session, "/", lang, body, content_type, tag)
        if first is None or second is None or first.status_code != 200:
            return  # a kill in between: the resend meets a new process
        codes = [RECEIPT_RE.findall(answer.text)[:1] for answer in (first, second)]
        if second.status_code != 200 or codes[0] != codes[1]:
            self.ledger.fail(f"double tap: {second.status_code}, receipts {codes}")

    def follow_up(self) -> None:
        with self.ledger.lock:
            receipts = list(self.ledger.receipts)
        if not receipts:
            return self.report()
        self.ledger.note("follow-up")
        session, token, lang = self._form("/follow-up")
        tag = "SOAK-" + os.urandom(6).hex()
        files = [attachment(self.rng, 2 * 1024 * 1024) for _ in range(self.rng.randint(0, 2))]
        fields = {"form_token": token, "receipt": self.rng.choice(receipts),
                  "description": f"{tag} more about it {CANARY.decode()}"}
        body, content_type = multipart(fields, files)
        self._record(self._send(session, "/follow-up", lang, body, content_type, tag), tag,
                     "follow-up", files, fields)
        return None

    def form_error(self) -> None:
        """Files with a form that lacks its description: refused, nothing stored."""
        self.ledger.note("form error with files")
        session, token, lang = self._form()
        tag = "SOAK-" + os.urandom(6).hex()
        fields = incident_fields(tag, token, self.rng)
        fields["description"] = ""
        fields["location"] = tag
        files = [attachment(self.rng, 512 * 1024) for _ in range(self.rng.randint(1, 3))]
        body, content_type = multipart(fields, files)
        answer = self._send(session, "/", lang, body, content_type, tag)
        with self.ledger.lock:
            self.ledger.maybe.discard(tag)
            self.ledger.never.add(tag)
        if answer is not None and answer.status_code != 400:
            self.ledger.fail(f"form error answered {answer.status_code}")

    def _raw(self, session: requests.Session, body: bytes, content_type: str, lang: str,
             pace: Callable[[int], None], stop_at: int | None) -> bytes:
        head = (f"POST /?lang={lang} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                f"Content-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        with socket.create_connection(("127.0.0.1", self.station.port), timeout=120) as s:
            s.sendall(head)
            end = len(body) if stop_at is None else stop_at
            for offset in range(0, end, 16 * 1024):
                s.sendall(body[offset:min(end, offset + 16 * 1024)])
                pace(offset)
            if stop_at is not None:
                return b""
            answer = b""
            while chunk := s.recv(65536):
                answer += chunk
        return answer

    def cut_off(self) -> None:
        """An upload whose connection drops half-way: nothing may be stored."""
        self.ledger.note("upload cut off")
        session, token, lang = self._form()
        tag = "SOAK-" + os.urandom(6).hex()
        files = [attachment(self.rng, 4 * 1024 * 1024) for _ in range(self.rng.randint(1, 3))]
        body, content_type = multipart(incident_fields(tag, token, self.rng), files)
        with self.ledger.lock:
            self.ledger.never.add(tag)
        with contextlib.suppress(OSError):
            self._raw(session, body, content_type, lang, lambda _o: None,
                      stop_at=self.rng.randint(len(body) // 4, 3 * len(body) // 4))

    def slow(self) -> None:
        """A report sent at about 100 KB/s, as over a Tor circuit."""
        self.ledger.note("slow client")
        session, token, lang = self._form()
        tag = "SOAK-" + os.urandom(6).hex()
        files = [attachment(self.rng, 1024 * 1024) for _ in range(self.rng.randint(0, 2))]
        fields = incident_fields(tag, token, self.rng)
        body, content_type = multipart(fields, files)
        try:
            raw = self._raw(session, body, content_type, lang,
                            lambda _o: time.sleep(0.15), stop_at=None)
        except OSError:
            with self.ledger.lock:
                self.ledger.maybe.add(tag)
            self.ledger.fail("connection failed (station killed or restarting)")
            return
        status = int(raw.split(b" ", 2)[1]) if raw.startswith(b"HTTP/1.1 ") else 0
        self.ledger.status(status, "POST / (slow)")
        text = raw.decode("utf-8", "replace")
        receipt = RECEIPT_RE.search(text) if status == 200 else None
        with self.ledger.lock:
            if receipt:
                self.ledger.acknowledged[tag] = Sent(
                    tag, "incident", receipt.group(0),
                    [hashlib.sha256(d).hexdigest() for _n, d in files], fields)
                self.ledger.receipts.append(receipt.group(0))
            else:
                self.ledger.never.add(tag)
        if not receipt:
            self.ledger.fail(f"slow client refused with {status}")

    ACTIONS = (("report", 40), ("follow_up", 10), ("double_tap", 6), ("form_error", 6),
               ("cut_off", 8), ("slow", 6))

    def run(self, until: float) -> None:
        names = [a for a, _w in self.ACTIONS]
        weights = [w for _a, w in self.ACTIONS]
        while time.monotonic() < until:
            if not self.station.up.wait(timeout=1):
                continue
            action = self.rng.choices(names, weights)[0]
            try:
                getattr(self, action)()
            except (requests.RequestException, OSError, RuntimeError) as exc:
                cause = "station down" if not self.station.up.is_set() else type(exc).__name__
                self.ledger.fail(f"{action}: {cause}")
            if self.think:
                time.sleep(min(self.rng.expovariate(1 / self.think), 10 * self.think))


# --- everyone else ----------------------------------------------------------------

def pester(station: Station, until: float, idle: int, trickling: int, ledger: Ledger) -> None:
    """Idle and trickling sockets, kept open all along (reopened after a restart)."""
    held: list[socket.socket] = []
    trickle: list[socket.socket] = []
    while time.monotonic() < until:
        if station.up.is_set():
            for pool, count, first in ((held, idle, b""), (trickle, trickling, b"POST / HTTP/1.1"
                                       b"\r\nHost: x\r\nContent-Length: 1000000\r\n"
                                       b"Content-Type: application/x-www-form-urlencoded"
                                       b"\r\n\r\nd=")):
                while len(pool) < count:
                    try:
                        s = socket.create_connection(("127.0.0.1", station.port), timeout=2)
                        s.sendall(first)
                        pool.append(s)
                        ledger.note("idle or trickling socket")
                    except OSError:
                        break
            for s in list(trickle):
                try:
                    s.sendall(b"x")
                except OSError:
                    trickle.remove(s)
                    s.close()
        time.sleep(1.0)
    for s in held + trickle:
        s.close()


def reporter_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "reporter", *args], capture_output=True,
                          text=True, timeout=600, check=False,
                          env={**os.environ, "REPORTER_PASSPHRASE": PASSPHRASE, **(env or {})})


def operate(station: Station, bundles: Path, until: float, every: float, ledger: Ledger) -> None:
    """Export now and then, purging what was exported, while monitors keep sending."""
    number = 0
    while time.monotonic() < until:
        time.sleep(every)
        start = time.monotonic()
        result = reporter_cli("--instance", str(station.instance), "export", "--out",
                              str(bundles / f"bundle-{number + 1:03d}.rptr"))
        ledger.note("operator export")
        with ledger.lock:
            ledger.operator_seconds.append(time.monotonic() - start)
        if result.returncode == 0:
            number += 1
            if random.random() < 0.5:
                start = time.monotonic()
                purge = reporter_cli("--instance", str(station.instance), "purge",
                                     "--through", str(number), "--yes")
                ledger.note("operator purge")
                with ledger.lock:
                    ledger.operator_seconds.append(time.monotonic() - start)
                if purge.returncode != 0:
                    ledger.fail("purge: " + purge.stderr.strip()[-120:])
        elif "nothing" not in result.stderr.lower():
            ledger.fail("export: " + result.stderr.strip()[-120:])


def guarded(target: Callable[..., None], ledger: Ledger) -> Callable[..., None]:
    """A thread's target whose failure is a problem of the run, never a silent hang."""
    def run(*args: Any) -> None:
        try:
            target(*args)
        except Exception as exc:
            with ledger.lock:
                ledger.harness_errors.append(f"{target.__name__}: {type(exc).__name__}: {exc}")
    return run


def chaos(station: Station, until: float, every: float, ledger: Ledger) -> None:
    while True:
        pause = random.uniform(0.6 * every, 1.4 * every)
        if time.monotonic() + pause > until - 5:
            return
        time.sleep(pause)
        ledger.note("kill -9 and restart")
        station.kill()
        time.sleep(0.5)
        station.start()


# --- checks -------------------------------------------------------------------------

def scan_for_canaries(paths: list[Path]) -> list[str]:
    """Files under ``paths`` that hold a canary (UTF-8 or UTF-16)."""
    needles = (CANARY, CANARY.decode().encode("utf-16-le"), b"SOAK-")
    hits = []
    for root in paths:
        for path in [root] if root.is_file() else root.rglob("*"):
            if not path.is_file():
                continue
            with open(path, "rb") as fh:
                tail = b""
                while chunk := fh.read(8 * 1024 * 1024):
                    window = tail + chunk
                    if any(n in window for n in needles):
                        hits.append(str(path))
                        break
                    tail = window[-32:]
    return hits


def review(work: Path, bundles: Path, key: Path, name: str) -> tuple[Path, list[dict[str, Any]]]:
    review_db = work / f"{name}.db"
    env = {"REPORTER_REVIEW_PASSPHRASE": REVIEW_PASSPHRASE,
           "REPORTER_KEY_PASSPHRASE": KEY_PASSPHRASE}
    files = sorted(str(p) for p in bundles.glob("*.rptr"))
    if files:
        result = reporter_cli("review", "--review-db", str(review_db), "import", *files,
                              "--key", str(key), env=env)
        if result.returncode != 0:
            raise RuntimeError(f"{name}: review import failed: {result.stderr[-500:]}")
    out = work / f"{name}.jsonl"
    result = reporter_cli("review", "--review-db", str(review_db), "export", "--format",
                          "jsonl", "--out", str(out), env=env)
    if result.returncode != 0:
        raise RuntimeError(f"{name}: review export failed: {result.stderr[-500:]}")
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    out.unlink()
    return review_db, rows


def extracted_hashes(review_db: Path, report_id: int, work: Path) -> list[str]:
    """The SHA-256 of each file ``reporter review attachments`` writes (run in-process:
    a Python start per report would dominate a short run)."""
    from reporter.cli.main import main as reporter_main
    out = work / f"files-{report_id}"
    saved = os.environ.get("REPORTER_REVIEW_PASSPHRASE")
    os.environ["REPORTER_REVIEW_PASSPHRASE"] = REVIEW_PASSPHRASE
    try:
        with contextlib.redirect_stdout(None), contextlib.redirect_stderr(None):
            code = reporter_main(["review", "--review-db", str(review_db), "attachments",
                                  str(report_id), "--out", str(out)])
    except SystemExit as exc:
        code = exc.code
    finally:
        if saved is None:
            os.environ.pop("REPORTER_REVIEW_PASSPHRASE", None)
        else:
            os.environ["REPORTER_REVIEW_PASSPHRASE"] = saved
    if code not in (0, None):
        raise RuntimeError(f"review attachments {report_id} exited {code}")
    hashes = sorted(hashlib.sha256(p.read_bytes()).hexdigest() for p in out.iterdir())
    for p in out.iterdir():
        p.unlink()
    out.rmdir()
    return hashes


def verify(ledger: Ledger, rows: list[dict[str, Any]], review_db: Path, work: Path,
           extract: int) -> list[str]:
    """Every acknowledged report stored as sent; ``extract`` of them (with attachments)
    also written out by the reviewer's command and hashed."""
    problems: list[str] = []
    stored: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        text = str(row["report"]["fields"].get("description", ""))
        match = re.search(r"SOAK-[0-9a-f]{12}", text)
        if match:
            stored.setdefault(match.group(0), []).append(row)
    expected: Counter[str] = Counter(s.tag for s in ledger.acknowledged.values())
    for tag, sent_count in expected.items():
        copies = stored.get(tag, [])
        if len(copies) < sent_count or (len(copies) > sent_count and tag not in ledger.maybe):
            # More copies than receipts: one form stored twice (a double tap).
            problems.append(f"{tag}: acknowledged {sent_count}x, stored {len(copies)}x")
            continue
        sent = next(s for s in ledger.acknowledged.values() if s.tag == tag)
        for row in copies:
            report = row["report"]
            listed = [a["sha256"] for a in report.get("attachments", [])]
            if listed != sent.files:
                problems.append(f"{tag}: attachment hashes differ")
            if sent.kind == "incident":
                for name in ("description", "site", "location", "source"):
                    if report["fields"].get(name) != sent.fields.get(name):
                        problems.append(f"{tag}: field {name} differs")
                sent_day = [sent.fields[k] for k in ("incident_year", "incident_month",
                                                     "incident_day")]
                day = "{}-{:0>2}-{:0>2}".format(*sent_day)
                if report["fields"].get("incident_date") != day:
                    problems.append(f"{tag}: field incident_date differs")
                if sorted(report["fields"].get("incident_types", [])) != sorted(
                        sent.fields["incident_types"]):
                    problems.append(f"{tag}: incident types differ")
            elif report.get("follows") != sent.fields["receipt"]:
                problems.append(f"{tag}: follows {report.get('follows')}, "
                                f"sent for {sent.fields['receipt']}")
            if extract > 0 and sent.files:
                extract -= 1
                if extracted_hashes(review_db, row["id"], work) != sorted(sent.files):
                    problems.append(f"{tag}: the reviewer's files are not the bytes sent")
    for tag, copies in stored.items():
        if tag in expected:
            continue
        if tag in ledger.never and tag not in ledger.maybe:
            problems.append(f"{tag}: stored ({len(copies)}x) without a receipt")
        elif tag not in ledger.maybe:
            problems.append(f"{tag}: stored but never sent")
    return problems


@dataclass
class Result:
    ledger: Ledger
    problems: list[str]
    peak_rss_mib: float
    kills: int
    seconds: float
    reports_stored: int

    def summary(self) -> str:
        ledger = self.ledger
        seconds = sorted(ledger.form_seconds) or [0.0]
        p50 = seconds[len(seconds) // 2]
        p99 = seconds[min(len(seconds) - 1, int(len(seconds) * 0.99))]
        rows = [[k, str(v)] for k, v in sorted(ledger.requests.items())]
        rows += [[f"failure: {k}", str(v)] for k, v in sorted(ledger.failures.items())]
        rows += [[f"HTTP {k}", str(v)] for k, v in sorted(ledger.statuses.items())]
        rows += [["receipts (acknowledged)", str(len(ledger.acknowledged))],
                 ["reports the reviewers imported", str(self.reports_stored)],
                 ["kill -9 and restart", str(self.kills)],
                 ["get the form, p50 / p99 (s)", f"{p50:.3f} / {p99:.3f}"],
                 ["server peak RSS (MiB)", f"{self.peak_rss_mib:.0f}"],
                 ["longest export or purge (s)",
                  f"{max(ledger.operator_seconds, default=0):.1f}"],
                 ["5xx answers", str(len(ledger.server_errors))],
                 ["problems", str(len(self.problems))],
                 ["run (s)", f"{self.seconds:.0f}"]]
        return table(["what", "count"], rows)


def make_station(work: Path) -> tuple[Path, list[Path]]:
    """A station with two reviewers, added out of alphabetical order."""
    instance = work / "instance"
    env = {"REPORTER_KEY_PASSPHRASE": KEY_PASSPHRASE}
    if reporter_cli("--instance", str(instance), "init", "--kdf", "interactive").returncode:
        raise RuntimeError("init failed")
    keys = []
    for name in ("Zawadi (coalition)", "Amina (coalition)"):
        key = work / f"{name.split()[0].lower()}.key"
        made = reporter_cli("keygen", "--out", str(key), "--kdf", "interactive", env=env)
        public = made.stdout.strip().splitlines()[0] if made.stdout.strip() else ""
        public = next((w for w in made.stdout.split() if w.startswith("reporter1")), public)
        added = reporter_cli("--instance", str(instance), "recipients", "add", name, public)
        if added.returncode:
            raise RuntimeError("recipients add failed: " + added.stderr)
        keys.append(key)
    reporter_cli("--instance", str(instance), "sites", "add", "Marange")
    return instance, keys


def run(minutes: float, *, monitors: int = 5, threads: int = 8, big: int = 30 * 1024 * 1024,
        kill_every: float = 60.0, export_every: float = 20.0, idle: int = 100,
        trickling: int = 20, work: Path | None = None, seed: int | None = None,
        extract: int = 1_000_000, think: float = 0.0) -> Result:
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        if work is None:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="soak-")))
        instance, keys = make_station(work)
        tmp = work / "server-tmp"
        tmp.mkdir()
        bundles = work / "bundles"
        bundles.mkdir()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        station = Station(instance, port, work / "server.log", tmp, threads)
        station.start()
        ledger = Ledger()
        until = time.monotonic() + minutes * 60
        rng = random.Random(seed)
        threads_ = [threading.Thread(target=Monitor(station, ledger,
                                                    random.Random(rng.random()), big,
                                                    think).run,
                                     args=(until,), daemon=True) for _ in range(monitors)]
        threads_.append(threading.Thread(target=guarded(pester, ledger),
                                         args=(station, until, idle, trickling, ledger),
                                         daemon=True))
        threads_.append(threading.Thread(target=guarded(operate, ledger),
                                         args=(station, bundles, until, export_every, ledger),
                                         daemon=True))
        if kill_every > 0:
            threads_.append(threading.Thread(target=guarded(chaos, ledger),
                                             args=(station, until, kill_every, ledger),
                                             daemon=True))
        for t in threads_:
            t.start()
        while any(t.is_alive() for t in threads_) and time.monotonic() < until + 600:
            station.sample_rss()
            time.sleep(0.5)
        station.stop()
        final = reporter_cli("--instance", str(instance), "export", "--out",
                             str(bundles / "bundle-final.rptr"))
        if final.returncode != 0 and "nothing" not in final.stderr.lower():
            ledger.fail("final export: " + final.stderr.strip()[-200:])
        problems: list[str] = [f"the run itself failed: {e}" for e in ledger.harness_errors]
        review_db, rows = review(work, bundles, keys[0], "review-zawadi")
        problems += verify(ledger, rows, review_db, work, extract)
        review_db2, rows2 = review(work, bundles, keys[1], "review-amina")
        problems += [f"second reviewer: {p}" for p in verify(ledger, rows2, review_db2, work,
                                                              extract=0)]
        if len(rows2) != len(rows):
            problems.append(f"the reviewers read {len(rows)} and {len(rows2)} reports")
        hits = scan_for_canaries([instance, station.log, tmp, bundles])
        problems += [f"plaintext canary on disk: {h}" for h in hits]
        problems += [f"server error: {e}" for e in ledger.server_errors[:20]]
        log = station.log.read_text(errors="replace")
        if "Traceback" in log:
            problems.append("a traceback in the server log")
        return Result(ledger, problems, station.peak_rss_kib / 1024, station.kills,
                      time.monotonic() - started, len(rows))


def _iter_problems(result: Result) -> Iterator[str]:
    yield from result.problems[:50]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--monitors", type=int, default=6)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--kill-every", type=float, default=90.0,
                        help="seconds between kill -9 of the server, on average (0: never)")
    parser.add_argument("--export-every", type=float, default=30.0)
    parser.add_argument("--big-mib", type=int, default=30)
    parser.add_argument("--think", type=float, default=0.0,
                        help="mean seconds each monitor waits between two actions (0: none; "
                        "for long runs, so that half an hour does not make tens of GB)")
    parser.add_argument("--extract", type=int, default=300,
                        help="how many acknowledged reports with attachments the first "
                        "reviewer also writes out with 'review attachments' and hashes byte "
                        "for byte (each opens the review database: about a second); every "
                        "report is compared by its listed SHA-256s anyway")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--work", type=Path, default=None,
                        help="keep everything here (default: a temporary folder)")
    args = parser.parse_args()
    if args.work:
        args.work.mkdir(parents=True, exist_ok=False)
    result = run(args.minutes, monitors=args.monitors, threads=args.threads,
                 big=args.big_mib * 1024 * 1024, kill_every=args.kill_every,
                 export_every=args.export_every, work=args.work, seed=args.seed,
                 think=args.think, extract=args.extract)
    print(result.summary())
    for problem in _iter_problems(result):
        print("PROBLEM:", problem)
    return 1 if result.problems else 0


if __name__ == "__main__":
    sys.exit(main())
