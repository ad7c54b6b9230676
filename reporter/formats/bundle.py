"""Sealed, signed bundles: how reports leave a station (``RPTR-BDL`` version 4).

The full specification, with the reasons behind each choice, is
``docs/bundle-format.md``. In short::

    header  = magic "RPTR-BDL" (8) || version 0x04 (1) || n (1, 1..64)
              || padded length P (8, big endian)
              || n x crypto_box_seal(file_key) (80 each) || secretstream header (24)
    payload = secretstream chunks of 64 KiB of plaintext (+17 each), the last
              tagged FINAL; the first chunk's associated data is the header
    plaintext (P bytes) = frames, then zero padding
    frame   = type (1) || length (4, big endian) || data
              MANIFEST (1), then SIGNATURE (2), then per report in the
              manifest's order one ENVELOPE (3) followed by its attachments'
              ciphertext in ATTACHMENT (4) frames of 1 MiB (the last of each
              attachment shorter), attachments in index order; then END (0, empty)

The manifest (canonical JSON, ``manifest.py``) names the station and its signing key, the
bundle number and the previous bundle's hash, the report range with the hash
chain before and after it, every envelope's sequence number, size and hash
with the size and hash of each of its attachments' ciphertext, and the
recipients (version 3: each public key with its name; key ids before) and,
from version 4, the station's restores from backups (each one a new history
of its numbering, with the point it forks from). The
station signs it (Ed25519, context
``reporter/bundle/v1/manifest``) *inside* the encryption: a courier learns
only the file's size bucket, not even which station sent it.

Readers check every length before decrypting, verify the signature before
trusting a byte of the manifest, check each envelope and each attachment
against the manifest as it streams past (one chunk and one envelope in
memory, never a whole attachment), recompute the hash chain, and refuse
anything after the end. Version 1 bundles (no attachments), version 2
bundles (recipients as key ids) and version 3 bundles (no restores) are still
read.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

import nacl.bindings as sodium
import nacl.exceptions

from reporter.errors import (
    InvalidPublicKey,
    Malformed,
    Tampered,
    Truncated,
    UnknownVersion,
)
from reporter.formats import jsonio
from reporter.formats.attachment import CiphertextHash
from reporter.formats.chain import chain_link_hashed, envelope_hash
from reporter.formats.crypto import (
    KEY_BYTES,
    SIGNATURE_BYTES,
    STANZA_BYTES,
    RecipientPrivateKey,
    RecipientPublicKey,
    StationSigningKey,
    StationVerifyKey,
    constant_time_equal,
    open_stanzas,
    random_bytes,
    subkey,
)
from reporter.formats.manifest import (
    MAX_ENVELOPE,
    READABLE_VERSIONS,
    AttachmentEntry,
    Manifest,
    recipient_id,
)

MAGIC = b"RPTR-BDL"
MAX_RECIPIENTS = 64
SS_HEADER_BYTES = sodium.crypto_secretstream_xchacha20poly1305_HEADERBYTES
SS_ABYTES = sodium.crypto_secretstream_xchacha20poly1305_ABYTES
TAG_MESSAGE = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
TAG_FINAL = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL
CHUNK = 64 * 1024
FIXED_HEADER = struct.Struct(">8sBBQ")
FRAME_HEADER = struct.Struct(">BI")
FRAME_END, FRAME_MANIFEST, FRAME_SIGNATURE, FRAME_ENVELOPE, FRAME_ATTACHMENT = 0, 1, 2, 3, 4
MIN_PADDED = 64 * 1024
STEP_PADDED = 64 * 1024 * 1024
MAX_PADDED = 1 << 40
MAX_MANIFEST = 64 * 1024 * 1024
ATTACHMENT_FRAME = 1024 * 1024  # attachment ciphertext bytes per ATTACHMENT frame (the last: fewer)
PIECE = CHUNK  # attachment ciphertext is handed on in pieces of at most this size
CTX_PAYLOAD = b"reporter/bundle/v1/payload"
CTX_SIGNATURE = b"reporter/bundle/v1/manifest"


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


def attachment_frames(size: int) -> int:
    """How many ATTACHMENT frames carry ``size`` bytes of one attachment's ciphertext."""
    return -(-size // ATTACHMENT_FRAME)


# --- writing ------------------------------------------------------------------------


class _ChunkWriter:
    """Cuts the plaintext into 64 KiB secretstream chunks as it is produced."""

    def __init__(self, out: BinaryIO, state: Any, header: bytes, padded: int) -> None:
        self._out, self._state, self._header = out, state, header
        self._remaining = padded
        self._buffer = bytearray()
        self._first = True
        self.written = 0

    def write(self, data: bytes | memoryview) -> None:
        self._buffer += data
        if len(self._buffer) < CHUNK:
            return
        # Push whole chunks from a view and cut the buffer once: a 1 MB piece
        # is not shifted sixteen times.
        start = 0
        with memoryview(self._buffer) as view:
            while len(self._buffer) - start >= CHUNK and self._remaining > CHUNK:
                self._push(bytes(view[start : start + CHUNK]))
                start += CHUNK
        del self._buffer[:start]

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
    """The bytes of every frame (before padding), from the manifest alone."""
    # Three fixed frames (manifest, signature, end) plus one per envelope and
    # one per started MiB of each attachment.
    frames = 3 * FRAME_HEADER.size + len(manifest.to_json()) + SIGNATURE_BYTES
    frames += sum(FRAME_HEADER.size + size for _seq, size, _h in manifest.envelopes)
    return frames + sum(attachment_frames(size) * FRAME_HEADER.size + size
                        for listed in manifest.attachments for size, _h in listed)


@dataclass(frozen=True)
class Outgoing:
    """One report as ``write_bundle`` takes it: its envelope, then each attachment's
    ciphertext (in index order) as an iterable of pieces of any size, read only
    when its turn comes."""

    envelope: bytes
    attachments: Sequence[Iterable[bytes]] = ()


def _write_attachment(writer: _ChunkWriter, seq: int, index: int, expected: AttachmentEntry,
                      pieces: Iterable[bytes]) -> None:
    size, expected_hash = expected
    hashed = CiphertextHash()
    done = frame_left = 0
    for piece in pieces:
        with memoryview(piece) as view:
            offset = 0
            while offset < len(view):
                if frame_left == 0:
                    frame_left = min(ATTACHMENT_FRAME, size - done)
                    if frame_left <= 0:
                        raise ValueError(f"report {seq}, attachment {index + 1} is longer "
                                         "than the manifest says (it changed while the "
                                         "bundle was written)")
                    writer.write(FRAME_HEADER.pack(FRAME_ATTACHMENT, frame_left))
                take = min(frame_left, len(view) - offset)
                part = view[offset : offset + take]
                hashed.update(part)  # type: ignore[arg-type]  # hashlib takes any buffer
                writer.write(part)
                offset += take
                done += take
                frame_left -= take
    if done != size or not constant_time_equal(hashed.digest(), expected_hash):
        raise ValueError(f"report {seq}, attachment {index + 1} changed while the bundle "
                         "was written")


def write_bundle(out: BinaryIO, manifest: Manifest, signing_key: StationSigningKey,
                 envelopes: Iterable[bytes | Outgoing],
                 recipients: list[RecipientPublicKey]) -> int:
    """Write a bundle for ``manifest``; ``envelopes`` must match its list, in order.

    Each item is an envelope (a report without attachments) or an ``Outgoing``
    with its attachments' ciphertext. Streams: memory holds one envelope, one
    piece of an attachment and one chunk at a time. Returns the number of
    bytes written. A mismatch with the manifest raises ``ValueError`` (the
    caller must discard what was written).
    """
    if not 1 <= len(recipients) <= MAX_RECIPIENTS:
        raise ValueError(f"a bundle needs 1..{MAX_RECIPIENTS} recipients")
    if signing_key.verify_key != manifest.station_key:
        raise ValueError("the signing key is not the manifest's station key")
    manifest_json = manifest.to_json()
    if len(manifest_json) > MAX_MANIFEST:
        raise ValueError(f"the manifest is larger than readers accept ({MAX_MANIFEST} bytes): "
                         "export fewer reports per bundle")
    used = plaintext_length(manifest)
    padded = padded_size(used)
    if padded > MAX_PADDED:
        raise ValueError("the bundle would be larger than readers accept (1 TiB): "
                         "export fewer reports per bundle")
    file_key = random_bytes(KEY_BYTES)
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    ss_header = sodium.crypto_secretstream_xchacha20poly1305_init_push(
        state, subkey(file_key, CTX_PAYLOAD))
    header = b"".join([
        FIXED_HEADER.pack(MAGIC, manifest.version, len(recipients), padded),
        *(r.seal(file_key) for r in recipients),
        ss_header,
    ])
    out.write(header)
    writer = _ChunkWriter(out, state, header, padded)
    writer.write(_frame(FRAME_MANIFEST, manifest_json))
    writer.write(_frame(FRAME_SIGNATURE, signing_key.sign(CTX_SIGNATURE, manifest_json)))
    expected = iter(zip(manifest.envelopes, manifest.attachments, strict=True))
    for item in envelopes:
        outgoing = item if isinstance(item, Outgoing) else Outgoing(item)
        (seq, size, h), listed = next(expected, ((0, -1, b""), ()))
        envelope = outgoing.envelope
        if size != len(envelope) or envelope_hash(envelope) != h:
            raise ValueError(f"envelope {seq} changed while the bundle was written")
        if len(outgoing.attachments) != len(listed):
            raise ValueError(f"report {seq} has {len(outgoing.attachments)} attachments, "
                             f"the manifest lists {len(listed)}")
        writer.write(_frame(FRAME_ENVELOPE, envelope))
        for index, (entry, pieces) in enumerate(zip(listed, outgoing.attachments,
                                                    strict=True)):
            _write_attachment(writer, seq, index, entry, pieces)
    if next(expected, None) is not None:
        raise ValueError("fewer envelopes than the manifest lists")
    writer.write(_frame(FRAME_END, b""))
    zeros = bytes(CHUNK)
    for start in range(used, padded, CHUNK):
        writer.write(zeros[: min(CHUNK, padded - start)])
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
    if version not in READABLE_VERSIONS:
        raise UnknownVersion(
            f"bundle version {version} is not supported (this reporter reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))}); upgrade reporter")
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


class AttachmentStream:
    """One attachment's ciphertext as it comes out of a bundle, checked on the way.

    Iterate it (or call ``read_piece`` until it returns ``None``) to get the
    ciphertext in pieces of at most 64 KiB. Its length and frames are checked
    as they come; its hash is checked against the signed manifest when the
    last byte has been read, *before* the iteration ends: a consumer must
    treat what it received as provisional until then. Attachments must be
    read in order; whatever a consumer leaves unread is read (and checked)
    by the reader before it moves on.
    """

    def __init__(self, reader: BundleReader, seq: int, index: int, entry: AttachmentEntry,
                 previous: AttachmentStream | None) -> None:
        self._reader = reader
        self.seq = seq
        self.index = index
        self.size, self.hash = entry
        self._previous = previous
        self._read = 0
        self._frame_left = 0
        self._hashed = CiphertextHash()
        self.finished = False

    @property
    def name(self) -> str:
        return f"report {self.seq}, attachment {self.index + 1}"

    def __iter__(self) -> Iterator[bytes]:
        while (piece := self.read_piece()) is not None:
            yield piece

    def read_piece(self) -> bytes | None:
        if self.finished:
            return None
        if self._previous is not None and not self._previous.finished:
            raise ValueError(f"read the attachments of report {self.seq} in order")
        reader = self._reader
        reader._where = self.name
        if self._frame_left == 0:
            if self._read == self.size:
                self._finish()
                return None
            self._next_frame()
        piece = reader._read_some(min(self._frame_left, PIECE))
        self._frame_left -= len(piece)
        self._read += len(piece)
        self._hashed.update(piece)
        return piece

    def drain(self) -> None:
        while self.read_piece() is not None:
            pass

    def _next_frame(self) -> None:
        expected = min(ATTACHMENT_FRAME, self.size - self._read)
        kind, length = self._reader._frame_header()
        if kind != FRAME_ATTACHMENT:
            if self._read == 0:
                raise Malformed(f"{self.name} is missing: the signed manifest lists it, the "
                                "bundle does not carry it")
            raise Truncated(f"{self.name} is cut short: {self._read} of {self.size} bytes")
        if length < expected:
            raise Truncated(f"{self.name} is cut short: a frame holds {length} bytes where "
                            f"{expected} were expected")
        if length > expected:
            raise Malformed(f"{self.name}: a frame holds {length} bytes where {expected} were "
                            "expected (attachments missing, out of order, or longer than "
                            "signed)")
        self._frame_left = length

    def _finish(self) -> None:
        if not constant_time_equal(self._hashed.digest(), self.hash):
            raise Tampered(f"{self.name} does not match its signed hash: it was altered, or "
                           "swapped with another attachment")
        self.finished = True
        self._reader.attachments_read += 1
        self._reader.attachment_bytes += self.size


@dataclass(frozen=True)
class BundledReport:
    """One report of a bundle: its envelope (checked) and its attachments (to stream)."""

    seq: int
    envelope: bytes
    hash: bytes
    attachments: tuple[AttachmentStream, ...]


class BundleReader:
    """Reads and checks one bundle from a seekable binary file.

    ``manifest`` is available as soon as the reader is built (the signature is
    verified by then); ``reports()`` yields each report (its envelope checked,
    its attachments to stream) and then checks the hash chain, the end frame,
    the padding and the final tag. ``envelopes()`` and ``hashed_envelopes()``
    give the envelopes only, reading and checking the attachments on the way.
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
        self._where = "its manifest"
        self.attachments_read = 0
        self.attachment_bytes = 0
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
        if self.manifest.version != info.version:
            raise Malformed(f"the bundle's header says version {info.version} but its signed "
                            f"manifest says version {self.manifest.version}")
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
            raise Tampered(f"the bundle was altered ({where} does not authenticate; it was "
                           f"needed to read {self._where})") from None
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

    def _read_some(self, limit: int) -> bytes:
        """Between 1 and ``limit`` bytes: what is buffered, or the next chunk's."""
        if not self._buffer and not self._pull():
            raise Malformed("the bundle's contents end in the middle of a record")
        if len(self._buffer) <= limit:
            data = bytes(self._buffer)
            self._buffer.clear()
        else:
            data = bytes(self._buffer[:limit])
            del self._buffer[:limit]
        self._consumed += len(data)
        return data

    def _frame_header(self) -> tuple[int, int]:
        kind, length = FRAME_HEADER.unpack(self._read(FRAME_HEADER.size))
        if length > self.info.padded_length - self._consumed:
            raise Malformed(f"a record in the bundle claims {length} bytes, more than allowed")
        return kind, length

    def _frame(self, max_length: int) -> tuple[int, bytes]:
        kind, length = self._frame_header()
        if length > max_length:
            raise Malformed(f"a record in the bundle claims {length} bytes, more than allowed")
        return kind, self._read(length)

    def reports(self) -> Iterator[BundledReport]:
        """Every report, its envelope checked against the signed manifest; then the end.

        Each report's attachments are streamed by the consumer before it asks
        for the next report; the reader reads (and checks) whatever was left.
        """
        m = self.manifest
        chain = m.chain_before
        forks = {r.seq: r.chain for r in m.restores}
        previous: int | None = None
        for (seq, size, expected), listed in zip(m.envelopes, m.attachments, strict=True):
            self._where = f"report {seq}"
            kind, length = self._frame_header()
            if kind == FRAME_ATTACHMENT:
                if previous is None:
                    raise Malformed(f"an attachment comes before report {seq}, the first "
                                    "report of the bundle")
                raise Malformed(f"report {previous} has more attachments than the signed "
                                "manifest lists")
            if kind != FRAME_ENVELOPE:
                raise Malformed(f"the bundle has fewer envelopes than its manifest ({seq})")
            if length > MAX_ENVELOPE:
                raise Malformed(f"a record in the bundle claims {length} bytes, more than "
                                "allowed")
            envelope = self._read(length)
            hashed = envelope_hash(envelope) if len(envelope) == size else b""
            if hashed != expected:
                raise Tampered(f"report {seq} in the bundle does not match its signed hash")
            chain = chain_link_hashed(chain, seq, hashed)
            if seq in forks and not constant_time_equal(chain, forks[seq]):
                # A restore names the chain after the last report its backup held.
                raise Tampered(f"report {seq} does not rebuild the chain value that the "
                               "signed restore record names for it")
            streams: list[AttachmentStream] = []
            for index, entry in enumerate(listed):
                streams.append(AttachmentStream(self, seq, index, entry,
                                                streams[-1] if streams else None))
            yield BundledReport(seq, envelope, hashed, tuple(streams))
            for stream in streams:
                stream.drain()
            previous = seq
        self._where = "the end of the bundle"
        if chain != m.chain_head:
            raise Tampered("the reports do not rebuild the signed hash chain")
        kind, length = self._frame_header()
        if kind == FRAME_ATTACHMENT:
            raise Malformed(f"report {m.last_seq} has more attachments than the signed "
                            "manifest lists")
        if kind != FRAME_END or length != 0:
            raise Malformed("the bundle has more records than its manifest lists")
        self._check_padding()

    def envelopes(self) -> Iterator[tuple[int, bytes]]:
        """Every envelope, checked against the signed manifest; then the end."""
        for item in self.reports():
            yield item.seq, item.envelope

    def hashed_envelopes(self) -> Iterator[tuple[int, bytes, bytes]]:
        """``envelopes()`` with each envelope's (checked) hash, computed once."""
        for item in self.reports():
            yield item.seq, item.envelope, item.hash

    def _check_padding(self) -> None:
        self._where = "the padding"
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
        return sum(1 for _ in self.reports())
