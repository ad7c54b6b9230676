"""Form tokens: one per form shown, so that one form sent twice is one submission.

Every form page carries a token the station made for it. The receipt of what
is sent with that form is derived from the token, so a double tap, a reload
that sends the form again, or a retry on a slow link carries the same token,
and the station shows the same receipt instead of storing a second report
(the bookkeeping is in ``ledger.py``). A token also ends: one made more than
its lifetime ago is refused, and the form comes back with what was typed.

Wire form (41 bytes, base64url without padding: 55 characters)::

    version (1 byte, 1) || nonce (16 random bytes)
      || issued (8 bytes, big endian: whole seconds of this process's monotonic clock)
      || tag (16 bytes)
    tag = BLAKE2b-128 keyed with K over  len(ctx) || ctx || each part framed by its length,
          ctx = "reporter/form-token/v1", parts = version byte, nonce, issued

K is 32 random bytes made when the app starts and held only in this
process's memory: never stored, never logged, gone at a restart, when every
token made before is refused (the form says so and keeps what was typed).
The issued time is the monotonic clock's, not the wall clock's: a station
whose clock is set after boot (a Raspberry Pi has no battery clock) neither
expires every open form nor makes old ones live for ever, and the token
carries no time of day.

From the same key and the token's nonce come the submission's receipt code
(``"reporter/receipt/v1"``) and the ledger's name for it
(``"reporter/form-ledger/v1"``), which does not reveal the nonce, so the
ledger in memory cannot be turned back into receipt codes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass

from reporter.formats.receipt import receipt_from_bytes

VERSION = 1
KEY_BYTES = 32
NONCE_BYTES = 16
ISSUED_BYTES = 8
TAG_BYTES = 16
RAW_BYTES = 1 + NONCE_BYTES + ISSUED_BYTES + TAG_BYTES
TEXT_LENGTH = 55  # base64url of RAW_BYTES, without padding
CTX_TOKEN = b"reporter/form-token/v1"
CTX_RECEIPT = b"reporter/receipt/v1"
CTX_LEDGER = b"reporter/form-ledger/v1"
DEFAULT_LIFETIME = 4 * 3600
# A token issued later than now by more than this is refused (it cannot be
# ours: the clock is monotonic); within it, a clock read on another core.
FUTURE_SKEW = 60
_TEXT = re.compile(rf"[A-Za-z0-9_-]{{{TEXT_LENGTH}}}")

Clock = Callable[[], int]


def monotonic_seconds() -> int:
    return int(time.monotonic())


@dataclass(frozen=True)
class Token:
    """A token that verified: its nonce and when it was issued."""

    nonce: bytes
    issued: int


class FormTokens:
    """Makes and checks form tokens under a key held only in memory."""

    __slots__ = ("_clock", "_key")

    def __init__(self, key: bytes | None = None, clock: Clock = monotonic_seconds) -> None:
        if key is not None and len(key) != KEY_BYTES:
            raise ValueError(f"a form-token key is {KEY_BYTES} bytes")
        self._key = key if key is not None else secrets.token_bytes(KEY_BYTES)
        self._clock = clock

    def __repr__(self) -> str:
        return "FormTokens(<key hidden>)"

    def _mac(self, context: bytes, *parts: bytes, size: int = TAG_BYTES) -> bytes:
        h = hashlib.blake2b(key=self._key, digest_size=size)
        h.update(bytes([len(context)]) + context)
        for part in parts:
            h.update(struct.pack(">Q", len(part)))
            h.update(part)
        return h.digest()

    def _tag(self, nonce: bytes, issued: bytes) -> bytes:
        return self._mac(CTX_TOKEN, bytes([VERSION]), nonce, issued)

    def issue(self) -> str:
        """A new token, for one form page."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        issued = struct.pack(">Q", self._clock())
        raw = bytes([VERSION]) + nonce + issued + self._tag(nonce, issued)
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    def verify(self, text: str, lifetime: int) -> Token | None:
        """The token if ``text`` is one of ours, not older than ``lifetime`` seconds; else None.

        The length and alphabet are checked before anything is decoded, the
        tag compared in constant time, the age last.
        """
        if not isinstance(text, str) or len(text) != TEXT_LENGTH or not _TEXT.fullmatch(text):
            return None
        try:
            raw = base64.urlsafe_b64decode(text + "=")
        except (ValueError, binascii.Error):
            return None
        if len(raw) != RAW_BYTES or raw[0] != VERSION:
            return None
        if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != text:
            return None  # the two spare bits set: one token has one spelling
        nonce = raw[1 : 1 + NONCE_BYTES]
        issued_bytes = raw[1 + NONCE_BYTES : 1 + NONCE_BYTES + ISSUED_BYTES]
        if not hmac.compare_digest(raw[-TAG_BYTES:], self._tag(nonce, issued_bytes)):
            return None
        issued = int.from_bytes(issued_bytes, "big")
        now = self._clock()
        if issued > now + FUTURE_SKEW or now - issued > lifetime:
            return None
        return Token(nonce=nonce, issued=issued)

    def receipt(self, token: Token) -> str:
        """The receipt code of what is sent with ``token``: the same for every resend."""
        return receipt_from_bytes(self._mac(CTX_RECEIPT, token.nonce))

    def ledger_name(self, token: Token) -> bytes:
        """What the ledger calls the submission of ``token`` (reveals neither nonce nor receipt)."""
        return self._mac(CTX_LEDGER, token.nonce)

    def now(self) -> int:
        return self._clock()
