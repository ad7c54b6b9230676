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
    MIN_PADDED,
    PIECE,
    SS_ABYTES,
    SS_HEADER_BYTES,
    STEP_PADDED,
    TAG_FINAL,
    TAG_MESSAGE,
    attachment_frames,
    chunk_count,
    padded_size,
    valid_padded,
)
from reporter.formats.bundle.reader import (
    AttachmentStream,
    BundledReport,
    BundleInfo,
    BundleReader,
    inspect,
)
from reporter.formats.bundle.writer import Outgoing, plaintext_length, write_bundle
from reporter.formats.crypto import STANZA_BYTES

__all__ = [
    "ATTACHMENT_FRAME", "CHUNK", "CTX_PAYLOAD", "CTX_SIGNATURE", "FIXED_HEADER",
    "FRAME_ATTACHMENT", "FRAME_END", "FRAME_ENVELOPE", "FRAME_HEADER", "FRAME_MANIFEST",
    "FRAME_SIGNATURE", "MAGIC", "MAX_MANIFEST", "MAX_PADDED", "MAX_RECIPIENTS",
    "MIN_PADDED", "PIECE", "SS_ABYTES", "SS_HEADER_BYTES", "STANZA_BYTES", "STEP_PADDED",
    "TAG_FINAL", "TAG_MESSAGE", "AttachmentStream", "BundleInfo", "BundleReader",
    "BundledReport", "Outgoing", "attachment_frames", "chunk_count", "inspect",
    "padded_size", "plaintext_length", "valid_padded", "write_bundle",
]
