"""Key types and the few cryptographic operations reporter is built on.

Everything here is a thin, typed layer over libsodium (through PyNaCl), kept
apart so the rest of the code never touches raw key bytes by accident:

* ``RecipientPublicKey`` can only seal. It is all a station ever holds.
* ``RecipientPrivateKey`` can open; it lives only in a reviewer's key file.
* ``StationSigningKey`` / ``StationVerifyKey`` are the station's Ed25519 pair.
* ``KdfParams`` + ``derive_key`` turn a passphrase into a 32-byte key (Argon2id).
* ``digest`` and ``subkey`` are domain-separated BLAKE2b.

Every context string is versioned (``reporter/<purpose>/v1``) so that no
value computed for one purpose can be replayed as another. See SECURITY.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import unicodedata
from dataclasses import dataclass

import nacl.bindings as sodium
import nacl.exceptions
import nacl.public
import nacl.pwhash.argon2id as argon2id
import nacl.signing
import nacl.utils

from reporter.errors import InvalidPublicKey, Malformed, NotARecipient, PassphraseError, Tampered
from reporter.formats import bech32

KEY_BYTES = 32
SEAL_OVERHEAD = sodium.crypto_box_SEALBYTES  # 48: ephemeral public key + MAC
SIGNATURE_BYTES = 64
PUBLIC_KEY_HRP = "reporter"
STATION_KEY_HRP = "reporterstation"

CTX_FINGERPRINT = b"reporter/fingerprint/v1"
CTX_STATION_FINGERPRINT = b"reporter/station-fingerprint/v1"


def random_bytes(n: int) -> bytes:
    """``n`` bytes from libsodium's CSPRNG."""
    return nacl.utils.random(n)


def digest(context: bytes, *parts: bytes, size: int = 32) -> bytes:
    """BLAKE2b over a context string and parts, framed so no two inputs collide.

    Encoding: ``len(context) (1 byte) || context || for each part: len (8 bytes,
    big endian) || part``. The length prefixes make ``("ab", "c")`` and
    ``("a", "bc")`` hash differently.
    """
    if not 0 < len(context) < 256:
        raise ValueError("context must be 1..255 bytes")
    h = hashlib.blake2b(digest_size=size)
    h.update(bytes([len(context)]) + context)
    for part in parts:
        h.update(struct.pack(">Q", len(part)))
        h.update(part)
    return h.digest()


def subkey(key: bytes, context: bytes) -> bytes:
    """A 32-byte key for one purpose, derived from ``key`` (keyed BLAKE2b)."""
    if len(key) != KEY_BYTES:
        raise ValueError("subkey needs a 32-byte key")
    return hashlib.blake2b(context, key=key, digest_size=KEY_BYTES).digest()


def constant_time_equal(a: bytes, b: bytes) -> bool:
    """Compare secrets without leaking where they differ."""
    return hmac.compare_digest(a, b)


def _group(text: str, size: int = 4) -> str:
    return "-".join(text[i : i + size] for i in range(0, len(text), size))


def _fingerprint(context: bytes, key: bytes) -> str:
    # 80 bits: enough that nobody can make a second key with the same
    # fingerprint, short enough to read over a phone in four groups.
    raw = digest(context, key, size=10)
    return _group(base64.b32encode(raw).decode("ascii"))


# --- recipients (X25519) ----------------------------------------------------

# Any clamped scalar works: a low-order point times it is the identity, which
# libsodium refuses. The point is public, so a fixed scalar reveals nothing.
_PROBE_SCALAR = bytes(range(1, 33))


def _usable_point(raw: bytes) -> bool:
    """False for the low-order X25519 points (all-zero shared secret)."""
    try:
        sodium.crypto_scalarmult(_PROBE_SCALAR, raw)
    except nacl.exceptions.RuntimeError:
        return False
    return True



@dataclass(frozen=True)
class RecipientPublicKey:
    """A reviewer's public key: it can seal, never open."""

    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != KEY_BYTES:
            raise InvalidPublicKey(f"a public key is {KEY_BYTES} bytes, got {len(self.raw)}")
        if not _usable_point(self.raw):
            raise InvalidPublicKey(
                "this is not a usable public key (a low-order point: anything sealed to it "
                "could be read by anyone). Ask the reviewer to run 'reporter keygen' again."
            )

    @classmethod
    def from_text(cls, text: str) -> RecipientPublicKey:
        """Parse the one-line form (``reporter1...``); a typo fails the checksum."""
        cleaned = "".join(text.split())
        try:
            raw = bech32.decode(PUBLIC_KEY_HRP, cleaned)
        except bech32.Bech32Error as exc:
            raise InvalidPublicKey(
                f"not a valid reviewer public key: {exc}. Copy the whole line that "
                f"'reporter keygen' printed, starting with '{PUBLIC_KEY_HRP}1'."
            ) from None
        if len(raw) != KEY_BYTES:
            raise InvalidPublicKey(f"a public key is {KEY_BYTES} bytes, this one has {len(raw)}")
        return cls(raw)

    def to_text(self) -> str:
        return bech32.encode(PUBLIC_KEY_HRP, self.raw)

    def fingerprint(self) -> str:
        return _fingerprint(CTX_FINGERPRINT, self.raw)

    def seal(self, message: bytes) -> bytes:
        """Anonymous public-key encryption (crypto_box_seal): only the holder
        of the private key can open it, and the sender stays anonymous."""
        return sodium.crypto_box_seal(message, self.raw)

    def __repr__(self) -> str:
        return f"RecipientPublicKey({self.fingerprint()})"


class RecipientPrivateKey:
    """A reviewer's private key. Never stored on a station."""

    __slots__ = ("_key",)

    def __init__(self, raw: bytes) -> None:
        if len(raw) != KEY_BYTES:
            raise ValueError(f"a private key is {KEY_BYTES} bytes")
        self._key = nacl.public.PrivateKey(raw)

    @classmethod
    def generate(cls) -> RecipientPrivateKey:
        return cls(bytes(nacl.public.PrivateKey.generate()))

    @property
    def public_key(self) -> RecipientPublicKey:
        return RecipientPublicKey(bytes(self._key.public_key))

    def raw(self) -> bytes:
        return bytes(self._key)

    def unseal(self, sealed: bytes) -> bytes:
        """Open a crypto_box_seal ciphertext, or raise ``NotARecipient``."""
        if len(sealed) < SEAL_OVERHEAD:
            raise NotARecipient("sealed data is shorter than its overhead")
        try:
            return sodium.crypto_box_seal_open(
                sealed, bytes(self._key.public_key), bytes(self._key)
            )
        except nacl.exceptions.CryptoError:
            raise NotARecipient("not sealed to this key") from None

    def __repr__(self) -> str:
        return f"RecipientPrivateKey(public={self.public_key.fingerprint()})"


# --- recipient stanzas: a file key sealed to each recipient --------------------

STANZA_BYTES = KEY_BYTES + SEAL_OVERHEAD  # 80


def open_stanzas(data: bytes, start: int, count: int, key: RecipientPrivateKey,
                 what: str) -> bytes:
    """The 32-byte file key from the first of ``count`` stanzas that ``key`` opens.

    Every stanza is tried, as age does: stanzas carry no key identifier, so a
    sealed file does not say whom it is addressed to. ``what`` names the file
    in the error ("envelope", "bundle").
    """
    for i in range(count):
        offset = start + i * STANZA_BYTES
        try:
            file_key = key.unseal(data[offset : offset + STANZA_BYTES])
        except NotARecipient:
            continue
        if len(file_key) != KEY_BYTES:
            raise Malformed("a recipient stanza holds a key of the wrong length")
        return file_key
    raise NotARecipient(f"this {what} is not addressed to this key "
                        f"({key.public_key.fingerprint()})")


# --- the station's signing key (Ed25519) -------------------------------------


@dataclass(frozen=True)
class StationVerifyKey:
    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != KEY_BYTES:
            raise InvalidPublicKey(f"a station key is {KEY_BYTES} bytes, got {len(self.raw)}")

    @classmethod
    def from_text(cls, text: str) -> StationVerifyKey:
        try:
            return cls(bech32.decode(STATION_KEY_HRP, "".join(text.split())))
        except bech32.Bech32Error as exc:
            raise InvalidPublicKey(f"not a valid station key: {exc}") from None

    def to_text(self) -> str:
        return bech32.encode(STATION_KEY_HRP, self.raw)

    def fingerprint(self) -> str:
        return _fingerprint(CTX_STATION_FINGERPRINT, self.raw)

    def verify(self, context: bytes, message: bytes, signature: bytes) -> None:
        """Raise ``Tampered`` unless ``signature`` is this key's over (context, message)."""
        if len(signature) != SIGNATURE_BYTES:
            raise Tampered("signature has the wrong length")
        try:
            nacl.signing.VerifyKey(self.raw).verify(_signed_message(context, message), signature)
        except nacl.exceptions.BadSignatureError:
            raise Tampered("signature does not verify") from None


class StationSigningKey:
    __slots__ = ("_key",)

    def __init__(self, seed: bytes) -> None:
        if len(seed) != KEY_BYTES:
            raise ValueError("a signing key seed is 32 bytes")
        self._key = nacl.signing.SigningKey(seed)

    @classmethod
    def generate(cls) -> StationSigningKey:
        return cls(random_bytes(KEY_BYTES))

    def seed(self) -> bytes:
        return bytes(self._key)

    @property
    def verify_key(self) -> StationVerifyKey:
        return StationVerifyKey(bytes(self._key.verify_key))

    def sign(self, context: bytes, message: bytes) -> bytes:
        return self._key.sign(_signed_message(context, message)).signature

    def __repr__(self) -> str:
        return f"StationSigningKey(public={self.verify_key.fingerprint()})"


def _signed_message(context: bytes, message: bytes) -> bytes:
    # Ed25519 as exposed by libsodium has no context parameter, so the context
    # is framed into the signed bytes: a signature made for one purpose never
    # verifies for another.
    return digest(b"reporter/signed/v1", context, message, size=64)


# --- passphrases (Argon2id) --------------------------------------------------

MIN_PASSPHRASE_CHARS = 12


@dataclass(frozen=True)
class KdfParams:
    """Argon2id cost and salt. Stored beside what they protect, never secret."""

    opslimit: int
    memlimit: int
    salt: bytes

    # Refuse parameters outside these bounds when *reading* a file, so a
    # crafted key file cannot ask for a terabyte of memory.
    MAX_OPSLIMIT = 16
    MAX_MEMLIMIT = 1024**3  # libsodium's SENSITIVE; no profile asks for more

    def __post_init__(self) -> None:
        if len(self.salt) != argon2id.SALTBYTES:
            raise ValueError(f"salt must be {argon2id.SALTBYTES} bytes")
        if not argon2id.OPSLIMIT_MIN <= self.opslimit <= self.MAX_OPSLIMIT:
            raise ValueError(f"opslimit {self.opslimit} is out of range")
        if not argon2id.MEMLIMIT_MIN <= self.memlimit <= self.MAX_MEMLIMIT:
            raise ValueError(f"memlimit {self.memlimit} is out of range")

    @classmethod
    def new(cls, profile: str = "moderate") -> KdfParams:
        try:
            ops, mem = KDF_PROFILES[profile]
        except KeyError:
            raise PassphraseError(
                f"unknown key-derivation profile {profile!r}; "
                f"choose one of {', '.join(KDF_PROFILES)}"
            ) from None
        return cls(ops, mem, random_bytes(argon2id.SALTBYTES))

    def to_json(self) -> dict[str, object]:
        return {
            "algorithm": "argon2id13",
            "opslimit": self.opslimit,
            "memlimit": self.memlimit,
            "salt": base64.b64encode(self.salt).decode("ascii"),
        }

    JSON_KEYS = frozenset(("algorithm", "opslimit", "memlimit", "salt"))

    @classmethod
    def from_json(cls, data: object) -> KdfParams:
        """Parse ``{"algorithm", "opslimit", "memlimit", "salt"}``, and nothing else.

        A key the format does not define is refused, not ignored: a reader
        that rebuilt a key file's associated data from the four keys it knows
        would otherwise open a file carrying an unauthenticated fifth one.
        """
        if not isinstance(data, dict) or data.get("algorithm") != "argon2id13":
            raise ValueError("unknown key-derivation algorithm")
        unknown = set(data) - cls.JSON_KEYS
        if unknown:
            raise ValueError("unknown key-derivation parameters: "
                             + ", ".join(sorted(map(str, unknown))))
        ops, mem, salt = data.get("opslimit"), data.get("memlimit"), data.get("salt")
        if type(ops) is not int or type(mem) is not int or not isinstance(salt, str):
            raise ValueError("key-derivation parameters have the wrong types")
        return cls(ops, mem, base64.b64decode(salt, validate=True))


# (opslimit, memlimit). "moderate" is libsodium's MODERATE: 256 MiB, about
# 0.4 s on a 2-core laptop. A Raspberry Pi with 512 MB should use
# "interactive" (64 MiB); "sensitive" (1 GiB) is for reviewer workstations.
KDF_PROFILES: dict[str, tuple[int, int]] = {
    "interactive": (argon2id.OPSLIMIT_INTERACTIVE, argon2id.MEMLIMIT_INTERACTIVE),
    "moderate": (argon2id.OPSLIMIT_MODERATE, argon2id.MEMLIMIT_MODERATE),
    "sensitive": (argon2id.OPSLIMIT_SENSITIVE, argon2id.MEMLIMIT_SENSITIVE),
}


def check_new_passphrase(passphrase: str) -> None:
    """Refuse passphrases too short to resist a guessing attack on a seized disk."""
    if len(passphrase) < MIN_PASSPHRASE_CHARS:
        raise PassphraseError(
            f"the passphrase has {len(passphrase)} characters; use at least "
            f"{MIN_PASSPHRASE_CHARS} (several unrelated words are easy to remember)"
        )


def normalise_passphrase(passphrase: str) -> bytes:
    """UTF-8 of the NFC form: "é" typed as one character or as e + accent,
    on any keyboard or system, gives the same key."""
    return unicodedata.normalize("NFC", passphrase).encode("utf-8")


def derive_key(passphrase: str, params: KdfParams) -> bytes:
    """32-byte key from a passphrase with Argon2id, at the cost ``params`` sets."""
    if not passphrase:
        raise PassphraseError("the passphrase is empty")
    return argon2id.kdf(
        KEY_BYTES,
        normalise_passphrase(passphrase),
        params.salt,
        opslimit=params.opslimit,
        memlimit=params.memlimit,
    )


# --- authenticated encryption with associated data ---------------------------

AEAD_NONCE_BYTES = sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES  # 24
AEAD_TAG_BYTES = sodium.crypto_aead_xchacha20poly1305_ietf_ABYTES  # 16


def aead_encrypt(key: bytes, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
    """XChaCha20-Poly1305 with a random 192-bit nonce; returns (nonce, ciphertext)."""
    nonce = random_bytes(AEAD_NONCE_BYTES)
    return nonce, sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, aad, nonce, key)


def aead_decrypt(key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
    if len(nonce) != AEAD_NONCE_BYTES or len(ciphertext) < AEAD_TAG_BYTES:
        raise Tampered("nonce or ciphertext has the wrong length")
    try:
        return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(ciphertext, aad, nonce, key)
    except nacl.exceptions.CryptoError:
        raise Tampered("decryption failed") from None
