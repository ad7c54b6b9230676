"""Reading a bundle: every length checked before decrypting, the signature before the
manifest is trusted, each envelope and attachment against the manifest as it streams past.

The rules are ``docs/bundle-format.md``'s; ``review/importer.py`` applies the rest.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

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
from reporter.formats.bundle.layout import (
    ATTACHMENT_FRAME,
    CHUNK,
    CTX_PAYLOAD,
    CTX_SIGNATURE,
    FIXED_HEADER,
    FRAME_ATTACHMENT,
    FRAME_END,
    FRAME_ENVELOPE,
    FRAME_HEADER,
    FRAME_MANIFEST,
    FRAME_SIGNATURE,
    MAGIC,
    MAX_MANIFEST,
    MAX_RECIPIENTS,
    PIECE,
    SS_ABYTES,
    SS_HEADER_BYTES,
    TAG_FINAL,
    TAG_MESSAGE,
    chunk_count,
    valid_padded,
)
from reporter.formats.chain import chain_link_hashed, envelope_hash
from reporter.formats.crypto import (
    SIGNATURE_BYTES,
    STANZA_BYTES,
    RecipientPrivateKey,
    StationVerifyKey,
    constant_time_equal,
    open_stanzas,
    subkey,
)
from reporter.formats.manifest import (
    MAX_ENVELOPE,
    READABLE_VERSIONS,
    AttachmentEntry,
    Manifest,
    recipient_id,
)


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
    if not valid_padded(padded):
        raise Malformed(f"the bundle declares an invalid padded length ({padded})")
    header_length = FIXED_HEADER.size + count * STANZA_BYTES + SS_HEADER_BYTES
    total = header_length + padded + chunk_count(padded) * SS_ABYTES
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
        self._chunks = chunk_count(info.padded_length)
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
