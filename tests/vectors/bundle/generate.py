"""Write the RPTR-BDL test vectors in this folder (one file per case).

Run from the repository root::

    .venv/bin/python tests/vectors/bundle/generate.py            # every case
    .venv/bin/python tests/vectors/bundle/generate.py NAME ...   # only these

Version 1 cases (no attachments) come first, version 2 cases (attachments)
after them, then version 3 cases (named recipients), then version 4 cases (the
station's restores from backups); see README.md.

Two writers make the bundles here:

* the **reference writer**, ``reporter.formats.bundle.write_bundle`` with a
  ``reporter.formats.manifest.Manifest``, for every case it can produce (valid bundles,
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

The envelopes inside the version 1 cases are real ``RPTR-ENV`` envelopes from
``reporter.formats.envelope.seal``. The **version 2 cases** (attachments) are made by
the second writer alone, from libsodium primitives and ``hashlib``: their
envelopes (``seal_envelope``), their report bodies (``v2_body``) and their
sealed attachments (``seal_attachment``, RPTR-ATT: Padme padding,
secretstream under a key derived from the envelope's file key, SHA-256
ciphertext hash) are written here from the specifications, importing nothing
of ``reporter.formats.envelope``, ``reporter.formats.attachment`` or ``reporter.formats.report``;
``self_check_v2`` then checks that reporter opens what they wrote.
Everything random (file keys, ephemeral keys, secretstream headers) is fresh
on every run, so the bytes change each time; the keys, the manifests' shape
and the expectations do not. See README.md.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import struct
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nacl.bindings as sodium

from reporter.formats import bech32
from reporter.formats.bundle import BundleReader, write_bundle
from reporter.formats.chain import chain_link, envelope_hash, genesis
from reporter.formats.crypto import (
    RecipientPrivateKey,
    RecipientPublicKey,
    StationSigningKey,
    StationVerifyKey,
)
from reporter.formats.envelope import seal
from reporter.formats.manifest import Manifest, NamedRecipient, Restore
from reporter.formats.manifest import recipient_id as reference_recipient_id
from reporter.formats.receipt import ALPHABET, CTX_CHECK, parse_receipt
from reporter.formats.report import Report

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
END, MANIFEST, SIGNATURE, ENVELOPE, ATTACHMENT = 0, 1, 2, 3, 4
ATTACHMENT_FRAME = 1024 * 1024  # attachment ciphertext per ATTACHMENT frame (version 2)
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


def recipient_text(identity_hex: str) -> str:
    """The public key as the station's list and a version 3 manifest write it."""
    return bech32.encode("reporter", public_key(identity_hex))


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
    version: int = 1
    # Version 2: per envelope, each attachment's sealed bytes (RPTR-ATT), in index order.
    attachments: tuple[tuple[bytes, ...], ...] = ()
    # Version 3: the name of each of ``recipients`` (same order).
    names: tuple[str, ...] = ()
    # Version 4: the station's restores, as the manifest writes them (dicts).
    restores: tuple[dict[str, object], ...] = ()

    def attachment_lists(self) -> tuple[tuple[bytes, ...], ...]:
        return self.attachments or tuple(() for _ in self.envelopes)

    @property
    def last_seq(self) -> int:
        return self.first_seq + len(self.envelopes) - 1

    def chain_head(self) -> bytes:
        head = self.chain_before
        for seq, envelope in enumerate(self.envelopes, self.first_seq):
            head = link(head, seq, envelope)
        return head


def manifest_document(c: Contents) -> dict[str, object]:
    entries: list[list[object]] = []
    for seq, (e, sealed) in enumerate(zip(c.envelopes, c.attachment_lists(), strict=True),
                                      c.first_seq):
        entry: list[object] = [seq, len(e), env_hash(e).hex()]
        if c.version >= 2:
            entry.append([[len(a), attachment_hash(a).hex()] for a in sealed])
        entries.append(entry)
    return {
        "format": "reporter-bundle",
        "version": c.version,
        "station_id": STATION_ID.hex(),
        "station_key": station_key_text(c.station_seed),
        "number": c.number,
        "previous": None if c.previous is None else c.previous.hex(),
        "first_seq": c.first_seq,
        "last_seq": c.last_seq,
        "chain_before": c.chain_before.hex(),
        "chain_head": c.chain_head().hex(),
        "envelopes": entries,
        "recipients": (sorted(recipient_id(r).hex() for r in c.recipients) if c.version < 3
                       else sorted([recipient_text(r), n]
                                   for r, n in zip(c.recipients, c.names, strict=True))),
        "created": CREATED,
        **({"restores": list(c.restores)} if c.version >= 4 else {}),
    }


def canonical(document: object) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("ascii")


def frame(kind: int, data: bytes) -> bytes:
    return FRAME.pack(kind, len(data)) + data


def attachment_frames(sealed: bytes) -> bytes:
    """One attachment's ciphertext cut into ATTACHMENT frames of 1 MiB (the last shorter)."""
    return b"".join(frame(ATTACHMENT, sealed[i : i + ATTACHMENT_FRAME])
                    for i in range(0, len(sealed), ATTACHMENT_FRAME))


def frames(manifest: bytes, signature: bytes, envelopes: Sequence[bytes], *,
           end: bool = True, attachments: Sequence[Sequence[bytes]] = ()) -> bytes:
    """MANIFEST, SIGNATURE, per envelope an ENVELOPE and its attachments' frames, END:
    the plaintext before padding."""
    lists = attachments or [() for _ in envelopes]
    return b"".join([
        frame(MANIFEST, manifest),
        frame(SIGNATURE, signature),
        *(frame(ENVELOPE, e) + b"".join(attachment_frames(a) for a in sealed)
          for e, sealed in zip(envelopes, lists, strict=True)),
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
    """A valid bundle for ``c`` from the second writer."""
    manifest = canonical(manifest_document(c))
    plaintext = frames(manifest, sign(c.station_seed, manifest), c.envelopes,
                       attachments=c.attachment_lists())
    return encrypt(plaintext, stanza_recipients or c.recipients, version=c.version)


# --- the reference writer ----------------------------------------------------------


def reference_manifest(c: Contents) -> Manifest:
    """``reporter.formats.manifest.Manifest`` for ``c``."""
    signer = StationSigningKey(bytes.fromhex(c.station_seed))
    return Manifest(
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
        recipients=(() if c.version >= 3 else
                    tuple(reference_recipient_id(RecipientPublicKey(public_key(r)))
                          for r in c.recipients)),
        created=CREATED,
        attachments=tuple(tuple((len(a), attachment_hash(a)) for a in sealed)
                          for sealed in c.attachment_lists()),
        version=c.version,
        named=(tuple(NamedRecipient(RecipientPublicKey(public_key(r)), n)
                     for r, n in zip(c.recipients, c.names, strict=True))
               if c.version >= 3 else ()),
        restores=tuple(Restore(
            id=bytes.fromhex(str(r["id"])), bundle=int(r["bundle"]),  # type: ignore[call-overload]
            bundle_hash=None if r["bundle_hash"] is None else bytes.fromhex(
                str(r["bundle_hash"])),
            seq=int(r["seq"]), chain=bytes.fromhex(str(r["chain"])),  # type: ignore[call-overload]
            backup=str(r["backup"]), restored=str(r["restored"])) for r in c.restores),
    )


def reference(c: Contents, *, stanza_recipients: Sequence[str] | None = None) -> bytes:
    """The bundle ``reporter.formats.bundle.write_bundle`` writes for ``c`` (version 1 only)."""
    assert c.version == 1, "the version 2 cases are written by the second writer alone"
    signer = StationSigningKey(bytes.fromhex(c.station_seed))
    manifest = reference_manifest(c)
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


# --- version 2: envelopes, report bodies and attachments, from the specifications -------
# Written from docs/envelope-format.md, reporter/report.py's schema 2 and the RPTR-ATT
# description (reporter/attachment.py's docstring), with libsodium and hashlib only.

ENV_MAGIC = b"RPTR-ENV"
ENV_FIXED = struct.Struct(">8sBBI")  # magic, version 1, n, P (4 bytes)
ENV_MIN_PADDED = 4096
CTX_ENV_PAYLOAD = b"reporter/envelope/v1/payload"
ATT_MAGIC = b"RPTR-ATT"
ATT_HEADER = struct.Struct(">8sBB")  # magic, version 1, index
ATT_MIN_PADDED = 4096
CTX_ATT_KEY = b"reporter/attachment/v1/"
CTX_ATT_HASH = b"reporter/attachment-ciphertext/v1"


def blake2b_key(key: bytes, context: bytes) -> bytes:
    """``subkey``: BLAKE2b-256 keyed with ``key`` over the bare context string."""
    return hashlib.blake2b(context, key=key, digest_size=32).digest()


def secretstream(key: bytes, header: bytes, plaintext: bytes) -> bytes:
    """``header`` || the secretstream header || 64 KiB chunks (first: the whole header as
    associated data; last: TAG_FINAL)."""
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    ss_header = sodium.crypto_secretstream_xchacha20poly1305_init_push(state, key)
    header += ss_header
    chunks = -(-len(plaintext) // CHUNK)
    out = [header]
    for index in range(chunks):
        out.append(sodium.crypto_secretstream_xchacha20poly1305_push(
            state, plaintext[index * CHUNK : (index + 1) * CHUNK],
            header if index == 0 else None,
            TAG_FINAL if index == chunks - 1 else TAG_MESSAGE))
    return b"".join(out)


def seal_envelope(body_bytes: bytes, recipients: Sequence[str], file_key: bytes) -> bytes:
    """An RPTR-ENV envelope of ``body_bytes`` under ``file_key``."""
    padded = ENV_MIN_PADDED
    while padded < len(body_bytes) + 4:
        padded *= 2
    plaintext = struct.pack(">I", len(body_bytes)) + body_bytes
    plaintext += bytes(padded - len(plaintext))
    header = ENV_FIXED.pack(ENV_MAGIC, 1, len(recipients), padded) + b"".join(
        sodium.crypto_box_seal(file_key, public_key(r)) for r in recipients)
    return secretstream(blake2b_key(file_key, CTX_ENV_PAYLOAD), header, plaintext)


def padme(size: int) -> int:
    """Padme (PETS 2019), at least 4 KiB: keep the top bits of the length."""
    length = max(size, ATT_MIN_PADDED)
    exponent = length.bit_length() - 1
    mask = (1 << (exponent - exponent.bit_length())) - 1
    return (length + mask) & ~mask


def seal_attachment(data: bytes, file_key: bytes, index: int) -> bytes:
    """RPTR-ATT: the file, zero-padded to Padme, under the key for its index."""
    key = blake2b_key(file_key, CTX_ATT_KEY + bytes([index]))
    plaintext = data + bytes(padme(len(data)) - len(data))
    return secretstream(key, ATT_HEADER.pack(ATT_MAGIC, 1, index), plaintext)


def attachment_hash(sealed: bytes) -> bytes:
    """SHA-256 of len(context) (1) || context || the sealed attachment."""
    return hashlib.sha256(bytes([len(CTX_ATT_HASH)]) + CTX_ATT_HASH + sealed).digest()


@dataclass(frozen=True)
class File:
    name: str
    type: str
    data: bytes


def sample_file(kind: str, size: int, seed: int) -> File:
    """A small file with the right magic bytes and deterministic filler."""
    filler = random.Random(seed).randbytes(size)
    magic, name, media = {
        "jpeg": (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "photo.jpg", "image/jpeg"),
        "pdf": (b"%PDF-1.7\n", "statement.pdf", "application/pdf"),
        "mp4": (b"\x00\x00\x00\x18ftypmp42", "clip.mp4", "video/mp4"),
    }[kind]
    return File(name, media, magic + filler[len(magic):])


def v2_body(n: int, listed: Sequence[dict[str, object]]) -> bytes:
    """A schema 2 report body (canonical JSON) listing ``listed`` attachments."""
    document = {
        "schema": 2,
        "kind": "incident",
        "form": "incident/1",
        "receipt": receipt(n),
        "follows": None,
        "locale": "fr",
        "submitted": "2026-11-02",
        "fields": {
            "incident_types": ["shooting"],
            "incident_date": "2026-11-01",
            "site": "Marange",
            "description": f"Rapport {n}: des creuseurs blessés près de la rivière.",
            "source": "witnessed",
            "contact": "none",
        },
        "attachments": list(listed),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def attachment_entry(index: int, file: File, sealed: bytes) -> dict[str, object]:
    return {
        "index": index, "name": file.name, "type": file.type, "size": len(file.data),
        "sha256": hashlib.sha256(file.data).hexdigest(), "ciphertext_size": len(sealed),
        "ciphertext_hash": attachment_hash(sealed).hex(),
    }


def v2_report(n: int, files: Sequence[File], recipients: Sequence[str], *,
              lie: Callable[[list[dict[str, object]]], None] | None = None,
              ) -> tuple[bytes, tuple[bytes, ...]]:
    """Report ``n`` with ``files``: its envelope and its sealed attachments.

    ``lie`` may edit the attachment list sealed in the body (not the attachments).
    """
    file_key = sodium.randombytes(32)
    sealed = tuple(seal_attachment(f.data, file_key, i) for i, f in enumerate(files))
    listed = [attachment_entry(i, f, a) for i, (f, a) in enumerate(zip(files, sealed,
                                                                        strict=True))]
    if lie is not None:
        lie(listed)
    return seal_envelope(v2_body(n, listed), recipients, file_key), sealed


V2_NUMBER = 6
V2_FIRST = 26
# Version 2 cases form a history of their own (bundle 6 of the station); their
# "previous" and "chain_before" are fixed values, not those of another vector.
V2_PREVIOUS = bytes.fromhex("6c" * 32)
V2_CHAIN_BEFORE = bytes.fromhex("c6" * 32)


def v2_contents(reports: Sequence[tuple[bytes, tuple[bytes, ...]]]) -> Contents:
    return Contents(tuple(e for e, _a in reports), number=V2_NUMBER, previous=V2_PREVIOUS,
                    first_seq=V2_FIRST, chain_before=V2_CHAIN_BEFORE, version=2,
                    attachments=tuple(a for _e, a in reports))


def v2_files() -> list[list[File]]:
    """Report 26: a photo and a PDF; 27: nothing; 28: a video clip. Every one of them
    seals to 4,147 bytes (4 KiB of padded plaintext), so any two can change places."""
    return [[sample_file("jpeg", 3000, 1), sample_file("pdf", 2500, 2)], [],
            [sample_file("mp4", 3500, 3)]]


def v2_cases() -> list[Case]:
    a = IDENTITY_A
    files = v2_files()
    reports = [v2_report(V2_FIRST + i, f, [a]) for i, f in enumerate(files)]
    good = v2_contents(reports)
    count = sum(len(f) for f in files)
    sizes = {len(x) for _e, sealed in reports for x in sealed}
    assert sizes == {4147}, sizes
    manifest = canonical(manifest_document(good))
    signature = sign(STATION_SEED, manifest)
    envs = list(good.envelopes)
    atts = [list(x) for x in good.attachment_lists()]

    def bundle(attachments: Sequence[Sequence[bytes]], *, plaintext_tail: bytes = b"",
               edit: Callable[[bytes], bytes] | None = None) -> bytes:
        plain = frames(manifest, signature, envs, attachments=attachments)
        if edit is not None:
            plain = edit(plain)
        return encrypt(plain + plaintext_tail, [a], version=2)

    flipped = [list(x) for x in atts]
    flipped[0][1] = flip(flipped[0][1], 1000)
    truncated_frame = frame(ATTACHMENT, atts[0][1][:-100])
    swapped = [list(x) for x in atts]
    swapped[0][0], swapped[2][0] = swapped[2][0], swapped[0][0]
    missing = [list(x) for x in atts]
    del missing[0][1]

    def cut_last_attachment_of_26(plain: bytes) -> bytes:
        whole = attachment_frames(atts[0][1])
        assert plain.count(whole) == 1
        return plain.replace(whole, truncated_frame)

    def extra_after_27(plain: bytes) -> bytes:
        start = frame(ENVELOPE, envs[1])
        assert plain.count(start) == 1
        return plain.replace(start, start + attachment_frames(atts[0][0]))

    # The sealed body of report 26 lists another hash for its second attachment
    # than the signed manifest (which matches what the bundle carries).
    def other_hash(listed: list[dict[str, object]]) -> None:
        listed[1]["ciphertext_hash"] = attachment_hash(b"another file").hex()

    lying = [v2_report(V2_FIRST, files[0], [a], lie=other_hash), *reports[1:]]
    v1_manifest = canonical(manifest_document(Contents(
        tuple(envs), number=V2_NUMBER, previous=V2_PREVIOUS, first_seq=V2_FIRST,
        chain_before=V2_CHAIN_BEFORE)))
    v1_plain = frames(v1_manifest, sign(STATION_SEED, v1_manifest), envs)
    return [
        Case("ok-with-attachments", "ok", second_writer(good), ok=good,
             extra={"attachments": str(count)}, comment=(
                 "version 2, bundle 6 of the station: reports 26-28 sealed to A; report 26 "
                 "has two attachments (a JPEG, a PDF), 27 none, 28 one (an MP4 clip), each "
                 "4147 bytes of RPTR-ATT ciphertext in one ATTACHMENT frame after its "
                 "report's ENVELOPE frame")),
        Case("flipped-byte-in-attachment", "tampered", bundle(flipped),
             extra={"error-contains": "report 26, attachment 2"}, comment=(
                 "'ok-with-attachments' with one bit of report 26's second attachment "
                 "flipped before encryption: the bundle authenticates, the attachment does "
                 "not match the ciphertext hash the signed manifest lists")),
        Case("attachment-truncated", "truncated",
             bundle(atts, edit=cut_last_attachment_of_26),
             extra={"error-contains": "report 26, attachment 2 is cut short"}, comment=(
                 "report 26's second attachment lacks its last 100 bytes (its one "
                 "ATTACHMENT frame holds 4047 of the 4147 bytes the manifest lists); "
                 "everything else is valid")),
        Case("attachment-missing", "malformed", bundle(missing),
             extra={"error-contains": "report 26, attachment 2 is missing"}, comment=(
                 "report 26's second attachment is left out: its ENVELOPE frame and first "
                 "attachment are followed by report 27's ENVELOPE frame")),
        Case("attachments-swapped", "tampered", bundle(swapped),
             extra={"error-contains": "report 26, attachment 1"}, comment=(
                 "report 26's first attachment and report 28's attachment change places "
                 "(both are 4147 bytes): the frames are well formed, the hashes differ")),
        Case("extra-attachment", "malformed", bundle(atts, edit=extra_after_27),
             extra={"error-contains": "report 27 has more attachments"}, comment=(
                 "an ATTACHMENT frame (a copy of report 26's first attachment) after "
                 "report 27's ENVELOPE frame; the manifest lists no attachment for 27")),
        Case("attachment-list-mismatch", "attachment-list-mismatch",
             second_writer(v2_contents(lying)), extra={"error-contains": "report 26"},
             comment=(
                 "a valid bundle (the reader accepts it: frames and signed manifest agree) "
                 "whose report 26 lists, in its sealed body, another ciphertext hash for "
                 "attachment 2 than the signed manifest: an importer, which opens the "
                 "envelope, refuses it")),
        Case("version-mismatch", "malformed", encrypt(v1_plain, [a], version=2), comment=(
            "version byte 2, but the signed manifest (no attachments) says "
            "\"version\":1")),
    ]

# --- version 3: the manifest names its recipients ---------------------------------------

V3_NUMBER = 7
V3_FIRST = 29
V3_PREVIOUS = bytes.fromhex("7d" * 32)
V3_CHAIN_BEFORE = bytes.fromhex("d7" * 32)
# A name outside ASCII (escaped in the canonical JSON) and one as an operator types it.
V3_NAMES = {IDENTITY_A: "Amina (coalition)", IDENTITY_C: "Zoë Ndlovu – ملاحظ"}


def v3_contents(recipients: Sequence[str] = (IDENTITY_A, IDENTITY_C), *,
                names: Sequence[str] | None = None) -> Contents:
    """Bundle 7: report 29 with a photo, report 30 without, sealed to ``recipients``."""
    reports = [v2_report(V3_FIRST, [sample_file("jpeg", 3000, 4)], list(recipients)),
               v2_report(V3_FIRST + 1, [], list(recipients))]
    return Contents(tuple(e for e, _a in reports), recipients=tuple(recipients),
                    names=tuple(names if names is not None
                                else [V3_NAMES[r] for r in recipients]),
                    number=V3_NUMBER, previous=V3_PREVIOUS, first_seq=V3_FIRST,
                    chain_before=V3_CHAIN_BEFORE, version=3,
                    attachments=tuple(a for _e, a in reports))


def v3_cases() -> list[Case]:
    a, c = IDENTITY_A, IDENTITY_C
    good = v3_contents()
    expected = json.dumps(sorted([recipient_text(r), V3_NAMES[r]] for r in (a, c)),
                          ensure_ascii=False)

    def signed(edit: Callable[[dict[str, object]], None]) -> bytes:
        document = manifest_document(good)
        edit(document)
        data = canonical(document)
        return encrypt(frames(data, sign(STATION_SEED, data), good.envelopes,
                              attachments=good.attachment_lists()), [a, c], version=3)

    def pairs(*entries: list[object]) -> Callable[[dict[str, object]], None]:
        def edit(document: dict[str, object]) -> None:
            document["recipients"] = list(entries)
        return edit

    key_a, key_c = recipient_text(a), recipient_text(c)
    return [
        Case("ok-version-3", "ok", second_writer(good), ok=good,
             extra={"attachments": "1", "recipients": expected}, comment=(
                 "version 3, bundle 7 of the station: reports 29-30 sealed to A and C, "
                 "the manifest naming both ([public key, name] pairs, sorted by key; C's "
                 "name is outside ASCII, escaped in the JSON); report 29 has a photo")),
        Case("version-3-re-encrypted-to-non-listed-recipient", "re-encrypted",
             second_writer(v3_contents((c,)), stanza_recipients=[a]), comment=(
                 "version 3, signed for C only (the manifest names C) but encrypted to A")),
        Case("version-3-recipient-name-with-control", "malformed",
             signed(pairs([key_a, "Amina \x1b]0;title\x07"], [key_c, V3_NAMES[c]])),
             extra={"error-contains": "control character"}, comment=(
                 "signed version 3 manifest whose first recipient's name holds ESC and BEL "
                 "(a terminal's window-title sequence): no station can write it")),
        Case("version-3-recipient-listed-twice", "malformed",
             signed(pairs([key_a, "Amina (coalition)"], [key_a, "Amina (again)"],
                          [key_c, V3_NAMES[c]])),
             extra={"error-contains": "listed twice"}, comment=(
                 "signed version 3 manifest naming A's key twice, under two names")),
        Case("version-3-recipient-ids", "malformed",
             signed(lambda d: d.update(recipients=sorted(recipient_id(r).hex()
                                                         for r in (a, c)))),
             extra={"error-contains": "[public key, name] pair"}, comment=(
                 "signed manifest that says version 3 but lists recipient ids, as version 2 "
                 "did")),
        Case("version-3-recipients-not-sorted", "malformed",
             signed(pairs(*sorted([[key_a, V3_NAMES[a]], [key_c, V3_NAMES[c]]],
                                  reverse=True))),
             extra={"error-contains": "canonical"}, comment=(
                 "signed version 3 manifest whose recipients are not sorted by public key")),
        Case("version-3-recipient-key-invalid", "malformed",
             signed(pairs([key_a[:-1] + ("q" if key_a[-1] != "q" else "p"), V3_NAMES[a]],
                          [key_c, V3_NAMES[c]])),
             extra={"error-contains": "public key in the manifest is invalid"}, comment=(
                 "signed version 3 manifest whose first key has one character changed (the "
                 "Bech32 checksum fails)")),
    ]


# --- version 4: the station's restores from backups ------------------------------------

V4_HISTORY = "5e" * 16


def v4_restore(fork: Contents, **changes: object) -> dict[str, object]:
    """A restore from a backup that held ``fork`` (bundle 7, reports up to 30)."""
    restore: dict[str, object] = {
        "id": V4_HISTORY, "bundle": fork.number, "bundle_hash": manifest_hash(fork).hex(),
        "seq": fork.last_seq, "chain": fork.chain_head().hex(), "backup": "2026-11-20",
        "restored": "2026-11-27"}
    restore.update(changes)
    return restore


def v4_contents(fork: Contents, **restore_changes: object) -> Contents:
    """Bundle 8 of the restored station's history: reports 31-32, sealed to A and C, its
    manifest listing the restore from a backup that held bundle 7 (``fork``, made by
    ``v3_contents``)."""
    recipients = (IDENTITY_A, IDENTITY_C)
    reports = [v2_report(fork.last_seq + 1 + i, [], list(recipients)) for i in range(2)]
    return Contents(tuple(e for e, _a in reports), recipients=recipients,
                    names=tuple(V3_NAMES[r] for r in recipients), number=fork.number + 1,
                    previous=manifest_hash(fork), first_seq=fork.last_seq + 1,
                    chain_before=fork.chain_head(), version=4,
                    attachments=tuple(a for _e, a in reports),
                    restores=(v4_restore(fork, **restore_changes),))


def v4_cases() -> list[Case]:
    a, c = IDENTITY_A, IDENTITY_C
    fork = v3_contents()
    good = v4_contents(fork)
    expected = json.dumps(sorted([recipient_text(r), V3_NAMES[r]] for r in (a, c)),
                          ensure_ascii=False)

    def signed(contents: Contents, edit: Callable[[dict[str, object]], None] | None = None,
               version: int = 4) -> bytes:
        document = manifest_document(contents)
        if edit is not None:
            edit(document)
        data = canonical(document)
        return encrypt(frames(data, sign(STATION_SEED, data), contents.envelopes,
                              attachments=contents.attachment_lists()), [a, c], version=version)

    # The fork point inside the range: bundle 8 carries reports 30-32 (30 is the last the
    # backup held), and the restore names a chain after 30 that the reports do not give.
    inside = Contents((fork.envelopes[-1], *good.envelopes), recipients=good.recipients,
                      names=good.names, number=good.number, previous=good.previous,
                      first_seq=fork.last_seq, chain_before=link(
                          fork.chain_before, fork.first_seq, fork.envelopes[0]),
                      version=4, attachments=((), *good.attachment_lists()),
                      restores=(v4_restore(fork, chain="ab" * 32),))

    def drop_restores(document: dict[str, object]) -> None:
        del document["restores"]

    return [
        Case("ok-version-4", "ok", second_writer(good), ok=good,
             extra={"recipients": expected}, comment=(
                 "version 4, bundle 8 of a restored station: reports 31-32 sealed to A and C; "
                 "the manifest lists one restore (history 5e5e…), from a backup that held "
                 "bundle 7 (its hash) and reports up to 30 (the chain after 30), so the "
                 "bundle names bundle 7 as previous and starts from that chain")),
        Case("version-4-restore-chain-not-the-bundles", "malformed",
             signed(v4_contents(fork, chain="ab" * 32)),
             extra={"error-contains": "starts right after a restore's fork point"}, comment=(
                 "signed version 4 manifest starting at report 31 right after its restore's "
                 "fork point (report 30), whose chain value is not the bundle's chain_before")),
        Case("version-4-restore-chain-inside-the-range", "tampered", signed(inside),
             extra={"error-contains": "report 30 does not rebuild the chain value"}, comment=(
                 "signed version 4 manifest for reports 30-32 whose restore names, for report "
                 "30, a chain value the reports do not rebuild")),
        Case("version-4-restore-id-zero", "malformed", signed(v4_contents(fork, id="00" * 16)),
             extra={"error-contains": "not all zero"}, comment=(
                 "signed version 4 manifest whose restore has the first history's id (zero)")),
        Case("version-4-number-not-after-the-restore", "malformed",
             signed(v4_contents(fork, bundle=8, bundle_hash="cd" * 32)),
             extra={"error-contains": "its numbers start after that"}, comment=(
                 "signed version 4 bundle 8 listing a restore from a backup that held bundle 8")),
        Case("version-4-previous-not-the-restores-bundle", "malformed",
             signed(v4_contents(fork, bundle_hash="cd" * 32)),
             extra={"error-contains": "does not name the restore's last bundle"}, comment=(
                 "signed version 4 bundle 8 whose restore held bundle 7 with another hash "
                 "than the bundle's previous")),
        Case("version-4-without-restores", "malformed", signed(good, drop_restores),
             extra={"error-contains": "restores"}, comment=(
                 "signed manifest that says version 4 but has no restores list")),
        Case("version-3-with-restores", "malformed", signed(
                 good, lambda d: d.update(version=3), version=3),
             extra={"error-contains": "canonical"}, comment=(
                 "signed manifest that says version 3 but lists restores, which only version "
                 "4 has")),
    ]


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
    newer["version"] = 5
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
        Case("empty-file", "truncated", b"", comment=(
            "an empty file: shorter than the 18-byte fixed header, so Truncated (step 1), "
            "not Malformed")),
        Case("short-not-magic", "truncated", b"PK\x03\x04", comment=(
            "4 bytes that are not the magic (the start of a ZIP file): shorter than the "
            "fixed header, so Truncated (step 1) before the magic is looked at")),
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
             encrypt(frames(manifest, signature, later.envelopes), [a], version=5),
             comment=("version byte 5; otherwise a valid version 1 bundle whose header "
                      "(with the 5) the first chunk authenticates")),
        Case("unknown-manifest-version", "unknown-version", signed(newer), comment=(
            "version byte 1, but the signed, canonical manifest says \"version\":5")),
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


def self_check_v2() -> None:
    """reporter opens what the version 2 writer made: the envelope (with the same file
    key), each attachment (byte for byte), the manifest (byte for byte) and the bundle."""
    from reporter.formats.attachment import Reader, ciphertext_hash, ciphertext_size
    from reporter.formats.envelope import open_envelope_with_key

    reviewer = RecipientPrivateKey(bytes.fromhex(IDENTITY_A))
    files = v2_files()
    reports = [v2_report(V2_FIRST + i, f, [IDENTITY_A]) for i, f in enumerate(files)]
    for (envelope, sealed), report_files in zip(reports, files, strict=True):
        body, file_key = open_envelope_with_key(envelope, reviewer)
        report = Report.from_body(body)
        assert len(report.attachments) == len(report_files)
        for info, data, file in zip(report.attachments, sealed, report_files, strict=True):
            assert info.ciphertext_size == len(data) == ciphertext_size(len(file.data))
            assert info.ciphertext_hash == ciphertext_hash(data) == attachment_hash(data)
            reader = Reader(file_key, info.index, info.size, info.sha256,
                            info.ciphertext_hash)
            assert b"".join(reader.read([data[:1000], data[1000:]])) == file.data
    c = v2_contents(reports)
    manifest = reference_manifest(c)
    assert manifest.to_json() == canonical(manifest_document(c))
    reader = BundleReader(io.BytesIO(second_writer(c)), reviewer)
    assert reader.manifest == manifest
    for item, (envelope, sealed) in zip(reader.reports(), reports, strict=True):
        assert item.envelope == envelope
        assert [b"".join(stream) for stream in item.attachments] == list(sealed)
    assert reader.attachments_read == 3


def self_check_v3() -> None:
    """reporter reads the version 3 writer's manifest byte for byte, names included."""
    reviewer = RecipientPrivateKey(bytes.fromhex(IDENTITY_A))
    assert reviewer.public_key.to_text() == recipient_text(IDENTITY_A)
    c = v3_contents()
    manifest = reference_manifest(c)
    assert manifest.to_json() == canonical(manifest_document(c))
    reader = BundleReader(io.BytesIO(second_writer(c)), reviewer)
    assert reader.manifest == manifest
    assert {(r.key.to_text(), r.name) for r in reader.manifest.named} == {
        (recipient_text(r), V3_NAMES[r]) for r in (IDENTITY_A, IDENTITY_C)}
    reader.verify_all()


def self_check_v4() -> None:
    """reporter reads the version 4 writer's manifest byte for byte, restores included."""
    reviewer = RecipientPrivateKey(bytes.fromhex(IDENTITY_A))
    c = v4_contents(v3_contents())
    manifest = reference_manifest(c)
    assert manifest.to_json() == canonical(manifest_document(c))
    reader = BundleReader(io.BytesIO(second_writer(c)), reviewer)
    assert reader.manifest == manifest and reader.manifest.history == bytes.fromhex(V4_HISTORY)
    reader.verify_all()


def main(names: Sequence[str] = ()) -> None:
    """Write every case, or only the ``names`` given (leaving the other files alone)."""
    self_check()
    self_check_v2()
    self_check_v3()
    self_check_v4()
    every = [*cases(), *v2_cases(), *v3_cases(), *v4_cases()]
    unknown = set(names) - {case.name for case in every}
    assert not unknown, f"no such case: {sorted(unknown)}"
    if not names:
        for old in HERE.iterdir():
            if old.is_file() and "." not in old.name:
                old.unlink()
    total = 0
    for case in every:
        if names and case.name not in names:
            continue
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
    main(sys.argv[1:])
