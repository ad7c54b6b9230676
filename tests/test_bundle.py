"""The bundle format: what a reader accepts and every way it refuses."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from reporter import bundle
from reporter.bundle import BundleReader, Manifest, padded_size, recipient_id, write_bundle
from reporter.crypto import RecipientPrivateKey, StationSigningKey, random_bytes
from reporter.errors import (
    FormatError,
    Malformed,
    NotARecipient,
    Tampered,
    Truncated,
    UnknownVersion,
)
from reporter.store import chain_link, envelope_hash, genesis

STATION = bytes(range(16))


def make(envelopes: list[bytes], readers: list[RecipientPrivateKey], *,
         signer: StationSigningKey | None = None, number: int = 1,
         first: int = 1, manifest_readers: list[RecipientPrivateKey] | None = None,
         ) -> tuple[bytes, Manifest]:
    signer = signer or StationSigningKey(bytes(32))
    chain = before = genesis(STATION) if first == 1 else random_bytes(32)
    entries = []
    for seq, env in enumerate(envelopes, first):
        chain = chain_link(chain, seq, env)
        entries.append((seq, len(env), envelope_hash(env)))
    manifest = Manifest(
        station_id=STATION, station_key=signer.verify_key, number=number,
        previous=None if number == 1 else random_bytes(32), first_seq=first,
        last_seq=first + len(envelopes) - 1, chain_before=before, chain_head=chain,
        envelopes=tuple(entries),
        recipients=tuple(recipient_id(k.public_key) for k in (manifest_readers or readers)),
        created="2026-11-28")
    out = io.BytesIO()
    size = write_bundle(out, manifest, signer, envelopes, [k.public_key for k in readers])
    assert size == len(out.getvalue())
    return out.getvalue(), manifest


def read(data: bytes, key: RecipientPrivateKey) -> list[tuple[int, bytes]]:
    return list(BundleReader(io.BytesIO(data), key).envelopes())


@pytest.fixture(scope="module")
def reviewer() -> RecipientPrivateKey:
    return RecipientPrivateKey.generate()


def test_round_trip(reviewer: RecipientPrivateKey) -> None:
    envelopes = [random_bytes(n) for n in (100, 5000, 70_000)]
    data, manifest = make(envelopes, [reviewer])
    reader = BundleReader(io.BytesIO(data), reviewer)
    assert reader.manifest == manifest
    assert list(reader.envelopes()) == list(enumerate(envelopes, 1))


def test_every_recipient_can_read(reviewer: RecipientPrivateKey) -> None:
    others = [RecipientPrivateKey.generate() for _ in range(3)]
    data, _ = make([b"x" * 50], [others[0], reviewer, others[1]])
    assert read(data, reviewer) == [(1, b"x" * 50)]
    with pytest.raises(NotARecipient, match=others[2].public_key.fingerprint()):
        read(data, others[2])


def test_the_size_reveals_only_the_bucket(reviewer: RecipientPrivateKey) -> None:
    small, _ = make([b"a" * 100], [reviewer])
    larger, _ = make([b"b" * 30_000], [reviewer])
    assert len(small) == len(larger)
    assert padded_size(1) == 64 * 1024
    assert padded_size(64 * 1024 + 1) == 128 * 1024
    assert padded_size(64 * 1024 * 1024 + 1) == 128 * 1024 * 1024
    assert padded_size(200 * 1024 * 1024) == 256 * 1024 * 1024  # multiples of 64 MiB


def test_nothing_is_readable_without_a_key(reviewer: RecipientPrivateKey) -> None:
    marker = b"CNRYbundle" * 10
    data, manifest = make([marker], [reviewer])
    assert marker not in data
    assert STATION.hex().encode() not in data and STATION not in data
    assert manifest.station_key.to_text().encode() not in data


def test_every_single_byte_flip_is_detected(reviewer: RecipientPrivateKey) -> None:
    data, _ = make([b"small report"], [reviewer])
    assert len(data) < 70_000
    for offset in range(len(data)):
        flipped = bytearray(data)
        flipped[offset] ^= 0x01
        with pytest.raises(FormatError):
            read(bytes(flipped), reviewer)


def test_every_truncation_is_detected_as_such(reviewer: RecipientPrivateKey) -> None:
    data, _ = make([b"r" * 3000], [reviewer])
    for length in [*range(0, 200), *range(len(data) - 200, len(data))]:
        with pytest.raises((Truncated, Malformed)) as raised:
            read(data[:length], reviewer)
        if length >= bundle.FIXED_HEADER.size:
            assert isinstance(raised.value, Truncated), length


def test_trailing_bytes_are_refused(reviewer: RecipientPrivateKey) -> None:
    data, _ = make([b"r"], [reviewer])
    with pytest.raises(Malformed, match="after its end"):
        read(data + b"\0", reviewer)


def test_unknown_version_is_refused(reviewer: RecipientPrivateKey) -> None:
    data, _ = make([b"r"], [reviewer])
    with pytest.raises(UnknownVersion, match="upgrade reporter"):
        read(data[:8] + b"\x02" + data[9:], reviewer)


def test_not_a_bundle(reviewer: RecipientPrivateKey) -> None:
    with pytest.raises(Malformed, match="not a reporter bundle"):
        read(b"PK\x03\x04" + bytes(200), reviewer)


def test_a_bundle_signed_by_another_key_still_verifies_but_names_that_key(
        reviewer: RecipientPrivateKey) -> None:
    # The signature proves *which* key signed; pinning (review import) and
    # --station-key (verify) decide whether that key is the station's.
    other = StationSigningKey.generate()
    data, _ = make([b"r"], [reviewer], signer=other)
    reader = BundleReader(io.BytesIO(data), reviewer)
    assert reader.manifest.station_key == other.verify_key


def test_a_bundle_re_encrypted_to_someone_else_is_refused(
        reviewer: RecipientPrivateKey) -> None:
    insider = RecipientPrivateKey.generate()
    data, _ = make([b"r"], [reviewer], manifest_readers=[insider])
    with pytest.raises(Tampered, match="re-encrypted"):
        read(data, reviewer)


def test_a_forged_signature_is_refused(reviewer: RecipientPrivateKey,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    real_sign = StationSigningKey.sign

    def bad_sign(self: StationSigningKey, context: bytes, message: bytes) -> bytes:
        signature = bytearray(real_sign(self, context, message))
        signature[0] ^= 1
        return bytes(signature)

    monkeypatch.setattr(StationSigningKey, "sign", bad_sign)
    data, _ = make([b"r"], [reviewer])
    with pytest.raises(Tampered, match="signature does not verify"):
        read(data, reviewer)


def test_an_envelope_that_does_not_match_the_manifest_cannot_be_written(
        reviewer: RecipientPrivateKey) -> None:
    _, manifest = make([b"one", b"two"], [reviewer])
    with pytest.raises(ValueError, match="changed"):
        write_bundle(io.BytesIO(), manifest, StationSigningKey(bytes(32)), [b"one", b"TWO"],
                     [reviewer.public_key])


@pytest.mark.parametrize("edit", [
    lambda d: d.replace(b'"number":1', b'"number":0'),
    lambda d: d.replace(b'"first_seq":1', b'"first_seq":2'),
    lambda d: d.replace(b'"version":1', b'"version":2'),
    lambda d: d.replace(b'"format":"reporter-bundle"', b'"format":"other"'),
    lambda d: d.replace(b"{", b"{ ", 1),
    lambda d: b"not json",
])
def test_manifest_parsing_is_strict(reviewer: RecipientPrivateKey, edit) -> None:  # type: ignore[no-untyped-def]
    _, manifest = make([b"r"], [reviewer])
    with pytest.raises((Malformed, UnknownVersion)):
        Manifest.from_json(edit(manifest.to_json()))


def test_reading_streams_in_flat_memory(tmp_path: Path, reviewer: RecipientPrivateKey) -> None:
    import tracemalloc

    envelopes = [random_bytes(4096) for _ in range(400)]
    data, _ = make(envelopes, [reviewer])
    path = tmp_path / "b.rptr"
    path.write_bytes(data)
    del data
    tracemalloc.start()
    with open(path, "rb") as fh:
        count = BundleReader(fh, reviewer).verify_all()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == 400
    assert peak < 1024 * 1024, peak  # the bundle is 2 MiB; memory stays far below
