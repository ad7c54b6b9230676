"""Every file in tests/vectors/envelope/ opens (or fails) exactly as it says.

The vectors are written by an independent writer (``generate.py`` in that
folder), so they check ``reporter.envelope`` against the spec, not against
itself. See tests/vectors/envelope/README.md for the file format.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from reporter import envelope
from reporter.crypto import RecipientPrivateKey
from reporter.errors import (
    FormatError,
    Malformed,
    NotARecipient,
    Tampered,
    Truncated,
    UnknownVersion,
)

VECTORS = Path(__file__).parent / "vectors" / "envelope"

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


@dataclass(frozen=True)
class Vector:
    name: str
    header: dict[str, str]
    envelope: bytes

    @property
    def expect(self) -> str:
        return self.header["expect"]

    @property
    def identity(self) -> RecipientPrivateKey:
        return RecipientPrivateKey(bytes.fromhex(self.header["identity"]))


def load(path: Path) -> Vector:
    data = path.read_bytes()
    head, separator, body = data.partition(b"\n\n")
    assert separator, f"{path.name}: no blank line after the header"
    header: dict[str, str] = {}
    for line in head.decode("utf-8").split("\n"):
        key, colon, value = line.partition(": ")
        assert colon and key and value, f"{path.name}: bad header line {line!r}"
        assert key not in header, f"{path.name}: {key} appears twice"
        header[key] = value
    return Vector(path.name, header, body)


def vector_files() -> list[Path]:
    return sorted(p for p in VECTORS.iterdir() if p.is_file() and "." not in p.name)


def test_the_required_cases_are_all_there() -> None:
    names = {p.name for p in vector_files()}
    assert REQUIRED <= names, sorted(REQUIRED - names)


@pytest.mark.parametrize("path", vector_files(), ids=lambda p: p.name)
def test_vector(path: Path) -> None:
    vector = load(path)
    allowed = {"expect", "identity", "comment"} | (
        {"body-sha256", "body-length"} if vector.expect == "ok" else set()
    )
    assert set(vector.header) <= allowed, f"unknown header keys {set(vector.header) - allowed}"
    assert {"expect", "identity", "comment"} <= set(vector.header)

    if vector.expect == "ok":
        body = envelope.open_envelope(vector.envelope, vector.identity)
        assert len(body) == int(vector.header["body-length"])
        assert hashlib.sha256(body).hexdigest() == vector.header["body-sha256"]
        # A valid envelope also passes the key-less checks, with consistent numbers.
        info = envelope.inspect(vector.envelope)
        assert info.total_length == len(vector.envelope)
    else:
        error = EXPECTED_ERRORS[vector.expect]
        with pytest.raises(FormatError) as raised:
            envelope.open_envelope(vector.envelope, vector.identity)
        assert type(raised.value) is error, (
            f"{vector.name}: expected {error.__name__}, got "
            f"{type(raised.value).__name__}: {raised.value}"
        )
