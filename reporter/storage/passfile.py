"""The small JSON file that goes beside a passphrase-keyed database.

It holds the Argon2id salt and cost and a 128-bit check of the derived key,
so a wrong passphrase is reported as exactly that before SQLCipher reads a
byte. Nothing in it is secret. Used for the station (``station.json``,
format ``reporter-station``) and the reviewer's database (``<db>.json``,
format ``reporter-review``); the layout is in ``docs/instance-format.md``.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from pathlib import Path

from reporter.errors import ReporterError, WrongPassphrase
from reporter.formats import jsonio
from reporter.formats.crypto import KdfParams, constant_time_equal, derive_key, digest

VERSION = 1
CTX_KEY_CHECK = b"reporter/db-key-check/v1"


def key_check(key: bytes) -> bytes:
    return digest(CTX_KEY_CHECK, key, size=16)


@dataclass(frozen=True)
class PassFile:
    kdf: KdfParams
    key_check: bytes

    def unlock(self, passphrase: str, what: str) -> bytes:
        """The database key, or ``WrongPassphrase`` naming ``what`` it is for."""
        key = derive_key(passphrase, self.kdf)
        if not constant_time_equal(key_check(key), self.key_check):
            raise WrongPassphrase(f"wrong passphrase for {what}")
        return key


def render(format_name: str, kdf: KdfParams, key: bytes) -> bytes:
    document = {
        "format": format_name,
        "version": VERSION,
        "kdf": kdf.to_json(),
        "key_check": base64.b64encode(key_check(key)).decode("ascii"),
    }
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()


def parse(path: Path, data: bytes, format_name: str,
          error: type[ReporterError]) -> PassFile:
    """Check and parse; every problem is ``error`` naming ``path``."""
    try:
        document = jsonio.loads(data)
    except ValueError:
        raise error(f"{path} is damaged (not JSON)") from None
    if not isinstance(document, dict) or document.get("format") != format_name:
        raise error(f"{path} is not a {format_name} file")
    if type(document.get("version")) is not int or document["version"] != VERSION:
        raise error(
            f"{path} has version {document.get('version')!r}; this reporter reads "
            f"version {VERSION}. Upgrade reporter."
        )
    try:
        kdf = KdfParams.from_json(document.get("kdf"))
        check = base64.b64decode(str(document.get("key_check")), validate=True)
    except (ValueError, binascii.Error) as exc:
        raise error(f"{path} is damaged: {exc}") from None
    if len(check) != 16:
        raise error(f"{path} is damaged: the key check has the wrong length")
    return PassFile(kdf, check)
