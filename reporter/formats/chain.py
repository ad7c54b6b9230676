"""The hash chain over a station's reports, shared by the station and the reviewers.

The station appends each envelope to a log whose entry ``seq`` carries
``chain[seq] = H(chain[seq-1], seq, H(envelope))``, starting from a per-station
genesis value. Bundles carry the chain values before and after their reports,
so a reviewer proves that nothing was dropped, reordered or inserted. The
construction is specified in ``docs/bundle-format.md``.
"""

from __future__ import annotations

import struct

from reporter.formats.crypto import digest

CTX_GENESIS = b"reporter/chain/v1/genesis"
CTX_LINK = b"reporter/chain/v1/link"
CTX_ENVELOPE_HASH = b"reporter/envelope-hash/v1"


def envelope_hash(envelope: bytes) -> bytes:
    """The name of an envelope everywhere: in the log, manifests and the review database."""
    return digest(CTX_ENVELOPE_HASH, envelope)


def genesis(station_id: bytes) -> bytes:
    """The chain value before the first report of a station."""
    return digest(CTX_GENESIS, station_id)


def chain_link(previous: bytes, seq: int, envelope: bytes) -> bytes:
    """``chain[seq] = H(chain[seq-1], seq, H(envelope))``."""
    return chain_link_hashed(previous, seq, envelope_hash(envelope))


def chain_link_hashed(previous: bytes, seq: int, hashed_envelope: bytes) -> bytes:
    """``chain_link`` for an envelope whose hash is already known."""
    return digest(CTX_LINK, previous, struct.pack(">Q", seq), hashed_envelope)
