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
CTX_CHECK = b"reporter/receipt-check/v1"
# Crockford's rules for characters people confuse when copying by hand.
_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1"})


def _check(data: str) -> str:
    value = int.from_bytes(digest(CTX_CHECK, data.encode("ascii"), size=2), "big") >> 6
    return ALPHABET[value >> 5] + ALPHABET[value & 31]


def _format(raw: str) -> str:
    return "-".join(raw[i : i + 4] for i in range(0, LENGTH, 4))


def new_receipt() -> str:
    """A fresh receipt code, formatted for display."""
    bits = secrets.randbits(5 * DATA_CHARS)
    data = "".join(ALPHABET[(bits >> (5 * i)) & 31] for i in range(DATA_CHARS))
    return _format(data + _check(data))


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
