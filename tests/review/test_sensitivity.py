"""The one predicate that makes an export ask for confirmation, and the archive-path
check of evidence packages."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from reporter.formats.report import AttachmentInfo, Report
from reporter.review import evidence, files, sensitivity, workflow
from reporter.review.db import ReviewDB
from tests.review.test_reviewquery import REVIEW_PASSPHRASE, STATION_A


def report(**fields: object) -> Report:
    return Report(kind="incident", receipt="ABCD-EFGH-JKLM", locale="en",
                  submitted="2026-03-01", fields=dict(fields))


SEQ = iter(range(1, 10_000))


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReviewDB]:
    path: Path = tmp_path_factory.mktemp("sensitivity") / "review.db"
    with ReviewDB.create(path, REVIEW_PASSPHRASE) as opened:
        opened.pin_station(STATION_A, b"\x01" * 32)
        yield opened


@pytest.mark.parametrize(("fields", "expected"), [
    ({"description": "x", "contact": "none"}, ()),
    ({"contact": "contact"}, ("contact",)),
    ({"contact": "none", "contact_details": "+243 81 000 0000"}, ("contact",)),
    ({"contact_details": "   "}, ()),
    ({"incident_types": ["shooting", "child-labour"]}, ("type:child-labour",)),
    ({"incident_types": ["child-labour", "sexual-violence"], "contact": "contact"},
     ("contact", "type:sexual-violence", "type:child-labour")),
    ({"incident_types": "sexual-violence"}, ()),  # not a list: not a ticked type
])
def test_reasons(db: ReviewDB, fields: dict[str, object], expected: tuple[str, ...]) -> None:
    stored = report(**fields)
    report_id = db.add_report(STATION_A, next(SEQ), os.urandom(32), stored)
    assert sensitivity.reasons(db, report_id, stored) == expected


def test_a_reviewers_mark_is_the_first_reason_and_unmarking_removes_it(db: ReviewDB) -> None:
    stored = report(contact="contact")
    report_id = db.add_report(STATION_A, next(SEQ), os.urandom(32), stored)
    workflow.set_sensitive(db, report_id, True, "Amina")
    assert sensitivity.reasons(db, report_id, stored) == (sensitivity.MARKED, "contact")
    workflow.set_sensitive(db, report_id, False, "Amina")
    assert sensitivity.reasons(db, report_id, stored) == ("contact",)


@pytest.mark.parametrize("path", [
    "", "/etc/passwd", "../x", "a/../b", "a//b", "a\\b", "C:x", "a/\x00", "a/\u202eb",
    "a/./b", "x" * 256,
])
def test_unsafe_archive_paths_are_refused(path: str) -> None:
    with pytest.raises(evidence.UnsafeName):
        evidence.member(path)


def test_safe_archive_paths_pass() -> None:
    assert evidence.member("reports/7/originals/1-photo.jpg") == (
        "reports/7/originals/1-photo.jpg")
    assert evidence.member("reports/7/originals/1-" + "é" * 100 + ".jpg")


@pytest.mark.parametrize("name", [
    "../../x", "/etc/passwd", "a\\b", "nul\x00byte.jpg", "\u202egpj.exe", "x" * 300,
    "é" * 300, ".html", "..", "C:\\Windows\\evil.jpg", "con", "a/b/../../c.jpg", " . ",
    "=HYPERLINK(\"http://x\")", "\u200f\u2066x\u2069.jpg",
])
@pytest.mark.parametrize("media", ["image/jpeg", "text/html", None])
def test_every_sent_name_becomes_one_safe_archive_name(name: str, media: str | None) -> None:
    """What ``evidence.build`` does with a name (``files.file_name``, then ``member``),
    for names the format itself would refuse too (300 characters)."""
    info = AttachmentInfo(2, name, "image/jpeg", 10, bytes(32), 10, bytes(32))
    path = evidence.member(f"reports/7/originals/{files.file_name(info, media)}")
    leaf = path.rsplit("/", 1)[1]
    assert path.count("/") == 3 and leaf.startswith("3-")
    assert len(leaf.encode()) <= files.NAME_MAX and not leaf.endswith((".html", ".htm"))
