"""Bech32 (BIP 173) text encoding for public keys.

Reviewers paste their public key into an operator's terminal, read it over a
phone, or copy it from an email. Bech32 is what age uses for the same job: a
human-readable prefix says what the string is, the alphabet avoids look-alike
characters, and the 30-bit BCH checksum is guaranteed to catch any error in up
to four characters, so a mistyped key is refused instead of silently sealing
reports to nobody.

Pure functions, no I/O. Checked against the BIP 173 test vectors in
``tests/formats/test_bech32.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
MAX_LENGTH = 90


class Bech32Error(ValueError):
    """The string is not valid Bech32 (the message says why)."""


def _polymod(values: Iterable[int]) -> int:
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            chk ^= _GENERATOR[i] if ((top >> i) & 1) else 0
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _create_checksum(hrp: str, data: Sequence[int]) -> list[int]:
    polymod = _polymod([*_hrp_expand(hrp), *data, 0, 0, 0, 0, 0, 0]) ^ 1
    return [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]


def _convert_bits(data: Iterable[int], from_bits: int, to_bits: int, pad: bool) -> list[int]:
    acc = 0
    bits = 0
    out: list[int] = []
    maxv = (1 << to_bits) - 1
    for value in data:
        if value < 0 or value >> from_bits:
            raise Bech32Error("value out of range")
        acc = (acc << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((acc >> bits) & maxv)
    if pad:
        if bits:
            out.append((acc << (to_bits - bits)) & maxv)
    elif bits >= from_bits or ((acc << (to_bits - bits)) & maxv):
        raise Bech32Error("non-zero padding")
    return out


def encode_words(hrp: str, words: Sequence[int]) -> str:
    """Encode 5-bit words under ``hrp`` (lower case), as BIP 173 defines."""
    if not hrp or hrp != hrp.lower():
        raise Bech32Error("the prefix must be non-empty lower case")
    return hrp + "1" + "".join(CHARSET[w] for w in [*words, *_create_checksum(hrp, words)])


def decode_words(text: str) -> tuple[str, list[int]]:
    """Decode a Bech32 string into its prefix and 5-bit words, checking everything."""
    if len(text) > MAX_LENGTH:
        raise Bech32Error(f"too long ({len(text)} characters, at most {MAX_LENGTH})")
    if any(ord(c) < 33 or ord(c) > 126 for c in text):
        raise Bech32Error("contains a character that is not printable ASCII")
    if text.lower() != text and text.upper() != text:
        raise Bech32Error("mixes upper and lower case")
    text = text.lower()
    pos = text.rfind("1")
    if pos < 1 or pos + 7 > len(text):
        raise Bech32Error("no prefix separator, or too short")
    hrp, rest = text[:pos], text[pos + 1 :]
    bad = [c for c in rest if c not in CHARSET]
    if bad:
        raise Bech32Error(f"contains {bad[0]!r}, which is not in the Bech32 alphabet")
    words = [CHARSET.index(c) for c in rest]
    if _polymod([*_hrp_expand(hrp), *words]) != 1:
        raise Bech32Error("checksum does not match (a character is probably mistyped)")
    return hrp, words[:-6]


def encode(hrp: str, data: bytes) -> str:
    """Encode ``data`` bytes under the prefix ``hrp``."""
    return encode_words(hrp, _convert_bits(data, 8, 5, pad=True))


def decode(expected_hrp: str, text: str) -> bytes:
    """Decode ``text``, which must carry ``expected_hrp``, back into bytes."""
    hrp, words = decode_words(text.strip())
    if hrp != expected_hrp:
        raise Bech32Error(f"starts with {hrp!r}, expected {expected_hrp!r}")
    return bytes(_convert_bits(words, 5, 8, pad=False))
