"""The bundle's layout: magic, version, sizes, frame types, padding buckets.

Shared by ``writer.py`` and ``reader.py``; the specification is
``docs/bundle-format.md``.
"""

from __future__ import annotations

import struct

import nacl.bindings as sodium

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


def valid_padded(size: int) -> bool:
    if size < MIN_PADDED or size > MAX_PADDED:
        return False
    if size <= STEP_PADDED:
        return size & (size - 1) == 0
    return size % STEP_PADDED == 0


def chunk_count(padded: int) -> int:
    return -(-padded // CHUNK)


def attachment_frames(size: int) -> int:
    """How many ATTACHMENT frames carry ``size`` bytes of one attachment's ciphertext."""
    return -(-size // ATTACHMENT_FRAME)

