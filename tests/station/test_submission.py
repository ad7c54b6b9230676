"""reporter.station.submission: attachments sealed as they arrive, limits, refusals, clean-up."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from reporter.formats import attachment, envelope
from reporter.formats.chain import envelope_hash
from reporter.formats.crypto import RecipientPrivateKey
from reporter.formats.report import Report
from reporter.station.intake import build_report
from reporter.station.submission import (
    PROBLEM_COUNT,
    PROBLEM_TOO_LARGE,
    PROBLEM_TYPE,
    Draft,
    Limits,
    clean_name,
)
from reporter.storage.blobs import BlobStore

JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + os.urandom(200_000)
PDF = b"%PDF-1.7\n" + b"x" * 5000
KEY = bytes(range(32))


@pytest.fixture
def blobs(tmp_path: Path):  # type: ignore[no-untyped-def]
    with BlobStore.open(tmp_path, KEY) as store:
        yield store


def draft(blobs: BlobStore, max_bytes: int = 10_000_000, max_count: int = 5) -> Draft:
    return Draft(blobs, Limits(max_bytes=max_bytes, max_count=max_count))


def test_a_report_with_attachments_round_trips_byte_exact(blobs: BlobStore) -> None:
    reviewer = RecipientPrivateKey.generate()
    d = draft(blobs)
    d.add("IMG_0001.jpg", JPEG)
    d.add("../../etc/statement.pdf", PDF)
    report = build_report({"description": "x"}, "en")
    report = Report(**{**report.__dict__, "attachments": d.attachments()})
    sealed = d.seal(report, [reviewer.public_key])
    d.close()
    body, file_key = envelope.open_envelope_with_key(sealed, reviewer)
    opened = Report.from_body(body)
    assert [a.name for a in opened.attachments] == ["IMG_0001.jpg", "statement.pdf"]
    assert [a.type for a in opened.attachments] == ["image/jpeg", "application/pdf"]
    uploads = blobs.uploads_for(envelope_hash(sealed))
    assert len(uploads) == 2
    for info, upload, original in zip(opened.attachments, uploads, [JPEG, PDF], strict=True):
        assert info.sha256 == hashlib.sha256(original).digest()
        reader = attachment.Reader(file_key, info.index, info.size, info.sha256,
                                   info.ciphertext_hash)
        assert b"".join(reader.read(blobs.read(upload.id))) == original
        assert upload.length == info.ciphertext_size


def test_the_stored_bytes_are_ciphertext_only(blobs: BlobStore, tmp_path: Path) -> None:
    canary = b"CANARY-ATTACHMENT-" * 1000
    d = draft(blobs)
    d.add("note.pdf", b"%PDF-1.4\n" + canary)
    d.seal(build_report({}, "en"), [RecipientPrivateKey.generate().public_key])
    d.close()
    for path in tmp_path.iterdir():
        assert b"CANARY-ATTACHMENT" not in path.read_bytes(), path


def test_a_refused_kind_of_file_is_dropped_and_named(blobs: BlobStore) -> None:
    d = draft(blobs)
    item = d.add("run-me.exe", b"MZ\x90\x00" + b"\x00" * 5000)
    assert item.problem == PROBLEM_TYPE and d.problems == [("run-me.exe", PROBLEM_TYPE)]
    assert d.attachments() == () and blobs.upload_count() == 0


def test_files_beyond_the_size_limit_are_refused_and_their_space_reclaimed(
        blobs: BlobStore) -> None:
    d = draft(blobs, max_bytes=150_000)
    small = d.add("small.pdf", PDF)
    big = d.add("big.jpg", JPEG)
    assert small.problem is None and big.problem == PROBLEM_TOO_LARGE
    assert d.received == len(PDF)
    assert [a.name for a in d.attachments()] == ["small.pdf"]
    assert blobs.upload_count() == 1


def test_files_beyond_the_count_limit_are_refused(blobs: BlobStore) -> None:
    d = draft(blobs, max_count=2)
    items = [d.add(f"{i}.pdf", PDF) for i in range(3)]
    assert [i.problem for i in items] == [None, None, PROBLEM_COUNT]
    assert [a.index for a in d.attachments()] == [0, 1]


def test_an_unsent_draft_leaves_nothing(blobs: BlobStore) -> None:
    d = draft(blobs)
    d.add("a.jpg", JPEG)
    half = d.incoming("b.jpg")
    half.write(JPEG[:100_000])  # the connection dropped here
    assert blobs.upload_count() == 2
    d.close()
    assert blobs.upload_count() == 0 and d.file_key == b""


def test_an_empty_file_input_is_ignored(blobs: BlobStore) -> None:
    d = draft(blobs)
    empty = d.incoming("")
    empty.finish()
    assert empty.empty and empty.problem is None and d.attachments() == ()


def test_a_tiny_file_is_still_typed_and_sealed(blobs: BlobStore) -> None:
    d = draft(blobs)
    item = d.add("t.pdf", b"%PDF-1.1")
    assert item.problem is None and item.info().size == 8


@pytest.mark.parametrize(("raw", "clean"), [
    ("photo.jpg", "photo.jpg"),
    ("C:\\Users\\monitor\\DCIM\\photo.jpg", "photo.jpg"),
    ("../../etc/passwd", "passwd"),
    ("a\x00b\x1b[31mc\u202e.jpg", "ab[31mc.jpg"),
    ("", "attachment-1"),
    ("...", "attachment-1"),
    ("e\u0301.jpg", "\u00e9.jpg"),
    ("x" * 300, "x" * 255),
])
def test_file_names_are_cleaned(raw: str, clean: str) -> None:
    assert clean_name(raw, "attachment-1") == clean


def test_a_tiny_refused_file_is_named_even_before_the_draft_is_sealed(
        blobs: BlobStore) -> None:
    d = draft(blobs)
    item = d.incoming("script.sh")
    item.write(b"#!/bin/sh\necho hi\n")  # shorter than the bytes needed to type it
    assert d.problems == [("script.sh", PROBLEM_TYPE)]
