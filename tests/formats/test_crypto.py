"""reporter.formats.crypto: the few primitives everything else is built on (real libsodium)."""

from __future__ import annotations

import base64
import hashlib
import re
import struct

import nacl.bindings as sodium
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reporter.errors import (
    FormatError,
    InvalidPublicKey,
    NotARecipient,
    PassphraseError,
    Tampered,
)
from reporter.formats import bech32, crypto
from reporter.formats.crypto import (
    KdfParams,
    RecipientPrivateKey,
    RecipientPublicKey,
    StationSigningKey,
    StationVerifyKey,
    aead_decrypt,
    aead_encrypt,
    check_new_passphrase,
    derive_key,
    digest,
    subkey,
)

FINGERPRINT_RE = re.compile(r"^[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}$")
SALT = bytes(range(16))
FAST = KdfParams(crypto.argon2id.OPSLIMIT_MIN, crypto.argon2id.MEMLIMIT_MIN, SALT)


# --- digest: domain-separated, length-framed BLAKE2b ------------------------


def test_digest_is_blake2b_over_the_documented_framing() -> None:
    expected = hashlib.blake2b(
        b"\x03ctx" + struct.pack(">Q", 2) + b"ab" + struct.pack(">Q", 0), digest_size=32
    ).digest()
    assert digest(b"ctx", b"ab", b"") == expected


def test_digest_framing_keeps_part_boundaries() -> None:
    assert digest(b"ctx", b"ab", b"c") != digest(b"ctx", b"a", b"bc")
    assert digest(b"ctx", b"abc") != digest(b"ctx", b"ab", b"c")
    assert digest(b"ctx", b"") != digest(b"ctx")
    assert digest(b"ctx", b"", b"") != digest(b"ctx", b"")


def test_digest_separates_contexts() -> None:
    assert digest(b"reporter/a/v1", b"x") != digest(b"reporter/b/v1", b"x")
    # The context is length-prefixed too, so it cannot run into the first part.
    assert digest(b"ab", b"c") != digest(b"a", b"bc")


def test_digest_size_and_context_bounds() -> None:
    assert len(digest(b"c", b"x")) == 32
    assert len(digest(b"c", b"x", size=10)) == 10
    assert len(digest(b"c", b"x", size=64)) == 64
    assert len(digest(b"c" * 255, b"x")) == 32
    for bad in (b"", b"c" * 256):
        with pytest.raises(ValueError):
            digest(bad, b"x")


def test_subkey_is_keyed_blake2b_of_the_context() -> None:
    key = bytes(range(32))
    assert subkey(key, b"reporter/envelope/v1/payload") == hashlib.blake2b(
        b"reporter/envelope/v1/payload", key=key, digest_size=32).digest()
    assert subkey(key, b"one") != subkey(key, b"two")
    assert subkey(key, b"one") != subkey(bytes(32), b"one")
    assert len(subkey(key, b"one")) == 32
    for bad in (bytes(31), bytes(33), b""):
        with pytest.raises(ValueError):
            subkey(bad, b"one")


# --- reviewer keys (X25519) -------------------------------------------------


def test_public_key_text_round_trip() -> None:
    key = RecipientPrivateKey.generate().public_key
    text = key.to_text()
    assert text.startswith("reporter1")
    assert RecipientPublicKey.from_text(text) == key
    # What a person pastes: surrounding or embedded white space, or all upper case.
    assert RecipientPublicKey.from_text(f"  {text[:30]}\n{text[30:]}\t") == key
    assert RecipientPublicKey.from_text(text.upper()) == key


def test_public_key_text_refusals() -> None:
    key = RecipientPrivateKey.generate().public_key
    station_text = StationVerifyKey(key.raw).to_text()
    for bad in ("", "reporter1", "not a key", station_text,
                bech32.encode("reporter", bytes(31)), bech32.encode("reporter", bytes(33)),
                key.to_text()[:-1]):
        with pytest.raises(InvalidPublicKey):
            RecipientPublicKey.from_text(bad)
    for raw in (bytes(31), bytes(33)):
        with pytest.raises(InvalidPublicKey):
            RecipientPublicKey(raw)


def test_fingerprint_is_80_bits_of_blake2b_in_four_base32_groups() -> None:
    key = RecipientPrivateKey.generate().public_key
    fingerprint = key.fingerprint()
    assert FINGERPRINT_RE.match(fingerprint), fingerprint
    raw = digest(b"reporter/fingerprint/v1", key.raw, size=10)
    assert fingerprint.replace("-", "") == base64.b32encode(raw).decode()
    assert fingerprint in repr(key)
    # The station key's fingerprint uses its own context: same bytes, other value.
    assert StationVerifyKey(key.raw).fingerprint() != fingerprint


def test_private_key_repr_shows_no_secret() -> None:
    private = RecipientPrivateKey(bytes(range(32)))
    assert private.raw().hex() not in repr(private)
    assert private.public_key.fingerprint() in repr(private)
    with pytest.raises(ValueError):
        RecipientPrivateKey(bytes(31))


def test_seal_and_unseal() -> None:
    private = RecipientPrivateKey.generate()
    sealed = private.public_key.seal(b"file key " * 4)
    assert len(sealed) == 36 + crypto.SEAL_OVERHEAD
    assert private.unseal(sealed) == b"file key " * 4
    # Anonymous and randomised: sealing twice gives unrelated bytes.
    assert private.public_key.seal(b"x") != private.public_key.seal(b"x")


def test_unseal_with_the_wrong_key_is_not_a_recipient() -> None:
    sealed = RecipientPrivateKey.generate().public_key.seal(b"secret")
    other = RecipientPrivateKey.generate()
    with pytest.raises(NotARecipient):
        other.unseal(sealed)
    with pytest.raises(NotARecipient):
        other.unseal(sealed[:47])


def test_a_damaged_sealed_box_is_not_a_recipient() -> None:
    private = RecipientPrivateKey.generate()
    sealed = private.public_key.seal(bytes(32))
    for i in range(len(sealed)):
        damaged = sealed[:i] + bytes([sealed[i] ^ 0x40]) + sealed[i + 1 :]
        with pytest.raises(NotARecipient):
            private.unseal(damaged)


# The eight low-order points of Curve25519 in Montgomery form (and their
# non-canonical twins): sealing to any of them would give an all-zero secret.
LOW_ORDER_POINTS = [
    bytes(32),
    bytes([1]) + bytes(31),
    bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    bytes.fromhex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
    bytes.fromhex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    bytes.fromhex("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    bytes.fromhex("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
]


@pytest.mark.parametrize("point", LOW_ORDER_POINTS)
def test_a_low_order_public_key_is_refused_when_parsed(point: bytes) -> None:
    with pytest.raises(InvalidPublicKey, match="low-order"):
        RecipientPublicKey.from_text(bech32.encode("reporter", point))
    with pytest.raises(InvalidPublicKey):
        RecipientPublicKey(point)


@pytest.mark.parametrize("size", [0, 31, 33, 64])
def test_a_public_key_of_another_length_is_refused_when_made(size: int) -> None:
    """The text form and the station's store check the length first, so nothing from
    outside reaches this check (tests/mutants.py: public-key-length); the type refuses
    all the same, so no caller can seal to a key of another length."""
    with pytest.raises(InvalidPublicKey, match="32 bytes"):
        RecipientPublicKey(bytes(range(1, size + 1)))


# --- the station's signing key (Ed25519) ------------------------------------


def test_sign_and_verify() -> None:
    signing = StationSigningKey.generate()
    signature = signing.sign(b"reporter/bundle/v1", b"chain head")
    assert len(signature) == 64
    signing.verify_key.verify(b"reporter/bundle/v1", b"chain head", signature)
    # Deterministic (Ed25519) and reproducible from the seed.
    again = StationSigningKey(signing.seed())
    assert again.sign(b"reporter/bundle/v1", b"chain head") == signature


def test_a_signature_for_one_context_fails_for_another() -> None:
    signing = StationSigningKey.generate()
    signature = signing.sign(b"reporter/bundle/v1", b"message")
    with pytest.raises(Tampered):
        signing.verify_key.verify(b"reporter/receipt/v1", b"message", signature)
    # Framing: moving bytes between context and message does not carry over either.
    signature = signing.sign(b"ab", b"c")
    with pytest.raises(Tampered):
        signing.verify_key.verify(b"a", b"bc", signature)


def test_verification_refuses_altered_messages_signatures_and_keys() -> None:
    signing = StationSigningKey.generate()
    signature = signing.sign(b"ctx", b"message")
    with pytest.raises(Tampered):
        signing.verify_key.verify(b"ctx", b"messagE", signature)
    for i in range(64):
        bad = signature[:i] + bytes([signature[i] ^ 1]) + signature[i + 1 :]
        with pytest.raises(Tampered):
            signing.verify_key.verify(b"ctx", b"message", bad)
    for bad in (b"", signature[:-1], signature + b"\x00"):
        with pytest.raises(Tampered):
            signing.verify_key.verify(b"ctx", b"message", bad)
    with pytest.raises(Tampered):
        StationSigningKey.generate().verify_key.verify(b"ctx", b"message", signature)


def test_station_key_text_round_trip() -> None:
    verify = StationSigningKey.generate().verify_key
    text = verify.to_text()
    assert text.startswith("reporterstation1")
    assert StationVerifyKey.from_text(text) == verify
    assert FINGERPRINT_RE.match(verify.fingerprint())
    for bad in (RecipientPublicKey(verify.raw).to_text(), text[:-1],
                bech32.encode("reporterstation", bytes(31))):
        with pytest.raises(InvalidPublicKey):
            StationVerifyKey.from_text(bad)
    with pytest.raises(ValueError):
        StationSigningKey(bytes(31))


# --- passphrases (Argon2id) -------------------------------------------------


def test_kdf_params_bounds() -> None:
    low_ops, low_mem = crypto.argon2id.OPSLIMIT_MIN, crypto.argon2id.MEMLIMIT_MIN
    KdfParams(KdfParams.MAX_OPSLIMIT, KdfParams.MAX_MEMLIMIT, SALT)  # the largest allowed
    for ops, mem, salt in (
        (low_ops, 1024**4, SALT),  # a terabyte of memory
        (low_ops, KdfParams.MAX_MEMLIMIT + 1, SALT),
        (low_ops, low_mem - 1, SALT),
        (KdfParams.MAX_OPSLIMIT + 1, low_mem, SALT),
        (0, low_mem, SALT),
        (low_ops, low_mem, SALT[:15]),
        (low_ops, low_mem, SALT + b"x"),
    ):
        with pytest.raises(ValueError):
            KdfParams(ops, mem, salt)


def test_kdf_params_json_round_trip_and_refusals() -> None:
    params = KdfParams.new("interactive")
    document = params.to_json()
    assert document["algorithm"] == "argon2id13"
    assert KdfParams.from_json(document) == params
    for bad in (
        None,
        [],
        {**document, "algorithm": "scrypt"},
        {**document, "memlimit": 1024**4},
        {**document, "opslimit": "2"},
        {**document, "salt": "not base64!"},
        {**document, "salt": base64.b64encode(bytes(8)).decode()},
        {k: v for k, v in document.items() if k != "salt"},
    ):
        with pytest.raises(ValueError):
            KdfParams.from_json(bad)


def test_unknown_kdf_profile() -> None:
    with pytest.raises(PassphraseError, match="unknown key-derivation profile"):
        KdfParams.new("extreme")


def test_check_new_passphrase() -> None:
    with pytest.raises(PassphraseError, match="at least 12"):
        check_new_passphrase("x" * 11)
    with pytest.raises(PassphraseError):
        check_new_passphrase("")
    check_new_passphrase("x" * 12)
    check_new_passphrase("é" * 12)  # characters, not bytes


def test_derive_key() -> None:
    key = derive_key("correct horse battery staple", FAST)
    assert len(key) == 32
    assert derive_key("correct horse battery staple", FAST) == key
    assert derive_key("correct horse battery stapler", FAST) != key
    other_salt = KdfParams(FAST.opslimit, FAST.memlimit, bytes(16))
    assert derive_key("correct horse battery staple", other_salt) != key
    more_ops = KdfParams(FAST.opslimit + 1, FAST.memlimit, SALT)
    assert derive_key("correct horse battery staple", more_ops) != key
    with pytest.raises(PassphraseError):
        derive_key("", FAST)


# --- AEAD (XChaCha20-Poly1305) ----------------------------------------------


def test_aead_round_trip() -> None:
    key = bytes(range(32))
    nonce, ciphertext = aead_encrypt(key, b"private key", b"header")
    assert len(nonce) == 24
    assert len(ciphertext) == len(b"private key") + 16
    assert aead_decrypt(key, nonce, ciphertext, b"header") == b"private key"
    assert aead_encrypt(key, b"private key", b"header")[0] != nonce  # random nonces
    # It is the IETF XChaCha20-Poly1305 construction, nothing home-made.
    assert sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
        ciphertext, b"header", nonce, key) == b"private key"


def test_aead_detects_any_flip_and_any_other_input() -> None:
    key = bytes(range(32))
    nonce, ciphertext = aead_encrypt(key, b"private key", b"header")
    for i in range(len(ciphertext)):
        for mask in (0x01, 0x80):
            bad = ciphertext[:i] + bytes([ciphertext[i] ^ mask]) + ciphertext[i + 1 :]
            with pytest.raises(Tampered):
                aead_decrypt(key, nonce, bad, b"header")
    for i in range(len(nonce)):
        bad = nonce[:i] + bytes([nonce[i] ^ 1]) + nonce[i + 1 :]
        with pytest.raises(Tampered):
            aead_decrypt(key, bad, ciphertext, b"header")
    for aad in (b"", b"headeR", b"header "):
        with pytest.raises(Tampered):
            aead_decrypt(key, nonce, ciphertext, aad)
    with pytest.raises(Tampered):
        aead_decrypt(bytes(32), nonce, ciphertext, b"header")
    for bad_nonce, bad_ciphertext in ((nonce[:-1], ciphertext), (nonce, ciphertext[:15]),
                                      (nonce, b"")):
        with pytest.raises(Tampered):
            aead_decrypt(key, bad_nonce, bad_ciphertext, b"header")


@settings(max_examples=50, deadline=None)
@given(plaintext=st.binary(max_size=200), aad=st.binary(max_size=50),
       garbage=st.binary(max_size=60))
def test_aead_decrypt_raises_only_tampered(plaintext: bytes, aad: bytes, garbage: bytes) -> None:
    key = bytes(32)
    nonce, ciphertext = aead_encrypt(key, plaintext, aad)
    assert aead_decrypt(key, nonce, ciphertext, aad) == plaintext
    try:
        aead_decrypt(key, garbage[:24], garbage[24:], aad)
    except FormatError as exc:
        assert type(exc) is Tampered
