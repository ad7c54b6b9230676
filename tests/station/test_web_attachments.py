"""Attachments through the form: limits, refusals and messages, nothing kept on failure."""

from __future__ import annotations

import hashlib
import io
import os
from typing import Any

import pytest

from reporter.formats import attachment, envelope
from reporter.formats.chain import envelope_hash
from reporter.formats.report import Report
from reporter.station.app import create_app
from reporter.station.config import load_config
from reporter.storage.blobs import BlobStore
from tests.conftest import Station, form_token, valid_report

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + os.urandom(300_000)
PDF = b"%PDF-1.7\n" + os.urandom(50_000)


def post(client: Any, data: dict[str, Any], path: str = "/") -> Any:
    token = form_token(client.get(path).get_data(as_text=True))
    return client.post(path, data={"form_token": token, **data},
                       content_type="multipart/form-data")


def files(*items: tuple[str, bytes]) -> list[tuple[io.BytesIO, str]]:
    return [(io.BytesIO(data), name) for name, data in items]


def stored(station: Station) -> list[tuple[Report, list[bytes]]]:
    """Every stored report with its attachments, decrypted as a reviewer would."""
    out = []
    with station.store() as store, BlobStore.open(station.path, station.key) as blobs:
        for row in store.reports():
            assert row.envelope is not None
            body, file_key = envelope.open_envelope_with_key(row.envelope, station.reviewer)
            report = Report.from_body(body)
            uploads = blobs.uploads_for(envelope_hash(row.envelope))
            assert len(uploads) == len(report.attachments)
            originals = []
            for info, upload in zip(report.attachments, uploads, strict=True):
                reader = attachment.Reader(file_key, info.index, info.size, info.sha256,
                                           info.ciphertext_hash)
                originals.append(b"".join(reader.read(blobs.read(upload.id))))
            out.append((report, originals))
    return out


def upload_count(station: Station) -> int:
    with BlobStore.open(station.path, station.key) as blobs:
        return blobs.upload_count()


def small_limits_client(station: Station, **overrides: Any) -> Any:
    config = load_config(station.path, station.key, testing=True, **overrides)
    return create_app(config).test_client()


def test_the_form_offers_files_and_says_the_limits(client: Any) -> None:
    page = client.get("/").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page
    assert 'type="file"' in page and "multiple" in page and 'accept="image/*,audio/*' in page
    assert "up to 20 files and 500 MB in all" in page
    french = client.get("/?lang=fr").get_data(as_text=True)
    assert "jusqu’à 20 fichiers et 500 Mo en tout" in french


def test_a_report_with_attachments_reaches_the_reviewer_byte_exact(
        client: Any, station: Station) -> None:
    response = post(client, {**valid_report(), "attachments": files(
        ("IMG_2041.jpg", JPEG), ("DCIM/statement.pdf", PDF))})
    assert response.status_code == 200, response.get_data(as_text=True)
    [(report, originals)] = stored(station)
    assert originals == [JPEG, PDF]
    assert [(a.name, a.type) for a in report.attachments] == [
        ("IMG_2041.jpg", "image/jpeg"), ("statement.pdf", "application/pdf")]
    assert report.attachments[0].sha256 == hashlib.sha256(JPEG).digest()
    assert upload_count(station) == 2


def test_a_follow_up_can_carry_attachments(client: Any, station: Station) -> None:
    post(client, valid_report())
    [(first, _)] = stored(station)
    response = post(client, {"receipt": first.receipt, "description": "photo of the wound",
                             "attachments": files(("wound.jpg", JPEG))}, path="/follow-up")
    assert response.status_code == 200
    follow_up, originals = stored(station)[1]
    assert follow_up.follows == first.receipt and originals == [JPEG]


def test_an_empty_file_input_is_not_an_attachment(client: Any, station: Station) -> None:
    response = post(client, {**valid_report(), "attachments": files(("", b""))})
    assert response.status_code == 200
    [(report, _)] = stored(station)
    assert report.attachments == ()


def test_a_refused_kind_is_named_beside_the_field_and_the_text_is_kept(
        client: Any, station: Station) -> None:
    response = post(client, {**valid_report(description="keep these words"),
                             "attachments": files(("photo.jpg", JPEG), ("tool.exe", b"MZ" * 99))})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "‘tool.exe’ was not accepted: only photos, sound, video, PDF and documents" in page
    assert 'id="attachments-error"' in page and 'aria-invalid="true"' in page
    assert "keep these words" in page
    assert "Please choose them again" in page, "the accepted photo was dropped too"
    assert stored(station) == [] and upload_count(station) == 0


def test_a_file_over_the_size_limit_is_refused_and_the_text_kept(station: Station) -> None:
    client = small_limits_client(station, max_attachment_bytes=400_000)
    response = post(client, {**valid_report(description="keep me"),
                             "attachments": files(("a.jpg", JPEG), ("b.jpg", JPEG))})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "‘b.jpg’ was not accepted: all files together may be at most 0.4 MB." in page
    assert "up to 20 files and 0.4 MB in all" in page
    assert "keep me" in page
    assert stored(station) == [] and upload_count(station) == 0


def test_files_beyond_the_count_limit_are_refused(station: Station) -> None:
    client = small_limits_client(station, max_attachments=2)
    response = post(client, {**valid_report(), "attachments": files(
        ("1.pdf", PDF), ("2.pdf", PDF), ("3.pdf", PDF))})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Too many files were chosen: at most 2 can be sent with one report." in page
    assert "‘3.pdf’" not in page, "one message for all the files over the count"
    assert upload_count(station) == 0


def test_a_form_error_drops_the_files_and_says_so(client: Any, station: Station) -> None:
    response = post(client, {**valid_report(description=""),
                             "attachments": files(("a.pdf", PDF))})
    assert response.status_code == 400
    assert "Please choose them again" in response.get_data(as_text=True)
    assert upload_count(station) == 0


def test_an_expired_form_keeps_nothing(client: Any, station: Station) -> None:
    response = client.post("/", data={**valid_report(), "attachments": files(("a.pdf", PDF))},
                           content_type="multipart/form-data")
    assert response.status_code == 400
    assert upload_count(station) == 0


def test_thousands_of_tiny_files_are_refused_with_the_text_kept(client: Any,
                                                                station: Station) -> None:
    """Parsing stops at the part limit (the rest is read and dropped): no parse of
    thousands of parts, and every text field, sent before the files, is kept."""
    many = files(*[(f"{i}.pdf", b"%PDF-1") for i in range(2000)])
    response = post(client, {**valid_report(description="keep me"), "attachments": many})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Too many files were chosen" in page and "keep me" in page
    assert upload_count(station) == 0


def test_more_text_fields_than_the_part_limit_is_a_413(client: Any, station: Station) -> None:
    token = form_token(client.get("/").get_data(as_text=True))
    data = {"form_token": token, **valid_report(), **{f"x{i}": "y" for i in range(300)}}
    response = client.post("/", data=data, content_type="multipart/form-data")
    assert response.status_code == 413
    assert "too large" in response.get_data(as_text=True)
    assert upload_count(station) == 0


def test_a_body_larger_than_every_limit_is_refused_before_it_is_read(station: Station) -> None:
    client = small_limits_client(station, max_attachment_bytes=100_000)
    limit = client.application.config["MAX_CONTENT_LENGTH"]
    response = client.post("/", data=b"x" * 10, headers={
        "Content-Type": "multipart/form-data; boundary=b"},
        environ_overrides={"CONTENT_LENGTH": str(limit + 1)})
    assert response.status_code == 413


def test_with_attachments_switched_off_files_are_dropped(station: Station) -> None:
    client = small_limits_client(station, max_attachment_bytes=0)
    assert 'type="file"' not in client.get("/").get_data(as_text=True)
    response = post(client, {**valid_report(), "attachments": files(("a.pdf", PDF))})
    assert response.status_code == 200
    assert not (station.path / "attachments.db").exists()
    [(report, _)] = stored(station)
    assert report.attachments == ()


@pytest.mark.parametrize(("sent", "kept"), [
    ("../../../etc/passwd.pdf", "passwd.pdf"),
    ("a\x00b\x1b.pdf", "ab.pdf"),
    ("\u202egnp.pdf", "gnp.pdf"),
])
def test_file_names_are_cleaned(client: Any, station: Station, sent: str, kept: str) -> None:
    assert post(client, {**valid_report(), "attachments": files((sent, PDF))}).status_code == 200
    [(report, _)] = stored(station)
    assert report.attachments[0].name == kept


class _FailingDisk:
    """Fault injection: a connection whose segment writes fail as on a broken disk, and
    whose ROLLBACK then fails too (SQLite has already rolled back by itself)."""

    def __init__(self, db: Any) -> None:
        self._db = db

    def execute(self, sql: str, *args: Any) -> Any:
        import sqlcipher3.dbapi2 as sqlcipher

        if sql.startswith("INSERT INTO segments"):
            raise sqlcipher.OperationalError("disk I/O error")
        if sql == "ROLLBACK":
            self._db.execute(sql)
            raise sqlcipher.OperationalError("cannot rollback - no transaction is active")
        return self._db.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


def test_a_store_that_fails_mid_upload_answers_503_with_the_text_kept(
        client: Any, station: Station, monkeypatch: pytest.MonkeyPatch) -> None:
    from reporter.storage import blobs, sqlc

    real_connect = sqlc.connect
    monkeypatch.setattr(blobs.sqlc, "connect",
                        lambda *a, **k: _FailingDisk(real_connect(*a, **k)))
    video = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00" + os.urandom(3_000_000)
    response = post(client, {**valid_report(description="keep these words"),
                             "attachments": files(("a.jpg", JPEG), ("b.mp4", video))})
    page = response.get_data(as_text=True)
    assert response.status_code == 503, page
    assert "keep these words" in page and "could not save your report" in page
    monkeypatch.undo()
    assert stored(station) == [] and upload_count(station) == 0
