"""Importing bundles from the review desk's page, against a real ``review serve
--key``: the upload is streamed by the desk itself (nothing in the temporary folder,
a 0700 staging folder emptied after), a background import whose page refreshes
itself, the result as a banner, and hostile bundles refused with the importer's
message and nothing of them kept."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from reporter.formats.chain import chain_link
from reporter.formats.manifest import Manifest
from reporter.review.db import ReviewDB
from tests.conftest import Station, add_reports, free_port
from tests.desk import Desk, csrf, export, start_desk, unlocked_session
from tests.e2e.test_hostile_bundles import envelopes_of, forge
from tests.reviewing import KEY_PASSPHRASE, REVIEW_PASSPHRASE, new_review_db

pytestmark = pytest.mark.slow


@pytest.fixture
def review_db(tmp_path: Path) -> Path:
    return new_review_db(tmp_path / "review.db")


@pytest.fixture
def desk(review_db: Path, tmp_path: Path, key_file: Path) -> Iterator[Desk]:
    (tmp_path / "tmp").mkdir(exist_ok=True)
    running = start_desk(review_db, tmp_path, "--key", str(key_file),
                         env={"TMPDIR": str(tmp_path / "tmp")})
    yield running
    running.stop()


def upload(session: requests.Session, desk: Desk, paths: list[tuple[str, bytes]],
           passphrase: str = KEY_PASSPHRASE, token: str | None = None) -> requests.Response:
    page = session.get(desk.url + "/import", timeout=30)
    assert page.status_code == 200
    data = {"csrf_token": csrf(page.text) if token is None else token,
            "key_passphrase": passphrase}
    return session.post(desk.url + "/import", data=data,
                        files=[("bundle", (name, content, "application/octet-stream"))
                               for name, content in paths],
                        timeout=120, allow_redirects=False)


def finished(session: requests.Session, desk: Desk, answer: requests.Response) -> str:
    """Follow the import's page (it refreshes itself) until it says it has finished."""
    assert answer.status_code == 303, answer.text[:500]
    url = desk.url + answer.headers["Location"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        text = session.get(url, timeout=30).text
        if 'http-equiv="refresh"' not in text:
            assert "Import finished" in text
            return text
        assert re.search(r"Bundle \d+ of \d+", text)
        time.sleep(0.2)
    raise AssertionError("the import did not finish in 120 s")



def reports(review_db: Path) -> int:
    with ReviewDB.open(review_db, REVIEW_PASSPHRASE) as db:
        return int(db.connection.execute("SELECT count(*) FROM reports").fetchone()[0])


def staged_files(review_db: Path) -> list[Path]:
    folder = review_db.with_name(review_db.name + ".import")
    return list(folder.iterdir()) if folder.exists() else []


def test_bundles_are_imported_from_the_page_and_hostile_ones_refused(
        station: Station, desk: Desk, review_db: Path, tmp_path: Path) -> None:
    add_reports(station, 3, text="first batch")
    first = export(station, tmp_path / "1.rptr")
    add_reports(station, 2, text="second batch")
    second = export(station, tmp_path / "2.rptr")
    altered = bytearray(second.read_bytes())
    altered[len(altered) // 2] ^= 0x01
    envelopes = envelopes_of(first, station)

    def drop_the_last(m: Manifest) -> Manifest:
        head = m.chain_before
        for seq, envelope in enumerate(envelopes[:2], m.first_seq):
            head = chain_link(head, seq, envelope)
        return Manifest(**{**m.__dict__, "chain_head": head})

    forged = forge(station, first, tmp_path / "forged.rptr", drop_the_last)
    session = unlocked_session(desk)
    answer = upload(session, desk, [
        ("forged.rptr", forged.read_bytes()),
        ("<b>2</b>\u202e.rptr", second.read_bytes()),
        ("altered.rptr", bytes(altered)),
        ("notes.txt", b"not a bundle at all"),
    ])
    result = finished(session, desk, answer)
    # Bundle 2 first: a new station, pinned, two reports, and bundle 1 missing.
    assert "New station" in result and "its signing key is now pinned" in result
    assert "2 reports added" in result
    assert "missing bundles: 1" in result
    assert "&lt;b&gt;2&lt;/b&gt;" in result and "<b>2</b>" not in result
    assert "\u202e" not in result
    # The refused ones: the importer's message, named by the file the reviewer chose.
    assert result.count("Refused; nothing of it was kept.") == 3
    assert "the reports do not rebuild the signed hash chain" in result
    assert "the bundle was altered" in result and "not a reporter bundle" in result
    assert "altered.rptr" in result and str(tmp_path) not in result
    assert reports(review_db) == 2
    assert staged_files(review_db) == []
    assert list((tmp_path / "tmp").iterdir()) == []  # nothing spooled by Werkzeug
    folder = review_db.with_name(review_db.name + ".import")
    assert folder.stat().st_mode & 0o777 == 0o700
    # Then bundle 1, and bundle 2 again (a replay: nothing added).
    result = finished(session, desk, upload(session, desk, [
        ("1.rptr", first.read_bytes()), ("2.rptr", second.read_bytes())]))
    assert "3 reports added" in result and "already imported: nothing added" in result
    assert "missing bundles: none" in result and "New station" not in result
    assert reports(review_db) == 5
    assert staged_files(review_db) == []


def test_a_wrong_key_passphrase_imports_nothing(station: Station, desk: Desk,
                                                review_db: Path, tmp_path: Path) -> None:
    add_reports(station, 1)
    bundle = export(station, tmp_path / "1.rptr")
    session = unlocked_session(desk)
    result = finished(session, desk, upload(session, desk, [("1.rptr", bundle.read_bytes())],
                                            passphrase="not the passphrase"))
    assert "Wrong passphrase" in result and reports(review_db) == 0
    assert staged_files(review_db) == []
    assert "not the passphrase" not in desk.output()


def test_an_upload_without_the_token_writes_nothing(station: Station, desk: Desk,
                                                    review_db: Path, tmp_path: Path) -> None:
    add_reports(station, 1)
    bundle = export(station, tmp_path / "1.rptr")
    session = unlocked_session(desk)
    answer = upload(session, desk, [("1.rptr", bundle.read_bytes())], token="0" * 64)
    assert answer.status_code == 403
    assert staged_files(review_db) == [] and reports(review_db) == 0
    # Not unlocked: sent to the unlock page before the body is read.
    stranger = requests.post(desk.url + "/import", files=[("bundle", ("1.rptr", b"x"))],
                             timeout=30, allow_redirects=False)
    assert stranger.status_code == 303 and "/unlock" in stranger.headers["Location"]
    assert staged_files(review_db) == []


def test_the_upload_bound_is_checked_before_reading(
        station: Station, review_db: Path, tmp_path: Path, key_file: Path) -> None:
    desk = start_desk(review_db, tmp_path, "--key", str(key_file), "--max-import-mb", "1")
    try:
        session = unlocked_session(desk)
        answer = upload(session, desk, [("big.rptr", b"\0" * (3 << 19))])
        assert answer.status_code == 413 and "larger than the desk accepts" in answer.text
        assert staged_files(review_db) == []
        # Other forms keep their 64 KiB bound.
        inbox = session.get(desk.url + "/", timeout=30)
        big = session.post(desk.url + "/language", data={
            "csrf_token": csrf(inbox.text), "lang": "fr", "pad": "x" * (128 * 1024)},
            timeout=30)
        assert big.status_code == 413
    finally:
        desk.stop()


def test_without_a_key_file_the_page_says_how_to_start(review_db: Path,
                                                       tmp_path: Path) -> None:
    desk = start_desk(review_db, tmp_path)
    try:
        session = unlocked_session(desk)
        page = session.get(desk.url + "/import", timeout=30)
        assert page.status_code == 200 and "reporter review serve --key" in page.text
        assert 'type="file"' not in page.text
    finally:
        desk.stop()


def test_an_empty_file_field_is_no_bundle(desk: Desk, review_db: Path) -> None:
    session = unlocked_session(desk)
    answer = upload(session, desk, [("", b"")])
    assert answer.status_code == 400 and "Choose one or more bundle files" in answer.text
    assert staged_files(review_db) == [] and reports(review_db) == 0


def test_serve_refuses_a_key_file_it_cannot_read(review_db: Path, tmp_path: Path) -> None:
    """Said when the desk starts, not at the first import."""
    import subprocess
    import sys

    (tmp_path / "not-a-key").write_text("hello")
    for path in (tmp_path / "missing.key", tmp_path / "not-a-key"):
        done = subprocess.run(
            [sys.executable, "-m", "reporter", "review", "--review-db", str(review_db),
             "serve", "--port", str(free_port()), "--key", str(path)],
            capture_output=True, timeout=60, check=False)
        assert done.returncode == 1 and str(path.name).encode() in done.stderr, done.stderr
        assert b"Traceback" not in done.stderr
