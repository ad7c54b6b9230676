"""Shared by the review desk's tests: a review database with hostile reports,
a picture carrying metadata, a sound file and a "photo" named ``.html``, and a
real ``reporter review serve`` process to drive over HTTP or in Chromium, and the
keyboard helpers the browser tests drive it with (``focused``, ``tab_to``)."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image

from reporter.formats import crypto
from reporter.formats.report import Report
from reporter.review.db import ReviewDB
from reporter.review.importer import import_bundle
from reporter.station.export import export_bundle
from reporter.station.instance import load_identity
from reporter.station.intake import build_report
from reporter.station.submission import Draft, Limits
from reporter.storage.blobs import BlobStore
from tests.conftest import (
    FAST_KDF,
    Station,
    add_reports,
    free_port,
    make_station,
    stop_process,
    wait_until_answering,
)
from tests.reviewing import REVIEW_PASSPHRASE

# What a hostile monitor (or a station running modified software) can put in a report.
SCRIPT = "<script>document.title='pwned'</script>"
ANSI = "\x1b[31mred\x1b[0m\x1b]0;title\x07"
RLO = "\u202e"
HOSTILE_TEXT = f"{SCRIPT} {ANSI} {RLO}evil.exe and <b>bold</b> & \"quotes\""
HOSTILE_SITE = "<img src=x onerror=\"document.title='pwned'\">Marange"
EXIF_CANARY = "CanaryCam GPS 17.8252S 31.0335E"
COMMENT_CANARY = b"canary-comment-in-the-jpeg"


def jpeg_with_metadata(colour: tuple[int, int, int] = (200, 40, 40),
                       size: tuple[int, int] = (320, 240)) -> bytes:
    """A real JPEG whose EXIF names a camera and a place, with a comment."""
    picture = Image.new("RGB", size, colour)
    exif = Image.Exif()
    exif[0x010F] = EXIF_CANARY  # Make
    exif[0x0110] = "Model " + EXIF_CANARY  # Model
    out = io.BytesIO()
    picture.save(out, format="JPEG", exif=exif.tobytes(), comment=COMMENT_CANARY, quality=90)
    return out.getvalue()


def wav_tone(seconds: float = 6.0, rate: int = 8000) -> bytes:
    """A real WAV file: ``seconds`` of a quiet square wave, 16-bit mono."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        period = rate // 440
        samples = bytearray()
        for i in range(int(seconds * rate)):
            value = 3000 if (i % period) < period // 2 else -3000
            samples += value.to_bytes(2, "little", signed=True)
        w.writeframes(bytes(samples))
    return out.getvalue()


# A JPEG with a page glued after it: opened as HTML, it would run its script.
POLYGLOT = jpeg_with_metadata((40, 40, 200), (64, 48)) + (
    b"<html><body><script>document.title='pwned';"
    b"fetch('/pwned-by-polyglot')</script></body></html>")


def add_report(station: Station, fields: dict[str, Any], *,
               files: list[tuple[str, bytes]] = (),  # type: ignore[assignment]
               follows: str | None = None,
               names: dict[int, str] | None = None) -> str:
    """Seal one report (or a follow-up to ``follows``) with ``files`` as the web form
    does; ``names`` replaces attachment names after the station cleaned them (what a
    station running modified software can seal). Returns its receipt."""
    with station.store() as store, BlobStore.open(station.path, station.key) as blobs:
        recipients = [r.public_key for r in store.recipients()]
        draft = Draft(blobs, Limits(max_bytes=1 << 40, max_count=255))
        for name, data in files:
            item = draft.add(name, data)
            assert item.problem is None, (name, item.problem)
        report = build_report(fields, "en", follows=follows)
        infos = list(draft.attachments())
        for index, name in (names or {}).items():
            infos[index] = replace(infos[index], name=name)
        report = Report(**{**report.__dict__, "attachments": tuple(infos)})
        store.append_report(draft.seal(report, recipients), station.station_id)
        draft.close()
    return report.receipt


@dataclass
class Sample:
    path: Path
    ids: dict[str, int] = field(default_factory=dict)


@contextmanager
def fast_station(tmp: Path) -> Iterator[Station]:
    """A station in ``tmp/instance`` with one reviewer and the site Marange, every key
    derived at the tests' cheap cost while the block runs (the review databases made
    inside it too): for a module's shared sample."""
    with pytest.MonkeyPatch.context() as patch:
        for profile in list(crypto.KDF_PROFILES):
            patch.setitem(crypto.KDF_PROFILES, profile, FAST_KDF)
        yield make_station(tmp / "instance", sites=("Marange",))


def export(station: Station, out: Path) -> Path:
    with station.store() as store, BlobStore.open(station.path, station.key) as blobs:
        export_bundle(store, load_identity(store), out, blobs=blobs)
    return out


def make_sample(station: Station, tmp_path: Path, *, extra_reports: int = 0) -> Sample:
    """A review database (``tmp_path/review.db``, passphrase ``REVIEW_PASSPHRASE``):

    * ``photo``: a first report with a picture (EXIF canary), a WAV recording and a
      JPEG sent as ``evidence.html`` with a script glued after it; hostile text;
    * ``heard``: a first report someone told the monitor about, no attachments;
    * ``follow-up``: a follow-up to ``photo``;
    * ``hostile``: script tags, ANSI escapes and RTL overrides everywhere, an
      unknown field, and an attachment name with an override in it;
    * ``extra_reports`` plain reports before them (for paging).
    """
    if extra_reports:
        add_reports(station, extra_reports, text="older report")
    photo = add_report(station, {
        "incident_types": ["shooting", "killing"], "perpetrators": ["police"],
        "incident_date": "2026-03-01", "site": "Marange", "location": "Near the river",
        "people_affected": 3, "source": "witnessed", "contact": "none",
        "description": "Soldiers fired at diggers near the river. " + HOSTILE_TEXT,
    }, files=[("photo.jpg", jpeg_with_metadata()), ("statement.wav", wav_tone()),
              ("evidence.html", POLYGLOT)])
    add_report(station, {
        "incident_types": ["child-labour"], "perpetrators": ["armed-group"],
        "incident_date": "2026-02-01", "site": "Tshikapa", "source": "heard",
        "contact": "none", "description": "Children carry gravel at night.",
    })
    add_report(station, {"description": "Two of the wounded died. " + HOSTILE_TEXT},
               follows=photo)
    add_report(station, {
        "incident_types": ["other"], "site_other": HOSTILE_SITE, "source": "heard",
        "monitor_code": "\"><svg onload=alert(1)>", "description": HOSTILE_TEXT,
        "x<b>unknown</b>": f"{SCRIPT}{RLO}value",
    }, files=[("named.jpg", jpeg_with_metadata((10, 120, 10), (40, 30)))],
       names={0: f"{SCRIPT}{RLO}gpj.exe"})
    sample = Sample(tmp_path / "review.db")
    with ReviewDB.create(sample.path, REVIEW_PASSPHRASE) as db:
        import_bundle(db, export(station, tmp_path / "bundle-1.rptr"), station.reviewer)
        rows = db.connection.execute(
            "SELECT id, kind, description FROM reports ORDER BY seq").fetchall()
    for report_id, kind, description in rows[extra_reports:]:
        if kind == "follow-up":
            sample.ids["follow-up"] = report_id
        elif description.startswith("Soldiers"):
            sample.ids["photo"] = report_id
        elif description.startswith("Children"):
            sample.ids["heard"] = report_id
        else:
            sample.ids["hostile"] = report_id
    return sample


# --- a real ``reporter review serve`` ------------------------------------------------------

CSRF_RE = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


@dataclass
class Desk:
    process: subprocess.Popen[bytes]
    url: str
    port: int
    log: Path

    def stop(self) -> None:
        stop_process(self.process)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def start_desk(review_db: Path, tmp_path: Path, *args: str,
               env: dict[str, str] | None = None, port: int | None = None) -> Desk:
    """``reporter review serve`` as a real process on a free port (or ``port``); waits
    until it answers."""
    port = port or free_port()
    log = tmp_path / f"desk-{port}.log"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("REPORTER_")}
    environment.update(env or {})
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "reporter", "review", "--review-db", str(review_db),
             "serve", "--port", str(port), *args],
            stdout=out, stderr=subprocess.STDOUT, env=environment)
    desk = Desk(process, f"http://127.0.0.1:{port}", port, log)
    wait_until_answering(process, desk.url + "/unlock", log, 30)
    return desk


def csrf(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def unlocked_session(desk: Desk, passphrase: str = REVIEW_PASSPHRASE) -> requests.Session:
    """A client that unlocked the desk (its cookie is the unlocked session)."""
    session = requests.Session()
    page = session.get(desk.url + "/unlock", timeout=30)
    answer = session.post(desk.url + "/unlock", data={
        "csrf_token": csrf(page.text), "passphrase": passphrase}, timeout=60,
        allow_redirects=False)
    assert answer.status_code == 303, answer.text
    return session


# --- the keyboard, in Chromium -------------------------------------------------------


def unlock_in(page: Any, desk: Desk, passphrase: str = REVIEW_PASSPHRASE) -> None:
    """The reviewer's first steps in a browser page: the desk's address, the
    passphrase, Unlock; returns on the inbox."""
    page.goto(desk.url + "/")
    page.fill("#passphrase", passphrase)
    page.click("form.unlock button[type=submit]")
    page.wait_for_url(desk.url + "/")


def focused(page: Any) -> str:
    """The focused element: its tag, href, name and id, then (for a link or a button) its
    text, those it has, one space apart (``"INPUT q q"``, ``"A /charts Charts"``).

    Asked through Playwright, from outside the page: the page itself runs no script,
    and this works with JavaScript off."""
    return str(page.evaluate(
        "(() => { const e = document.activeElement; if (!e) return ''; "
        "const text = ['A', 'BUTTON'].includes(e.tagName) ? e.innerText : ''; "
        "return [e.tagName, e.getAttribute('href'), e.getAttribute('name'), e.id, text]"
        ".filter(Boolean).join(' ').trim() })()"))


def tab_to(page: Any, wanted: str, limit: int = 300) -> None:
    """Press Tab until the focused element's description holds ``wanted``, and check
    that the focus is visible there (an outline); fail after ``limit`` presses."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if wanted in focused(page):
            outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
            assert outline != "none", f"no visible focus on {focused(page)}"
            return
    raise AssertionError(f"{wanted!r} not reached with Tab; last: {focused(page)}")
