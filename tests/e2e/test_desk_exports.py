"""Exports and evidence packages from the review desk, as a reviewer's browser gets
them from a real ``reporter review serve``: the CLI's bytes for the same filter,
streamed as downloads; one zip per evidence package whose every path stays inside
the folder it is extracted into (Python's zipfile and Info-ZIP's unzip), whose
SHA256SUMS ``sha256sum -c`` accepts, and whose summary runs nothing; sensitive
reports sent only after a second, explicit, CSRF-protected POST."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
import requests

from reporter.review.db import ReviewDB
from tests.conftest import Station
from tests.desk import (
    COMMENT_CANARY,
    EXIF_CANARY,
    HOSTILE_TEXT,
    SCRIPT,
    Desk,
    Sample,
    add_report,
    csrf,
    jpeg_with_metadata,
    make_sample,
    start_desk,
    unlocked_session,
)
from tests.reviewing import REVIEW_PASSPHRASE, reporter_process

pytestmark = pytest.mark.slow

# Names a phone (or a forged station) can seal for its files.
HOSTILE_NAMES = [
    "../../x",
    "/etc/passwd",
    "a\\b",
    "nul\x00byte.jpg",
    "\u202egpj.exe",
    "é" * 250,
    ".html",
    "..",
    "C:\\Windows\\evil.jpg",
    "con",
]


@pytest.fixture
def sample(station: Station, tmp_path: Path) -> Sample:
    picture = jpeg_with_metadata((90, 90, 90), (16, 16))
    add_report(station, {
        "incident_types": ["intimidation-of-monitors"], "source": "witnessed",
        "contact": "none", "description": "Hostile names " + HOSTILE_TEXT,
    }, files=[(f"f{i}.jpg", picture) for i in range(len(HOSTILE_NAMES))],
       names=dict(enumerate(HOSTILE_NAMES)))
    made = make_sample(station, tmp_path)
    with ReviewDB.open(made.path, REVIEW_PASSPHRASE) as db:
        made.ids["names"] = db.connection.execute(
            "SELECT id FROM reports WHERE description LIKE 'Hostile names%'").fetchone()[0]
    return made


@pytest.fixture
def desk(sample: Sample, tmp_path: Path) -> Iterator[Desk]:
    (tmp_path / "tmp").mkdir(exist_ok=True)
    running = start_desk(sample.path, tmp_path, env={"TMPDIR": str(tmp_path / "tmp")})
    yield running
    running.stop()


def token(session: requests.Session, desk: Desk) -> str:
    return csrf(session.get(desk.url + "/", timeout=30).text)


def cli_export(tmp_path: Path, fmt: str, *filters: str) -> bytes:
    out = tmp_path / f"cli-{fmt}-{len(list(tmp_path.iterdir()))}.{fmt}"
    done = reporter_process("review", "export", "--format", fmt, "--out", str(out),
                            *filters, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return out.read_bytes()


def xlsx_cells(data: bytes) -> dict[str, bytes]:
    """The parts of a spreadsheet that hold its cells (not its creation time)."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n) for n in z.namelist() if n.startswith("xl/")}


def is_download(answer: requests.Response, extension: str) -> None:
    assert answer.status_code == 200, answer.text[:500]
    disposition = answer.headers["Content-Disposition"]
    assert disposition.startswith("attachment; filename=")
    assert re.fullmatch(r'attachment; filename=[\w.-]+' + re.escape(extension), disposition)
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert answer.headers["Cache-Control"].startswith("no-store")


def test_export_of_a_filter_is_the_cli_export_byte_for_byte(
        desk: Desk, tmp_path: Path) -> None:
    session = unlocked_session(desk)
    inbox = session.get(desk.url + "/?site=Marange", timeout=30).text
    assert 'value="csv"' in inbox and 'value="xlsx"' in inbox and 'value="jsonl"' in inbox
    for fmt in ("csv", "jsonl", "xlsx"):
        answer = session.post(desk.url + "/export", data={
            "csrf_token": csrf(inbox), "site": "Marange", "format": fmt}, timeout=60)
        is_download(answer, "." + fmt)
        expected = cli_export(tmp_path, fmt, "--site", "Marange")
        if fmt == "xlsx":
            assert xlsx_cells(answer.content) == xlsx_cells(expected)
            assert b"<f>" not in b"".join(xlsx_cells(answer.content).values())
        else:
            assert answer.content == expected
    assert answer.headers["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    # Every row of the filter, and the report text as sent.
    rows = [json.loads(line) for line in session.post(desk.url + "/export", data={
        "csrf_token": csrf(inbox), "site": "Marange", "format": "jsonl"},
        timeout=60).text.splitlines()]
    assert rows and all("Marange" in (r["report"]["fields"].get("site") or
                                      r["report"]["fields"].get("site_other")) for r in rows)
    assert any(HOSTILE_TEXT in r["report"]["fields"]["description"] for r in rows)


def test_a_sensitive_export_is_sent_only_after_its_confirmation(
        desk: Desk, sample: Sample, tmp_path: Path) -> None:
    session = unlocked_session(desk)
    form = {"csrf_token": token(session, desk), "format": "csv"}
    first = session.post(desk.url + "/export", data=form, timeout=60)
    # The page names the report and its reason, and sends nothing.
    assert first.status_code == 200
    assert "Content-Disposition" not in first.headers
    assert first.headers["Content-Type"].startswith("text/html")
    heard = sample.ids["heard"]
    assert f"Report {heard}" in first.text and "Child labour" in first.text
    assert "Children carry gravel" not in first.text and "Soldiers" not in first.text
    digest = re.search(r'name="confirm" value="([0-9a-f]{64})"', first.text)
    assert digest
    # A wrong or missing confirmation, or another page's form: nothing is sent.
    for confirm in ("", "0" * 64, digest.group(1)[::-1]):
        again = session.post(desk.url + "/export", data={**form, "confirm": confirm},
                             timeout=60)
        assert "Content-Disposition" not in again.headers and "Child labour" in again.text
    # Another site's page that posts the confirmed form: refused (its browser says so).
    forged = session.post(desk.url + "/export", data={**form, "confirm": digest.group(1)},
                          headers={"Sec-Fetch-Site": "cross-site"}, timeout=60)
    assert forged.status_code == 403 and "Content-Disposition" not in forged.headers
    no_token = session.post(desk.url + "/export", data={
        "format": "csv", "confirm": digest.group(1)}, timeout=60)
    assert no_token.status_code == 403 and "Content-Disposition" not in no_token.headers
    # The second, explicit POST with the digest: the whole export, as the CLI's.
    confirmed = session.post(desk.url + "/export", data={**form, "confirm": digest.group(1)},
                             timeout=60)
    is_download(confirmed, ".csv")
    assert confirmed.content == cli_export(tmp_path, "csv")
    # An evidence package of a sensitive report asks too.
    ask = session.post(desk.url + "/evidence", data={
        "csrf_token": form["csrf_token"], "report": str(heard)}, timeout=60)
    assert "Content-Disposition" not in ask.headers and "Child labour" in ask.text


class Tags(HTMLParser):
    """Every element of a page and its attribute names."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen.append((tag, [name for name, _ in attrs]))


def member_paths(data: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return z.namelist()


def test_an_evidence_package_is_safe_complete_and_checkable(
        desk: Desk, sample: Sample, tmp_path: Path) -> None:
    session = unlocked_session(desk)
    ids = [sample.ids["photo"], sample.ids["hostile"], sample.ids["names"]]
    answer = session.post(desk.url + "/evidence", data={
        "csrf_token": token(session, desk), "report": [str(i) for i in ids]}, timeout=120)
    is_download(answer, ".zip")
    assert answer.headers["Content-Type"] == "application/zip"
    assert "Content-Length" not in answer.headers  # streamed
    data = answer.content
    assert list((tmp_path / "tmp").iterdir()) == []  # no temporary file, decrypted or not
    names = member_paths(data)
    root = names[0].split("/")[0]
    assert re.fullmatch(r"evidence-\d{8}T\d{6}Z", root)
    for name in names:
        assert name.startswith(root + "/") and ".." not in name.split("/")
        assert "\\" not in name and "\x00" not in name and "\u202e" not in name
    # Extracted with Python's zipfile and with unzip: nothing outside the folder.
    for tool in ("zipfile", "unzip"):
        where = tmp_path / f"out-{tool}" / "inner"
        where.mkdir(parents=True)
        if tool == "zipfile":
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                z.extractall(where)
        else:
            (tmp_path / "package.zip").write_bytes(data)
            done = subprocess.run(["unzip", "-q", str(tmp_path / "package.zip"), "-d",
                                   str(where)], capture_output=True, timeout=60,
                                  env={**os.environ, "LANG": "C.UTF-8"}, check=False)
            assert done.returncode == 0, done.stderr
        outside = [p for p in (tmp_path / f"out-{tool}").rglob("*")
                   if not p.is_relative_to(where)]
        assert outside == []
        assert not (tmp_path / "x").exists() and not (tmp_path / f"out-{tool}" / "x").exists()
        files = sorted(p.relative_to(where / root).as_posix()
                       for p in (where / root).rglob("*") if p.is_file())
        assert files == sorted(n[len(root) + 1:] for n in names)
        # sha256sum -c checks every file, as a lawyer would.
        check = subprocess.run(["sha256sum", "--strict", "-c", "SHA256SUMS"],
                               cwd=where / root, capture_output=True, timeout=60, check=False)
        assert check.returncode == 0, check.stdout + check.stderr
        assert check.stdout.count(b": OK") == len(files) - 1
    base = tmp_path / "out-unzip" / "inner" / root
    manifest = json.loads((base / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["format"] == "reporter-evidence-package" and manifest["version"] == 1
    assert [r["id"] for r in manifest["reports"]] == ids
    with ReviewDB.open(sample.path, REVIEW_PASSPHRASE) as db:
        row = db.connection.execute("SELECT station_id FROM reports WHERE id = ?",
                                    (ids[0],)).fetchone()
    assert manifest["reports"][0]["station"] == bytes(row[0]).hex()
    # Originals byte for byte (the SHA-256 the station sealed); the picture's stripped
    # copy has no metadata; the polyglot named .html is not an .html file.
    photo = manifest["reports"][0]
    for item in photo["attachments"]:
        original = (base / item["original"]).read_bytes()
        assert hashlib.sha256(original).hexdigest() == item["sha256_sealed"]
        assert not item["original"].endswith((".html", ".htm"))
    first = photo["attachments"][0]
    assert EXIF_CANARY.encode() in (base / first["original"]).read_bytes()
    stripped = (base / first["stripped"]).read_bytes()
    assert EXIF_CANARY.encode() not in stripped and COMMENT_CANARY not in stripped
    assert photo["attachments"][1]["stripped"] is None  # a WAV: no copy, and why
    assert photo["attachments"][1]["not_stripped"]
    custody = json.loads((base / photo["custody"]).read_text(encoding="utf-8"))
    assert custody["seq"] == photo["seq"] and custody["bundles"][0]["number"] == 1
    assert custody["station_key"] and custody["bundles"][0]["sealed_to"]
    report = json.loads((base / photo["report"]).read_text(encoding="utf-8"))
    assert report["id"] == ids[0] and HOSTILE_TEXT in report["report"]["fields"]["description"]
    # Every hostile name became one file in its report's folder.
    hostile = manifest["reports"][2]
    assert [a["sent_name"] for a in hostile["attachments"]] == HOSTILE_NAMES
    for item in hostile["attachments"]:
        path = item["original"]
        assert path.startswith(f"reports/{ids[2]}/originals/") and path.count("/") == 3
        assert len(path.rsplit("/", 1)[1].encode()) <= 255
        assert (base / path).is_file()
    # The summary: escaped report text, no script, no outside resource.
    summary = (base / "summary.html").read_text(encoding="utf-8")
    assert SCRIPT not in summary and "<script" not in summary.lower()
    assert "&lt;script&gt;" in summary and "&lt;img src=x onerror=" in summary
    tags = Tags()
    tags.feed(summary)
    assert "script" not in {t for t, _ in tags.seen} and "img" not in {t for t, _ in tags.seen}
    assert not [a for _, attrs in tags.seen for a in attrs
                if a in ("src", "href", "action") or a.startswith("on")]
    assert "sha256sum -c SHA256SUMS" in summary


def test_an_evidence_package_needs_a_token_and_a_known_report(
        desk: Desk, sample: Sample) -> None:
    session = unlocked_session(desk)
    csrf_token = token(session, desk)
    refused = session.post(desk.url + "/evidence", data={"report": str(sample.ids["photo"])},
                           timeout=30)
    assert refused.status_code == 403 and "Content-Disposition" not in refused.headers
    for bad in (["999999"], ["1; DROP"], []):
        answer = session.post(desk.url + "/evidence", data={
            "csrf_token": csrf_token, "report": bad}, timeout=30)
        assert answer.status_code in (400, 404) and "Content-Disposition" not in answer.headers
    locked = requests.Session().post(desk.url + "/evidence", data={
        "report": str(sample.ids["photo"])}, timeout=30, allow_redirects=False)
    assert locked.status_code in (303, 403) and "Content-Disposition" not in locked.headers


def test_unzip_lists_every_member_of_a_package(desk: Desk, sample: Sample,
                                                tmp_path: Path) -> None:
    """Info-ZIP's own test of the archive (CRCs of every entry, data descriptors)."""
    if shutil.which("unzip") is None:
        pytest.skip("no unzip")
    session = unlocked_session(desk)
    answer = session.post(desk.url + "/evidence", data={
        "csrf_token": token(session, desk), "report": str(sample.ids["photo"])}, timeout=60)
    (tmp_path / "p.zip").write_bytes(answer.content)
    done = subprocess.run(["unzip", "-t", str(tmp_path / "p.zip")], capture_output=True,
                          timeout=60, check=False)
    assert done.returncode == 0 and b"No errors detected" in done.stdout, done.stdout


def test_locking_the_desk_stops_a_package_half_way(station: Station, tmp_path: Path) -> None:
    """The stream checks the lock between chunks: the browser keeps a download that
    no unzip tool opens, never an archive that looks whole."""
    video = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + hashlib.shake_256(
        b"long video").digest(48 << 20)
    add_report(station, {"description": "a long video", "incident_types": ["other"],
                         "contact": "none"}, files=[("night.mp4", video)])
    made = make_sample(station, tmp_path)
    with ReviewDB.open(made.path, REVIEW_PASSPHRASE) as db:
        video_id = db.connection.execute(
            "SELECT id FROM reports WHERE description = 'a long video'").fetchone()[0]
    desk = start_desk(made.path, tmp_path)
    try:
        session = unlocked_session(desk)
        csrf_token = token(session, desk)
        received = 0
        with session.post(desk.url + "/evidence", data={
                "csrf_token": csrf_token, "report": str(video_id)},
                timeout=60, stream=True) as answer:
            assert answer.status_code == 200
            chunks = answer.iter_content(1 << 16)
            received += len(next(chunks))
            locker = requests.Session()
            locker.cookies = session.cookies
            assert locker.post(desk.url + "/lock", data={"csrf_token": csrf_token},
                               timeout=30).status_code == 200
            with pytest.raises(requests.exceptions.RequestException):
                for chunk in chunks:
                    received += len(chunk)
        assert received < len(video)
        assert "evidence package stopped half way: Stopped" in desk.output()
    finally:
        desk.stop()


def test_a_report_a_reviewer_marked_sensitive_asks_before_it_is_exported(
        desk: Desk, sample: Sample) -> None:
    """The reviewer's own mark (the Verification panel) is a reason of its own: the
    photo report tells of nothing the monitor's answers make sensitive."""
    session = unlocked_session(desk)
    photo = str(sample.ids["photo"])
    plain = session.post(desk.url + "/evidence", data={
        "csrf_token": token(session, desk), "report": photo}, timeout=120)
    is_download(plain, ".zip")  # not sensitive yet: no question asked
    named = session.post(desk.url + "/reviewer", data={
        "csrf_token": token(session, desk), "reviewer": "Amina"}, timeout=30)
    assert named.status_code == 200, named.status_code
    marked = session.post(f"{desk.url}/reports/{photo}/sensitive", data={
        "csrf_token": token(session, desk), "sensitive": "1"}, timeout=30,
        allow_redirects=False)
    assert marked.status_code == 303 and "done=saved" in marked.headers["Location"]
    ask = session.post(desk.url + "/evidence", data={
        "csrf_token": token(session, desk), "report": photo}, timeout=120)
    assert "Content-Disposition" not in ask.headers
    assert "a reviewer marked it sensitive" in ask.text
    # Unmarked again (it is the module's shared desk): packaged without a question.
    session.post(f"{desk.url}/reports/{photo}/sensitive", data={
        "csrf_token": token(session, desk), "sensitive": "0"}, timeout=30)
    is_download(session.post(desk.url + "/evidence", data={
        "csrf_token": token(session, desk), "report": photo}, timeout=120), ".zip")
