"""reporter.formats.envelope: the sealed-report format ``RPTR-ENV`` version 1.

Reads as the spec in docs/envelope-format.md; the cross-implementation
vectors are in tests/formats/test_envelope_vectors.py.
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reporter.errors import (
    FormatError,
    Malformed,
    NotARecipient,
    Tampered,
    Truncated,
    UnknownVersion,
)
from reporter.formats import envelope
from reporter.formats.crypto import RecipientPrivateKey

ALICE = RecipientPrivateKey(bytes(range(32)))
BOB = RecipientPrivateKey(bytes(range(32, 64)))
CAROL = RecipientPrivateKey(bytes(range(64, 96)))
KiB = 1024


def body_of(length: int) -> bytes:
    return bytes((i * 7 + 3) % 256 for i in range(length))


# --- layout -----------------------------------------------------------------


def test_constants_are_the_documented_ones() -> None:
    assert envelope.MAGIC == b"RPTR-ENV"
    assert envelope.VERSION == 1
    assert envelope.FIXED_HEADER.size == 14
    assert envelope.STANZA_BYTES == 80
    assert envelope.SS_HEADER_BYTES == 24
    assert envelope.SS_ABYTES == 17
    assert envelope.CHUNK == 64 * KiB
    assert (envelope.MIN_PADDED, envelope.MAX_PADDED) == (4 * KiB, 4 * KiB * KiB)
    assert envelope.MAX_BODY == 4 * KiB * KiB - 4
    assert envelope.MAX_RECIPIENTS == 64
    assert (envelope.TAG_MESSAGE, envelope.TAG_FINAL) == (0, 3)


def test_the_fixed_header() -> None:
    sealed = envelope.seal(b"hello", [ALICE.public_key, BOB.public_key])
    magic, version, count, padded = struct.unpack_from(">8sBBI", sealed)
    assert (magic, version, count, padded) == (b"RPTR-ENV", 1, 2, 4096)
    info = envelope.inspect(sealed)
    assert info == envelope.EnvelopeInfo(
        version=1, recipients=2, padded_length=4096,
        header_length=14 + 2 * 80 + 24, total_length=len(sealed))


@pytest.mark.parametrize(("body_length", "padded"), [
    (0, 4 * KiB), (1, 4 * KiB), (4092, 4 * KiB), (4093, 8 * KiB), (8188, 8 * KiB),
    (8189, 16 * KiB), (65532, 64 * KiB), (65533, 128 * KiB),
    (envelope.MAX_BODY, 4 * KiB * KiB),
])
def test_padding_buckets(body_length: int, padded: int) -> None:
    """P = max(4 KiB, the next power of two >= body length + 4)."""
    assert envelope.padded_size(body_length) == padded


@pytest.mark.parametrize(("body_length", "recipients"), [
    (0, 1), (1, 1), (4091, 2), (4092, 1), (4093, 1), (65532, 3), (65536, 1), (200_000, 2),
])
def test_sealed_size_is_exact(body_length: int, recipients: int) -> None:
    keys = [ALICE.public_key, BOB.public_key, CAROL.public_key][:recipients]
    sealed = envelope.seal(body_of(body_length), keys)
    assert len(sealed) == envelope.sealed_size(body_length, recipients)
    padded = envelope.padded_size(body_length)
    chunks = -(-padded // (64 * KiB))
    assert len(sealed) == 14 + 80 * recipients + 24 + padded + 17 * chunks


def test_no_recipient_identifier_appears_in_the_envelope() -> None:
    """Like age: an envelope does not say whom it is addressed to."""
    keys = [ALICE.public_key, BOB.public_key]
    sealed = envelope.seal(b"report", keys)
    for key in keys:
        assert key.raw not in sealed
        assert key.raw[:8] not in sealed
    # Two envelopes of the same body to the same people share nothing past the fixed header.
    again = envelope.seal(b"report", keys)
    assert sealed[:14] == again[:14]
    assert sealed[14:] != again[14:]
    assert all(sealed[i : i + 8] != again[i : i + 8] for i in range(14, len(sealed) - 8, 8))


# --- round trips ------------------------------------------------------------


@pytest.mark.parametrize("length", [0, 1, 4091, 4092, 4093, 65536, 200_000])
def test_round_trip(length: int) -> None:
    body = body_of(length)
    sealed = envelope.seal(body, [ALICE.public_key])
    assert envelope.open_envelope(sealed, ALICE) == body


def test_every_recipient_of_several_can_open() -> None:
    keys = [ALICE, BOB, CAROL]
    sealed = envelope.seal(b"seen by three", [k.public_key for k in keys])
    for key in keys:
        assert envelope.open_envelope(sealed, key) == b"seen by three"
    with pytest.raises(NotARecipient):
        envelope.open_envelope(sealed, RecipientPrivateKey.generate())


def test_the_largest_recipient_list_and_body() -> None:
    many = [RecipientPrivateKey.generate() for _ in range(envelope.MAX_RECIPIENTS - 1)]
    sealed = envelope.seal(b"x", [k.public_key for k in many] + [ALICE.public_key])
    assert envelope.open_envelope(sealed, ALICE) == b"x"
    body = body_of(envelope.MAX_BODY)
    sealed = envelope.seal(body, [ALICE.public_key])
    assert len(sealed) == envelope.sealed_size(envelope.MAX_BODY, 1)
    assert envelope.open_envelope(sealed, ALICE) == body


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.one_of(
    st.binary(max_size=5000),
    # Long bodies (up to ~200 KB, several chunks), built from a random pattern:
    # generating 200 KB of independent random bytes would make the test slow.
    st.tuples(st.integers(0, 200_000), st.binary(min_size=1, max_size=97)).map(
        lambda t: (t[1] * (t[0] // len(t[1]) + 1))[: t[0]]),
), recipients=st.integers(min_value=1, max_value=3))
def test_round_trip_of_arbitrary_bodies(body: bytes, recipients: int) -> None:
    keys = [ALICE, BOB, CAROL][:recipients]
    sealed = envelope.seal(body, [k.public_key for k in keys])
    assert len(sealed) == envelope.sealed_size(len(body), recipients)
    assert envelope.open_envelope(sealed, keys[-1]) == body


# --- what the length says about the body ------------------------------------


def test_ciphertext_length_depends_only_on_the_bucket() -> None:
    for short, long in ((0, 4092), (4093, 8188), (70_000, 131_068)):
        assert envelope.padded_size(short) == envelope.padded_size(long)
        assert len(envelope.seal(body_of(short), [ALICE.public_key])) == len(
            envelope.seal(body_of(long), [ALICE.public_key]))
    assert len(envelope.seal(body_of(4092), [ALICE.public_key])) < len(
        envelope.seal(body_of(4093), [ALICE.public_key]))


# --- refusing bad input when sealing ---------------------------------------


def test_seal_refusals() -> None:
    with pytest.raises(ValueError, match="at least one recipient"):
        envelope.seal(b"x", [])
    with pytest.raises(ValueError, match="at most 64"):
        envelope.seal(b"x", [ALICE.public_key] * (envelope.MAX_RECIPIENTS + 1))
    with pytest.raises(ValueError, match="larger than"):
        envelope.seal(bytes(envelope.MAX_BODY + 1), [ALICE.public_key])


# --- refusing bad envelopes ---------------------------------------------------


@pytest.fixture(scope="module")
def small() -> bytes:
    """One recipient, 4 KiB bucket: 14 + 80 + 24 + 4096 + 17 = 4231 bytes."""
    sealed = envelope.seal(b"a small report", [ALICE.public_key])
    assert len(sealed) == 4231
    return sealed


def expected_error_for_flip_at(offset: int) -> tuple[type[FormatError], ...]:
    if offset < 8:
        return (Malformed,)  # magic
    if offset == 8:
        return (UnknownVersion,)  # version
    if offset == 9:
        return (Malformed, Truncated)  # n: 0 or > 64 is malformed, 2..64 is too short
    if offset < 14:
        return (Malformed, Truncated)  # P: not a valid bucket, or a larger one
    if offset < 14 + 80:
        return (NotARecipient,)  # the stanza no longer opens
    return (Tampered,)  # secretstream header or payload


@pytest.mark.parametrize("mask", [0x01, 0x80, 0xFF])
def test_a_flip_at_every_offset_is_detected(small: bytes, mask: int) -> None:
    for offset in range(len(small)):
        damaged = small[:offset] + bytes([small[offset] ^ mask]) + small[offset + 1 :]
        with pytest.raises(FormatError) as raised:
            envelope.open_envelope(damaged, ALICE)
        assert isinstance(raised.value, expected_error_for_flip_at(offset)), (
            offset, raised.value)


def test_every_truncation_is_refused(small: bytes) -> None:
    for length in range(len(small)):
        with pytest.raises(Truncated):
            envelope.open_envelope(small[:length], ALICE)


def test_every_truncation_of_a_multi_chunk_envelope_at_a_chunk_edge_is_refused() -> None:
    sealed = envelope.seal(body_of(200_000), [ALICE.public_key])  # P = 256 KiB: 4 chunks
    payload = 14 + 80 + 24
    for chunks in range(4):
        with pytest.raises(Truncated):
            envelope.open_envelope(sealed[: payload + chunks * (64 * KiB + 17)], ALICE)


def test_trailing_bytes_are_refused(small: bytes) -> None:
    for extra in (b"\x00", b"\x00" * 17, small):
        with pytest.raises(Malformed, match="after its end"):
            envelope.open_envelope(small + extra, ALICE)


def test_reordered_or_repeated_chunks_are_tampered() -> None:
    sealed = envelope.seal(body_of(200_000), [ALICE.public_key])
    payload, size = 14 + 80 + 24, 64 * KiB + 17
    head = sealed[:payload]
    chunks = [sealed[payload + i * size : payload + (i + 1) * size] for i in range(4)]
    for order in ([0, 2, 1, 3], [1, 0, 2, 3], [0, 1, 3, 2], [0, 0, 2, 3], [0, 1, 2, 2]):
        with pytest.raises(Tampered):
            envelope.open_envelope(head + b"".join(chunks[i] for i in order), ALICE)


def test_chunks_and_stanzas_cannot_move_between_envelopes() -> None:
    keys = [ALICE.public_key, BOB.public_key]
    one, two = (envelope.seal(body_of(200_000), keys) for _ in range(2))
    header = 14 + 2 * 80 + 24
    # The second envelope's payload under the first one's header.
    with pytest.raises(Tampered):
        envelope.open_envelope(one[:header] + two[header:], ALICE)
    # Bob's stanza swapped for the one from another envelope: Alice's stanza still
    # opens, but the header no longer authenticates.
    spliced = one[:94] + two[94:174] + one[174:]
    with pytest.raises(Tampered):
        envelope.open_envelope(spliced, ALICE)
    # Stanzas in the other order: still authenticated as part of the header.
    swapped = one[:14] + one[94:174] + one[14:94] + one[174:]
    with pytest.raises(Tampered):
        envelope.open_envelope(swapped, ALICE)


def test_inspect_checks_everything_before_decrypting(small: bytes) -> None:
    # Nothing needs a key to be refused for its shape.
    assert envelope.inspect(small).total_length == len(small)
    for bad, error in (
        (b"", Truncated),
        (small[:13], Truncated),
        (b"RPTR-ENX" + small[8:], Malformed),
        (small[:8] + b"\x02" + small[9:], UnknownVersion),
        (small[:8] + b"\x00" + small[9:], UnknownVersion),
        (small[:9] + b"\x00" + small[10:], Malformed),
        (small[:9] + b"\x41" + small[10:], Malformed),
        (small[:10] + struct.pack(">I", 4095) + small[14:], Malformed),
        (small[:10] + struct.pack(">I", 2048) + small[14:], Malformed),
        (small[:10] + struct.pack(">I", 8 * KiB * KiB) + small[14:], Malformed),
        (small[:10] + struct.pack(">I", 0) + small[14:], Malformed),
        (small[:10] + struct.pack(">I", 8192) + small[14:], Truncated),
        (small[:9] + b"\x02" + small[10:], Truncated),
        (small + b"\x00", Malformed),
    ):
        with pytest.raises(error):
            envelope.inspect(bad)


@settings(max_examples=300, deadline=None)
@given(data=st.one_of(
    st.binary(max_size=300),
    st.binary(max_size=300).map(lambda b: b"RPTR-ENV\x01" + b),
    st.tuples(st.integers(0, 70), st.integers(0, 2**32 - 1), st.binary(max_size=600)).map(
        lambda t: struct.pack(">8sBBI", b"RPTR-ENV", 1, t[0], t[1]) + t[2]),
))
def test_open_envelope_on_arbitrary_bytes_raises_only_format_errors(data: bytes) -> None:
    with pytest.raises(FormatError):
        envelope.open_envelope(data, ALICE)


@settings(max_examples=200, deadline=None)
@given(edits=st.lists(st.tuples(st.integers(0, 4230), st.integers(1, 255)), min_size=1,
                      max_size=4),
       cut=st.integers(0, 4231), extra=st.binary(max_size=20))
def test_mutations_of_a_valid_envelope_raise_only_format_errors(
        small: bytes, edits: list[tuple[int, int]], cut: int, extra: bytes) -> None:
    damaged = bytearray(small)
    for offset, mask in edits:
        damaged[offset] ^= mask
    mutated = bytes(damaged[:cut]) + extra
    if mutated == small:
        return
    with pytest.raises(FormatError):
        envelope.open_envelope(mutated, ALICE)

