"""Receipt codes: what a monitor keeps to send a follow-up to the same report.

A code is 70 random bits in Crockford's base32 (no I, L, O or U, so it reads
aloud without confusion) plus a 10-bit check, written as four groups of four:
``7KQM-3XHD-9TWA-R2PC``. The station stores no list of codes: the code lives
only inside the sealed envelopes, where reviewers use it to link follow-ups to
the first report. The check lets the station refuse a mistyped code at once
(it misses about one typo in a thousand) without remembering any code.
"""

from __future__ import annotations

import secrets

from reporter.errors import InvalidReceipt
from reporter.formats.crypto import digest

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
DATA_CHARS = 14  # 70 bits
CHECK_CHARS = 2  # 10 bits
LENGTH = DATA_CHARS + CHECK_CHARS
DATA_BYTES = 9  # the bytes that hold the 70 data bits
CTX_CHECK = b"reporter/receipt-check/v1"
# Crockford's rules for characters people confuse when copying by hand.
_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1"})


def _check(data: str) -> str:
    value = int.from_bytes(digest(CTX_CHECK, data.encode("ascii"), size=2), "big") >> 6
    return ALPHABET[value >> 5] + ALPHABET[value & 31]


def _format(raw: str) -> str:
    return "-".join(raw[i : i + 4] for i in range(0, LENGTH, 4))


def _from_bits(bits: int) -> str:
    data = "".join(ALPHABET[(bits >> (5 * i)) & 31] for i in range(DATA_CHARS))
    return _format(data + _check(data))


def new_receipt() -> str:
    """A fresh receipt code, formatted for display."""
    return _from_bits(secrets.randbits(5 * DATA_CHARS))


def receipt_from_bytes(data: bytes) -> str:
    """The receipt code whose 70 data bits are the first 70 bits of ``data``.

    For a code derived from a secret (the station derives a submission's
    code from its form token under a key held only in memory, so a resent
    form gets the same code: ``station/formtoken.py``). ``data`` must be
    uniformly random to its holder (a keyed hash), and at least 9 bytes.
    """
    if len(data) < DATA_BYTES:
        raise ValueError(f"a receipt code needs at least {DATA_BYTES} bytes, got {len(data)}")
    return _from_bits(int.from_bytes(data[:DATA_BYTES], "big") >> (8 * DATA_BYTES - 5 * DATA_CHARS))


def parse_receipt(text: str) -> str:
    """Normalise what a person typed into the canonical code, or raise ``InvalidReceipt``."""
    raw = "".join(c for c in text.upper() if c not in " -\t").translate(_CONFUSABLE)
    if len(raw) != LENGTH:
        raise InvalidReceipt(f"a receipt code has {LENGTH} characters, this one has {len(raw)}")
    if any(c not in ALPHABET for c in raw):
        raise InvalidReceipt("a receipt code has only digits and the letters A to Z")
    if raw[DATA_CHARS:] != _check(raw[:DATA_CHARS]):
        raise InvalidReceipt("this receipt code does not check out: a character is mistyped")
    return _format(raw)
