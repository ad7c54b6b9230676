"""The signed table of contents of a bundle: canonical JSON, and every check on it.

Part of the bundle format (``docs/bundle-format.md``, ``bundle.py``): the
manifest names the station and its signing key, the bundle number and the
previous bundle's hash, the report range with the hash chain before and after
it, every envelope's sequence number, size and hash with the size and hash of
each of its attachments' ciphertext, and the recipients: from version 3 each
recipient's public key with the name the operator gave it, before that only
their key ids. The station signs it; ``bundle.py`` carries it, signed, inside
the encryption.

Parsing is strict: canonical form only, every field checked, and the envelope
count checked against the claimed range before anything is built from it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from reporter.errors import InvalidPublicKey, Malformed, UnknownVersion
from reporter.formats import attachment, jsonio
from reporter.formats.crypto import RecipientPublicKey, StationVerifyKey, digest

VERSION = 3
READABLE_VERSIONS = (1, 2, 3)
NAMED_RECIPIENTS = 3  # the first version whose manifest names its recipients
MAX_RECIPIENTS = 64
MAX_RECIPIENT_NAME = 200  # characters, as the station's recipient list allows
FORMAT = "reporter-bundle"
MAX_ENVELOPE = 8 * 1024 * 1024
MAX_ATTACHMENTS = attachment.MAX_ATTACHMENTS  # per envelope
MAX_ATTACHMENT_BYTES = attachment.ciphertext_size(attachment.MAX_SIZE)
CTX_HASH = b"reporter/bundle/v1/hash"
CTX_RECIPIENT_ID = b"reporter/recipient-id/v1"
_HEX32 = re.compile(r"[0-9a-f]{64}")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

AttachmentEntry = tuple[int, bytes]  # (ciphertext size, ciphertext hash), as the envelope says


def recipient_id(key: RecipientPublicKey) -> bytes:
    return digest(CTX_RECIPIENT_ID, key.raw)


def name_problem(name: object) -> str | None:
    """Why ``name`` cannot be a recipient's name in a manifest, or ``None``.

    The station's rules for the names on its list (1 to 200 characters, white
    space collapsed, no control character below U+0020 or DEL), and text that
    can be stored (no lone surrogate). Other characters are allowed: readers
    clean what they print (C1 controls, bidi controls: ``reporter/cli/terminal.py``).
    """
    if not isinstance(name, str):
        return "is not text"
    if not 1 <= len(name) <= MAX_RECIPIENT_NAME:
        return f"is not 1 to {MAX_RECIPIENT_NAME} characters long"
    if any(ord(c) < 32 or ord(c) == 127 or 0xD800 <= ord(c) <= 0xDFFF for c in name):
        return "holds a control character or a lone surrogate"
    if " ".join(name.split()) != name:
        return "has white space at its ends or in runs"
    return None


@dataclass(frozen=True)
class NamedRecipient:
    """A key a version 3 bundle is sealed to, with the name the station's list gives it."""

    key: RecipientPublicKey
    name: str

    @property
    def id(self) -> bytes:
        return recipient_id(self.key)


@dataclass(frozen=True)
class Manifest:
    """The signed table of contents.

    ``attachments`` has one tuple per envelope (in the order of ``envelopes``)
    of ``(ciphertext size, ciphertext hash)`` per attachment, in index order;
    left empty, it means "no attachments anywhere". Version 1 manifests carry
    none; ``write_bundle`` writes the version a manifest says (the station
    always makes the current one).

    ``recipients`` are the key ids of every key the bundle is sealed to. From
    version 3 the manifest names them: ``named`` holds each public key with its
    name, and ``recipients`` is computed from it (pass ``()``); versions 1 and 2
    carry the ids only and ``named`` is empty.
    """

    station_id: bytes
    station_key: StationVerifyKey
    number: int
    previous: bytes | None
    first_seq: int
    last_seq: int
    chain_before: bytes
    chain_head: bytes
    envelopes: tuple[tuple[int, int, bytes], ...]  # (seq, size, envelope hash)
    recipients: tuple[bytes, ...]
    created: str
    attachments: tuple[tuple[AttachmentEntry, ...], ...] = field(default=())
    version: int = VERSION
    named: tuple[NamedRecipient, ...] = ()

    def __post_init__(self) -> None:
        if self.version not in READABLE_VERSIONS:
            raise ValueError(f"no manifest version {self.version}")
        if self.version >= NAMED_RECIPIENTS:
            if not 1 <= len(self.named) <= MAX_RECIPIENTS:
                raise ValueError(f"a version {self.version} manifest names 1 to "
                                 f"{MAX_RECIPIENTS} recipients")
            for recipient in self.named:
                problem = name_problem(recipient.name)
                if problem is not None:
                    raise ValueError(f"a recipient's name {problem}")
            named = tuple(sorted(self.named, key=lambda r: r.key.to_text()))
            ids = tuple(r.id for r in named)
            if len(set(ids)) != len(ids):
                raise ValueError("a key is listed twice among the recipients")
            if self.recipients and self.recipients != ids:
                raise ValueError("the recipient ids do not match the named recipients")
            object.__setattr__(self, "named", named)
            object.__setattr__(self, "recipients", ids)
        elif self.named:
            raise ValueError(f"version {self.version} manifests carry recipient ids only")
        if not self.attachments:
            object.__setattr__(self, "attachments", tuple(() for _ in self.envelopes))
        if len(self.attachments) != len(self.envelopes):
            raise ValueError("a manifest needs one attachment list per envelope")
        if self.version == 1 and any(self.attachments):
            raise ValueError("version 1 bundles carry no attachments")

    def _entry(self, entry: tuple[int, int, bytes],
               listed: tuple[AttachmentEntry, ...]) -> list[Any]:
        seq, size, h = entry
        if self.version == 1:
            return [seq, size, h.hex()]
        return [seq, size, h.hex(), [[ct_size, ct_hash.hex()] for ct_size, ct_hash in listed]]

    def to_json(self) -> bytes:
        document = {
            "format": FORMAT,
            "version": self.version,
            "station_id": self.station_id.hex(),
            "station_key": self.station_key.to_text(),
            "number": self.number,
            "previous": None if self.previous is None else self.previous.hex(),
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "chain_before": self.chain_before.hex(),
            "chain_head": self.chain_head.hex(),
            "envelopes": [self._entry(e, a)
                          for e, a in zip(self.envelopes, self.attachments, strict=True)],
            "recipients": (sorted(r.hex() for r in self.recipients)
                           if self.version < NAMED_RECIPIENTS
                           else [[r.key.to_text(), r.name] for r in self.named]),
            "created": self.created,
        }
        return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("ascii")

    def hash(self) -> bytes:
        return digest(CTX_HASH, self.to_json())

    @property
    def attachment_count(self) -> int:
        return sum(len(a) for a in self.attachments)

    @property
    def attachment_bytes(self) -> int:
        return sum(size for listed in self.attachments for size, _h in listed)

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        """Parse and check every field; ``Malformed`` names the first problem."""
        try:
            doc = jsonio.loads(data.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            raise Malformed("the bundle manifest is not valid JSON") from None
        if not isinstance(doc, dict):
            raise Malformed("the bundle manifest is not a JSON object")
        if doc.get("format") != FORMAT:
            raise Malformed("the manifest is not a reporter-bundle manifest")
        version = doc.get("version")
        if type(version) is not int or version not in READABLE_VERSIONS:
            raise UnknownVersion(f"manifest version {version!r} is not supported")
        envelopes, attachments = _envelopes(doc.get("envelopes"), version)
        named: tuple[NamedRecipient, ...] = ()
        ids: tuple[bytes, ...] = ()
        if version >= NAMED_RECIPIENTS:
            named = _named(_list(doc, "recipients"))
        else:
            named, ids = (), tuple(_hex({"r": r}, "r", 32) for r in _list(doc, "recipients"))
        try:
            manifest = cls(
                station_id=_hex(doc, "station_id", 16),
                station_key=StationVerifyKey.from_text(_str(doc, "station_key")),
                number=_int(doc, "number", 1),
                previous=None if doc.get("previous") is None else _hex(doc, "previous", 32),
                first_seq=_int(doc, "first_seq", 1),
                last_seq=_int(doc, "last_seq", 1),
                chain_before=_hex(doc, "chain_before", 32),
                chain_head=_hex(doc, "chain_head", 32),
                envelopes=envelopes,
                recipients=ids,
                created=_day(doc, "created"),
                attachments=attachments,
                version=version,
                named=named,
            )
        except InvalidPublicKey as exc:
            raise Malformed(f"the manifest's station key is invalid: {exc}") from None
        except ValueError as exc:  # what _named leaves to the constructor: duplicates
            raise Malformed(f"the manifest's recipient list is invalid: {exc}") from None
        if manifest.to_json() != data:
            raise Malformed("the manifest is not in canonical form")
        if (manifest.number == 1) != (manifest.previous is None):
            raise Malformed("only bundle 1 has no previous bundle")
        if manifest.first_seq > manifest.last_seq:
            raise Malformed("the manifest's report range is empty or reversed")
        # Count first: a signed manifest may claim any range, and building it
        # would let a crafted one exhaust memory.
        if (manifest.last_seq - manifest.first_seq + 1 != len(manifest.envelopes)
                or any(seq != manifest.first_seq + i
                       for i, (seq, _size, _h) in enumerate(manifest.envelopes))):
            raise Malformed("the manifest's envelopes do not match its report range")
        return manifest


def _int(doc: dict[str, Any], name: str, minimum: int) -> int:
    value = doc.get(name)
    if type(value) is not int or value < minimum or value >= 2**63:
        raise Malformed(f"manifest field {name!r} is not a valid number")
    return value


def _str(doc: dict[str, Any], name: str) -> str:
    value = doc.get(name)
    if not isinstance(value, str):
        raise Malformed(f"manifest field {name!r} is missing")
    return value


def _hex(doc: dict[str, Any], name: str, size: int) -> bytes:
    value = _str(doc, name)
    if len(value) != 2 * size or not re.fullmatch(r"[0-9a-f]*", value):
        raise Malformed(f"manifest field {name!r} is not {size} bytes of hex")
    return bytes.fromhex(value)


def _list(doc: dict[str, Any], name: str) -> list[Any]:
    value = doc.get(name)
    if not isinstance(value, list):
        raise Malformed(f"manifest field {name!r} is not a list")
    return value


def _named(entries: list[Any]) -> tuple[NamedRecipient, ...]:
    """Version 3 recipients: 1 to 64 ``[public key, name]`` pairs (order and duplicates
    are checked by the constructor and the canonical form)."""
    if not 1 <= len(entries) <= MAX_RECIPIENTS:
        raise Malformed(f"the manifest names {len(entries)} recipients "
                        f"(allowed: 1..{MAX_RECIPIENTS})")
    out = []
    for entry in entries:
        if not isinstance(entry, list) or len(entry) != 2 or not isinstance(entry[0], str):
            raise Malformed("an entry of the manifest's recipient list is not a "
                            "[public key, name] pair")
        problem = name_problem(entry[1])
        if problem is not None:
            raise Malformed(f"a recipient's name in the manifest {problem}")
        try:
            key = RecipientPublicKey.from_text(entry[0])
        except InvalidPublicKey as exc:
            raise Malformed(f"a recipient's public key in the manifest is invalid: "
                            f"{exc}") from None
        out.append(NamedRecipient(key, entry[1]))
    return tuple(out)


def _day(doc: dict[str, Any], name: str) -> str:
    value = _str(doc, name)
    if not _DAY.fullmatch(value):
        raise Malformed(f"manifest field {name!r} is not a date")
    return value


def _envelopes(value: object, version: int) -> tuple[
        tuple[tuple[int, int, bytes], ...], tuple[tuple[AttachmentEntry, ...], ...]]:
    if not isinstance(value, list):
        raise Malformed("manifest field 'envelopes' is not a list")
    width = 3 if version == 1 else 4
    out = []
    listed = []
    for entry in value:
        if (not isinstance(entry, list) or len(entry) != width or type(entry[0]) is not int
                or type(entry[1]) is not int or not isinstance(entry[2], str)
                or not _HEX32.fullmatch(entry[2]) or not 0 < entry[1] <= MAX_ENVELOPE):
            raise Malformed("an entry of the manifest's envelope list is invalid")
        out.append((entry[0], entry[1], bytes.fromhex(entry[2])))
        listed.append(_attachment_list(entry[3]) if version >= 2 else ())
    return tuple(out), tuple(listed)


def _attachment_list(value: object) -> tuple[AttachmentEntry, ...]:
    if not isinstance(value, list) or len(value) > MAX_ATTACHMENTS:
        raise Malformed("an envelope's attachment list in the manifest is invalid")
    out = []
    for item in value:
        if (not isinstance(item, list) or len(item) != 2 or type(item[0]) is not int
                or not 0 < item[0] <= MAX_ATTACHMENT_BYTES or not isinstance(item[1], str)
                or not _HEX32.fullmatch(item[1])):
            raise Malformed("an attachment entry of the manifest is invalid")
        out.append((item[0], bytes.fromhex(item[1])))
    return tuple(out)
