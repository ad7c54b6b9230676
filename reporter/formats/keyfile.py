"""Passphrase-protected reviewer key files (format ``reporter-identity`` v1).

The file is JSON so a person can see what it is and which public key it holds
without the passphrase. The private key is encrypted with XChaCha20-Poly1305
under a key derived from the passphrase with Argon2id; every other field is
bound to the ciphertext as associated data (and unknown fields are refused), so
editing the public key, the cost parameters or the version makes decryption
fail instead of misleading.
The full layout is in ``docs/key-file-format.md``.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from pathlib import Path
from typing import Any

from reporter.errors import InvalidPublicKey, KeyFileError, Tampered, WrongPassphrase
from reporter.formats import jsonio
from reporter.formats.crypto import (
    AEAD_NONCE_BYTES,
    KEY_BYTES,
    KdfParams,
    RecipientPrivateKey,
    RecipientPublicKey,
    aead_decrypt,
    aead_encrypt,
    derive_key,
)

FORMAT = "reporter-identity"
VERSION = 1
CIPHER = "xchacha20poly1305"
WARNING = (
    "SECRET reviewer key. Keep it on an offline machine; never copy it to a station."
)
MAX_FILE_BYTES = 16 * 1024
HEADER_FIELDS = ("format", "version", "warning", "public_key", "kdf", "cipher")
KNOWN_FIELDS = frozenset((*HEADER_FIELDS, "nonce", "ciphertext"))


def _aad(header: dict[str, Any]) -> bytes:
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")


def dump(private_key: RecipientPrivateKey, passphrase: str, params: KdfParams) -> bytes:
    """Serialise ``private_key`` protected by ``passphrase``."""
    header: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "warning": WARNING,
        "public_key": private_key.public_key.to_text(),
        "kdf": params.to_json(),
        "cipher": CIPHER,
    }
    key = derive_key(passphrase, params)
    nonce, ciphertext = aead_encrypt(key, private_key.raw(), _aad(header))
    document = dict(header)
    document["nonce"] = base64.b64encode(nonce).decode("ascii")
    document["ciphertext"] = base64.b64encode(ciphertext).decode("ascii")
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode("utf-8")


def _parse(data: bytes) -> tuple[dict[str, Any], KdfParams, bytes, bytes]:
    if len(data) > MAX_FILE_BYTES:
        raise KeyFileError("this file is far too large to be a reporter key file")
    try:
        document = jsonio.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise KeyFileError("this is not a reporter key file (it is not JSON)") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise KeyFileError("this is not a reporter key file (no 'reporter-identity' format)")
    version = document.get("version")
    if type(version) is not int:
        raise KeyFileError(
            f"the key file's version is {_json_kind(version)}, not the whole number "
            f"{VERSION} this reporter reads (written without quotes or decimals): the file "
            "was edited or damaged; use your backup copy"
        )
    if version != VERSION:
        raise KeyFileError(
            f"key file version {version} is not supported by this reporter (it reads "
            f"version {VERSION}); upgrade reporter"
        )
    unknown = set(document) - KNOWN_FIELDS
    if unknown:
        raise KeyFileError(f"the key file has unknown fields: {', '.join(sorted(unknown))}")
    if document.get("cipher") != CIPHER:
        raise KeyFileError(f"unknown cipher {document.get('cipher')!r} in key file")
    try:
        params = KdfParams.from_json(document.get("kdf"))
        nonce = base64.b64decode(str(document["nonce"]), validate=True)
        ciphertext = base64.b64decode(str(document["ciphertext"]), validate=True)
        RecipientPublicKey.from_text(str(document["public_key"]))
    except (KeyError, ValueError, binascii.Error, InvalidPublicKey) as exc:
        raise KeyFileError(f"the key file is damaged ({exc})") from None
    if len(nonce) != AEAD_NONCE_BYTES or len(ciphertext) != KEY_BYTES + 16:
        raise KeyFileError("the key file is damaged (wrong nonce or ciphertext length)")
    header = {k: document[k] for k in HEADER_FIELDS if k in document}
    return header, params, nonce, ciphertext


def _json_kind(value: object) -> str:
    """What a JSON value is, in words, for a message about a field of the wrong type."""
    if value is None:
        return "missing"
    if isinstance(value, str):
        shown = json.dumps(value) if len(value) <= 16 else None
        return f"the text {shown}" if shown is not None else "a piece of text"
    if isinstance(value, bool):
        return f"the JSON value {json.dumps(value)}"
    if isinstance(value, float):
        return f"the decimal {json.dumps(value)}"
    return "a list" if isinstance(value, list) else "an object"


def public_key_of(data: bytes) -> RecipientPublicKey:
    """The public key a key file declares, without the passphrase."""
    header, _, _, _ = _parse(data)
    return RecipientPublicKey.from_text(header["public_key"])


def load(data: bytes, passphrase: str) -> RecipientPrivateKey:
    """Decrypt a key file; ``WrongPassphrase`` if the passphrase does not open it."""
    header, params, nonce, ciphertext = _parse(data)
    key = derive_key(passphrase, params)
    try:
        raw = aead_decrypt(key, nonce, ciphertext, _aad(header))
    except Tampered:
        raise WrongPassphrase(
            "the passphrase does not open this key file (or the file was altered)"
        ) from None
    private_key = RecipientPrivateKey(raw)
    if private_key.public_key.to_text() != header["public_key"]:
        raise KeyFileError("the key file's public key does not match its private key")
    return private_key


def write_new(path: Path, data: bytes) -> None:
    """Write a key file readable by its owner only; never overwrite one."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileError(f"{path} already exists; choose another --out or move it") from None
    except OSError as exc:
        raise KeyFileError(f"cannot create {path}: {exc.strerror}") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def read(path: Path) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {path}: {exc.strerror}") from None
