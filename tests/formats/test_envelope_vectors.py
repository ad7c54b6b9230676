"""Every file in tests/vectors/envelope/ opens (or fails) exactly as it says.

The vectors are written by an independent writer (``generate.py`` in that
folder), so they check ``reporter.data`` against the spec, not against
itself. See tests/vectors/envelope/README.md for the file format.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from reporter.errors import (
    FormatError,
    Malformed,
    NotARecipient,
    Tampered,
    Truncated,
    UnknownVersion,
)
from reporter.formats import envelope
from tests.vectorfile import load, vector_files

VECTORS = Path(__file__).parents[1] / "vectors" / "envelope"

EXPECTED_ERRORS: dict[str, type[FormatError]] = {
    "not-a-recipient": NotARecipient,
    "truncated": Truncated,
    "tampered": Tampered,
    "unknown-version": UnknownVersion,
    "malformed": Malformed,
}

# The cases the brief requires; the folder may hold more, never fewer.
REQUIRED = {
    "ok", "ok-second-of-three-recipients", "ok-multi-chunk", "ok-empty-body",
    "wrong-recipient", "truncated-in-header", "truncated-last-chunk",
    "truncated-at-chunk-boundary", "trailing-bytes", "flipped-byte-in-magic",
    "flipped-byte-in-stanza", "flipped-byte-in-padded-length",
    "flipped-byte-in-secretstream-header", "flipped-byte-in-payload", "swapped-chunks",
    "unknown-version", "zero-recipients", "nonzero-padding", "header-length-lies",
}


def test_the_required_cases_are_all_there() -> None:
    names = {p.name for p in vector_files(VECTORS)}
    assert REQUIRED <= names, sorted(REQUIRED - names)


@pytest.mark.parametrize("path", vector_files(VECTORS), ids=lambda p: p.name)
def test_vector(path: Path) -> None:
    vector = load(path)
    allowed = {"expect", "identity", "comment"} | (
        {"body-sha256", "body-length"} if vector.expect == "ok" else set()
    )
    assert set(vector.header) <= allowed, f"unknown header keys {set(vector.header) - allowed}"
    assert {"expect", "identity", "comment"} <= set(vector.header)

    if vector.expect == "ok":
        body = envelope.open_envelope(vector.data, vector.identity)
        assert len(body) == int(vector.header["body-length"])
        assert hashlib.sha256(body).hexdigest() == vector.header["body-sha256"]
        # A valid envelope also passes the key-less checks, with consistent numbers.
        info = envelope.inspect(vector.data)
        assert info.total_length == len(vector.data)
    else:
        error = EXPECTED_ERRORS[vector.expect]
        with pytest.raises(FormatError) as raised:
            envelope.open_envelope(vector.data, vector.identity)
        assert type(raised.value) is error, (
            f"{vector.name}: expected {error.__name__}, got "
            f"{type(raised.value).__name__}: {raised.value}"
        )
