"""The bundle format: what a reader accepts and every way it refuses.

Version 2 (what stations write) carries attachments: after each ENVELOPE frame,
its attachments' ciphertext in ATTACHMENT frames of 1 MiB, each checked against
the size and hash the signed manifest lists. Version 1 bundles are still read.
"""

from __future__ import annotations

import io
import json
import re
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
from reporter.formats import bundle
from reporter.formats.attachment import CiphertextHash, ciphertext_hash
from reporter.formats.bundle import (
    ATTACHMENT_FRAME,
    BundleReader,
    Outgoing,
    padded_size,
    plaintext_length,
    write_bundle,
)
from reporter.formats.chain import chain_link, envelope_hash, genesis
from reporter.formats.crypto import RecipientPrivateKey, StationSigningKey, random_bytes
from reporter.formats.manifest import (
    MAX_ATTACHMENTS,
    NAMED_RECIPIENTS,
    VERSION,
    Manifest,
    NamedRecipient,
    recipient_id,
)

STATION = bytes(range(16))


def make(envelopes: list[bytes], readers: list[RecipientPrivateKey], *,
         signer: StationSigningKey | None = None, number: int = 1,
         first: int = 1, manifest_readers: list[RecipientPrivateKey] | None = None,
         attachments: list[list[bytes]] | None = None, version: int = VERSION,
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
        recipients=(() if version >= NAMED_RECIPIENTS else
                    tuple(recipient_id(k.public_key) for k in (manifest_readers or readers))),
        named=(tuple(NamedRecipient(k.public_key, f"Reviewer {i}")
                     for i, k in enumerate(manifest_readers or readers))
               if version >= NAMED_RECIPIENTS else ()),
        created="2026-11-28", version=version,
        attachments=tuple(tuple((len(a), ciphertext_hash(a)) for a in listed)
                          for listed in attachments or []))
    out = io.BytesIO()
    items = [Outgoing(e, [[a] for a in listed])
             for e, listed in zip(envelopes, attachments or [[] for _ in envelopes],
                                  strict=True)]
    size = write_bundle(out, manifest, signer, items, [k.public_key for k in readers])
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
        read(data[:8] + b"\x05" + data[9:], reviewer)


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
    lambda d: d.replace(b'"version":4', b'"version":5'),
    lambda d: d.replace(b'"version":4', b'"version":3'),  # it carries restores
    lambda d: d.replace(b'"version":4', b'"version":2'),  # its recipients are not ids
    lambda d: d.replace(b'"format":"reporter-bundle"', b'"format":"other"'),
    lambda d: d.replace(b"{", b"{ ", 1),
    lambda d: b"not json",
])
def test_manifest_parsing_is_strict(reviewer: RecipientPrivateKey, edit) -> None:  # type: ignore[no-untyped-def]
    _, manifest = make([b"r"], [reviewer])
    with pytest.raises((Malformed, UnknownVersion)):
        Manifest.from_json(edit(manifest.to_json()))


# --- version 3: the recipients are named ------------------------------------------------


def test_a_version_3_manifest_names_every_recipient(reviewer: RecipientPrivateKey) -> None:
    other = RecipientPrivateKey.generate()
    data, manifest = make([b"r"], [other, reviewer], version=3)
    assert data[8] == 3 and manifest.version == 3
    reader = BundleReader(io.BytesIO(data), reviewer)
    named = {(r.key, r.name) for r in reader.manifest.named}
    assert named == {(other.public_key, "Reviewer 0"), (reviewer.public_key, "Reviewer 1")}
    assert set(reader.manifest.recipients) == {recipient_id(other.public_key),
                                               recipient_id(reviewer.public_key)}
    document = json.loads(manifest.to_json())
    assert document["recipients"] == sorted(
        [[k.public_key.to_text(), f"Reviewer {i}"] for i, k in enumerate([other, reviewer])])


def _named_document(reviewer: RecipientPrivateKey) -> dict[str, object]:
    _, manifest = make([b"r"], [reviewer])
    return json.loads(manifest.to_json())  # type: ignore[no-any-return]


def _canonical(document: dict[str, object]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("ascii")


@pytest.mark.parametrize(("recipients", "message"), [
    ([], "names 0 recipients"),
    ("KEY", "not a list"),
    ([["KEY"]], "not a [public key, name] pair"),
    ([["KEY", "A", "B"]], "not a [public key, name] pair"),
    ([["KEY", 7]], "name in the manifest is not text"),
    ([["KEY", ""]], "not 1 to 200 characters"),
    ([["KEY", "x" * 201]], "not 1 to 200 characters"),
    ([["KEY", "Amina\x1b]0;x\x07"]], "control character"),
    ([["KEY", "Amina\ud800"]], "lone surrogate"),
    ([["KEY", " Amina"]], "white space"),
    ([["KEY", "Amina  N."]], "white space"),
    ([["reporter1qqqq", "Amina"]], "public key in the manifest is invalid"),
    ([["KEY", "Amina"], ["KEY", "Amina again"]], "listed twice"),
    ([["9a" * 32]], "not a [public key, name] pair"),  # a version 2 id
])
def test_version_3_recipients_are_checked(reviewer: RecipientPrivateKey, recipients: object,
                                          message: str) -> None:
    document = _named_document(reviewer)
    key = reviewer.public_key.to_text()
    if isinstance(recipients, list):
        recipients = [[key if part == "KEY" else part for part in entry]
                      if isinstance(entry, list) else entry for entry in recipients]
    document["recipients"] = recipients
    with pytest.raises(Malformed, match=re.escape(message)):
        Manifest.from_json(_canonical(document))


def test_version_3_recipients_must_be_sorted_by_key(reviewer: RecipientPrivateKey) -> None:
    others = [RecipientPrivateKey.generate() for _ in range(3)]
    document = _named_document(reviewer)
    pairs = sorted([[k.public_key.to_text(), f"R{i}"] for i, k in enumerate(others)])
    document["recipients"] = pairs
    assert len(Manifest.from_json(_canonical(document)).named) == 3
    document["recipients"] = pairs[::-1]
    with pytest.raises(Malformed, match="canonical"):
        Manifest.from_json(_canonical(document))


def test_names_outside_ascii_are_escaped_and_read_back(reviewer: RecipientPrivateKey) -> None:
    document = _named_document(reviewer)
    document["recipients"] = [[reviewer.public_key.to_text(), "Zoë Ndlovu \u202e (ملاحظ)"]]
    data = _canonical(document)
    assert b"\\u00eb" in data
    assert Manifest.from_json(data).named[0].name == "Zoë Ndlovu \u202e (ملاحظ)"


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


# --- version 2: attachments ---------------------------------------------------------------


def read_attachments(data: bytes, key: RecipientPrivateKey) -> list[tuple[int, list[bytes]]]:
    """Every report's seq and attachments, streamed piece by piece."""
    out = []
    for item in BundleReader(io.BytesIO(data), key).reports():
        out.append((item.seq, [b"".join(stream) for stream in item.attachments]))
    return out


def test_attachments_round_trip_in_frames_of_one_mib(reviewer: RecipientPrivateKey) -> None:
    from tests.e2e.test_attachments_bundle import bundle_plaintext, frames_of

    sizes = [4147, ATTACHMENT_FRAME, ATTACHMENT_FRAME + 1, 2 * ATTACHMENT_FRAME + 300]
    files = [random_bytes(n) for n in sizes]
    data, manifest = make([b"r1", b"r2", b"r3"], [reviewer],
                          attachments=[files[:2], [], files[2:]])
    assert read_attachments(data, reviewer) == [(1, files[:2]), (2, []), (3, files[2:])]
    assert manifest.attachments[0] == ((4147, ciphertext_hash(files[0])),
                                       (ATTACHMENT_FRAME, ciphertext_hash(files[1])))
    frames = frames_of(bundle_plaintext(data, reviewer))
    assert [(kind, len(d)) for kind, d in frames[2:]] == [
        (bundle.FRAME_ENVELOPE, 2), (bundle.FRAME_ATTACHMENT, 4147),
        (bundle.FRAME_ATTACHMENT, ATTACHMENT_FRAME),
        (bundle.FRAME_ENVELOPE, 2),
        (bundle.FRAME_ENVELOPE, 2), (bundle.FRAME_ATTACHMENT, ATTACHMENT_FRAME),
        (bundle.FRAME_ATTACHMENT, 1),
        (bundle.FRAME_ATTACHMENT, ATTACHMENT_FRAME), (bundle.FRAME_ATTACHMENT, ATTACHMENT_FRAME),
        (bundle.FRAME_ATTACHMENT, 300),
        (bundle.FRAME_END, 0)]
    # P covers every frame, attachments included, and is the smallest bucket that does.
    used = sum(bundle.FRAME_HEADER.size + len(d) for _k, d in frames)
    assert plaintext_length(manifest) == used
    assert BundleReader(io.BytesIO(data), reviewer).info.padded_length == padded_size(used)


def test_pieces_of_any_size_make_the_same_frames(reviewer: RecipientPrivateKey) -> None:
    file = random_bytes(ATTACHMENT_FRAME + 5000)
    _data, manifest = make([b"r"], [reviewer], attachments=[[file]])
    signer = StationSigningKey(bytes(32))
    for cut in (1, 999, 65_536, 1_040_000, len(file)):
        pieces = [file[i : i + cut] for i in range(0, len(file), cut)]
        out = io.BytesIO()
        write_bundle(out, manifest, signer, [Outgoing(b"r", [pieces])], [reviewer.public_key])
        assert read_attachments(out.getvalue(), reviewer) == [(1, [file])]


def test_the_envelopes_alone_can_be_read_and_the_attachments_are_checked_anyway(
        reviewer: RecipientPrivateKey) -> None:
    files = [random_bytes(5000), random_bytes(70_000)]
    data, _ = make([b"a", b"b"], [reviewer], attachments=[files, []])
    reader = BundleReader(io.BytesIO(data), reviewer)
    assert list(reader.envelopes()) == [(1, b"a"), (2, b"b")]
    assert (reader.attachments_read, reader.attachment_bytes) == (2, 75_000)


def test_an_attachment_read_halfway_is_finished_and_checked_by_the_reader(
        reviewer: RecipientPrivateKey) -> None:
    files = [random_bytes(300_000), random_bytes(10)]
    data, _ = make([b"a"], [reviewer], attachments=[files])
    reader = BundleReader(io.BytesIO(data), reviewer)
    for item in reader.reports():
        first = item.attachments[0].read_piece()
        assert first is not None and len(first) <= bundle.PIECE
        with pytest.raises(ValueError, match="in order"):
            item.attachments[1].read_piece()
    assert reader.attachments_read == 2


def test_version_1_bundles_are_still_read(reviewer: RecipientPrivateKey) -> None:
    data, manifest = make([b"old", b"reports"], [reviewer], version=1)
    assert data[8] == 1 and b'"version":1' in manifest.to_json()
    assert b'"envelopes":[[1,3,"' in manifest.to_json()  # three fields, no attachment list
    assert read(data, reviewer) == [(1, b"old"), (2, b"reports")]
    assert Manifest.from_json(manifest.to_json()) == manifest
    with pytest.raises(ValueError, match="no attachments"):
        make([b"r"], [reviewer], version=1, attachments=[[b"x" * 5000]])


def test_the_header_and_the_signed_manifest_must_agree_on_the_version(
        reviewer: RecipientPrivateKey) -> None:
    from tests.e2e.test_attachments_bundle import bundle_plaintext, frames_of, reseal

    data, _ = make([b"r"], [reviewer], version=1)
    # A recipient re-encrypts a signed version 1 bundle under a version 2 header.
    relabelled = reseal(frames_of(bundle_plaintext(data, reviewer)), reviewer, version=2)
    assert relabelled[8] == 2
    with pytest.raises(Malformed, match="header says version 2 but its signed manifest says "
                                        "version 1"):
        read(relabelled, reviewer)
    # And a version 3 manifest (named recipients) under a version 2 header.
    data, _ = make([b"r"], [reviewer], version=3)
    relabelled = reseal(frames_of(bundle_plaintext(data, reviewer)), reviewer, version=2)
    with pytest.raises(Malformed, match="header says version 2 but its signed manifest says "
                                        "version 3"):
        read(relabelled, reviewer)


def test_the_writer_refuses_attachments_that_differ_from_the_manifest(
        reviewer: RecipientPrivateKey) -> None:
    file = random_bytes(5000)
    _data, manifest = make([b"r"], [reviewer], attachments=[[file]])
    signer = StationSigningKey(bytes(32))
    for pieces, message in [([file[:-1]], "changed"), ([file, b"x"], "longer"),
                            ([file[:-1] + b"x"], "changed")]:
        with pytest.raises(ValueError, match=message):
            write_bundle(io.BytesIO(), manifest, signer, [Outgoing(b"r", [pieces])],
                         [reviewer.public_key])
    with pytest.raises(ValueError, match="has 0 attachments, the manifest lists 1"):
        write_bundle(io.BytesIO(), manifest, signer, [b"r"], [reviewer.public_key])


@pytest.mark.parametrize("entry", [
    '[1,2,"%s"]',  # no attachment list
    '[1,2,"%s",{}]',
    '[1,2,"%s",[[0,"%s"]]]',  # an empty attachment
    '[1,2,"%s",[[4147]]]',
    '[1,2,"%s",[[4147,"%s",1]]]',
    '[1,2,"%s",[[4147,"%s"]],[]]',
    '[1,2,"%s",[[4147,"AB%s"]]]',
    '[1,2,"%s",[[4147.0,"%s"]]]',
    '[1,2,"%s",[[true,"%s"]]]',
    '[1,2,"%s",[[2199023255552000,"%s"]]]',  # beyond the largest attachment
])
def test_attachment_entries_are_parsed_strictly(reviewer: RecipientPrivateKey,
                                                entry: str) -> None:
    _, manifest = make([b"r"], [reviewer], attachments=[[b"x" * 4147]])
    text = manifest.to_json().decode()
    start = text.index('"envelopes":[') + len('"envelopes":[')
    end = text.index("]]]", start) + 3
    entry = entry.replace("%s", manifest.envelopes[0][2].hex(), 1).replace("%s", "ab" * 32)
    with pytest.raises(Malformed):
        Manifest.from_json((text[:start] + entry + text[end:]).encode())


def test_too_many_attachments_for_one_report_are_refused(reviewer: RecipientPrivateKey) -> None:
    _, manifest = make([b"r"], [reviewer], attachments=[[b"x" * 4147]])
    listed = ((4147, bytes(32)),) * (MAX_ATTACHMENTS + 1)
    crowded = Manifest(**{**manifest.__dict__, "attachments": (listed,)})
    with pytest.raises(Malformed, match="attachment list"):
        Manifest.from_json(crowded.to_json())


def test_every_single_byte_flip_with_an_attachment_is_detected(
        reviewer: RecipientPrivateKey) -> None:
    data, _ = make([b"small report"], [reviewer], attachments=[[random_bytes(3000)]])
    assert len(data) < 70_000
    for offset in range(0, len(data), 7):
        flipped = bytearray(data)
        flipped[offset] ^= 0x01
        with pytest.raises(FormatError):
            BundleReader(io.BytesIO(bytes(flipped)), reviewer).verify_all()


def test_a_large_attachment_is_written_and_read_in_flat_memory(
        tmp_path: Path, reviewer: RecipientPrivateKey) -> None:
    import tracemalloc

    size = 24 << 20
    piece = random_bytes(1 << 20)
    pieces = [piece] * (size >> 20)
    h = CiphertextHash()
    for p in pieces:
        h.update(p)
    _, template = make([b"r"], [reviewer], attachments=[[b"x"]])
    manifest = Manifest(**{**template.__dict__, "attachments": (((size, h.digest()),),)})
    path = tmp_path / "large.rptr"
    tracemalloc.start()
    with open(path, "wb") as fh:
        write_bundle(fh, manifest, StationSigningKey(bytes(32)),
                     [Outgoing(b"r", [iter(pieces)])], [reviewer.public_key])
    _, write_peak = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    with open(path, "rb") as fh:
        reader = BundleReader(fh, reviewer)
        total = sum(len(p) for item in reader.reports() for s in item.attachments for p in s)
    _, read_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert total == size and reader.attachment_bytes == size
    assert write_peak < 4 << 20, write_peak  # the pieces themselves are 1 MiB each
    assert read_peak < 1 << 20, read_peak


# --- version 4: the station's restores ----------------------------------------------------


def restored(envelopes: list[bytes], *, first: int, number: int, fork_seq: int,
             fork_bundle: int, fork_hash: bytes | None,
             reader: RecipientPrivateKey | None = None, **edits: object) -> Manifest:
    """A version 4 manifest of a station restored after report ``fork_seq``, for
    ``envelopes`` numbered from ``first``; ``edits`` replace fields (or the restore's)."""
    from reporter.formats.manifest import Restore

    signer = StationSigningKey(bytes(32))
    chain = genesis(STATION)
    chains = {0: chain}
    log = [random_bytes(40) for _ in range(first - 1)] + envelopes
    for seq, env in enumerate(log, 1):
        chain = chain_link(chain, seq, env)
        chains[seq] = chain
    restore = {"id": bytes([7]) * 16, "bundle": fork_bundle, "bundle_hash": fork_hash,
               "seq": fork_seq, "chain": chains[fork_seq], "backup": "2026-11-01",
               "restored": "2026-11-02"}
    restore.update({k[8:]: v for k, v in edits.items() if k.startswith("restore_")})
    fields: dict[str, object] = dict(
        station_id=STATION, station_key=signer.verify_key, number=number,
        previous=(fork_hash if number == fork_bundle + 1 else random_bytes(32))
        if number > 1 else None,
        first_seq=first, last_seq=first + len(envelopes) - 1, chain_before=chains[first - 1],
        chain_head=chains[first + len(envelopes) - 1],
        envelopes=tuple((s, len(e), envelope_hash(e)) for s, e in enumerate(envelopes, first)),
        recipients=(),
        named=(NamedRecipient((reader or RecipientPrivateKey(bytes(32))).public_key, "R"),),
        created="2026-11-28", restores=(Restore(**restore),))  # type: ignore[arg-type]
    fields.update({k: v for k, v in edits.items() if not k.startswith("restore_")})
    return Manifest(**fields)  # type: ignore[arg-type]


def test_a_version_4_manifest_lists_the_restores_and_reads_back(
        reviewer: RecipientPrivateKey) -> None:
    fork_hash = random_bytes(32)
    envelopes = [random_bytes(300) for _ in range(3)]
    manifest = restored(envelopes, first=4, number=3, fork_seq=4, fork_bundle=2,
                        fork_hash=fork_hash, reader=reviewer)
    document = json.loads(manifest.to_json())
    assert document["version"] == 4
    assert document["restores"] == [{
        "id": "07" * 16, "bundle": 2, "bundle_hash": fork_hash.hex(), "seq": 4,
        "chain": manifest.restores[0].chain.hex(), "backup": "2026-11-01",
        "restored": "2026-11-02"}]
    assert Manifest.from_json(manifest.to_json()) == manifest
    assert manifest.history == bytes([7]) * 16
    out = io.BytesIO()
    write_bundle(out, manifest, StationSigningKey(bytes(32)), envelopes, [reviewer.public_key])
    reader = BundleReader(io.BytesIO(out.getvalue()), reviewer)
    assert reader.manifest == manifest and len(list(reader.envelopes())) == 3
    # A station never restored lists none, and its bundles belong to the first history.
    _data, plain = make([b"r"], [reviewer])
    assert json.loads(plain.to_json())["restores"] == [] and plain.history == bytes(16)


@pytest.mark.parametrize(("edits", "expected"), [
    ({"restore_id": bytes(16)}, "not all zero"),
    ({"restore_bundle_hash": None}, "if and only if"),
    ({"restore_bundle": 3}, "its numbers start after that"),
    ({"previous": bytes(32)}, "does not name the restore's last bundle"),
    ({"restore_chain": bytes(32)}, "starts right after a restore's fork point"),
    ({"restore_backup": "Nov 1"}, "YYYY-MM-DD"),
    ({"version": 3}, "carry no restores"),
])
def test_restores_that_do_not_fit_the_manifest_are_refused(edits: dict[str, object],
                                                           expected: str) -> None:
    with pytest.raises(ValueError, match=expected):
        restored([random_bytes(50)], first=5, number=3, fork_seq=4, fork_bundle=2,
                 fork_hash=random_bytes(32), **edits)


def test_a_reader_refuses_a_signed_manifest_whose_restores_break_a_rule() -> None:
    good = restored([random_bytes(50)], first=5, number=3, fork_seq=4, fork_bundle=2,
                    fork_hash=random_bytes(32))
    text = good.to_json()
    restore = json.loads(text)["restores"][0]
    for old, new in ((f'"id":"{restore["id"]}"', '"id":"' + "00" * 16 + '"'),
                     ('"number":3', '"number":2'),
                     (f'"chain":"{restore["chain"]}"', '"chain":"' + "ab" * 32 + '"'),
                     ('"restores":[{', '"restores":[{"extra":1,'),
                     ('"restores":[', '"restores":"none","x":['),
                     (',"version":4', ',"version":3')):
        with pytest.raises(Malformed):
            Manifest.from_json(text.replace(old.encode(), new.encode()))
    document = json.loads(text)
    document["restores"] = document["restores"] * 2
    with pytest.raises(Malformed, match="twice"):
        Manifest.from_json(json.dumps(document, sort_keys=True, separators=(",", ":")).encode())
    del document["restores"]
    with pytest.raises(Malformed, match="restores"):
        Manifest.from_json(json.dumps(document, sort_keys=True, separators=(",", ":")).encode())


def test_reports_that_do_not_rebuild_the_chain_a_restore_names_are_refused(
        reviewer: RecipientPrivateKey) -> None:
    """The fork point inside a bundle's range: the reader checks the chain there."""
    envelopes = [random_bytes(100) for _ in range(4)]
    manifest = restored(envelopes, first=3, number=5, fork_seq=4, fork_bundle=2,
                        fork_hash=random_bytes(32), restore_chain=random_bytes(32),
                        reader=reviewer)
    out = io.BytesIO()
    write_bundle(out, manifest, StationSigningKey(bytes(32)), envelopes, [reviewer.public_key])
    with pytest.raises(Tampered, match="report 4 does not rebuild the chain value"):
        read(out.getvalue(), reviewer)
