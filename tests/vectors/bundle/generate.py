"""Write the RPTR-BDL v1 test vectors in this folder (one file per case).

Run from the repository root::

    .venv/bin/python tests/vectors/bundle/generate.py

Two writers make the bundles here:

* the **reference writer**, ``reporter.bundle.write_bundle`` with a
  ``reporter.bundle.Manifest``, for every case it can produce (valid bundles,
  and the damaged copies of them: cuts, flipped bits, swapped chunks, a bundle
  signed for one recipient and encrypted to another, a bundle signed by a
  foreign key);
* a **second writer** below (``manifest_document``, ``canonical``, ``sign``,
  ``encrypt``), written from ``docs/bundle-format.md`` with libsodium and
  ``hashlib`` directly, for the cases ``write_bundle`` refuses to make: a bad
  signature, frames out of order, an extra envelope, no END frame, non-zero
  padding, a header that lies about its length, a non-canonical manifest, and
  so on. Each such case breaks one rule and keeps everything else valid (the
  header is authenticated, the manifest is signed by the named key unless the
  case is about the signature).

Before writing anything, ``self_check`` makes sure the two writers agree: the
same manifest bytes, the same Ed25519 signature (Ed25519 is deterministic),
the same hashes, and a bundle from the second writer that the reader accepts.

The envelopes inside are real ``RPTR-ENV`` envelopes from
``reporter.envelope.seal``. Everything random (file keys, ephemeral keys,
secretstream headers) is fresh on every run, so the bytes change each time;
the keys, the manifests' shape and the expectations do not. See README.md.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nacl.bindings as sodium

from reporter import bech32
from reporter.bundle import BundleReader, Manifest, write_bundle
from reporter.bundle import recipient_id as reference_recipient_id
from reporter.crypto import (
    RecipientPrivateKey,
    RecipientPublicKey,
    StationSigningKey,
    StationVerifyKey,
)
from reporter.envelope import seal
from reporter.receipt import ALPHABET, CTX_CHECK, parse_receipt
from reporter.report import Report
from reporter.store import chain_link, envelope_hash, genesis

HERE = Path(__file__).resolve().parent

# Fixed keys. Test keys only: they are public, never use them for anything else.
IDENTITY_A = "2296badbc3f6ad47ae57e659a3b0f4c77f5d2d03c257c7ce791ce5ae0822ab07"  # the reviewer
IDENTITY_B = "994a1dc5217ba9f6cd61624681fe4447ce57db5de8620bb535b839634aa45d24"  # never a recipient
IDENTITY_C = "ced97eb59e373d63e336516263847f8d90093eb3001e4831c548f99cf9c5ea6d"  # other reviewers
IDENTITY_D = "634b1e4174463ab8d5df68833494f08e116baf7a609423f2d1245cf0d0cfc994"
STATION_SEED = "a6cbdf7ce33de3e64fc8e463c8f8b3c41838bc46717d9ae003fb94f622e193a7"  # Ed25519 seed
FOREIGN_SEED = "ca9105139259d94f8c127b8a0c9473124de1a2d7842e9d3a7e7197ae49f5ecd6"  # an impostor
STATION_ID = bytes.fromhex("4212801bb5ca39d6310ecb370d9ff23b")
CREATED = "2026-11-28"

# The format, written out from the spec rather than imported from the code.
MAGIC = b"RPTR-BDL"
FIXED_HEADER = struct.Struct(">8sBBQ")  # magic, version, recipient count n, padded length P
FIXED_BYTES = 18
STANZA_BYTES = 80
SS_HEADER_BYTES = 24
SS_ABYTES = 17
CHUNK = 64 * 1024
MIN_PADDED = 64 * 1024
STEP_PADDED = 64 * 1024 * 1024
TAG_MESSAGE = 0
TAG_FINAL = 3
FRAME = struct.Struct(">BI")  # type, length
END, MANIFEST, SIGNATURE, ENVELOPE = 0, 1, 2, 3
CTX_PAYLOAD = b"reporter/bundle/v1/payload"
CTX_SIGNED = b"reporter/signed/v1"
CTX_SIGNATURE = b"reporter/bundle/v1/manifest"
CTX_HASH = b"reporter/bundle/v1/hash"
CTX_RECIPIENT_ID = b"reporter/recipient-id/v1"
CTX_ENVELOPE_HASH = b"reporter/envelope-hash/v1"
CTX_GENESIS = b"reporter/chain/v1/genesis"
CTX_LINK = b"reporter/chain/v1/link"


# --- the second writer ---------------------------------------------------------


def digest(context: bytes, *parts: bytes, size: int = 32) -> bytes:
    """BLAKE2b over len(context) (1 byte) || context || (len (8, BE) || part)*."""
    h = hashlib.blake2b(digest_size=size)
    h.update(bytes([len(context)]) + context)
    for part in parts:
        h.update(struct.pack(">Q", len(part)) + part)
    return h.digest()


def env_hash(envelope: bytes) -> bytes:
    return digest(CTX_ENVELOPE_HASH, envelope)


def link(previous: bytes, seq: int, envelope: bytes) -> bytes:
    return digest(CTX_LINK, previous, struct.pack(">Q", seq), env_hash(envelope))


def public_key(identity_hex: str) -> bytes:
    return sodium.crypto_scalarmult_base(bytes.fromhex(identity_hex))


def recipient_id(identity_hex: str) -> bytes:
    return digest(CTX_RECIPIENT_ID, public_key(identity_hex))


def station_public(seed_hex: str) -> bytes:
    return sodium.crypto_sign_seed_keypair(bytes.fromhex(seed_hex))[0]


def station_key_text(seed_hex: str) -> str:
    return bech32.encode("reporterstation", station_public(seed_hex))


def sign(seed_hex: str, manifest: bytes) -> bytes:
    """Ed25519 over digest("reporter/signed/v1", context, manifest) (64-byte BLAKE2b)."""
    _pk, sk = sodium.crypto_sign_seed_keypair(bytes.fromhex(seed_hex))
    message = digest(CTX_SIGNED, CTX_SIGNATURE, manifest, size=64)
    return sodium.crypto_sign(message, sk)[:64]


def bucket(length: int) -> int:
    size = MIN_PADDED
    while size < length and size < STEP_PADDED:
        size *= 2
    if size < length:
        size = -(-length // STEP_PADDED) * STEP_PADDED
    return size


@dataclass(frozen=True)
class Contents:
    """What one bundle carries; enough to write its manifest."""

    envelopes: tuple[bytes, ...]
    recipients: tuple[str, ...] = (IDENTITY_A,)  # whose ids the manifest lists
    number: int = 1
    previous: bytes | None = None
    first_seq: int = 1
    chain_before: bytes = field(default_factory=lambda: digest(CTX_GENESIS, STATION_ID))
    station_seed: str = STATION_SEED

    @property
    def last_seq(self) -> int:
        return self.first_seq + len(self.envelopes) - 1

    def chain_head(self) -> bytes:
        head = self.chain_before
        for seq, envelope in enumerate(self.envelopes, self.first_seq):
            head = link(head, seq, envelope)
        return head


def manifest_document(c: Contents) -> dict[str, object]:
    return {
        "format": "reporter-bundle",
        "version": 1,
        "station_id": STATION_ID.hex(),
        "station_key": station_key_text(c.station_seed),
        "number": c.number,
        "previous": None if c.previous is None else c.previous.hex(),
        "first_seq": c.first_seq,
        "last_seq": c.last_seq,
        "chain_before": c.chain_before.hex(),
        "chain_head": c.chain_head().hex(),
        "envelopes": [[seq, len(e), env_hash(e).hex()]
                      for seq, e in enumerate(c.envelopes, c.first_seq)],
        "recipients": sorted(recipient_id(r).hex() for r in c.recipients),
        "created": CREATED,
    }


def canonical(document: object) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("ascii")


def frame(kind: int, data: bytes) -> bytes:
    return FRAME.pack(kind, len(data)) + data


def frames(manifest: bytes, signature: bytes, envelopes: Sequence[bytes], *,
           end: bool = True) -> bytes:
    """MANIFEST, SIGNATURE, one ENVELOPE per envelope, END: the plaintext before padding."""
    return b"".join([
        frame(MANIFEST, manifest),
        frame(SIGNATURE, signature),
        *(frame(ENVELOPE, e) for e in envelopes),
        frame(END, b"") if end else b"",
    ])


def encrypt(plaintext: bytes, recipients: Sequence[str], *, version: int = 1,
            count: int | None = None, padded: int | None = None,
            last_padding_byte: int = 0) -> bytes:
    """Pad ``plaintext`` to P bytes and seal it to ``recipients`` as a bundle.

    ``version``/``count`` put other values in the fixed header (which the
    first chunk still authenticates); ``padded`` chooses P (default: the
    smallest bucket); ``last_padding_byte`` makes the last padding byte non-zero.
    """
    padded = bucket(len(plaintext)) if padded is None else padded
    count = len(recipients) if count is None else count
    assert len(plaintext) <= padded
    body = bytearray(plaintext + bytes(padded - len(plaintext)))
    if last_padding_byte:
        assert len(plaintext) < padded, "no padding to make non-zero"
        body[-1] = last_padding_byte
    file_key = sodium.randombytes(32)
    payload_key = hashlib.blake2b(CTX_PAYLOAD, key=file_key, digest_size=32).digest()
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    ss_header = sodium.crypto_secretstream_xchacha20poly1305_init_push(state, payload_key)
    header = b"".join([
        FIXED_HEADER.pack(MAGIC, version, count, padded),
        *(sodium.crypto_box_seal(file_key, public_key(r)) for r in recipients),
        ss_header,
    ])
    chunks = -(-padded // CHUNK)
    out = [header]
    for index in range(chunks):
        out.append(sodium.crypto_secretstream_xchacha20poly1305_push(
            state, bytes(body[index * CHUNK : (index + 1) * CHUNK]),
            header if index == 0 else None,
            TAG_FINAL if index == chunks - 1 else TAG_MESSAGE))
    return b"".join(out)


def second_writer(c: Contents, *, stanza_recipients: Sequence[str] | None = None) -> bytes:
    """A valid bundle for ``c`` from the second writer (used by ``self_check``)."""
    manifest = canonical(manifest_document(c))
    plaintext = frames(manifest, sign(c.station_seed, manifest), c.envelopes)
    return encrypt(plaintext, stanza_recipients or c.recipients)


# --- the reference writer ----------------------------------------------------------


def reference(c: Contents, *, stanza_recipients: Sequence[str] | None = None) -> bytes:
    """The bundle ``reporter.bundle.write_bundle`` writes for ``c``."""
    signer = StationSigningKey(bytes.fromhex(c.station_seed))
    manifest = Manifest(
        station_id=STATION_ID,
        station_key=signer.verify_key,
        number=c.number,
        previous=c.previous,
        first_seq=c.first_seq,
        last_seq=c.last_seq,
        chain_before=c.chain_before,
        chain_head=c.chain_head(),
        envelopes=tuple((seq, len(e), envelope_hash(e))
                        for seq, e in enumerate(c.envelopes, c.first_seq)),
        recipients=tuple(reference_recipient_id(RecipientPublicKey(public_key(r)))
                         for r in c.recipients),
        created=CREATED,
    )
    # The two writers must agree byte for byte on what is signed.
    assert manifest.to_json() == canonical(manifest_document(c))
    assert signer.sign(CTX_SIGNATURE, manifest.to_json()) == sign(c.station_seed,
                                                                  manifest.to_json())
    out = io.BytesIO()
    keys = [RecipientPublicKey(public_key(r)) for r in stanza_recipients or c.recipients]
    size = write_bundle(out, manifest, signer, c.envelopes, keys)
    assert size == len(out.getvalue())
    return out.getvalue()


def manifest_hash(c: Contents) -> bytes:
    return digest(CTX_HASH, canonical(manifest_document(c)))


# --- contents ------------------------------------------------------------------------


def receipt(n: int) -> str:
    data = f"{n:014d}"
    value = int.from_bytes(digest(CTX_CHECK, data.encode("ascii"), size=2), "big") >> 6
    raw = data + ALPHABET[value >> 5] + ALPHABET[value & 31]
    code = "-".join(raw[i : i + 4] for i in range(0, 16, 4))
    assert parse_receipt(code) == code
    return code


def body(n: int, words: int = 1) -> bytes:
    return Report(
        kind="incident",
        receipt=receipt(n),
        locale="fr",
        submitted="2026-11-02",
        fields={
            "incident_types": ["shooting"],
            "incident_date": "2026-11-01",
            "site": "Marange",
            "description": f"Rapport {n}: " + "des creuseurs blessés près de la rivière. " * words,
            "source": "witnessed",
            "contact": "none",
        },
    ).to_body()


def envelopes(first: int, count: int, recipients: Sequence[str], words: int = 1
              ) -> tuple[bytes, ...]:
    keys = [RecipientPublicKey(public_key(r)) for r in recipients]
    return tuple(seal(body(n, words), keys) for n in range(first, first + count))


def flip(data: bytes, offset: int, mask: int = 0x01) -> bytes:
    return data[:offset] + bytes([data[offset] ^ mask]) + data[offset + 1 :]


def header_length(n: int) -> int:
    return FIXED_BYTES + STANZA_BYTES * n + SS_HEADER_BYTES


def straddles(c: Contents, boundary: int) -> int:
    """The report whose ENVELOPE frame crosses ``boundary`` in the plaintext."""
    offset = 2 * FRAME.size + len(canonical(manifest_document(c))) + 64
    for seq, envelope in enumerate(c.envelopes, c.first_seq):
        end = offset + FRAME.size + len(envelope)
        if offset < boundary < end:
            return seq
        offset = end
    raise AssertionError("no envelope crosses the boundary")


def exact_fit() -> Contents:
    """Contents whose frames, without the END frame, leave fewer than 5 bytes of P.

    The END frame is five zero bytes, exactly like padding, so a writer that
    forgets it is only caught when the padding is too short to be read as an
    END frame. The search tunes the number of envelopes, their stanza counts
    (80 bytes each) and the digits of the bundle and sequence numbers.
    """
    dummy_hash = b"\0" * 32
    for count in range(12, 16):
        for extra in range(0, 2 * count + 1):
            stanzas = [1 + min(2, max(0, extra - 2 * i)) for i in range(count)]
            sizes = [4151 + 80 * s for s in stanzas]
            for first in (1, 10, 100, 1000, 10**4, 10**5, 10**6):
                for number in (1, *(10**j for j in range(1, 18))):
                    document = {
                        "format": "reporter-bundle", "version": 1,
                        "station_id": STATION_ID.hex(),
                        "station_key": station_key_text(STATION_SEED),
                        "number": number,
                        "previous": None if number == 1 else dummy_hash.hex(),
                        "first_seq": first, "last_seq": first + count - 1,
                        "chain_before": dummy_hash.hex(), "chain_head": dummy_hash.hex(),
                        "envelopes": [[first + i, size, dummy_hash.hex()]
                                      for i, size in enumerate(sizes)],
                        "recipients": [dummy_hash.hex()], "created": CREATED,
                    }
                    used = (2 * FRAME.size + len(canonical(document)) + 64
                            + sum(FRAME.size + size for size in sizes))
                    if MIN_PADDED - FRAME.size < used <= MIN_PADDED:
                        recipients = [IDENTITY_A, IDENTITY_C, IDENTITY_D]
                        sealed = tuple(
                            seal(body(first + i), [RecipientPublicKey(public_key(r))
                                                   for r in recipients[:s]])
                            for i, s in enumerate(stanzas))
                        assert [len(e) for e in sealed] == sizes
                        return Contents(sealed, number=number, first_seq=first,
                                        previous=None if number == 1 else bytes(32))
    raise AssertionError("no exact fit found")


# --- the cases -------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    expect: str
    data: bytes
    comment: str
    identity: str = IDENTITY_A
    ok: Contents | None = None  # for expect: ok
    extra: dict[str, str] = field(default_factory=dict)


def cases() -> list[Case]:
    a, b, c, d = IDENTITY_A, IDENTITY_B, IDENTITY_C, IDENTITY_D

    # One station's history: bundles 1, 2 and 3, each following the one before.
    first = Contents(envelopes(1, 3, [a]))
    multi = Contents(envelopes(4, 16, [a]), number=2, previous=manifest_hash(first),
                     first_seq=4, chain_before=first.chain_head())
    three = Contents(envelopes(20, 2, [c, a, d]), recipients=(c, a, d), number=3,
                     previous=manifest_hash(multi), first_seq=20,
                     chain_before=multi.chain_head())
    ok = reference(first)
    ok_multi = reference(multi)
    assert len(ok) == header_length(1) + MIN_PADDED + SS_ABYTES
    assert len(ok_multi) == header_length(1) + 2 * (CHUNK + SS_ABYTES)
    full = CHUNK + SS_ABYTES
    start = header_length(1)
    chunk_1, chunk_2 = ok_multi[start : start + full], ok_multi[start + full :]
    assert len(chunk_2) == full
    straddling = straddles(multi, CHUNK)

    # A fourth bundle from the same station, for the hand-made cases.
    later = Contents(envelopes(22, 3, [a]), number=4, previous=manifest_hash(three),
                     first_seq=22, chain_before=three.chain_head())
    manifest = canonical(manifest_document(later))
    signature = sign(STATION_SEED, manifest)
    other_envelope = seal(body(99), [RecipientPublicKey(public_key(a))])
    assert len(other_envelope) == len(later.envelopes[1])

    def signed(document: dict[str, object],
               serialise: Callable[[object], bytes] = canonical) -> bytes:
        data = serialise(document)
        return encrypt(frames(data, sign(STATION_SEED, data), later.envelopes), [a])

    wrong_head = manifest_document(later)
    wrong_head["chain_head"] = Contents(later.envelopes[:2], first_seq=22,
                                        chain_before=later.chain_before).chain_head().hex()
    newer = manifest_document(later)
    newer["version"] = 2
    huge = manifest_document(Contents((), first_seq=1))
    huge.update(first_seq=1, last_seq=2**62, envelopes=[])
    fit = exact_fit()
    fit_manifest = canonical(manifest_document(fit))
    fit_plain = frames(fit_manifest, sign(STATION_SEED, fit_manifest), fit.envelopes, end=False)
    assert MIN_PADDED - FRAME.size < len(fit_plain) <= MIN_PADDED
    nested = b'{"station_key":' + b"[" * 20_000 + b"]" * 20_000 + b"}"

    return [
        Case("ok", "ok", ok, ok=first, comment=(
            "bundle 1 of the station: reports 1-3 sealed to A, signed, one recipient, "
            "P = 65536 (one chunk)")),
        Case("ok-multi-chunk", "ok", ok_multi, ok=multi, comment=(
            "bundle 2 (follows 'ok'): reports 4-19, P = 131072: two chunks, TAG_MESSAGE "
            f"then TAG_FINAL; report {straddling}'s ENVELOPE frame straddles the chunk "
            "boundary")),
        Case("ok-three-recipients", "ok", reference(three), ok=three, comment=(
            "bundle 3 (follows 'ok-multi-chunk'): sealed to C, A, D; opened with A, "
            "whose stanza is the second")),
        Case("wrong-recipient", "not-a-recipient", reference(Contents(
            envelopes(1, 1, [a, c]), recipients=(a, c))), identity=b, comment=(
            "sealed to A and C, opened with B")),
        Case("truncated-in-header", "truncated", ok[:60], comment=(
            "the first 60 bytes of 'ok': ends inside the stanza")),
        Case("truncated-last-chunk", "truncated", ok[:-100], comment=(
            "'ok' without its last 100 bytes (in its only chunk)")),
        Case("truncated-at-chunk-boundary", "truncated", ok_multi[:-full], comment=(
            "'ok-multi-chunk' without its whole second chunk: ends exactly after a "
            "complete chunk")),
        Case("trailing-bytes", "malformed", ok + b"\x00", comment=(
            "'ok' followed by one zero byte")),
        Case("flipped-byte-in-magic", "malformed", flip(ok, 0), comment=(
            "'ok' with the first magic byte changed from 'R' to 'S'")),
        Case("flipped-byte-in-stanza", "not-a-recipient", flip(ok, FIXED_BYTES + 40),
             comment=("'ok' with one bit of its only stanza flipped: a damaged stanza "
                      "cannot be told apart from someone else's")),
        Case("flipped-byte-in-padded-length", "malformed", flip(ok, 17), comment=(
            "'ok' with P changed from 65536 to 65537 (byte 17), not a valid bucket")),
        Case("flipped-byte-in-secretstream-header", "tampered",
             flip(ok, FIXED_BYTES + STANZA_BYTES), comment=(
                 "'ok' with the first byte of the secretstream header flipped")),
        Case("flipped-byte-in-manifest-chunk", "tampered", flip(ok, start + 200), comment=(
            "'ok' with one bit of the first chunk (where the manifest is) flipped")),
        Case("flipped-byte-in-last-chunk", "tampered", flip(ok_multi, len(ok_multi) - 5),
             comment=("'ok-multi-chunk' with one bit of the second chunk's MAC flipped: "
                      "the manifest and signature verify, the failure comes while the "
                      "envelopes stream")),
        Case("swapped-chunks", "tampered", ok_multi[:start] + chunk_2 + chunk_1, comment=(
            "'ok-multi-chunk' with its two chunks in reverse order")),
        Case("unknown-version", "unknown-version",
             encrypt(frames(manifest, signature, later.envelopes), [a], version=2),
             comment=("version byte 2; otherwise a valid bundle whose header (with the 2) "
                      "the first chunk authenticates")),
        Case("unknown-manifest-version", "unknown-version", signed(newer), comment=(
            "version byte 1, but the signed, canonical manifest says \"version\":2")),
        Case("bad-signature", "bad-signature",
             encrypt(frames(manifest, sign(FOREIGN_SEED, manifest), later.envelopes), [a]),
             comment=("the manifest names the station's key but the signature was made "
                      "with another key (FOREIGN_SEED)")),
        Case("re-encrypted-to-non-listed-recipient", "re-encrypted", reference(Contents(
            envelopes(1, 2, [c]), recipients=(c,)), stanza_recipients=[a]), comment=(
            "signed for recipient C only (the manifest lists C's id) but encrypted to A, "
            "as C could do after decrypting it")),
        Case("foreign-station", "foreign-station", reference(Contents(
            envelopes(25, 1, [a]), number=5, previous=manifest_hash(later), first_seq=25,
            chain_before=later.chain_head(), station_seed=FOREIGN_SEED)),
             extra={"pinned-station-key": station_key_text(STATION_SEED)}, comment=(
                 "claims the station's id but is signed by FOREIGN_SEED's key and names "
                 "that key: a reader alone accepts it (the signature is valid for the key "
                 "it names); an importer that pinned the station id to pinned-station-key "
                 "refuses it")),
        Case("envelope-not-matching-manifest", "tampered",
             encrypt(frames(manifest, signature,
                            [later.envelopes[0], other_envelope, later.envelopes[2]]), [a]),
             comment=("the second ENVELOPE frame holds another envelope of the same size "
                      "than the one whose hash the signed manifest lists")),
        Case("chain-head-wrong", "tampered", signed(wrong_head), comment=(
            "signed, canonical manifest whose chain_head is the chain value after report "
            "23, not after the last report 24: the envelopes do not rebuild it")),
        Case("missing-end-frame", "malformed",
             encrypt(fit_plain, [a], padded=MIN_PADDED), comment=(
                 "no END frame, and the frames leave fewer than 5 bytes of P: there is no "
                 "room for the END frame. (An END frame is 5 zero bytes, so with 5 or more "
                 "bytes of zero padding a missing END frame cannot be detected.)")),
        Case("extra-envelope", "malformed",
             encrypt(frames(manifest, signature, [*later.envelopes, other_envelope]), [a]),
             comment=("a fourth ENVELOPE frame after the three the manifest lists, then "
                      "END")),
        Case("nonzero-padding", "malformed",
             encrypt(frames(manifest, signature, later.envelopes), [a],
                     last_padding_byte=0x01),
             comment="a valid bundle whose last padding byte is 0x01"),
        Case("manifest-not-canonical", "malformed",
             signed(manifest_document(later),
                    lambda doc: json.dumps(doc, sort_keys=True).encode("ascii")),
             comment=("the manifest has spaces after ',' and ':' (and is signed like "
                      "that): only the canonical form is accepted")),
        Case("wrong-frame-order", "malformed",
             encrypt(frame(SIGNATURE, signature) + frame(MANIFEST, manifest)
                     + b"".join(frame(ENVELOPE, e) for e in later.envelopes)
                     + frame(END, b""), [a]),
             comment="SIGNATURE frame first, then MANIFEST"),
        Case("header-length-lies", "truncated",
             encrypt(frames(manifest, signature, later.envelopes), [a], count=2), comment=(
                 "n = 2 but only one stanza (the header, with the 2, is authenticated): the "
                 "file is 80 bytes shorter than its header says")),
        Case("manifest-deeply-nested", "malformed",
             encrypt(frame(MANIFEST, nested) + frame(SIGNATURE, bytes(64)) + frame(END, b""),
                     [a]), comment=(
                 "the manifest frame holds {\"station_key\": [[[...]]]} nested 20000 deep, "
                 "and a zero signature: no station key, so the bundle must be refused "
                 "before any signature check")),
        Case("manifest-huge-range", "malformed", signed(huge), comment=(
            "signed, canonical manifest for reports 1 to 2^62 that lists no envelope: its "
            "envelope list does not match its range")),
    ]


def self_check() -> None:
    """The second writer follows the reference: same hashes, manifest, signature, format."""
    reviewer = RecipientPrivateKey(bytes.fromhex(IDENTITY_A))
    assert reviewer.public_key.raw == public_key(IDENTITY_A)
    assert reference_recipient_id(reviewer.public_key) == recipient_id(IDENTITY_A)
    sample = envelopes(1, 2, [IDENTITY_A])
    c = Contents(sample)
    assert c.chain_before == genesis(STATION_ID)
    assert c.chain_head() == chain_link(chain_link(genesis(STATION_ID), 1, sample[0]),
                                        2, sample[1])
    assert StationVerifyKey.from_text(station_key_text(STATION_SEED)).raw == (
        StationSigningKey(bytes.fromhex(STATION_SEED)).verify_key.raw)
    reference(c)  # asserts that the manifests and the signatures agree
    bundle = second_writer(c)
    assert len(bundle) == len(reference(c))
    reader = BundleReader(io.BytesIO(bundle), reviewer)
    assert reader.manifest_hash == manifest_hash(c)
    assert list(reader.envelopes()) == list(enumerate(sample, 1))


def main() -> None:
    self_check()
    for old in HERE.iterdir():
        if old.is_file() and "." not in old.name:
            old.unlink()
    total = 0
    for case in cases():
        lines = [f"expect: {case.expect}", f"identity: {case.identity}"]
        if case.ok is not None:
            lines += [
                f"reports: {len(case.ok.envelopes)}",
                f"first-seq: {case.ok.first_seq}",
                f"last-seq: {case.ok.last_seq}",
                f"station-id: {STATION_ID.hex()}",
                f"station-key: {station_key_text(case.ok.station_seed)}",
            ]
        lines += [f"{key}: {value}" for key, value in case.extra.items()]
        lines.append(f"comment: {case.comment}")
        text = "\n".join(lines) + "\n\n"
        assert "\n\n" not in text[:-2]
        data = text.encode("utf-8") + case.data
        (HERE / case.name).write_bytes(data)
        total += len(data)
        print(f"{case.name:40} {case.expect:16} {len(case.data):8} bytes")
    print(f"{'total':57} {total:8} bytes")


if __name__ == "__main__":
    main()
