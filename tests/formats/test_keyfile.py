"""reporter.formats.keyfile: passphrase-protected reviewer key files (``reporter-identity`` v1).

Key derivation runs at libsodium's minimum Argon2id cost here (the autouse
``fast_kdf`` fixture in conftest.py, and ``FAST`` below).
"""

from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reporter.errors import KeyFileError, WrongPassphrase
from reporter.formats import crypto, keyfile
from reporter.formats.crypto import KdfParams, RecipientPrivateKey, aead_encrypt, derive_key

PASSPHRASE = "correct horse battery staple"
FAST = KdfParams(crypto.argon2id.OPSLIMIT_MIN, crypto.argon2id.MEMLIMIT_MIN, bytes(range(16)))


@pytest.fixture(scope="module")
def private_key() -> RecipientPrivateKey:
    return RecipientPrivateKey(bytes(range(100, 132)))


@pytest.fixture(scope="module")
def data(private_key: RecipientPrivateKey) -> bytes:
    return keyfile.dump(private_key, PASSPHRASE, FAST)


def edited(data: bytes, change: Callable[[dict[str, Any]], None]) -> bytes:
    document = json.loads(data)
    change(document)
    return json.dumps(document, indent=2, sort_keys=True).encode()


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def test_round_trip(private_key: RecipientPrivateKey, data: bytes) -> None:
    loaded = keyfile.load(data, PASSPHRASE)
    assert loaded.raw() == private_key.raw()
    assert keyfile.public_key_of(data) == private_key.public_key


def test_new_profiles_round_trip() -> None:
    private_key = RecipientPrivateKey.generate()
    data = keyfile.dump(private_key, PASSPHRASE, KdfParams.new("moderate"))
    assert keyfile.load(data, PASSPHRASE).raw() == private_key.raw()


def test_the_file_is_readable_json_that_says_what_it_is(
        private_key: RecipientPrivateKey, data: bytes) -> None:
    assert data.endswith(b"}\n")
    document = json.loads(data)
    assert set(document) == {"format", "version", "warning", "public_key", "kdf", "cipher",
                             "nonce", "ciphertext"}
    assert document["format"] == "reporter-identity"
    assert document["version"] == 1
    assert document["cipher"] == "xchacha20poly1305"
    assert document["public_key"] == private_key.public_key.to_text()
    assert document["kdf"] == FAST.to_json()
    assert len(base64.b64decode(document["nonce"])) == 24
    assert len(base64.b64decode(document["ciphertext"])) == 32 + 16
    assert private_key.raw() not in data
    assert private_key.raw().hex().encode() not in data
    assert b64(private_key.raw()).encode() not in data


def test_the_private_key_is_aead_sealed_under_the_argon2id_key_with_the_header_as_aad(
        private_key: RecipientPrivateKey, data: bytes) -> None:
    document = json.loads(data)
    header = {k: document[k] for k in ("format", "version", "warning", "public_key", "kdf",
                                       "cipher")}
    aad = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    raw = crypto.aead_decrypt(
        derive_key(PASSPHRASE, FAST), base64.b64decode(document["nonce"]),
        base64.b64decode(document["ciphertext"]), aad)
    assert raw == private_key.raw()


def test_wrong_passphrase(data: bytes) -> None:
    for wrong in ("correct horse battery stapler", "Correct horse battery staple", "x"):
        with pytest.raises(WrongPassphrase):
            keyfile.load(data, wrong)


# Each edit of a field, and the error it must give. An edit that leaves the
# file well-formed can only be caught by the AEAD, which cannot tell it from a
# wrong passphrase: WrongPassphrase ("... or the file was altered").
EDITS: list[tuple[str, Callable[[dict[str, Any]], None], type[Exception]]] = [
    ("public_key: another valid key",
     lambda d: d.update(public_key=RecipientPrivateKey.generate().public_key.to_text()),
     WrongPassphrase),
    ("public_key: not a key", lambda d: d.update(public_key="reporter1xyz"), KeyFileError),
    ("public_key: one character changed",
     lambda d: d.update(public_key=d["public_key"][:-1] + ("q" if d["public_key"][-1] != "q"
                                                            else "p")),
     KeyFileError),
    ("public_key: missing", lambda d: d.pop("public_key"), KeyFileError),
    ("kdf opslimit: raised within bounds",
     lambda d: d["kdf"].update(opslimit=d["kdf"]["opslimit"] + 1), WrongPassphrase),
    ("kdf memlimit: changed within bounds",
     lambda d: d["kdf"].update(memlimit=d["kdf"]["memlimit"] * 2), WrongPassphrase),
    ("kdf salt: changed", lambda d: d["kdf"].update(salt=b64(bytes(16))), WrongPassphrase),
    ("kdf opslimit: out of bounds", lambda d: d["kdf"].update(opslimit=10_000), KeyFileError),
    ("kdf memlimit: a terabyte", lambda d: d["kdf"].update(memlimit=1024**4), KeyFileError),
    ("kdf opslimit: a string", lambda d: d["kdf"].update(opslimit="1"), KeyFileError),
    ("kdf algorithm: unknown", lambda d: d["kdf"].update(algorithm="scrypt"), KeyFileError),
    ("kdf: missing", lambda d: d.pop("kdf"), KeyFileError),
    # Refused by rule, not by the AEAD: the AAD holds the kdf object as it is,
    # but a reader rebuilding it from the four known keys would open the file.
    ("kdf: an unknown fifth key", lambda d: d["kdf"].update(comment="laptop"), KeyFileError),
    ("version: 2", lambda d: d.update(version=2), KeyFileError),
    ("version: missing", lambda d: d.pop("version"), KeyFileError),
    ("version: a string", lambda d: d.update(version="1"), KeyFileError),
    ("version: true", lambda d: d.update(version=True), KeyFileError),
    ("version: 1.0", lambda d: d.update(version=1.0), KeyFileError),
    ("format: other", lambda d: d.update(format="age"), KeyFileError),
    ("cipher: other", lambda d: d.update(cipher="aes256gcm"), KeyFileError),
    ("cipher: missing", lambda d: d.pop("cipher"), KeyFileError),
    ("warning: reworded", lambda d: d.update(warning="not secret"), WrongPassphrase),
    ("warning: missing", lambda d: d.pop("warning"), WrongPassphrase),
    ("nonce: other 24 bytes", lambda d: d.update(nonce=b64(bytes(24))), WrongPassphrase),
    ("nonce: 12 bytes", lambda d: d.update(nonce=b64(bytes(12))), KeyFileError),
    ("nonce: not base64", lambda d: d.update(nonce="%%%%"), KeyFileError),
    ("nonce: missing", lambda d: d.pop("nonce"), KeyFileError),
    ("ciphertext: one bit flipped",
     lambda d: d.update(ciphertext=b64(bytes([base64.b64decode(d["ciphertext"])[0] ^ 1])
                                       + base64.b64decode(d["ciphertext"])[1:])),
     WrongPassphrase),
    ("ciphertext: one byte short",
     lambda d: d.update(ciphertext=b64(base64.b64decode(d["ciphertext"])[:-1])), KeyFileError),
    ("ciphertext: not base64", lambda d: d.update(ciphertext="#"), KeyFileError),
    ("ciphertext: missing", lambda d: d.pop("ciphertext"), KeyFileError),
]


@pytest.mark.parametrize(("change", "error"), [(c, e) for _, c, e in EDITS],
                         ids=[name for name, _, _ in EDITS])
def test_editing_a_field_gives_the_right_error(
        data: bytes, change: Callable[[dict[str, Any]], None], error: type[Exception]) -> None:
    with pytest.raises(error) as raised:
        keyfile.load(edited(data, change), PASSPHRASE)
    assert type(raised.value) is error


def test_an_unknown_extra_field_is_refused(data: bytes) -> None:
    # It would not be authenticated, so it could mislead a person reading the file.
    with pytest.raises(KeyFileError, match="unknown fields: comment"):
        keyfile.load(edited(data, lambda d: d.update(comment="laptop key")), PASSPHRASE)


def test_a_public_key_that_does_not_match_the_private_key_is_refused(
        private_key: RecipientPrivateKey) -> None:
    # A file whose AEAD is intact (made with the passphrase) but which names
    # another public key than the sealed private key's.
    header = {
        "format": "reporter-identity", "version": 1, "warning": keyfile.WARNING,
        "public_key": RecipientPrivateKey.generate().public_key.to_text(),
        "kdf": FAST.to_json(), "cipher": "xchacha20poly1305",
    }
    nonce, ciphertext = aead_encrypt(derive_key(PASSPHRASE, FAST), private_key.raw(),
                                     keyfile._aad(header))
    data = json.dumps({**header, "nonce": b64(nonce), "ciphertext": b64(ciphertext)}).encode()
    with pytest.raises(KeyFileError, match="does not match"):
        keyfile.load(data, PASSPHRASE)


@pytest.mark.parametrize("data", [
    b"", b"not json", b"\xff\xfe{}", b"[]", b"null", b'"reporter-identity"', b"{}",
    b'{"format": "reporter-identity"}',
], ids=["empty", "text", "not-utf8", "array", "null", "string", "empty-object",
        "format-only"])
def test_files_that_are_not_key_files(data: bytes) -> None:
    with pytest.raises(KeyFileError):
        keyfile.load(data, PASSPHRASE)
    with pytest.raises(KeyFileError):
        keyfile.public_key_of(data)


def test_an_oversized_file_is_refused_before_parsing(data: bytes) -> None:
    padded = data + b" " * (keyfile.MAX_FILE_BYTES - len(data))
    keyfile.load(padded, PASSPHRASE)  # exactly the limit: fine
    with pytest.raises(KeyFileError, match="too large"):
        keyfile.load(padded + b" ", PASSPHRASE)


def test_every_truncation_is_refused(data: bytes) -> None:
    # Dropping only the final newline leaves the same JSON document.
    assert keyfile.load(data[:-1], PASSPHRASE)
    for length in range(len(data) - 1):
        with pytest.raises(KeyFileError):
            keyfile.public_key_of(data[:length])


def test_write_new_creates_an_owner_only_file(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "reviewer.key"
    keyfile.write_new(path, data)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert keyfile.read(path) == data


def test_write_new_never_overwrites(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "reviewer.key"
    path.write_bytes(b"precious")
    with pytest.raises(KeyFileError, match="already exists"):
        keyfile.write_new(path, data)
    assert path.read_bytes() == b"precious"
    # Not through a symbolic link either (O_EXCL): the link's target is untouched.
    link = tmp_path / "link.key"
    link.symlink_to(tmp_path / "target.key")
    with pytest.raises(KeyFileError):
        keyfile.write_new(link, data)
    assert not (tmp_path / "target.key").exists()


def test_write_new_into_a_missing_folder(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(KeyFileError, match="cannot create"):
        keyfile.write_new(tmp_path / "missing" / "reviewer.key", data)


def test_read_refusals(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(KeyFileError, match="cannot read"):
        keyfile.read(tmp_path / "missing.key")
    big = tmp_path / "big.key"
    big.write_bytes(data + b" " * (10 * keyfile.MAX_FILE_BYTES))
    read = keyfile.read(big)
    assert len(read) == keyfile.MAX_FILE_BYTES + 1  # never reads more than it needs
    with pytest.raises(KeyFileError):
        keyfile.load(read, PASSPHRASE)


@pytest.mark.parametrize(("value", "named"), [
    ("1", 'the text "1"'), (1.0, "the decimal 1.0"), (True, "the JSON value true"),
    (None, "missing"), ([1], "a list")])
def test_a_version_of_the_wrong_type_is_named_by_its_type(data: bytes, value: object,
                                                          named: str) -> None:
    # It used to say "version '1' is not supported (it reads version 1)": a string
    # and a number that look the same in a message.
    with pytest.raises(KeyFileError) as raised:
        keyfile.load(edited(data, lambda d: d.update(version=value)), PASSPHRASE)
    message = str(raised.value)
    assert f"version is {named}, not the whole number 1" in message
    assert "not supported" not in message


def test_a_newer_version_asks_for_an_upgrade(data: bytes) -> None:
    with pytest.raises(KeyFileError, match=r"key file version 2 is not supported .* reads "
                                           r"version 1.*upgrade reporter"):
        keyfile.load(edited(data, lambda d: d.update(version=2)), PASSPHRASE)
