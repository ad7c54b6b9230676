"""Every file in tests/vectors/attachment/ opens (or fails) exactly as it says.

An RPTR-ATT attachment on its own, with what a reader gets from the report
body: the envelope's file key and the attachment object. The vectors are
written by an independent writer (``generate.py`` in that folder), so they
check ``reporter.formats.attachment`` (and the body's attachment object in
``reporter.formats.report``) against docs/envelope-format.md. See the
folder's README.md.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from reporter.errors import (
    InvalidReport,
    Malformed,
    ReporterError,
    Tampered,
    Truncated,
    UnknownVersion,
)
from reporter.formats import attachment
from reporter.formats.report import AttachmentInfo
from tests.vectorfile import load, vector_files

VECTORS = Path(__file__).parents[1] / "vectors" / "attachment"

EXPECTED_ERRORS: dict[str, type[ReporterError]] = {
    "invalid-report": InvalidReport,
    "truncated": Truncated,
    "malformed": Malformed,
    "unknown-version": UnknownVersion,
    "tampered": Tampered,
}

REQUIRED = {
    "ok", "ok-two-chunks", "ok-exact-chunk", "ciphertext-size-not-from-size",
    "truncated-last-chunk", "trailing-bytes", "flipped-byte-in-magic", "unknown-version",
    "swapped-attachment", "nonzero-padding", "ciphertext-hash-differs", "sha256-differs",
}


def test_the_required_cases_are_all_there() -> None:
    names = {p.name for p in vector_files(VECTORS)}
    assert REQUIRED <= names, sorted(REQUIRED - names)


def open_attachment(file_key: bytes, item: dict[str, object], data: bytes,
                    piece: int) -> bytes:
    """What a reviewer's tools do: parse the body's object, then stream the file through."""
    info = AttachmentInfo.from_json(item, int(item["index"]))  # type: ignore[call-overload]
    reader = attachment.Reader(file_key, info.index, info.size, info.sha256,
                               info.ciphertext_hash)
    pieces = [data[i : i + piece] for i in range(0, len(data), piece)] or [b""]
    return b"".join(reader.read(pieces))


@pytest.mark.parametrize("piece", [1 << 30, 1000], ids=["whole", "in-pieces"])
@pytest.mark.parametrize("path", vector_files(VECTORS), ids=lambda p: p.name)
def test_vector(path: Path, piece: int) -> None:
    vector = load(path)
    assert set(vector.header) == {"expect", "file-key", "attachment", "comment"}
    file_key = bytes.fromhex(vector.header["file-key"])
    item = json.loads(vector.header["attachment"])
    if vector.expect == "ok":
        original = open_attachment(file_key, item, vector.data, piece)
        assert len(original) == item["size"]
        assert hashlib.sha256(original).hexdigest() == item["sha256"]
        assert len(vector.data) == item["ciphertext_size"] == attachment.ciphertext_size(
            item["size"])
    else:
        error = EXPECTED_ERRORS[vector.expect]
        with pytest.raises(ReporterError) as raised:
            open_attachment(file_key, item, vector.data, piece)
        assert type(raised.value) is error, (
            f"{vector.name}: expected {error.__name__}, got "
            f"{type(raised.value).__name__}: {raised.value}")
