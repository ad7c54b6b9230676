"""reporter.station.formtoken: a token per form page, its receipt derived under a key in memory."""

from __future__ import annotations

import base64
import hashlib
import struct

import pytest

from reporter.formats.receipt import parse_receipt, receipt_from_bytes
from reporter.station.formtoken import (
    CTX_RECEIPT,
    CTX_TOKEN,
    DEFAULT_LIFETIME,
    FUTURE_SKEW,
    TEXT_LENGTH,
    FormTokens,
)

KEY = bytes(range(32))


class Clock:
    def __init__(self, now: int = 1_000_000) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def framed_mac(key: bytes, context: bytes, *parts: bytes, size: int = 16) -> bytes:
    """The documented construction, written out independently."""
    h = hashlib.blake2b(key=key, digest_size=size)
    h.update(bytes([len(context)]) + context)
    for part in parts:
        h.update(len(part).to_bytes(8, "big") + part)
    return h.digest()


def raw(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=")


def encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_the_wire_form_is_the_documented_one() -> None:
    clock = Clock(123_456)
    token = FormTokens(KEY, clock).issue()
    assert len(token) == TEXT_LENGTH == 55
    data = raw(token)
    assert len(data) == 41 and data[0] == 1
    nonce, issued, tag = data[1:17], data[17:25], data[25:]
    assert struct.unpack(">Q", issued) == (123_456,)
    assert tag == framed_mac(KEY, CTX_TOKEN, b"\x01", nonce, issued)
    assert CTX_TOKEN == b"reporter/form-token/v1"


def test_a_token_verifies_and_gives_one_receipt_for_every_resend() -> None:
    tokens = FormTokens(KEY, Clock())
    text = tokens.issue()
    first, again = tokens.verify(text, DEFAULT_LIFETIME), tokens.verify(text, DEFAULT_LIFETIME)
    assert first is not None and first == again
    receipt = tokens.receipt(first)
    assert again is not None and parse_receipt(receipt) == receipt == tokens.receipt(again)
    assert receipt == receipt_from_bytes(framed_mac(KEY, CTX_RECEIPT, first.nonce))
    other = tokens.verify(tokens.issue(), DEFAULT_LIFETIME)
    assert other is not None and tokens.receipt(other) != receipt
    assert tokens.ledger_name(first) != tokens.ledger_name(other)
    assert first.nonce not in tokens.ledger_name(first)


def test_another_key_refuses_the_token_and_derives_another_receipt() -> None:
    clock = Clock()
    mine, restarted = FormTokens(KEY, clock), FormTokens(bytes(32), clock)
    text = mine.issue()
    assert restarted.verify(text, DEFAULT_LIFETIME) is None
    # A fresh app makes its own random key.
    assert FormTokens(clock=clock).verify(text, DEFAULT_LIFETIME) is None
    assert "key" not in repr(mine).replace("<key hidden>", "") and KEY.hex() not in repr(mine)


def test_every_altered_byte_is_refused() -> None:
    tokens = FormTokens(KEY, Clock())
    data = raw(tokens.issue())
    for position in range(len(data)):
        for flip in (0x01, 0x80):
            altered = bytearray(data)
            altered[position] ^= flip
            assert tokens.verify(encode(bytes(altered)), DEFAULT_LIFETIME) is None, position


@pytest.mark.parametrize("text", [
    "", "x", "A" * 54, "A" * 56, "A" * 55, "=" * 55, "+" * 55, "/" * 55,
    "é" * 55, " " * 55, "\x00" * 55,
])
def test_malformed_text_is_refused_before_decoding(text: str) -> None:
    assert FormTokens(KEY, Clock()).verify(text, DEFAULT_LIFETIME) is None


def test_non_strings_are_refused() -> None:
    assert FormTokens(KEY, Clock()).verify(None, DEFAULT_LIFETIME) is None  # type: ignore[arg-type]


def test_the_spare_bits_must_be_zero() -> None:
    tokens = FormTokens(KEY, Clock())
    text = tokens.issue()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(text[-1])
    for spare in (1, 2, 3):
        other = text[:-1] + alphabet[last ^ spare]
        assert raw(other) == raw(text)  # the same bytes, spelled differently
        assert tokens.verify(other, DEFAULT_LIFETIME) is None


def test_version_and_length_are_checked() -> None:
    tokens = FormTokens(KEY, Clock())
    data = raw(tokens.issue())
    nonce, issued = data[1:17], data[17:25]
    v2 = bytes([2]) + nonce + issued + framed_mac(KEY, CTX_TOKEN, b"\x02", nonce, issued)
    assert tokens.verify(encode(v2), DEFAULT_LIFETIME) is None
    assert tokens.verify(encode(data + b"\x00\x00\x00"), DEFAULT_LIFETIME) is None
    assert tokens.verify(encode(data[:-3]), DEFAULT_LIFETIME) is None


def test_a_token_lives_its_lifetime_and_no_longer() -> None:
    clock = Clock()
    tokens = FormTokens(KEY, clock)
    text = tokens.issue()
    clock.now += 600
    assert tokens.verify(text, 600) is not None
    clock.now += 1
    assert tokens.verify(text, 600) is None
    assert tokens.verify(text, 601) is not None


def test_a_token_from_the_future_is_refused() -> None:
    clock = Clock()
    tokens = FormTokens(KEY, clock)
    clock.now += FUTURE_SKEW + 1
    text = tokens.issue()
    clock.now -= FUTURE_SKEW + 1
    assert tokens.verify(text, DEFAULT_LIFETIME) is None
    clock.now += 1
    assert tokens.verify(text, DEFAULT_LIFETIME) is not None


def test_a_key_is_32_bytes() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        FormTokens(bytes(16))
