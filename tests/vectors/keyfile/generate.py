"""Write the reporter-identity v1 (reviewer key file) test vectors in this folder.

Run from the repository root::

    .venv/bin/python tests/vectors/keyfile/generate.py

Every key file here is built by ``craft`` below, a second, independent writer
that follows ``docs/key-file-format.md`` with libsodium directly (Argon2id,
XChaCha20-Poly1305) and its own Bech32 encoder; it does not call
``reporter.formats.keyfile``. With its defaults it writes exactly what
``keyfile.dump`` writes for the same salt and nonce. Its keyword arguments let
a case break one rule at a time while the rest stays valid; in particular the
associated data can be computed over the edited header, so that a reader that
skipped the rule would **open** the file, not merely fail to decrypt it.

Salts and nonces are fixed (derived from each case's name), and Argon2id runs
at libsodium's minimum cost, so every run writes the same bytes: regenerating
changes nothing unless a case is added or changed. The private keys are test
keys and are public; never use them for anything else.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nacl.bindings as sodium
from nacl.pwhash import argon2id

HERE = Path(__file__).resolve().parent

# The envelope vectors' reviewer keys A and B (test keys only: they are public).
IDENTITY_A = "e615c213ab214192abb390161da77e7832ff12f0d464ff1ce0cfd893001f8f37"
IDENTITY_B = "f9c24ff84be2d691bc312cf4696ad7636a6ed37ba775c3b8ca727002faa3e140"
PASSPHRASE = "correct horse battery staple"

# The format, written out from the spec rather than imported from the code.
FORMAT = "reporter-identity"
CIPHER = "xchacha20poly1305"
WARNING = "SECRET reviewer key. Keep it on an offline machine; never copy it to a station."
HEADER_FIELDS = ("format", "version", "warning", "public_key", "kdf", "cipher")
OPSLIMIT = 1  # libsodium's minimum Argon2id cost: the vectors open in milliseconds
MEMLIMIT = 8192
MAX_FILE_BYTES = 16384

# --- Bech32 (BIP 173), written from the BIP ------------------------------------------

_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def _polymod(values: list[int]) -> int:
    generator = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    checksum = 1
    for value in values:
        top = checksum >> 25
        checksum = (checksum & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            checksum ^= generator[i] if (top >> i) & 1 else 0
    return checksum


def bech32(hrp: str, data: bytes) -> str:
    words, accumulator, bits = [], 0, 0
    for byte in data:
        accumulator = (accumulator << 8) | byte
        bits += 8
        while bits >= 5:
            bits -= 5
            words.append((accumulator >> bits) & 31)
    if bits:
        words.append((accumulator << (5 - bits)) & 31)
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    polymod = _polymod(expanded + words + [0] * 6) ^ 1
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_CHARSET[w] for w in words + checksum)


def public_key_text(identity_hex: str) -> str:
    return bech32("reporter", sodium.crypto_scalarmult_base(bytes.fromhex(identity_hex)))


# --- the writer -----------------------------------------------------------------------

def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def fixed(name: str, label: str, size: int) -> bytes:
    return hashlib.sha256(f"{label}/{name}".encode()).digest()[:size]


def craft(name: str, identity: str = IDENTITY_A, passphrase: str = PASSPHRASE, *,
          edit: Callable[[dict[str, Any]], None] | None = None,
          aad_edit: Callable[[dict[str, Any]], None] | None = None,
          after: Callable[[dict[str, Any]], None] | None = None,
          text: Callable[[str], str] | None = None) -> bytes:
    """A key file for ``identity`` under ``passphrase``.

    ``edit`` changes the document before it is sealed (the associated data
    covers the change, as far as it is in the header); ``aad_edit`` changes
    only the header the associated data is computed from; ``after`` changes the
    document after sealing (not authenticated); ``text`` edits the final JSON
    text (for number spellings json.dumps cannot write).
    """
    salt, nonce = fixed(name, "salt", 16), fixed(name, "nonce", 24)
    document: dict[str, Any] = {
        "format": FORMAT,
        "version": 1,
        "warning": WARNING,
        "public_key": public_key_text(identity),
        "kdf": {"algorithm": "argon2id13", "opslimit": OPSLIMIT, "memlimit": MEMLIMIT,
                "salt": b64(salt)},
        "cipher": CIPHER,
    }
    if edit:
        edit(document)
    header = json.loads(json.dumps({k: document[k] for k in HEADER_FIELDS if k in document}))
    if aad_edit:
        aad_edit(header)
    aad = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
    password = unicodedata.normalize("NFC", passphrase).encode("utf-8")
    wrap_key = argon2id.kdf(32, password, salt, opslimit=OPSLIMIT, memlimit=MEMLIMIT)
    ciphertext = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
        bytes.fromhex(identity), aad, nonce, wrap_key)
    document["nonce"] = b64(nonce)
    document["ciphertext"] = b64(ciphertext)
    if after:
        after(document)
    out = json.dumps(document, indent=2, sort_keys=True) + "\n"
    if text:
        out = text(out)
    return out.encode("utf-8")


def kdf_set(**values: Any) -> Callable[[dict[str, Any]], None]:
    return lambda d: d["kdf"].update(values)


def kdf_add(document: dict[str, Any]) -> None:
    document["kdf"]["comment"] = "made on the laptop"


def kdf_drop_extra(header: dict[str, Any]) -> None:
    """The associated data a reader that knows only the four documented kdf keys rebuilds."""
    header["kdf"] = {k: header["kdf"][k] for k in ("algorithm", "opslimit", "memlimit", "salt")}


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


Case = tuple[str, str, str, str, bytes, str]  # name, expect, passphrase, identity, data, comment


def cases() -> list[Case]:
    ok = craft("ok")
    cafe = "le café du coin à Kolwezi"
    big_enough = ok[:-1] + b" " * (MAX_FILE_BYTES - len(ok)) + b"\n"
    a, b = IDENTITY_A, IDENTITY_B
    return [
        ("ok", "ok", PASSPHRASE, a, ok,
         "a key file as keyfile.dump writes it (Argon2id at libsodium's minimum cost)"),
        ("ok-reindented", "ok", PASSPHRASE, a,
         json.dumps(dict(reversed(list(json.loads(ok).items()))), separators=(",", ":"))
         .encode(), "the same file, compact and with its keys in another order: the AAD is "
                   "recomputed from the values"),
        ("ok-passphrase-nfd", "ok", nfd(cafe), a, craft("ok-passphrase-nfd", passphrase=cafe),
         "made under the NFC passphrase, opened with the same text in NFD (e + combining "
         "accent): both are NFC-normalised first"),
        ("ok-at-size-limit", "ok", PASSPHRASE, a, big_enough,
         "padded with spaces to exactly 16384 bytes"),
        ("wrong-passphrase", "wrong-passphrase", PASSPHRASE + "r", a, ok,
         "opened with another passphrase"),
        ("too-large", "key-file-error", PASSPHRASE, a, big_enough[:-1] + b" \n",
         "16385 bytes: refused before parsing (step 1)"),
        ("empty-file", "key-file-error", PASSPHRASE, a, b"", "an empty file"),
        ("not-json", "key-file-error", PASSPHRASE, a, b"reporter1w7cv8702l2l7wkuw93k9gt\n",
         "a public key, not a key file"),
        ("format-other", "key-file-error", PASSPHRASE, a,
         craft("format-other", edit=lambda d: d.update(format="age")),
         "format 'age' (authenticated)"),
        ("version-2", "key-file-error", PASSPHRASE, a,
         craft("version-2", edit=lambda d: d.update(version=2)),
         "version 2 (authenticated): unknown versions are refused"),
        ("version-true", "key-file-error", PASSPHRASE, a,
         craft("version-true", edit=lambda d: d.update(version=True)),
         "version true (authenticated): a boolean is not the integer 1"),
        ("version-float", "key-file-error", PASSPHRASE, a,
         craft("version-float", edit=lambda d: d.update(version=1.0)),
         "version 1.0 (authenticated): only the JSON integer 1 is version 1"),
        ("version-exponent", "key-file-error", PASSPHRASE, a,
         craft("version-exponent", text=lambda t: t.replace('"version": 1,', '"version": 1e0,')),
         "version written 1e0 (the AAD says 1): only the JSON integer 1 is version 1"),
        ("version-string", "key-file-error", PASSPHRASE, a,
         craft("version-string", edit=lambda d: d.update(version="1")),
         'version "1" (authenticated)'),
        ("extra-field", "key-file-error", PASSPHRASE, a,
         craft("extra-field", after=lambda d: d.update(comment="laptop key")),
         "a ninth field 'comment' (not authenticated): refused (step 5)"),
        ("kdf-extra-key", "key-file-error", PASSPHRASE, a,
         craft("kdf-extra-key", edit=kdf_add, aad_edit=kdf_drop_extra),
         "kdf has a fifth key 'comment' left out of the AAD: a reader that rebuilds the AAD "
         "from the four documented kdf keys would open it; it must be refused (step 7)"),
        ("kdf-extra-key-in-aad", "key-file-error", PASSPHRASE, a,
         craft("kdf-extra-key-in-aad", edit=kdf_add),
         "kdf has a fifth key 'comment', included in the AAD: refused by rule (step 7), "
         "before anything is derived"),
        ("kdf-algorithm-other", "key-file-error", PASSPHRASE, a,
         craft("kdf-algorithm-other", edit=kdf_set(algorithm="argon2i13")),
         "kdf algorithm argon2i13 (authenticated)"),
        ("kdf-opslimit-zero", "key-file-error", PASSPHRASE, a,
         craft("kdf-opslimit-zero", edit=kdf_set(opslimit=0)), "opslimit 0, below the bounds"),
        ("kdf-opslimit-too-large", "key-file-error", PASSPHRASE, a,
         craft("kdf-opslimit-too-large", edit=kdf_set(opslimit=17)), "opslimit 17 > 16"),
        ("kdf-opslimit-boolean", "key-file-error", PASSPHRASE, a,
         craft("kdf-opslimit-boolean", edit=kdf_set(opslimit=True)),
         "opslimit true (authenticated): not an integer"),
        ("kdf-memlimit-too-large", "key-file-error", PASSPHRASE, a,
         craft("kdf-memlimit-too-large", edit=kdf_set(memlimit=2 * 1024**3)),
         "memlimit 2 GiB > 1 GiB: a crafted file must not ask for unbounded work"),
        ("kdf-memlimit-float", "key-file-error", PASSPHRASE, a,
         craft("kdf-memlimit-float", edit=kdf_set(memlimit=8192.0)),
         "memlimit 8192.0 (authenticated): not an integer"),
        ("kdf-salt-15-bytes", "key-file-error", PASSPHRASE, a,
         craft("kdf-salt-15-bytes", edit=kdf_set(salt=b64(bytes(15)))),
         "a 15-byte salt (authenticated)"),
        ("cipher-other", "key-file-error", PASSPHRASE, a,
         craft("cipher-other", edit=lambda d: d.update(cipher="aes256gcm")),
         "cipher aes256gcm (authenticated)"),
        ("public-key-bad-checksum", "key-file-error", PASSPHRASE, a,
         craft("public-key-bad-checksum",
               after=lambda d: d.update(public_key=d["public_key"][:-1] + (
                   "q" if d["public_key"][-1] != "q" else "p"))),
         "the public key's last character changed: its checksum fails (step 7)"),
        ("public-key-not-the-private-key", "key-file-error", PASSPHRASE, a,
         craft("public-key-not-the-private-key",
               edit=lambda d: d.update(public_key=public_key_text(b))),
         "authenticated, but the header names key B while the ciphertext holds key A "
         "(step 10)"),
        ("public-key-swapped", "wrong-passphrase", PASSPHRASE, a,
         craft("public-key-swapped", after=lambda d: d.update(public_key=public_key_text(b))),
         "the public key replaced by key B after sealing: the AAD no longer matches"),
        ("nonce-23-bytes", "key-file-error", PASSPHRASE, a,
         craft("nonce-23-bytes", after=lambda d: d.update(
             nonce=b64(base64.b64decode(d["nonce"])[:23]))), "a 23-byte nonce (step 8)"),
        ("nonce-not-strict-base64", "key-file-error", PASSPHRASE, a,
         craft("nonce-not-strict-base64", after=lambda d: d.update(
             nonce=d["nonce"][:16] + "\n" + d["nonce"][16:])),
         "a newline inside the nonce's base64: strict decoding refuses it"),
        ("ciphertext-47-bytes", "key-file-error", PASSPHRASE, a,
         craft("ciphertext-47-bytes", after=lambda d: d.update(
             ciphertext=b64(base64.b64decode(d["ciphertext"])[:47]))),
         "the ciphertext one byte short (step 8)"),
        ("ciphertext-flipped-bit", "wrong-passphrase", PASSPHRASE, a,
         craft("ciphertext-flipped-bit", after=lambda d: d.update(ciphertext=b64(
             bytes([base64.b64decode(d["ciphertext"])[0] ^ 1])
             + base64.b64decode(d["ciphertext"])[1:]))),
         "one bit of the ciphertext flipped: indistinguishable from a wrong passphrase"),
        ("kdf-opslimit-edited", "wrong-passphrase", PASSPHRASE, a,
         craft("kdf-opslimit-edited", after=kdf_set(opslimit=2)),
         "opslimit changed to 2 after sealing (within bounds): the AAD no longer matches"),
        ("warning-reworded", "wrong-passphrase", PASSPHRASE, a,
         craft("warning-reworded", after=lambda d: d.update(warning="not secret")),
         "the warning reworded after sealing"),
        ("warning-missing", "wrong-passphrase", PASSPHRASE, a,
         craft("warning-missing", after=lambda d: d.pop("warning")),
         "the warning removed after sealing: it is left out of the AAD, which then fails"),
    ]


def self_check() -> None:
    """The reference reader opens what this writer makes, byte for byte as keyfile.dump would."""
    sys.path.insert(0, str(HERE.parents[2]))
    from reporter.formats import keyfile
    from reporter.formats.crypto import KdfParams, RecipientPrivateKey

    name = "ok"
    private = RecipientPrivateKey(bytes.fromhex(IDENTITY_A))
    params = KdfParams(OPSLIMIT, MEMLIMIT, fixed(name, "salt", 16))
    document = json.loads(craft(name))
    reference = json.loads(keyfile.dump(private, PASSPHRASE, params))
    # keyfile.dump draws its own nonce: everything else must be identical.
    assert {k: v for k, v in reference.items() if k not in ("nonce", "ciphertext")} == {
        k: v for k, v in document.items() if k not in ("nonce", "ciphertext")}
    assert keyfile.load(craft(name), PASSPHRASE).raw() == private.raw()


def main() -> None:
    self_check()
    for old in HERE.iterdir():
        if old.is_file() and "." not in old.name:
            old.unlink()
    for name, expect, passphrase, identity, data, comment in cases():
        lines = [f"expect: {expect}", f"passphrase: {passphrase}"]
        if expect == "ok":
            lines.append(f"identity: {identity}")
        lines.append(f"comment: {comment}")
        header = "\n".join(lines) + "\n\n"
        assert "\n\n" not in header[:-2]
        (HERE / name).write_bytes(header.encode("utf-8") + data)
        print(f"{name:34} {expect:18} {len(data):6} bytes")


if __name__ == "__main__":
    main()
