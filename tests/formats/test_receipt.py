"""reporter.formats.receipt: the code a monitor keeps to send a follow-up.

A code is 14 random characters of Crockford's base32 (70 bits) and a 2-character
check (10 bits), shown as four groups of four: ``7KQM-3XHD-9TWA-R25V``.
"""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest

from reporter.errors import InvalidReceipt
from reporter.formats.crypto import digest
from reporter.formats.receipt import ALPHABET, new_receipt, parse_receipt

CODE_RE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$")


def check(data: str) -> str:
    """The check, as documented: the top 10 bits of a 2-byte framed BLAKE2b digest."""
    value = int.from_bytes(digest(b"reporter/receipt-check/v1", data.encode(), size=2),
                           "big") >> 6
    return ALPHABET[value >> 5] + ALPHABET[value & 31]


def code(data: str) -> str:
    raw = data + check(data)
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def test_the_alphabet_is_crockford_base32() -> None:
    assert ALPHABET == "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    assert len(set(ALPHABET)) == 32
    assert not set("ILOU") & set(ALPHABET)


def test_format() -> None:
    for _ in range(100):
        receipt = new_receipt()
        assert CODE_RE.match(receipt), receipt
        assert receipt[-2:] == check(receipt.replace("-", "")[:14])
        assert parse_receipt(receipt) == receipt


def test_seventy_random_bits() -> None:
    codes = [new_receipt().replace("-", "")[:14] for _ in range(5000)]
    assert len(set(codes)) == len(codes)
    # Every data position uses the whole alphabet, roughly uniformly (each of the
    # 32 characters is expected 156 times per position; 80..240 is very loose).
    for position in range(14):
        counts = Counter(c[position] for c in codes)
        assert set(counts) == set(ALPHABET), position
        assert all(80 <= n <= 240 for n in counts.values()), (position, counts)


def test_normalisation() -> None:
    canonical = code("00111" + "7KQM3XHD9")
    assert parse_receipt(canonical) == canonical
    assert parse_receipt(canonical.lower()) == canonical
    assert parse_receipt(canonical.replace("-", "")) == canonical
    assert parse_receipt(canonical.replace("-", " ")) == canonical
    assert parse_receipt("  " + canonical.replace("-", " \t ") + " ") == canonical
    # Crockford: O reads as 0; I and L read as 1, in either case.
    typed = "OoIlL" + canonical.replace("-", "")[5:]
    assert parse_receipt(typed) == canonical


def test_wrong_length_is_refused() -> None:
    receipt = new_receipt()
    raw = receipt.replace("-", "")
    for bad in ("", raw[:15], raw + "0", raw[:-1], raw * 2, receipt[:-1]):
        with pytest.raises(InvalidReceipt, match="16 characters"):
            parse_receipt(bad)


def test_characters_outside_the_alphabet_are_refused() -> None:
    raw = new_receipt().replace("-", "")
    for bad in ("U", "*", "é", "_"):
        with pytest.raises(InvalidReceipt):
            parse_receipt(raw[:-1] + bad)


def test_single_character_substitutions_are_detected() -> None:
    """The 10-bit check misses a substitution in the data about 1 time in 1024."""
    rng = random.Random(20261102)
    tried = detected = 0
    for _ in range(300):
        data = "".join(rng.choice(ALPHABET) for _ in range(14))
        raw = data + check(data)
        for position in range(16):
            for replacement in ALPHABET:
                if replacement == raw[position]:
                    continue
                mutated = raw[:position] + replacement + raw[position + 1 :]
                tried += 1
                try:
                    parse_receipt(mutated)
                except InvalidReceipt:
                    detected += 1
                else:
                    assert position < 14, "a changed check character was accepted"
    assert tried == 300 * 16 * 31
    assert detected / tried >= 0.99, detected / tried


def test_a_code_from_bytes_takes_their_first_seventy_bits() -> None:
    from reporter.formats.receipt import receipt_from_bytes

    assert receipt_from_bytes(bytes(9)) == code("0" * 14)
    assert receipt_from_bytes(b"\xff" * 9) == code("Z" * 14)
    # 70 bits: the last two bits of the ninth byte and anything after it do not count.
    assert receipt_from_bytes(b"\xff" * 8 + b"\xfc") == receipt_from_bytes(b"\xff" * 9 + b"x")
    assert receipt_from_bytes(b"\xff" * 8 + b"\xf8") != receipt_from_bytes(b"\xff" * 9)
    samples = [random.Random(i).randbytes(32) for i in range(2000)]
    codes = [receipt_from_bytes(sample) for sample in samples]
    assert all(CODE_RE.match(c) and parse_receipt(c) == c for c in codes)
    assert len(set(codes)) == len(codes)
    # Every position uses the whole alphabet: no bit is lost or repeated.
    for position in range(14):
        assert len(Counter(c.replace("-", "")[position] for c in codes)) == 32


def test_a_code_needs_nine_bytes() -> None:
    from reporter.formats.receipt import receipt_from_bytes

    with pytest.raises(ValueError, match="at least 9 bytes"):
        receipt_from_bytes(bytes(8))
