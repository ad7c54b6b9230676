"""Sealed, signed bundles: how reports leave a station (``RPTR-BDL`` version 1).

The full specification, with the reasons behind each choice, is
``docs/bundle-format.md``. In short::

    header  = magic "RPTR-BDL" (8) || version 0x01 (1) || n (1, 1..64)
              || padded length P (8, big endian)
              || n x crypto_box_seal(file_key) (80 each) || secretstream header (24)
    payload = secretstream chunks of 64 KiB of plaintext (+17 each), the last
              tagged FINAL; the first chunk's associated data is the header
    plaintext (P bytes) = frames, then zero padding
    frame   = type (1) || length (4, big endian) || data
              MANIFEST (1), then SIGNATURE (2), then one ENVELOPE (3) per report
              in the manifest's order, then END (0, empty)

The manifest (canonical JSON) names the station and its signing key, the
bundle number and the previous bundle's hash, the report range with the hash
chain before and after it, every envelope's sequence number, size and hash,
and the recipients' key ids. The station signs it (Ed25519, context
``reporter/bundle/v1/manifest``) *inside* the encryption: a courier learns
only the file's size bucket, not even which station sent it.

Readers check every length before decrypting, verify the signature before
trusting a byte of the manifest, check each envelope against the manifest as
it streams past, recompute the hash chain, and refuse anything after the end.
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import nacl.bindings as sodium
import nacl.exceptions

from . import jsonio
from .crypto import (
    KEY_BYTES,
    SIGNATURE_BYTES,
    STANZA_BYTES,
    RecipientPrivateKey,
    RecipientPublicKey,
    StationSigningKey,
    StationVerifyKey,
    digest,
    open_stanzas,
    random_bytes,
    subkey,
)
from .errors import (
    InvalidPublicKey,
    Malformed,
    Tampered,
    Truncated,
    UnknownVersion,
)
from .store import chain_link_hashed, envelope_hash

MAGIC = b"RPTR-BDL"
VERSION = 1
MAX_RECIPIENTS = 64
SS_HEADER_BYTES = sodium.crypto_secretstream_xchacha20poly1305_HEADERBYTES
SS_ABYTES = sodium.crypto_secretstream_xchacha20poly1305_ABYTES
TAG_MESSAGE = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
TAG_FINAL = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL
CHUNK = 64 * 1024
FIXED_HEADER = struct.Struct(">8sBBQ")
FRAME_HEADER = struct.Struct(">BI")
FRAME_END, FRAME_MANIFEST, FRAME_SIGNATURE, FRAME_ENVELOPE = 0, 1, 2, 3
MIN_PADDED = 64 * 1024
STEP_PADDED = 64 * 1024 * 1024
MAX_PADDED = 1 << 40
MAX_MANIFEST = 64 * 1024 * 1024
MAX_ENVELOPE = 8 * 1024 * 1024
CTX_PAYLOAD = b"reporter/bundle/v1/payload"
CTX_SIGNATURE = b"reporter/bundle/v1/manifest"
CTX_HASH = b"reporter/bundle/v1/hash"
CTX_RECIPIENT_ID = b"reporter/recipient-id/v1"
FORMAT = "reporter-bundle"
_HEX32 = re.compile(r"[0-9a-f]{64}")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def recipient_id(key: RecipientPublicKey) -> bytes:
    return digest(CTX_RECIPIENT_ID, key.raw)


def padded_size(length: int) -> int:
    """Powers of two from 64 KiB to 64 MiB, then whole multiples of 64 MiB."""
    size = MIN_PADDED
    while size < length and size < STEP_PADDED:
        size *= 2
    if size < length:
        size = -(-length // STEP_PADDED) * STEP_PADDED
    return size


def _valid_padded(size: int) -> bool:
    if size < MIN_PADDED or size > MAX_PADDED:
        return False
    if size <= STEP_PADDED:
        return size & (size - 1) == 0
    return size % STEP_PADDED == 0


def _chunks(padded: int) -> int:
    return -(-padded // CHUNK)


# --- the manifest --------------------------------------------------------------------


@dataclass(frozen=True)
class Manifest:
    station_id: bytes
    station_key: StationVerifyKey
    number: int
    previous: bytes | None
    first_seq: int
    last_seq: int
    chain_before: bytes
    chain_head: bytes
    envelopes: tuple[tuple[int, int, bytes], ...]  # (seq, size, envelope hash)
    recipients: tuple[bytes, ...]
    created: str

    def to_json(self) -> bytes:
        document = {
            "format": FORMAT,
            "version": VERSION,
            "station_id": self.station_id.hex(),
            "station_key": self.station_key.to_text(),
            "number": self.number,
            "previous": None if self.previous is None else self.previous.hex(),
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "chain_before": self.chain_before.hex(),
            "chain_head": self.chain_head.hex(),
            "envelopes": [[seq, size, h.hex()] for seq, size, h in self.envelopes],
            "recipients": sorted(r.hex() for r in self.recipients),
            "created": self.created,
        }
        return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("ascii")

    def hash(self) -> bytes:
        return digest(CTX_HASH, self.to_json())

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        """Parse and check every field; ``Malformed`` names the first problem."""
        try:
            doc = jsonio.loads(data.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            raise Malformed("the bundle manifest is not valid JSON") from None
        if not isinstance(doc, dict):
            raise Malformed("the bundle manifest is not a JSON object")
        if doc.get("format") != FORMAT:
            raise Malformed("the manifest is not a reporter-bundle manifest")
        if doc.get("version") != VERSION or type(doc.get("version")) is not int:
            raise UnknownVersion(f"manifest version {doc.get('version')!r} is not supported")
        try:
            manifest = cls(
                station_id=_hex(doc, "station_id", 16),
                station_key=StationVerifyKey.from_text(_str(doc, "station_key")),
                number=_int(doc, "number", 1),
                previous=None if doc.get("previous") is None else _hex(doc, "previous", 32),
                first_seq=_int(doc, "first_seq", 1),
                last_seq=_int(doc, "last_seq", 1),
                chain_before=_hex(doc, "chain_before", 32),
                chain_head=_hex(doc, "chain_head", 32),
                envelopes=_envelopes(doc.get("envelopes")),
                recipients=tuple(_hex({"r": r}, "r", 32) for r in _list(doc, "recipients")),
                created=_day(doc, "created"),
            )
        except InvalidPublicKey as exc:
            raise Malformed(f"the manifest's station key is invalid: {exc}") from None
        if manifest.to_json() != data:
            raise Malformed("the manifest is not in canonical form")
        if (manifest.number == 1) != (manifest.previous is None):
            raise Malformed("only bundle 1 has no previous bundle")
        if manifest.first_seq > manifest.last_seq:
            raise Malformed("the manifest's report range is empty or reversed")
        # Count first: a signed manifest may claim any range, and building it
        # would let a crafted one exhaust memory.
        if (manifest.last_seq - manifest.first_seq + 1 != len(manifest.envelopes)
                or any(seq != manifest.first_seq + i
                       for i, (seq, _size, _h) in enumerate(manifest.envelopes))):
            raise Malformed("the manifest's envelopes do not match its report range")
        return manifest


def _int(doc: dict[str, Any], name: str, minimum: int) -> int:
    value = doc.get(name)
    if type(value) is not int or value < minimum or value >= 2**63:
        raise Malformed(f"manifest field {name!r} is not a valid number")
    return value


def _str(doc: dict[str, Any], name: str) -> str:
    value = doc.get(name)
    if not isinstance(value, str):
        raise Malformed(f"manifest field {name!r} is missing")
    return value


def _hex(doc: dict[str, Any], name: str, size: int) -> bytes:
    value = _str(doc, name)
    if len(value) != 2 * size or not re.fullmatch(r"[0-9a-f]*", value):
        raise Malformed(f"manifest field {name!r} is not {size} bytes of hex")
    return bytes.fromhex(value)


def _list(doc: dict[str, Any], name: str) -> list[Any]:
    value = doc.get(name)
    if not isinstance(value, list):
        raise Malformed(f"manifest field {name!r} is not a list")
    return value


def _day(doc: dict[str, Any], name: str) -> str:
    value = _str(doc, name)
    if not _DAY.fullmatch(value):
        raise Malformed(f"manifest field {name!r} is not a date")
    return value


def _envelopes(value: object) -> tuple[tuple[int, int, bytes], ...]:
    if not isinstance(value, list):
        raise Malformed("manifest field 'envelopes' is not a list")
    out = []
    for entry in value:
        if (not isinstance(entry, list) or len(entry) != 3 or type(entry[0]) is not int
                or type(entry[1]) is not int or not isinstance(entry[2], str)
                or not _HEX32.fullmatch(entry[2]) or not 0 < entry[1] <= MAX_ENVELOPE):
            raise Malformed("an entry of the manifest's envelope list is invalid")
        out.append((entry[0], entry[1], bytes.fromhex(entry[2])))
    return tuple(out)


# --- writing ------------------------------------------------------------------------


class _ChunkWriter:
    """Cuts the plaintext into 64 KiB secretstream chunks as it is produced."""

    def __init__(self, out: BinaryIO, state: Any, header: bytes, padded: int) -> None:
        self._out, self._state, self._header = out, state, header
        self._remaining = padded
        self._buffer = bytearray()
        self._first = True
        self.written = 0

    def write(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= CHUNK and self._remaining > CHUNK:
            self._push(bytes(self._buffer[:CHUNK]))
            del self._buffer[:CHUNK]

    def _push(self, piece: bytes) -> None:
        last = len(piece) == self._remaining
        ciphertext = sodium.crypto_secretstream_xchacha20poly1305_push(
            self._state, piece, self._header if self._first else None,
            TAG_FINAL if last else TAG_MESSAGE)
        self._out.write(ciphertext)
        self.written += len(ciphertext)
        self._remaining -= len(piece)
        self._first = False

    def finish(self) -> None:
        if len(self._buffer) != self._remaining:
            raise AssertionError("bundle plaintext length does not match its header")
        self._push(bytes(self._buffer))
        self._buffer.clear()


def _frame(kind: int, data: bytes) -> bytes:
    return FRAME_HEADER.pack(kind, len(data)) + data


def plaintext_length(manifest: Manifest) -> int:
    # Three fixed frames (manifest, signature, end) plus one per envelope.
    frames = 3 * FRAME_HEADER.size + len(manifest.to_json()) + SIGNATURE_BYTES
    return frames + sum(FRAME_HEADER.size + size for _seq, size, _h in manifest.envelopes)


def write_bundle(out: BinaryIO, manifest: Manifest, signing_key: StationSigningKey,
                 envelopes: Iterable[bytes], recipients: list[RecipientPublicKey]) -> int:
    """Write a bundle for ``manifest``; ``envelopes`` must match its list, in order.

    Streams: memory holds one envelope and one chunk at a time. Returns the
    number of bytes written.
    """
    if not 1 <= len(recipients) <= MAX_RECIPIENTS:
        raise ValueError(f"a bundle needs 1..{MAX_RECIPIENTS} recipients")
    if signing_key.verify_key != manifest.station_key:
        raise ValueError("the signing key is not the manifest's station key")
    manifest_json = manifest.to_json()
    if len(manifest_json) > MAX_MANIFEST:
        raise ValueError(f"the manifest is larger than readers accept ({MAX_MANIFEST} bytes): "
                         "export fewer reports per bundle")
    padded = padded_size(plaintext_length(manifest))
    file_key = random_bytes(KEY_BYTES)
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    ss_header = sodium.crypto_secretstream_xchacha20poly1305_init_push(
        state, subkey(file_key, CTX_PAYLOAD))
    header = b"".join([
        FIXED_HEADER.pack(MAGIC, VERSION, len(recipients), padded),
        *(r.seal(file_key) for r in recipients),
        ss_header,
    ])
    out.write(header)
    writer = _ChunkWriter(out, state, header, padded)
    writer.write(_frame(FRAME_MANIFEST, manifest_json))
    writer.write(_frame(FRAME_SIGNATURE, signing_key.sign(CTX_SIGNATURE, manifest_json)))
    expected = iter(manifest.envelopes)
    for envelope in envelopes:
        seq, size, h = next(expected, (0, -1, b""))
        if size != len(envelope) or envelope_hash(envelope) != h:
            raise ValueError(f"envelope {seq} changed while the bundle was written")
        writer.write(_frame(FRAME_ENVELOPE, envelope))
    if next(expected, None) is not None:
        raise ValueError("fewer envelopes than the manifest lists")
    writer.write(_frame(FRAME_END, b""))
    used = plaintext_length(manifest)
    for start in range(used, padded, CHUNK):
        writer.write(bytes(min(CHUNK, padded - start)))
    writer.finish()
    return len(header) + writer.written


# --- reading --------------------------------------------------------------------------


@dataclass(frozen=True)
class BundleInfo:
    """What anyone can read without a key: sizes only."""

    version: int
    recipients: int
    padded_length: int
    header_length: int
    total_length: int


def inspect(header: bytes, file_size: int) -> BundleInfo:
    """Check the header and the file's length; decrypt nothing."""
    if len(header) < FIXED_HEADER.size:
        raise Truncated(f"the file is {file_size} bytes, shorter than a bundle header")
    magic, version, count, padded = FIXED_HEADER.unpack_from(header)
    if magic != MAGIC:
        raise Malformed("this is not a reporter bundle (wrong magic bytes)")
    if version != VERSION:
        raise UnknownVersion(
            f"bundle version {version} is not supported (this reporter reads version "
            f"{VERSION}); upgrade reporter")
    if not 1 <= count <= MAX_RECIPIENTS:
        raise Malformed(f"the bundle declares {count} recipients (allowed: 1..{MAX_RECIPIENTS})")
    if not _valid_padded(padded):
        raise Malformed(f"the bundle declares an invalid padded length ({padded})")
    header_length = FIXED_HEADER.size + count * STANZA_BYTES + SS_HEADER_BYTES
    total = header_length + padded + _chunks(padded) * SS_ABYTES
    if file_size < total:
        raise Truncated(f"the bundle is {file_size} bytes but its header says {total}: "
                        "it was cut short (copy it again)")
    if file_size > total:
        raise Malformed(f"the bundle has {file_size - total} unexpected bytes after its end")
    return BundleInfo(version, count, padded, header_length, total)


class BundleReader:
    """Reads and checks one bundle from a seekable binary file.

    ``manifest`` is available as soon as the reader is built (the signature is
    verified by then); ``envelopes()`` yields ``(seq, envelope)`` and checks
    each one, the hash chain, the end frame, the padding and the final tag.
    Nothing is trusted before it is checked.
    """

    def __init__(self, fh: BinaryIO, key: RecipientPrivateKey) -> None:
        self._fh = fh
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(0)
        fixed = fh.read(FIXED_HEADER.size)
        info = inspect(fixed, size)
        self.info = info
        header = fixed + fh.read(info.header_length - FIXED_HEADER.size)
        file_key = open_stanzas(header, FIXED_HEADER.size, info.recipients, key, "bundle")
        self._state = sodium.crypto_secretstream_xchacha20poly1305_state()
        sodium.crypto_secretstream_xchacha20poly1305_init_pull(
            self._state, header[-SS_HEADER_BYTES:], subkey(file_key, CTX_PAYLOAD))
        self._header = header
        self._chunk_index = 0
        self._chunks = _chunks(info.padded_length)
        self._buffer = bytearray()
        self._consumed = 0
        kind, manifest_json = self._frame(MAX_MANIFEST)
        if kind != FRAME_MANIFEST:
            raise Malformed("the bundle does not start with its manifest")
        kind, signature = self._frame(SIGNATURE_BYTES)
        if kind != FRAME_SIGNATURE or len(signature) != SIGNATURE_BYTES:
            raise Malformed("the bundle's manifest is not followed by its signature")
        try:
            station_key = StationVerifyKey.from_text(
                jsonio.loads(manifest_json.decode("ascii")).get("station_key", ""))
        except (ValueError, AttributeError, InvalidPublicKey):
            raise Malformed("the manifest names no valid station key") from None
        try:
            station_key.verify(CTX_SIGNATURE, manifest_json, signature)
        except Tampered:
            raise Tampered("the bundle's signature does not verify: it was altered or "
                           "forged") from None
        self.manifest = Manifest.from_json(manifest_json)
        if recipient_id(key.public_key) not in self.manifest.recipients:
            raise Tampered(
                "this bundle was signed for other recipients and re-encrypted to your key "
                "by someone else; ask the station operator for a bundle addressed to you")
        self.manifest_hash = self.manifest.hash()

    def _pull(self) -> bool:
        if self._chunk_index >= self._chunks:
            return False
        last = self._chunk_index == self._chunks - 1
        size = (self.info.padded_length - (self._chunks - 1) * CHUNK if last else CHUNK)
        ciphertext = self._fh.read(size + SS_ABYTES)
        if len(ciphertext) != size + SS_ABYTES:
            raise Truncated("the bundle ends early (it changed while being read?)")
        try:
            plaintext, tag = sodium.crypto_secretstream_xchacha20poly1305_pull(
                self._state, ciphertext, self._header if self._chunk_index == 0 else None)
        except nacl.exceptions.CryptoError:
            where = ("its header or first chunk" if self._chunk_index == 0
                     else f"chunk {self._chunk_index + 1} of {self._chunks}")
            raise Tampered(f"the bundle was altered ({where} does not authenticate)") from None
        if tag != (TAG_FINAL if last else TAG_MESSAGE):
            raise Tampered(f"the bundle's chunks were reordered or cut "
                           f"(chunk {self._chunk_index + 1})")
        self._buffer += plaintext
        self._chunk_index += 1
        return True

    def _read(self, n: int) -> bytes:
        while len(self._buffer) < n:
            if not self._pull():
                raise Malformed("the bundle's contents end in the middle of a record")
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        self._consumed += n
        return data

    def _frame(self, max_length: int) -> tuple[int, bytes]:
        kind, length = FRAME_HEADER.unpack(self._read(FRAME_HEADER.size))
        if length > max_length or length > self.info.padded_length - self._consumed:
            raise Malformed(f"a record in the bundle claims {length} bytes, more than allowed")
        return kind, self._read(length)

    def envelopes(self) -> Iterator[tuple[int, bytes]]:
        """Every envelope, checked against the signed manifest; then the end."""
        for seq, envelope, _hash in self.hashed_envelopes():
            yield seq, envelope

    def hashed_envelopes(self) -> Iterator[tuple[int, bytes, bytes]]:
        """``envelopes()`` with each envelope's (checked) hash, computed once."""
        chain = self.manifest.chain_before
        for seq, size, expected in self.manifest.envelopes:
            kind, envelope = self._frame(MAX_ENVELOPE)
            if kind != FRAME_ENVELOPE:
                raise Malformed(f"the bundle has fewer envelopes than its manifest ({seq})")
            hashed = envelope_hash(envelope) if len(envelope) == size else b""
            if hashed != expected:
                raise Tampered(f"report {seq} in the bundle does not match its signed hash")
            chain = chain_link_hashed(chain, seq, hashed)
            yield seq, envelope, hashed
        if chain != self.manifest.chain_head:
            raise Tampered("the reports do not rebuild the signed hash chain")
        kind, _rest = self._frame(0)
        if kind != FRAME_END:
            raise Malformed("the bundle has more records than its manifest lists")
        self._check_padding()

    def _check_padding(self) -> None:
        while True:
            if self._buffer.count(0) != len(self._buffer):
                raise Malformed("the bundle's padding is not zero")
            self._consumed += len(self._buffer)
            self._buffer.clear()
            if not self._pull():
                break
        if self._fh.read(1):
            raise Malformed("the bundle has bytes after its end")

    def verify_all(self) -> int:
        """Read to the end, checking everything; return the number of envelopes."""
        return sum(1 for _ in self.envelopes())
