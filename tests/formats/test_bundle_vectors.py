"""Every file in tests/vectors/bundle/ reads (or fails) exactly as it says.

Each vector goes through ``BundleReader`` + ``verify_all`` (the reader alone)
and through ``review.import_bundle`` into a fresh review database (the
importer, which adds station pinning and opens the envelopes). Version 1
vectors (no attachments) and version 2 vectors (attachments) live side by
side. See tests/vectors/bundle/README.md for the file format and
docs/bundle-format.md for the rules.
"""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import pytest

from reporter.errors import (
    ForeignStation,
    FormatError,
    Malformed,
    NotARecipient,
    Tampered,
    Truncated,
    UnknownVersion,
)
from reporter.formats import bundle
from reporter.formats.attachment import ciphertext_hash
from reporter.formats.bundle import BundleReader
from reporter.formats.chain import chain_link, envelope_hash, genesis
from reporter.formats.crypto import (
    RecipientPrivateKey,
    StationSigningKey,
    StationVerifyKey,
    digest,
    subkey,
)
from reporter.formats.manifest import Manifest, recipient_id
from reporter.review.db import ReviewDB
from reporter.review.importer import gaps, import_bundle, verify_bundle
from tests.reviewing import REVIEW_PASSPHRASE, TABLES, snapshot, stored_blobs
from tests.vectorfile import Vector, load, vector_files

VECTORS = Path(__file__).parents[1] / "vectors" / "bundle"

EXPECTED_ERRORS: dict[str, tuple[type[FormatError], str | None]] = {
    "not-a-recipient": (NotARecipient, None),
    "truncated": (Truncated, None),
    "tampered": (Tampered, None),
    "unknown-version": (UnknownVersion, None),
    "malformed": (Malformed, None),
    "bad-signature": (Tampered, "signature does not verify"),
    "re-encrypted": (Tampered, "re-encrypted"),
}

# The cases the brief requires; the folder may hold more, never fewer.
REQUIRED_V2 = {
    "ok-with-attachments", "flipped-byte-in-attachment", "attachment-truncated",
    "attachment-missing", "attachments-swapped", "extra-attachment",
    "attachment-list-mismatch", "version-mismatch",
}
REQUIRED_V3 = {
    "ok-version-3", "version-3-re-encrypted-to-non-listed-recipient",
    "version-3-recipient-name-with-control", "version-3-recipient-listed-twice",
    "version-3-recipient-ids", "version-3-recipients-not-sorted",
    "version-3-recipient-key-invalid",
}
REQUIRED_V4 = {
    "ok-version-4", "version-4-restore-chain-not-the-bundles",
    "version-4-restore-chain-inside-the-range", "version-4-restore-id-zero",
    "version-4-number-not-after-the-restore", "version-4-previous-not-the-restores-bundle",
    "version-4-without-restores",
}
REQUIRED = REQUIRED_V2 | REQUIRED_V3 | REQUIRED_V4 | {
    "ok", "ok-multi-chunk", "ok-three-recipients", "wrong-recipient", "empty-file",
    "truncated-in-header", "truncated-last-chunk", "truncated-at-chunk-boundary",
    "trailing-bytes", "flipped-byte-in-magic", "flipped-byte-in-stanza",
    "flipped-byte-in-padded-length", "flipped-byte-in-secretstream-header",
    "flipped-byte-in-manifest-chunk", "flipped-byte-in-last-chunk", "swapped-chunks",
    "unknown-version", "bad-signature", "re-encrypted-to-non-listed-recipient",
    "envelope-not-matching-manifest", "chain-head-wrong", "missing-end-frame",
    "extra-envelope", "nonzero-padding", "manifest-not-canonical", "foreign-station",
}

# Vectors that reporter gets wrong, with the exception it raises instead; their
# test is xfail(strict=True), so it fails (as a reminder to remove the entry) on
# the day the bug is fixed. None at the moment: `manifest-deeply-nested`
# (RecursionError) and `manifest-huge-range` (MemoryError) were listed here
# until reporter/jsonio.py and the counted range check in Manifest.from_json.
KNOWN_BUGS: dict[str, tuple[type[BaseException], str]] = {}


def params() -> list[object]:
    out: list[object] = []
    for path in vector_files(VECTORS):
        marks = []
        if path.name in KNOWN_BUGS:
            error, reason = KNOWN_BUGS[path.name]
            marks.append(pytest.mark.xfail(strict=True, raises=error, reason=reason))
        out.append(pytest.param(path, id=path.name, marks=marks))
    return out




def read_all(vector: Vector) -> BundleReader:
    reader = BundleReader(io.BytesIO(vector.data), vector.identity)
    reader.verify_all()
    return reader


def test_the_required_cases_are_all_there() -> None:
    names = {p.name for p in vector_files(VECTORS)}
    assert REQUIRED <= names, sorted(REQUIRED - names)
    assert set(KNOWN_BUGS) <= names
    # Regression vectors for bugs found by these vectors and the fuzzer.
    assert {"manifest-deeply-nested", "manifest-huge-range"} <= names


def test_the_folder_stays_small() -> None:
    assert sum(p.stat().st_size for p in VECTORS.iterdir()) < 4_000_000


def test_version_2_vectors_say_version_2() -> None:
    for name in REQUIRED_V2:
        data = load(VECTORS / name).data
        assert data[:9] == bundle.MAGIC + b"\x02", name


def test_version_3_vectors_say_version_3() -> None:
    for name in REQUIRED_V3:
        data = load(VECTORS / name).data
        assert data[:9] == bundle.MAGIC + b"\x03", name


def test_version_4_vectors_say_version_4() -> None:
    for name in REQUIRED_V4:
        data = load(VECTORS / name).data
        assert data[:9] == bundle.MAGIC + b"\x04", name


@pytest.mark.parametrize("path", params())
def test_vector(path: Path, tmp_path: Path) -> None:
    vector = load(path)
    allowed = {"expect", "identity", "comment"}
    if vector.expect == "ok":
        allowed |= {"reports", "first-seq", "last-seq", "station-id", "station-key",
                    "attachments", "recipients"}
    else:
        allowed |= {"error-contains"}
    if vector.expect == "foreign-station":
        allowed |= {"pinned-station-key"}
    assert {"expect", "identity", "comment"} <= set(vector.header)
    assert set(vector.header) <= allowed, f"unknown header keys {set(vector.header) - allowed}"
    file = tmp_path / "bundle.rptr"
    file.write_bytes(vector.data)
    db = ReviewDB.create(tmp_path / "review.db", REVIEW_PASSPHRASE)

    if vector.expect == "ok":
        reader = read_all(vector)
        m = reader.manifest
        assert len(m.envelopes) == int(vector.header["reports"])
        assert (m.first_seq, m.last_seq) == (int(vector.header["first-seq"]),
                                             int(vector.header["last-seq"]))
        assert m.station_id.hex() == vector.header["station-id"]
        assert m.station_key.to_text() == vector.header["station-key"]
        # The key-less view agrees with the file, and the writer chose the smallest bucket.
        assert reader.info.total_length == len(vector.data)
        assert reader.info.padded_length == bundle.padded_size(bundle.plaintext_length(m))
        attachments = int(vector.header.get("attachments", "0"))
        assert reader.attachments_read == m.attachment_count == attachments
        if "recipients" in vector.header:  # version 3: [public key, name] pairs
            assert [[r.key.to_text(), r.name] for r in m.named] == json.loads(
                vector.header["recipients"])
        else:
            assert m.named == ()
        result = import_bundle(db, file, vector.identity)
        assert result.new_station and result.added == len(m.envelopes)
        assert result.unreadable == []
        assert result.attachments == attachments == stored_blobs(db)

    elif vector.expect == "attachment-list-mismatch":
        # The reader alone accepts it: frames and signed manifest agree. The importer
        # opens the envelope, finds another list sealed in the report, and refuses.
        read_all(vector)
        with pytest.raises(Tampered) as raised:
            import_bundle(db, file, vector.identity)
        assert vector.header["error-contains"] in str(raised.value)
        assert snapshot(db) == [[] for _ in TABLES]
        assert stored_blobs(db) == 0

    elif vector.expect == "foreign-station":
        # The reader alone accepts it: the signature is valid for the key it names.
        reader = read_all(vector)
        pinned = StationVerifyKey.from_text(vector.header["pinned-station-key"])
        assert reader.manifest.station_key != pinned
        with pytest.raises(ForeignStation):
            verify_bundle(file, vector.identity, pinned)
        # An importer that already pinned this station id refuses it, changing nothing.
        with db.transaction():
            db.pin_station(reader.manifest.station_id, pinned.raw)
        before = snapshot(db)
        with pytest.raises(ForeignStation, match="SECURITY WARNING"):
            import_bundle(db, file, vector.identity)
        assert snapshot(db) == before

    else:
        error, message = EXPECTED_ERRORS[vector.expect]
        with pytest.raises(FormatError) as raised:
            read_all(vector)
        assert type(raised.value) is error, (
            f"{vector.name}: expected {error.__name__}, got "
            f"{type(raised.value).__name__}: {raised.value}")
        if message is not None:
            assert message in str(raised.value)
        if "error-contains" in vector.header:
            assert vector.header["error-contains"] in str(raised.value)
        # The importer refuses it the same way and leaves its database empty.
        with pytest.raises(FormatError) as raised:
            import_bundle(db, file, vector.identity)
        assert type(raised.value) is error
        assert snapshot(db) == [[] for _ in TABLES]
        assert stored_blobs(db) == 0
    db.close()


def test_the_ok_vectors_are_one_history_in_any_order(tmp_path: Path) -> None:
    names = ["ok", "ok-multi-chunk", "ok-three-recipients"]
    random.Random(7).shuffle(names)
    db = ReviewDB.create(tmp_path / "review.db", REVIEW_PASSPHRASE)
    for name in names:
        vector = load(VECTORS / name)
        file = tmp_path / name
        file.write_bytes(vector.data)
        result = import_bundle(db, file, vector.identity)
        assert not result.already_imported
    [station] = gaps(db)
    assert station.bundles == 3 and station.last_seq == 21
    assert station.missing_bundles == [] and station.missing_reports == []
    db.close()


# --- the worked example of docs/bundle-format.md -------------------------------------

EXAMPLE_STATION_SEED = "a6cbdf7ce33de3e64fc8e463c8f8b3c41838bc46717d9ae003fb94f622e193a7"
EXAMPLE_STATION_ID = "4212801bb5ca39d6310ecb370d9ff23b"
EXAMPLE_REVIEWER = "2296badbc3f6ad47ae57e659a3b0f4c77f5d2d03c257c7ce791ce5ae0822ab07"
EXAMPLE_MANIFEST = (
    b'{"chain_before":"4846c53aa38d7ddf310566733cd2bade874b2a3fdd322ea4d29b08461214d3c0",'
    b'"chain_head":"592ba842289a97f5e82cc39386e142c0536bf8ed15ad5a180e00beee3d424781",'
    b'"created":"2026-11-28","envelopes":[[1,16,'
    b'"a8cab5b5f8066db1a7546f9dbf2d668ccb6b2543279ab19a5ff54383f221f3df"]],"first_seq":1,'
    b'"format":"reporter-bundle","last_seq":1,"number":1,"previous":null,"recipients":'
    b'["9a7a1c2faf711fffa593afa9b4df9eafa87eca00f4c7af42a6758fd5ab65e8cc"],'
    b'"station_id":"4212801bb5ca39d6310ecb370d9ff23b","station_key":'
    b'"reporterstation1e95jhehlp7ek06v7n70p90qz9du8x8g0a65varj7nlavy72f8s2qyatzat",'
    b'"version":1}'
)


def test_the_worked_example_in_the_spec() -> None:
    signer = StationSigningKey(bytes.fromhex(EXAMPLE_STATION_SEED))
    reviewer = RecipientPrivateKey(bytes.fromhex(EXAMPLE_REVIEWER))
    station_id = bytes.fromhex(EXAMPLE_STATION_ID)
    envelope = b"RPTR-ENV example"
    assert subkey(bytes(range(32)), bundle.CTX_PAYLOAD).hex() == (
        "084017978099a6def3d744c475fc95d01d0f499d6126522e8f84874d9a792c71")
    assert reviewer.public_key.raw.hex() == (
        "f4b66e520a9221fb8154322a487fec52c7857d64cbf0d28ec09437cf452dbc29")
    assert recipient_id(reviewer.public_key).hex() == (
        "9a7a1c2faf711fffa593afa9b4df9eafa87eca00f4c7af42a6758fd5ab65e8cc")
    assert signer.verify_key.raw.hex() == (
        "c9692be6ff0fb367e99e9f9e12bc022b78731d0feea8ce8e5e9ffac279493c14")
    assert signer.verify_key.fingerprint() == "GBUY-HFRR-67J7-PLMI"
    before = genesis(station_id)
    manifest = Manifest(
        station_id=station_id, station_key=signer.verify_key, number=1, previous=None,
        first_seq=1, last_seq=1, chain_before=before,
        chain_head=chain_link(before, 1, envelope),
        envelopes=((1, len(envelope), envelope_hash(envelope)),),
        recipients=(recipient_id(reviewer.public_key),), created="2026-11-28", version=1)
    assert manifest.to_json() == EXAMPLE_MANIFEST
    assert len(EXAMPLE_MANIFEST) == 588
    assert Manifest.from_json(EXAMPLE_MANIFEST) == manifest
    assert manifest.hash().hex() == (
        "963c639114fceb863c43d1a2c853bb6357bc848a8a3f66d63ea0c4c506123c92")
    assert digest(b"reporter/signed/v1", bundle.CTX_SIGNATURE, EXAMPLE_MANIFEST,
                  size=64).hex() == (
        "3f6db34bb64f37a3ef8b27e487756b47ef77a00091e027a4145e813b87b3d6e9"
        "54093e7f574d50e2be216de1f6ff8833f6a4aad25972a0ec807fa80661c25c2f")
    assert signer.sign(bundle.CTX_SIGNATURE, EXAMPLE_MANIFEST).hex() == (
        "422652246d8b8b4600f1d73f97371da9694bb04c7a15eb47e09f5c94173d7bf1"
        "d1a9ca3859bec309c5e22d08f46bf973df0cf6618dd495d263e86c1386b2840e")


EXAMPLE_MANIFEST_V2 = (
    b'{"chain_before":"4846c53aa38d7ddf310566733cd2bade874b2a3fdd322ea4d29b08461214d3c0",'
    b'"chain_head":"592ba842289a97f5e82cc39386e142c0536bf8ed15ad5a180e00beee3d424781",'
    b'"created":"2026-11-28","envelopes":[[1,16,'
    b'"a8cab5b5f8066db1a7546f9dbf2d668ccb6b2543279ab19a5ff54383f221f3df",'
    b'[[16,"9aa0e811b2e195ccdf07e316ece128e400801fb9868d530086ec3510499b607f"]]]],'
    b'"first_seq":1,"format":"reporter-bundle","last_seq":1,"number":1,"previous":null,'
    b'"recipients":["9a7a1c2faf711fffa593afa9b4df9eafa87eca00f4c7af42a6758fd5ab65e8cc"],'
    b'"station_id":"4212801bb5ca39d6310ecb370d9ff23b","station_key":'
    b'"reporterstation1e95jhehlp7ek06v7n70p90qz9du8x8g0a65varj7nlavy72f8s2qyatzat",'
    b'"version":2}'
)


def test_the_version_2_worked_example_in_the_spec() -> None:
    signer = StationSigningKey(bytes.fromhex(EXAMPLE_STATION_SEED))
    reviewer = RecipientPrivateKey(bytes.fromhex(EXAMPLE_REVIEWER))
    station_id = bytes.fromhex(EXAMPLE_STATION_ID)
    envelope, sealed = b"RPTR-ENV example", b"RPTR-ATT example"
    assert ciphertext_hash(sealed).hex() == (
        "9aa0e811b2e195ccdf07e316ece128e400801fb9868d530086ec3510499b607f")
    before = genesis(station_id)
    manifest = Manifest(
        station_id=station_id, station_key=signer.verify_key, number=1, previous=None,
        first_seq=1, last_seq=1, chain_before=before,
        chain_head=chain_link(before, 1, envelope),
        envelopes=((1, len(envelope), envelope_hash(envelope)),),
        recipients=(recipient_id(reviewer.public_key),), created="2026-11-28",
        attachments=(((len(sealed), ciphertext_hash(sealed)),),), version=2)
    assert manifest.to_json() == EXAMPLE_MANIFEST_V2
    assert len(EXAMPLE_MANIFEST_V2) == 662
    assert Manifest.from_json(EXAMPLE_MANIFEST_V2) == manifest
    assert manifest.hash().hex() == (
        "3f91abce62930069f6111a67a51cec7d945c5ac5a38eac82c7f1e5e7b4c37503")
    assert signer.sign(bundle.CTX_SIGNATURE, EXAMPLE_MANIFEST_V2).hex() == (
        "ec765078707617bc0351c37d324bf9d91e90238a3541611f2ce01e1765cc6355"
        "72b83214dfc760b5825dd3d28b86eb8ede5a8f3eb87aa0e356fbf5d904d57605")
    assert bundle.plaintext_length(manifest) == 783
    # The plaintext the spec spells out, written and read back through the real code.
    out = io.BytesIO()
    bundle.write_bundle(out, manifest, signer, [bundle.Outgoing(envelope, [[sealed]])],
                        [reviewer.public_key])
    data = out.getvalue()
    assert data[:9] == b"RPTR-BDL\x02" and len(data) == 18 + 80 + 24 + 65536 + 17
    from tests.e2e.test_attachments_bundle import bundle_plaintext

    plaintext = bundle_plaintext(data, reviewer)
    signature = signer.sign(bundle.CTX_SIGNATURE, EXAMPLE_MANIFEST_V2)
    assert plaintext == (bytes.fromhex("0100000296") + EXAMPLE_MANIFEST_V2
                         + bytes.fromhex("0200000040") + signature
                         + bytes.fromhex("0300000010") + envelope
                         + bytes.fromhex("0400000010") + sealed
                         + bytes(5) + bytes(64_753))


EXAMPLE_MANIFEST_V3 = (
    b'{"chain_before":"4846c53aa38d7ddf310566733cd2bade874b2a3fdd322ea4d29b08461214d3c0",'
    b'"chain_head":"592ba842289a97f5e82cc39386e142c0536bf8ed15ad5a180e00beee3d424781",'
    b'"created":"2026-11-28","envelopes":[[1,16,'
    b'"a8cab5b5f8066db1a7546f9dbf2d668ccb6b2543279ab19a5ff54383f221f3df",'
    b'[[16,"9aa0e811b2e195ccdf07e316ece128e400801fb9868d530086ec3510499b607f"]]]],'
    b'"first_seq":1,"format":"reporter-bundle","last_seq":1,"number":1,"previous":null,'
    b'"recipients":[["reporter17jmxu5s2jgslhq25xg4ysllv2trc2ltye0cd9rkqjsmu73fdhs5syvllwr",'
    b'"Amina (coalition)"]],'
    b'"station_id":"4212801bb5ca39d6310ecb370d9ff23b","station_key":'
    b'"reporterstation1e95jhehlp7ek06v7n70p90qz9du8x8g0a65varj7nlavy72f8s2qyatzat",'
    b'"version":3}'
)


def test_the_version_3_worked_example_in_the_spec() -> None:
    from reporter.formats.manifest import NamedRecipient

    signer = StationSigningKey(bytes.fromhex(EXAMPLE_STATION_SEED))
    reviewer = RecipientPrivateKey(bytes.fromhex(EXAMPLE_REVIEWER))
    station_id = bytes.fromhex(EXAMPLE_STATION_ID)
    envelope, sealed = b"RPTR-ENV example", b"RPTR-ATT example"
    before = genesis(station_id)
    manifest = Manifest(
        station_id=station_id, station_key=signer.verify_key, number=1, previous=None,
        first_seq=1, last_seq=1, chain_before=before,
        chain_head=chain_link(before, 1, envelope),
        envelopes=((1, len(envelope), envelope_hash(envelope)),), recipients=(),
        named=(NamedRecipient(reviewer.public_key, "Amina (coalition)"),),
        created="2026-11-28", attachments=(((len(sealed), ciphertext_hash(sealed)),),),
        version=3)
    assert manifest.version == 3 and manifest.to_json() == EXAMPLE_MANIFEST_V3
    assert len(EXAMPLE_MANIFEST_V3) == 687
    assert reviewer.public_key.fingerprint() == "AR7A-E4QJ-ANT7-UTVL"
    assert Manifest.from_json(EXAMPLE_MANIFEST_V3) == manifest
    assert manifest.recipients == (recipient_id(reviewer.public_key),)
    assert manifest.hash().hex() == (
        "998ead0be132f9cbaee35dc70f0cef10a6d1fdfb58cdadd4ccb440710cc13140")
    assert signer.sign(bundle.CTX_SIGNATURE, EXAMPLE_MANIFEST_V3).hex() == (
        "2db6123009d8202777d7fdd20769c0151f92b478e2e463705ad177f264efef84"
        "360ef373bf32036815a26a5b0997c32002bb59a351eeaa348d061a33447e9e0c")
    assert bundle.plaintext_length(manifest) == 808
    out = io.BytesIO()
    bundle.write_bundle(out, manifest, signer, [bundle.Outgoing(envelope, [[sealed]])],
                        [reviewer.public_key])
    data = out.getvalue()
    assert data[:9] == b"RPTR-BDL\x03"
    reader = BundleReader(io.BytesIO(data), reviewer)
    assert reader.manifest == manifest


EXAMPLE_MANIFEST_V4 = (
    b'{"chain_before":"4846c53aa38d7ddf310566733cd2bade874b2a3fdd322ea4d29b08461214d3c0",'
    b'"chain_head":"592ba842289a97f5e82cc39386e142c0536bf8ed15ad5a180e00beee3d424781",'
    b'"created":"2026-11-28","envelopes":[[1,16,'
    b'"a8cab5b5f8066db1a7546f9dbf2d668ccb6b2543279ab19a5ff54383f221f3df",'
    b'[[16,"9aa0e811b2e195ccdf07e316ece128e400801fb9868d530086ec3510499b607f"]]]],'
    b'"first_seq":1,"format":"reporter-bundle","last_seq":1,"number":1,"previous":null,'
    b'"recipients":[["reporter17jmxu5s2jgslhq25xg4ysllv2trc2ltye0cd9rkqjsmu73fdhs5syvllwr",'
    b'"Amina (coalition)"]],'
    b'"restores":[{"backup":"2026-11-27","bundle":0,"bundle_hash":null,'
    b'"chain":"4846c53aa38d7ddf310566733cd2bade874b2a3fdd322ea4d29b08461214d3c0",'
    b'"id":"0102030405060708090a0b0c0d0e0f10","restored":"2026-11-28","seq":0}],'
    b'"station_id":"4212801bb5ca39d6310ecb370d9ff23b","station_key":'
    b'"reporterstation1e95jhehlp7ek06v7n70p90qz9du8x8g0a65varj7nlavy72f8s2qyatzat",'
    b'"version":4}'
)


def test_the_version_4_worked_example_in_the_spec() -> None:
    from reporter.formats.manifest import NamedRecipient, Restore

    signer = StationSigningKey(bytes.fromhex(EXAMPLE_STATION_SEED))
    reviewer = RecipientPrivateKey(bytes.fromhex(EXAMPLE_REVIEWER))
    station_id = bytes.fromhex(EXAMPLE_STATION_ID)
    envelope, sealed = b"RPTR-ENV example", b"RPTR-ATT example"
    before = genesis(station_id)
    restore = Restore(id=bytes(range(1, 17)), bundle=0, bundle_hash=None, seq=0,
                      chain=before, backup="2026-11-27", restored="2026-11-28")
    manifest = Manifest(
        station_id=station_id, station_key=signer.verify_key, number=1, previous=None,
        first_seq=1, last_seq=1, chain_before=before,
        chain_head=chain_link(before, 1, envelope),
        envelopes=((1, len(envelope), envelope_hash(envelope)),), recipients=(),
        named=(NamedRecipient(reviewer.public_key, "Amina (coalition)"),),
        created="2026-11-28", attachments=(((len(sealed), ciphertext_hash(sealed)),),),
        restores=(restore,))
    assert manifest.version == 4 and manifest.to_json() == EXAMPLE_MANIFEST_V4
    assert len(EXAMPLE_MANIFEST_V4) == 901
    assert Manifest.from_json(EXAMPLE_MANIFEST_V4) == manifest
    assert manifest.history == bytes(range(1, 17))
    assert manifest.hash().hex() == (
        "475bfb0a380d355f3c91f425fa9d988afa8bd0a7180fd1ffb02bc28af4b204a1")
    assert signer.sign(bundle.CTX_SIGNATURE, EXAMPLE_MANIFEST_V4).hex() == (
        "f2870e516c22803cf2a79d90a184ee3b9fd775321c699a8ec09250d25c3288d2"
        "84019ddfce49e5e30e4ceb5b1bcd9d2f49df6e9d5c801a5d114af041be182909")
    assert bundle.plaintext_length(manifest) == 1022
    out = io.BytesIO()
    bundle.write_bundle(out, manifest, signer, [bundle.Outgoing(envelope, [[sealed]])],
                        [reviewer.public_key])
    data = out.getvalue()
    assert data[:9] == b"RPTR-BDL\x04"
    assert BundleReader(io.BytesIO(data), reviewer).manifest == manifest
    # A station never restored: the same place holds an empty list.
    plain = Manifest(**{**manifest.__dict__, "restores": ()})
    assert b',"restores":[],"station_id"' in plain.to_json()
