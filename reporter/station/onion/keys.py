"""The onion service's identity key, its v3 address, and client keys.

An onion address is the service's Ed25519 public key, a 2-byte checksum and
a version byte, in lower-case base32 (rend-spec-v3, "Encoding onion
addresses")::

    address  = base32(PUBKEY || CHECKSUM || VERSION) + ".onion"
    CHECKSUM = SHA3-256(".onion checksum" || PUBKEY || VERSION)[:2]
    VERSION  = 0x03

Tor takes and gives the secret key in its *expanded* form (``ADD_ONION
ED25519-V3:<base64 of 64 bytes>``): the clamped scalar, then the 32-byte
nonce prefix, as ref10's ``SHA-512(seed)``. The station makes that key itself
(so ``reporter onion address`` works with no tor running) and keeps it only
inside the encrypted database; the address is computed from it here, and a
test checks that tor computes the same one.

Client authorization (restricted stations) uses X25519 keys: tor holds each
client's public key (``ClientAuthV3=``), the monitor's Tor Browser the private
key, both as unpadded base32 (52 characters).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

import nacl.bindings as sodium
import nacl.public

from reporter.errors import ConfigError, OnionClientError
from reporter.formats.crypto import random_bytes

EXPANDED_KEY_BYTES = 64
PUBLIC_KEY_BYTES = 32
CLIENT_KEY_BYTES = 32
VERSION = b"\x03"
CHECKSUM_CONTEXT = b".onion checksum"
SERVICE_ID_CHARS = 56
_SERVICE_ID = re.compile(r"[a-z2-7]{56}")
_BASE32_KEY = re.compile(r"[A-Z2-7]{52}")


def _b32(raw: bytes) -> str:
    return base64.b32encode(raw).decode("ascii").rstrip("=")


def _unb32(text: str) -> bytes:
    return base64.b32decode(text + "=" * (-len(text) % 8))


def service_id_for(public_key: bytes) -> str:
    """The 56-character v3 service id (the address without ``.onion``) of a public key."""
    if len(public_key) != PUBLIC_KEY_BYTES:
        raise ValueError("an onion service public key is 32 bytes")
    checksum = hashlib.sha3_256(CHECKSUM_CONTEXT + public_key + VERSION).digest()[:2]
    return _b32(public_key + checksum + VERSION).lower()


def public_key_of(service_id: str) -> bytes:
    """The public key in a v3 service id or address; ``ConfigError`` if it is not one."""
    text = service_id.strip().lower().removeprefix("http://").rstrip("/").removesuffix(".onion")
    if not _SERVICE_ID.fullmatch(text):
        raise ConfigError(f"{service_id!r} is not a v3 onion address (56 letters and digits)")
    raw = _unb32(text.upper())
    public_key, version = raw[:PUBLIC_KEY_BYTES], raw[-1:]
    if version != VERSION or service_id_for(public_key) != text:
        raise ConfigError(f"{service_id!r} is not a v3 onion address (its checksum is wrong)")
    return public_key


class OnionKey:
    """The service's secret key, in tor's expanded Ed25519 form (64 bytes)."""

    __slots__ = ("_expanded",)

    def __init__(self, expanded: bytes) -> None:
        if len(expanded) != EXPANDED_KEY_BYTES:
            raise ValueError("an expanded onion service key is 64 bytes")
        scalar = expanded[:32]
        # A clamped scalar, as tor's own keys are: low 3 bits clear, bit 254 set,
        # bit 255 clear. Anything else was not made by us or by tor.
        if scalar[0] & 7 or (scalar[31] & 0xC0) != 0x40:
            raise ValueError("the onion service key is not a clamped Ed25519 scalar")
        self._expanded = bytes(expanded)

    @classmethod
    def generate(cls) -> OnionKey:
        """A new key, expanded from a random seed as tor expands its own."""
        expanded = bytearray(hashlib.sha512(random_bytes(32)).digest())
        expanded[0] &= 248
        expanded[31] &= 127
        expanded[31] |= 64
        return cls(bytes(expanded))

    @classmethod
    def from_tor(cls, blob: str) -> OnionKey:
        """From tor's ``ED25519-V3:<base64>`` form (an ``ADD_ONION`` reply, a backup)."""
        kind, _, data = blob.partition(":")
        if kind != "ED25519-V3":
            raise ValueError("not an ED25519-V3 key")
        try:
            return cls(base64.b64decode(data, validate=True))
        except binascii.Error:
            raise ValueError("the key is not valid base64") from None

    def expanded(self) -> bytes:
        """The secret bytes, for the encrypted database only."""
        return self._expanded

    def to_tor(self) -> str:
        """The ``ED25519-V3:<base64>`` form ``ADD_ONION`` takes."""
        return "ED25519-V3:" + base64.b64encode(self._expanded).decode("ascii")

    @property
    def public_key(self) -> bytes:
        return bytes(sodium.crypto_scalarmult_ed25519_base_noclamp(self._expanded[:32]))

    @property
    def service_id(self) -> str:
        return service_id_for(self.public_key)

    @property
    def address(self) -> str:
        return f"{self.service_id}.onion"

    @property
    def url(self) -> str:
        return f"http://{self.address}/"

    def __repr__(self) -> str:  # never the secret
        return f"OnionKey({self.address})"


@dataclass(frozen=True)
class ClientPublicKey:
    """What the station keeps of a client it admits: the X25519 public key."""

    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != CLIENT_KEY_BYTES:
            raise OnionClientError("a client key is 32 bytes")

    def to_tor(self) -> str:
        """The unpadded base32 form of ``ADD_ONION ClientAuthV3=``."""
        return _b32(self.raw)

    @classmethod
    def from_text(cls, text: str) -> ClientPublicKey:
        """From the 52-character base32 form (tor's ``.auth`` files, OnionShare)."""
        value = text.strip().removeprefix("descriptor:x25519:").upper()
        if not _BASE32_KEY.fullmatch(value):
            raise OnionClientError("a client public key is 52 characters of base32 (A-Z, 2-7)")
        return cls(_unb32(value))


class ClientPrivateKey:
    """A monitor's key for a restricted station; shown once, never stored by the station."""

    __slots__ = ("_key",)

    def __init__(self, raw: bytes) -> None:
        self._key = nacl.public.PrivateKey(raw)

    @classmethod
    def generate(cls) -> ClientPrivateKey:
        return cls(random_bytes(CLIENT_KEY_BYTES))

    @property
    def public_key(self) -> ClientPublicKey:
        return ClientPublicKey(bytes(self._key.public_key))

    def to_text(self) -> str:
        """What a monitor types into Tor Browser's "onion site requires a key" prompt."""
        return _b32(bytes(self._key))

    def auth_line(self, service_id: str) -> str:
        """One line of a tor client's ``ClientOnionAuthDir`` (``NAME.auth_private``), as
        Orbot and a torrc take it."""
        return f"{service_id}:descriptor:x25519:{self.to_text()}"

    def __repr__(self) -> str:
        return "ClientPrivateKey(...)"
