"""Bech32 (BIP 173), as used for reviewer and station public keys.

The first tests are the BIP's own test vectors, typed in from
https://github.com/bitcoin/bips/blob/master/bip-0173.mediawiki#test-vectors
(the checksum part; the segwit-address vectors are about a layer reporter
does not use).
"""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reporter.errors import InvalidPublicKey
from reporter.formats import bech32
from reporter.formats.crypto import RecipientPrivateKey, RecipientPublicKey

BIP173_VALID = [
    "A12UEL5L",
    "a12uel5l",
    "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
    "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
    "11qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqc8247j",
    "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
    "?1ezyfcl",
]

BIP173_INVALID = [
    ("\x201nwldj5", "HRP character out of range"),
    ("\x7f1axkwrx", "HRP character out of range"),
    ("\x801eym55h", "HRP character out of range"),
    ("an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pvx",
     "overall max length exceeded"),
    ("pzry9x0s0muk", "no separator character"),
    ("1pzry9x0s0muk", "empty HRP"),
    ("x1b4n0q5v", "invalid data character"),
    ("li1dgmt3", "too short checksum"),
    ("de1lg7wt\xff", "invalid character in checksum"),
    ("A1G7SGD8", "checksum calculated with uppercase form of HRP"),
    ("10a06t8", "empty HRP"),
    ("1qzzfhee", "empty HRP"),
]


@pytest.mark.parametrize("text", BIP173_VALID)
def test_bip173_valid_strings_decode_and_reencode_to_themselves(text: str) -> None:
    hrp, words = bech32.decode_words(text)
    assert hrp == text.lower()[: text.lower().rfind("1")]
    assert bech32.encode_words(hrp, words) == text.lower()


@pytest.mark.parametrize(("text", "reason"), BIP173_INVALID)
def test_bip173_invalid_strings_are_refused(text: str, reason: str) -> None:
    with pytest.raises(bech32.Bech32Error):
        bech32.decode_words(text)


def test_the_empty_data_vector_decodes_to_no_bytes() -> None:
    assert bech32.decode("a", "A12UEL5L") == b""
    assert bech32.decode("a", "a12uel5l") == b""


@given(hrp=st.text(alphabet=string.ascii_lowercase + string.digits + "?-", min_size=1,
                   max_size=10),
       data=st.binary(max_size=40))
def test_bytes_round_trip(hrp: str, data: bytes) -> None:
    text = bech32.encode(hrp, data)
    assert text == text.lower()
    assert bech32.decode(hrp, text) == data
    # All upper case is the same string (BIP 173: decoders accept either case).
    assert bech32.decode(hrp, text.upper()) == data


def test_encoding_needs_a_lower_case_prefix() -> None:
    with pytest.raises(bech32.Bech32Error):
        bech32.encode("Reporter", b"x")
    with pytest.raises(bech32.Bech32Error):
        bech32.encode("", b"x")


def test_a_different_prefix_is_refused() -> None:
    text = bech32.encode("reporterstation", bytes(32))
    with pytest.raises(bech32.Bech32Error, match="expected 'reporter'"):
        bech32.decode("reporter", text)


def test_mixed_case_is_refused() -> None:
    text = RecipientPrivateKey.generate().public_key.to_text()
    for i, c in enumerate(text):
        if c.isalpha():
            mixed = text[:i] + c.upper() + text[i + 1 :]
            with pytest.raises(bech32.Bech32Error, match="mixes upper and lower case"):
                bech32.decode_words(mixed)
    with pytest.raises(bech32.Bech32Error):
        bech32.decode_words("A12uel5l")


def test_non_zero_padding_bits_are_refused() -> None:
    # 32 bytes = 256 bits = 51 words + 1 bit; the last word's 4 low bits must be zero.
    words = bech32._convert_bits(bytes(32), 8, 5, pad=True)
    assert len(words) == 52
    words[-1] |= 1
    text = bech32.encode_words("reporter", words)
    with pytest.raises(bech32.Bech32Error, match="padding"):
        bech32.decode("reporter", text)


def test_a_reporter_public_key_has_the_documented_shape() -> None:
    text = RecipientPrivateKey.generate().public_key.to_text()
    # "reporter" + "1" + 52 data characters (256 bits) + 6 checksum characters.
    assert len(text) == 8 + 1 + 52 + 6
    assert text.startswith("reporter1")
    assert set(text[9:]) <= set(bech32.CHARSET)


def test_every_single_character_substitution_of_a_public_key_is_refused() -> None:
    """The BCH code detects any error in up to four characters; one is always caught."""
    key = RecipientPrivateKey(bytes(range(32))).public_key
    text = key.to_text()
    assert RecipientPublicKey.from_text(text) == key
    replacements = [chr(c) for c in range(33, 127)]
    tried = 0
    for position, original in enumerate(text):
        for replacement in replacements:
            if replacement == original:
                continue
            mutated = text[:position] + replacement + text[position + 1 :]
            with pytest.raises(bech32.Bech32Error):
                bech32.decode("reporter", mutated)
            with pytest.raises(InvalidPublicKey):
                RecipientPublicKey.from_text(mutated)
            tried += 1
    assert tried == len(text) * (len(replacements) - 1)
