"""reporter.formats.attachment: RPTR-ATT v1, a file sealed while it streams in."""

from __future__ import annotations

import hashlib
import os

import nacl.bindings as sodium
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reporter.errors import Malformed, Tampered, Truncated, UnknownVersion
from reporter.formats import attachment
from reporter.formats.attachment import (
    CHUNK,
    HEADER_BYTES,
    Reader,
    Writer,
    ciphertext_size,
    padded_size,
)

FILE_KEY = bytes(range(32))


def seal(data: bytes, index: int = 0, piece: int = 7777) -> tuple[bytes, attachment.Sealed]:
    out: list[bytes] = []
    writer = Writer(FILE_KEY, index, out.append)
    for start in range(0, len(data), piece):
        writer.write(data[start : start + piece])
    sealed = writer.finish()
    return b"".join(out), sealed


def open_all(ct: bytes, sealed: attachment.Sealed, index: int = 0, key: bytes = FILE_KEY,
             piece: int = 1000) -> bytes:
    reader = Reader(key, index, sealed.size, sealed.sha256, sealed.ciphertext_hash)
    return b"".join(reader.read(ct[i : i + piece] for i in range(0, len(ct), piece)))


@pytest.mark.parametrize("size", [1, 4095, 4096, 4097, CHUNK - 1, CHUNK, CHUNK + 1,
                                  3 * CHUNK, 3 * CHUNK + 5, 1_000_000])
def test_round_trip_at_every_boundary(size: int) -> None:
    data = os.urandom(size)
    ct, sealed = seal(data)
    assert len(ct) == ciphertext_size(size) == sealed.ciphertext_size
    assert sealed.sha256 == hashlib.sha256(data).digest()
    assert sealed.ciphertext_hash == attachment.ciphertext_hash(ct)
    assert open_all(ct, sealed) == data


@settings(max_examples=30, deadline=None)
@given(data=st.binary(min_size=1, max_size=200_000), piece=st.integers(1, 100_000),
       read_piece=st.integers(1, 100_000))
def test_any_piece_sizes_give_the_same_result(data: bytes, piece: int, read_piece: int) -> None:
    ct, sealed = seal(data, piece=piece)
    assert open_all(ct, sealed, piece=read_piece) == data


def test_padme_hides_all_but_the_top_bits_and_costs_at_most_12_percent() -> None:
    assert padded_size(1) == padded_size(4096) == 4096
    assert padded_size(3_000_000) == 3_014_656
    assert padded_size(1 << 30) == 1 << 30
    for n in [5000, 123_457, 9_999_999, 500_000_000, 3 * 10**9]:
        p = padded_size(n)
        assert n <= p <= n * 1.12
        exponent = p.bit_length() - 1
        kept = exponent.bit_length()
        assert p % (1 << (exponent - kept)) == 0


def test_the_plaintext_is_not_in_the_ciphertext() -> None:
    canary = b"CANARY-IN-A-PHOTO-" * 5000
    ct, _ = seal(canary)
    assert b"CANARY" not in ct


def test_the_header_names_only_format_version_and_index() -> None:
    ct, _ = seal(b"x" * 10, index=7)
    assert ct[:10] == b"RPTR-ATT\x01\x07"


# --- every way to break it is named --------------------------------------------------

DATA = os.urandom(3 * CHUNK + 100)
CT, SEALED = seal(DATA)


def test_every_byte_flip_is_detected() -> None:
    for position in [*range(0, HEADER_BYTES + 40), len(CT) // 2, len(CT) - 1]:
        broken = bytearray(CT)
        broken[position] ^= 0x01
        with pytest.raises((Tampered, Malformed, UnknownVersion)):
            open_all(bytes(broken), SEALED)


@pytest.mark.parametrize("cut", [0, 10, HEADER_BYTES, HEADER_BYTES + CHUNK + 17,
                                 len(CT) - 1])
def test_truncation_is_named(cut: int) -> None:
    with pytest.raises(Truncated, match="cut short"):
        open_all(CT[:cut], SEALED)


def test_extra_bytes_are_refused() -> None:
    with pytest.raises(Malformed, match="longer than its envelope says"):
        open_all(CT + b"\x00", SEALED)


def test_a_swapped_attachment_is_named() -> None:
    other, other_sealed = seal(DATA, index=1)
    with pytest.raises(Tampered, match="swapped"):
        open_all(other, other_sealed, index=0)


def test_another_reports_key_fails() -> None:
    with pytest.raises(Tampered, match="does not authenticate"):
        open_all(CT, SEALED, key=bytes(32))


def test_a_wrong_hash_in_the_envelope_fails_after_decryption() -> None:
    reader = Reader(FILE_KEY, 0, SEALED.size, bytes(32), SEALED.ciphertext_hash)
    with pytest.raises(Tampered, match="SHA-256"):
        b"".join(reader.read([CT]))
    reader = Reader(FILE_KEY, 0, SEALED.size, SEALED.sha256, bytes(32))
    with pytest.raises(Tampered, match="hash its envelope records"):
        b"".join(reader.read([CT]))


def test_non_zero_padding_is_refused() -> None:
    """A writer that pads with garbage: built here from libsodium directly."""
    key = attachment.attachment_key(FILE_KEY, 0)
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    ss_header = sodium.crypto_secretstream_xchacha20poly1305_init_push(state, key)
    header = b"RPTR-ATT\x01\x00" + ss_header
    plaintext = b"hello" + b"\x01" * (4096 - 5)
    ct = header + sodium.crypto_secretstream_xchacha20poly1305_push(
        state, plaintext, header, attachment.TAG_FINAL)
    reader = Reader(FILE_KEY, 0, 5, hashlib.sha256(b"hello").digest(),
                    attachment.ciphertext_hash(ct))
    with pytest.raises(Malformed, match="padding"):
        b"".join(reader.read([ct]))


def test_a_wrong_version_is_named() -> None:
    broken = bytearray(CT)
    broken[8] = 2
    with pytest.raises(UnknownVersion):
        open_all(bytes(broken), SEALED)
