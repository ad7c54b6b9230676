"""Writing a bundle: frames, padding, one secretstream, sealed file key, signed manifest.

Memory holds one envelope, one piece of an attachment and one 64 KiB chunk at
a time (``docs/bundle-format.md``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

import nacl.bindings as sodium

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
    MAX_PADDED,
    MAX_RECIPIENTS,
    TAG_FINAL,
    TAG_MESSAGE,
    attachment_frames,
    padded_size,
)
from reporter.formats.chain import envelope_hash
from reporter.formats.crypto import (
    KEY_BYTES,
    SIGNATURE_BYTES,
    RecipientPublicKey,
    StationSigningKey,
    constant_time_equal,
    random_bytes,
    subkey,
)
from reporter.formats.manifest import (
    AttachmentEntry,
    Manifest,
)


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


