"""One sealed attachment: a file streamed through encryption (``RPTR-ATT`` version 1).

Specified in ``docs/envelope-format.md`` ("Attachments"). In short::

    header     = magic "RPTR-ATT" (8) || version 0x01 (1) || index (1)
                 || secretstream header (24)
    payload    = secretstream chunks of CHUNK bytes of plaintext (+17 each),
                 the last tagged FINAL; the first chunk's associated data is
                 the header
    plaintext  = the file's bytes || zero padding to ``padded_size(size)``
    key        = BLAKE2b(key=file_key, "reporter/attachment/v1/" || index)

``file_key`` is the report envelope's file key: the attachment opens only for
someone who opens the envelope, and the envelope (sealed JSON) carries each
attachment's name, detected type, size, SHA-256 of the original and hash of
the ciphertext. So every length is known, from authenticated data, before a
byte of the attachment is decrypted, and a swapped or reordered attachment
fails: its key, its header's index and its hash all differ.

Padding is Padmé (Nikitin et al., PETS 2019): at most 12 % larger, and the
padded length reveals O(log log n) bits of the size instead of all of them.

``Writer`` takes plaintext in pieces of any size, as a multipart parser
delivers them, and hands ciphertext to a sink as it goes: plaintext only ever
exists in one chunk-sized buffer. ``Reader`` does the reverse and checks the
tags, the padding, the length and the SHA-256 of the original.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import nacl.bindings as sodium
import nacl.exceptions

from reporter.errors import Malformed, Tampered, Truncated, UnknownVersion
from reporter.formats.crypto import KEY_BYTES, constant_time_equal, subkey

MAGIC = b"RPTR-ATT"
VERSION = 1
MAX_ATTACHMENTS = 255
HEADER = struct.Struct(">8sBB")
SS_HEADER_BYTES = sodium.crypto_secretstream_xchacha20poly1305_HEADERBYTES  # 24
SS_ABYTES = sodium.crypto_secretstream_xchacha20poly1305_ABYTES  # 17
HEADER_BYTES = HEADER.size + SS_HEADER_BYTES  # 34
TAG_MESSAGE = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
TAG_FINAL = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL
CHUNK = 64 * 1024
MIN_PADDED = 4 * 1024
MAX_SIZE = 1 << 40
CTX_KEY = b"reporter/attachment/v1/"
CTX_CIPHERTEXT_HASH = b"reporter/attachment-ciphertext/v1"
_ZERO_CHUNK = bytes(CHUNK)


def padded_size(size: int) -> int:
    """Padmé: round ``size`` (at least 4 KiB) up so only its top bits are kept."""
    length = max(size, MIN_PADDED)
    exponent = length.bit_length() - 1
    mantissa_bits = exponent.bit_length()
    mask = (1 << (exponent - mantissa_bits)) - 1
    return (length + mask) & ~mask


def ciphertext_size(size: int) -> int:
    """Exact length of the sealed form of a ``size``-byte file."""
    padded = padded_size(size)
    return HEADER_BYTES + padded + (-(-padded // CHUNK)) * SS_ABYTES


def attachment_key(file_key: bytes, index: int) -> bytes:
    if len(file_key) != KEY_BYTES:
        raise ValueError("an attachment key comes from a 32-byte file key")
    if not 0 <= index < MAX_ATTACHMENTS:
        raise ValueError(f"attachment index must be 0..{MAX_ATTACHMENTS - 1}")
    return subkey(file_key, CTX_KEY + bytes([index]))


class CiphertextHash:
    """SHA-256 of ``len(context) (1) || context || ciphertext``, fed as it passes.

    SHA-256, not BLAKE2b as elsewhere: with the SHA extensions of current CPUs
    it runs at over twice the speed, and it hashes every byte of every upload.
    """

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self._hash.update(bytes([len(CTX_CIPHERTEXT_HASH)]) + CTX_CIPHERTEXT_HASH)

    def update(self, data: bytes) -> None:
        self._hash.update(data)

    def digest(self) -> bytes:
        return self._hash.digest()


def ciphertext_hash(data: bytes) -> bytes:
    h = CiphertextHash()
    h.update(data)
    return h.digest()


@dataclass(frozen=True)
class Sealed:
    """What the envelope records about one attachment (all but name and type)."""

    index: int
    size: int
    sha256: bytes
    ciphertext_size: int
    ciphertext_hash: bytes


class Writer:
    """Encrypt a file given in pieces; every ciphertext byte goes to ``sink``."""

    def __init__(self, file_key: bytes, index: int, sink: Callable[[bytes], object]) -> None:
        self._index = index
        self._sink = sink
        self._state = sodium.crypto_secretstream_xchacha20poly1305_state()
        ss_header = sodium.crypto_secretstream_xchacha20poly1305_init_push(
            self._state, attachment_key(file_key, index))
        self._header = HEADER.pack(MAGIC, VERSION, index) + ss_header
        self._pending = bytearray()
        self._first = True
        self._size = 0
        self._sha256 = hashlib.sha256()
        self._ct_hash = CiphertextHash()
        self._ct_size = 0
        self._emit(self._header)

    @property
    def size(self) -> int:
        return self._size

    def _emit(self, data: bytes) -> None:
        self._ct_hash.update(data)
        self._ct_size += len(data)
        self._sink(data)

    def _push(self, chunk: bytes | bytearray | memoryview, tag: int) -> None:
        self._emit(sodium.crypto_secretstream_xchacha20poly1305_push(
            self._state, bytes(chunk), self._header if self._first else None, tag))
        self._first = False

    def write(self, data: bytes) -> int:
        if not data:
            return 0
        if self._size + len(data) > MAX_SIZE:
            raise ValueError("attachment too large for the format")
        self._size += len(data)
        self._sha256.update(data)
        self._pending += data
        # Keep at least one byte back: the last chunk must be tagged FINAL,
        # and which chunk is last is known only at ``finish``.
        full = (len(self._pending) - 1) // CHUNK
        if full > 0:
            view = memoryview(self._pending)
            for i in range(full):
                self._push(view[i * CHUNK : (i + 1) * CHUNK], TAG_MESSAGE)
            view.release()
            del self._pending[: full * CHUNK]
        return len(data)

    def finish(self) -> Sealed:
        """Pad, push the last chunks (the very last tagged FINAL) and describe the result."""
        padded = padded_size(self._size)
        remaining = padded - (self._size - len(self._pending))
        # ``remaining`` plaintext bytes are left: what is pending, then zeros.
        while remaining > 0:
            take = min(CHUNK, remaining)
            chunk = self._pending[:take]
            del self._pending[:take]
            if len(chunk) < take:
                chunk += _ZERO_CHUNK[: take - len(chunk)]
            remaining -= take
            self._push(chunk, TAG_FINAL if remaining == 0 else TAG_MESSAGE)
        return Sealed(self._index, self._size, self._sha256.digest(), self._ct_size,
                      self._ct_hash.digest())


class Reader:
    """Decrypt and check one attachment whose size, SHA-256 and hash the envelope gave."""

    def __init__(self, file_key: bytes, index: int, size: int, sha256: bytes,
                 ciphertext_hash: bytes) -> None:
        if not 0 <= size <= MAX_SIZE:
            raise Malformed(f"attachment {index + 1}: invalid size {size}")
        self.index = index
        self.size = size
        self._key = attachment_key(file_key, index)
        self._sha256 = sha256
        self._ct_hash = ciphertext_hash
        self.padded = padded_size(size)
        self.total = ciphertext_size(size)

    def _name(self) -> str:
        return f"attachment {self.index + 1}"

    def read(self, pieces: Iterable[bytes]) -> Iterator[bytes]:
        """Yield the original file's bytes from ciphertext ``pieces`` of any size.

        Raises ``Truncated``, ``Tampered`` or ``Malformed`` (naming the attachment)
        as soon as something is wrong: the caller must discard what it wrote.
        """
        name = self._name()
        ct_hash = CiphertextHash()
        buffer = bytearray()
        seen = 0
        state = sodium.crypto_secretstream_xchacha20poly1305_state()
        header: bytes | None = None
        chunk_index = 0
        produced = 0  # plaintext bytes out of the stream, padding included
        sha = hashlib.sha256()
        chunks = -(-self.padded // CHUNK)
        for piece in pieces:
            seen += len(piece)
            if seen > self.total:
                raise Malformed(f"{name} is longer than its envelope says ({self.total} bytes)")
            ct_hash.update(piece)
            buffer += piece
            if header is None:
                if len(buffer) < HEADER_BYTES:
                    continue
                header = bytes(buffer[:HEADER_BYTES])
                self._check_header(header)
                sodium.crypto_secretstream_xchacha20poly1305_init_pull(
                    state, header[HEADER.size:], self._key)
                del buffer[:HEADER_BYTES]
            while chunk_index < chunks:
                plain = min(CHUNK, self.padded - chunk_index * CHUNK)
                need = plain + SS_ABYTES
                if len(buffer) < need:
                    break
                try:
                    message, tag = sodium.crypto_secretstream_xchacha20poly1305_pull(
                        state, bytes(buffer[:need]), header if chunk_index == 0 else None)
                except nacl.exceptions.CryptoError:
                    raise Tampered(f"{name} was altered (chunk {chunk_index + 1} does not "
                                   "authenticate)") from None
                del buffer[:need]
                chunk_index += 1
                if tag != (TAG_FINAL if chunk_index == chunks else TAG_MESSAGE):
                    raise Tampered(f"{name}'s chunks were reordered or cut")
                keep = max(0, min(len(message), self.size - produced))
                padding = message[keep:]
                if padding.count(0) != len(padding):
                    raise Malformed(f"{name}'s padding is not zero")
                produced += len(message)
                if keep:
                    data = message[:keep]
                    sha.update(data)
                    yield data
        if seen < self.total or chunk_index < chunks:
            raise Truncated(f"{name} is cut short: {seen} of {self.total} bytes")
        if not constant_time_equal(ct_hash.digest(), self._ct_hash):
            raise Tampered(f"{name} does not match the hash its envelope records")
        if not constant_time_equal(sha.digest(), self._sha256):
            raise Tampered(f"{name} does not match the SHA-256 its envelope records")

    def _check_header(self, header: bytes) -> None:
        magic, version, index = HEADER.unpack_from(header)
        if magic != MAGIC:
            raise Malformed(f"{self._name()} is not a reporter attachment (wrong magic bytes)")
        if version != VERSION:
            raise UnknownVersion(f"attachment version {version} is not supported; "
                                 "upgrade reporter")
        if index != self.index:
            raise Tampered(f"{self._name()} carries index {index + 1}: attachments were "
                           "swapped")

