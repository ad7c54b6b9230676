"""One sealed report: the envelope format (``RPTR-ENV`` version 1).

The authoritative description, with the reasons behind each choice, is
``docs/envelope-format.md``; this module follows it line by line. In short::

    header  = magic "RPTR-ENV" (8) || version 0x01 (1) || n (1, 1..64)
              || padded length P (4, big endian)
              || n x crypto_box_seal(file_key) (80 each)
              || secretstream header (24)
    payload = secretstream chunks of CHUNK bytes of plaintext (+17 each),
              the last tagged FINAL; the first chunk's associated data is
              the whole header, so no header byte can change unnoticed.
    plaintext (P bytes) = body length (4, big endian) || body || zero padding

A fresh random ``file_key`` is made for every envelope and sealed to every
recipient; the payload key is ``BLAKE2b(key=file_key, "reporter/envelope/v1/payload")``
so later versions can derive other keys (attachments) from the same file key.
``P`` is a size bucket (4 KiB, then powers of two) so the ciphertext length
says little about the report's length.

Every length is checked before anything is decrypted.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

import nacl.bindings as sodium
import nacl.exceptions

from reporter.errors import Malformed, Tampered, Truncated, UnknownVersion
from reporter.formats.crypto import (
    KEY_BYTES,
    STANZA_BYTES,
    RecipientPrivateKey,
    RecipientPublicKey,
    open_stanzas,
    random_bytes,
    subkey,
)

MAGIC = b"RPTR-ENV"
VERSION = 1
MAX_RECIPIENTS = 64
SS_HEADER_BYTES = sodium.crypto_secretstream_xchacha20poly1305_HEADERBYTES  # 24
SS_ABYTES = sodium.crypto_secretstream_xchacha20poly1305_ABYTES  # 17
TAG_MESSAGE = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
TAG_FINAL = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL
CHUNK = 64 * 1024
MIN_PADDED = 4 * 1024
MAX_PADDED = 4 * 1024 * 1024
MAX_BODY = MAX_PADDED - 4
FIXED_HEADER = struct.Struct(">8sBBI")  # magic, version, n, P
CTX_PAYLOAD = b"reporter/envelope/v1/payload"


def padded_size(body_length: int) -> int:
    """The bucket a body of ``body_length`` bytes is padded to (with its 4-byte prefix)."""
    needed = body_length + 4
    size = MIN_PADDED
    while size < needed:
        size *= 2
    return size


def _valid_padded(size: int) -> bool:
    return MIN_PADDED <= size <= MAX_PADDED and size & (size - 1) == 0


def _chunk_count(padded: int) -> int:
    return (padded + CHUNK - 1) // CHUNK


def sealed_size(body_length: int, recipients: int) -> int:
    """Exact size in bytes of the envelope ``seal`` makes for such a body."""
    padded = padded_size(body_length)
    return (FIXED_HEADER.size + recipients * STANZA_BYTES + SS_HEADER_BYTES
            + padded + _chunk_count(padded) * SS_ABYTES)


@dataclass(frozen=True)
class EnvelopeInfo:
    """What anyone can read from an envelope without a key."""

    version: int
    recipients: int
    padded_length: int
    header_length: int
    total_length: int


def inspect(envelope: bytes) -> EnvelopeInfo:
    """Parse and check the header and every length; decrypt nothing."""
    if len(envelope) < FIXED_HEADER.size:
        raise Truncated(f"the envelope is {len(envelope)} bytes, shorter than its fixed header")
    magic, version, count, padded = FIXED_HEADER.unpack_from(envelope)
    if magic != MAGIC:
        raise Malformed("this is not a reporter envelope (wrong magic bytes)")
    if version != VERSION:
        raise UnknownVersion(
            f"envelope version {version} is not supported (this reporter reads version "
            f"{VERSION}); upgrade reporter"
        )
    if not 1 <= count <= MAX_RECIPIENTS:
        raise Malformed(f"the envelope declares {count} recipients (allowed: 1..{MAX_RECIPIENTS})")
    if not _valid_padded(padded):
        raise Malformed(f"the envelope declares an invalid padded length ({padded})")
    header_length = FIXED_HEADER.size + count * STANZA_BYTES + SS_HEADER_BYTES
    total = header_length + padded + _chunk_count(padded) * SS_ABYTES
    if len(envelope) < total:
        raise Truncated(f"the envelope is {len(envelope)} bytes but its header says {total}")
    if len(envelope) > total:
        raise Malformed(f"the envelope has {len(envelope) - total} bytes after its end")
    return EnvelopeInfo(version, count, padded, header_length, total)


def new_file_key() -> bytes:
    """A fresh file key: made when a submission starts, so its attachments can be
    sealed under it while they stream in (see ``attachment.py``)."""
    return random_bytes(KEY_BYTES)


def seal(body: bytes, recipients: Sequence[RecipientPublicKey],
         file_key: bytes | None = None) -> bytes:
    """Encrypt ``body`` so that each of ``recipients`` (and nobody else) can open it.

    ``file_key`` is given only when attachments were already sealed under it;
    it must come from ``new_file_key`` and be used for one envelope only.
    """
    if not recipients:
        raise ValueError("an envelope needs at least one recipient")
    if len(recipients) > MAX_RECIPIENTS:
        raise ValueError(f"at most {MAX_RECIPIENTS} recipients")
    if len(body) > MAX_BODY:
        raise ValueError(f"the body is larger than {MAX_BODY} bytes")
    padded = padded_size(len(body))
    if file_key is None:
        file_key = new_file_key()
    elif len(file_key) != KEY_BYTES:
        raise ValueError("a file key is 32 bytes")
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    ss_header = sodium.crypto_secretstream_xchacha20poly1305_init_push(
        state, subkey(file_key, CTX_PAYLOAD)
    )
    header = b"".join([
        FIXED_HEADER.pack(MAGIC, VERSION, len(recipients), padded),
        *(r.seal(file_key) for r in recipients),
        ss_header,
    ])
    plaintext = struct.pack(">I", len(body)) + body
    plaintext += bytes(padded - len(plaintext))
    out = [header]
    for index, start in enumerate(range(0, padded, CHUNK)):
        last = start + CHUNK >= padded
        out.append(sodium.crypto_secretstream_xchacha20poly1305_push(
            state,
            plaintext[start : start + CHUNK],
            header if index == 0 else None,
            TAG_FINAL if last else TAG_MESSAGE,
        ))
    return b"".join(out)


def open_envelope(envelope: bytes, key: RecipientPrivateKey) -> bytes:
    """Check, decrypt and unpad an envelope; return the body it carries."""
    return open_envelope_with_key(envelope, key)[0]


def open_envelope_with_key(envelope: bytes, key: RecipientPrivateKey) -> tuple[bytes, bytes]:
    """``open_envelope``, also returning the file key that opens its attachments."""
    info = inspect(envelope)
    file_key = open_stanzas(envelope, FIXED_HEADER.size, info.recipients, key, "envelope")
    header = envelope[: info.header_length]
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    sodium.crypto_secretstream_xchacha20poly1305_init_pull(
        state, header[-SS_HEADER_BYTES:], subkey(file_key, CTX_PAYLOAD)
    )
    chunks = _chunk_count(info.padded_length)
    offset = info.header_length
    plaintext = []
    for index in range(chunks):
        size = min(CHUNK, info.padded_length - index * CHUNK) + SS_ABYTES
        try:
            message, tag = sodium.crypto_secretstream_xchacha20poly1305_pull(
                state, envelope[offset : offset + size], header if index == 0 else None
            )
        except nacl.exceptions.CryptoError:
            where = "its header or first chunk" if index == 0 else f"chunk {index + 1}"
            raise Tampered(f"the envelope was altered ({where} does not authenticate)") from None
        expected = TAG_FINAL if index == chunks - 1 else TAG_MESSAGE
        if tag != expected:
            raise Tampered(f"the envelope's chunks were reordered or cut (chunk {index + 1})")
        plaintext.append(message)
        offset += size
    padded = b"".join(plaintext)
    (length,) = struct.unpack_from(">I", padded)
    if length > len(padded) - 4:
        raise Malformed("the sealed body length is larger than the envelope")
    padding = padded[4 + length :]
    if padding.count(0) != len(padding):  # C speed; any() would loop in Python
        raise Malformed("the envelope's padding is not zero")
    return padded[4 : 4 + length], file_key
