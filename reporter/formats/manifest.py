"""The signed table of contents of a bundle: canonical JSON, and every check on it.

Part of the bundle format (``docs/bundle-format.md``, ``bundle/``): the
manifest names the station and its signing key, the bundle number and the
previous bundle's hash, the report range with the hash chain before and after
it, every envelope's sequence number, size and hash with the size and hash of
each of its attachments' ciphertext, and the recipients: from version 3 each
recipient's public key with the name the operator gave it, before that only
their key ids; from version 4 the station's restores from backups (``Restore``:
where each new history of the station forks from the one before). The station
signs it; ``bundle/writer.py`` carries it, signed, inside the encryption.

Parsing is strict: canonical form only, every field checked, and the envelope
count checked against the claimed range before anything is built from it.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Any

from reporter.errors import InvalidPublicKey, Malformed, UnknownVersion
from reporter.formats import attachment, jsonio
from reporter.formats.chain import genesis
from reporter.formats.crypto import RecipientPublicKey, StationVerifyKey, digest

VERSION = 4
READABLE_VERSIONS = (1, 2, 3, 4)
NAMED_RECIPIENTS = 3  # the first version whose manifest names its recipients
WITH_RESTORES = 4  # the first version whose manifest lists the station's restores
MAX_RESTORES = 64
ROOT_HISTORY = bytes(16)  # the history of a station never restored (no restore id is zero)
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
class Restore:
    """One restore of the station from a backup: a new history of its numbering.

    A station restored from a backup continues its bundle numbers and report
    sequence numbers from the backup's, which the station it replaces may have
    used already for bundles reviewers hold. So a restore starts a new
    *history*, named by a random ``id``; reviewers key bundles and reports by
    history (``docs/bundle-format.md``, *Restores (version 4)*). The fork point
    is what the backup held: its highest written bundle (``bundle``, 0 if none,
    with that bundle's hash), its last report (``seq``, 0 if none) and the hash
    chain after it (``chain``, the genesis value for 0). ``backup`` is the UTC
    day the backup was taken, ``restored`` the day of the restore.
    """

    id: bytes
    bundle: int
    bundle_hash: bytes | None
    seq: int
    chain: bytes
    backup: str
    restored: str

    def __post_init__(self) -> None:
        if len(self.id) != 16 or self.id == ROOT_HISTORY:
            raise RestoreInvalid("a restore id is 16 bytes, not all zero")
        if not 0 <= self.bundle < 2**63 or not 0 <= self.seq < 2**63:
            raise RestoreInvalid("a restore's bundle and report numbers are 0 to 2^63 - 1")
        if (self.bundle == 0) != (self.bundle_hash is None):
            raise RestoreInvalid("a restore names its last bundle's hash if and only if it "
                                 "had exported a bundle")
        if self.bundle_hash is not None and len(self.bundle_hash) != 32:
            raise RestoreInvalid("a bundle hash is 32 bytes")
        if self.bundle > 0 and self.seq == 0:
            raise RestoreInvalid("a backup that had exported a bundle held a report")
        if len(self.chain) != 32:
            raise RestoreInvalid("a chain value is 32 bytes")
        for day in (self.backup, self.restored):
            if not isinstance(day, str) or not _DAY.fullmatch(day):
                raise RestoreInvalid("a restore's days are YYYY-MM-DD")

    def document(self) -> dict[str, Any]:
        return {"id": self.id.hex(), "bundle": self.bundle,
                "bundle_hash": None if self.bundle_hash is None else self.bundle_hash.hex(),
                "seq": self.seq, "chain": self.chain.hex(),
                "backup": self.backup, "restored": self.restored}


class RestoreInvalid(ValueError):
    """A restore record, or a manifest's restores, break a rule of the format."""


def restores_problem(m: Manifest) -> str | None:
    """Why ``m``'s restores do not fit it, or ``None`` (rules of format version 4).

    The restores come oldest first; each forks from the history before it, so
    their fork points never go back. The bundle's own history is the last one:
    its number is past that fork's bundle, and where the bundle meets a fork
    point its ``previous`` hash and chain values are the fork's.
    """
    restores = m.restores
    if len(restores) > MAX_RESTORES:
        return f"lists more than {MAX_RESTORES} restores"
    if len({r.id for r in restores}) != len(restores):
        return "lists a restore twice"
    for before, after in itertools.pairwise(restores):
        if after.bundle < before.bundle or after.seq < before.seq:
            return "lists restores whose fork points go back"
    for r in restores:
        if r.seq == 0 and r.chain != genesis(m.station_id):
            return "names a restore with no report whose chain is not the station's genesis"
        if m.first_seq == r.seq + 1 and m.chain_before != r.chain:
            return "starts right after a restore's fork point with another chain value"
        if m.last_seq == r.seq and m.chain_head != r.chain:
            return "ends at a restore's fork point with another chain value"
    if restores:
        last = restores[-1]
        if m.number <= last.bundle:
            return (f"is bundle {m.number} of a history restored after bundle {last.bundle}: "
                    "its numbers start after that")
        if m.number == last.bundle + 1 and m.previous != last.bundle_hash:
            return "does not name the restore's last bundle as the one before it"
    return None


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
    restores: tuple[Restore, ...] = ()  # version 4: the station's restores, oldest first

    def __post_init__(self) -> None:
        if self.version not in READABLE_VERSIONS:
            raise ValueError(f"no manifest version {self.version}")
        if self.version < WITH_RESTORES and self.restores:
            raise ValueError(f"version {self.version} manifests carry no restores")
        problem = restores_problem(self)
        if problem is not None:
            raise RestoreInvalid(f"the manifest {problem}")
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

    @property
    def history(self) -> bytes:
        """The id of the history this bundle belongs to (``ROOT_HISTORY`` if never restored)."""
        return self.restores[-1].id if self.restores else ROOT_HISTORY

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
        if self.version >= WITH_RESTORES:
            document["restores"] = [r.document() for r in self.restores]
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
        restores = (_restores(_list(doc, "restores")) if version >= WITH_RESTORES else ())
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
                restores=restores,
            )
        except InvalidPublicKey as exc:
            raise Malformed(f"the manifest's station key is invalid: {exc}") from None
        except RestoreInvalid as exc:
            raise Malformed(str(exc)) from None
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


_RESTORE_KEYS = {"id", "bundle", "bundle_hash", "seq", "chain", "backup", "restored"}


def _restores(entries: list[Any]) -> tuple[Restore, ...]:
    """Version 4 restores: at most 64 objects of exactly the seven keys (their order,
    and everything that relates them to the rest of the manifest, is checked by the
    constructor and the canonical form)."""
    if len(entries) > MAX_RESTORES:
        raise Malformed(f"the manifest lists {len(entries)} restores (allowed: "
                        f"0..{MAX_RESTORES})")
    out = []
    for entry in entries:
        if not isinstance(entry, dict) or set(entry) != _RESTORE_KEYS:
            raise Malformed("an entry of the manifest's restores is not a restore record")
        bundle_hash = None if entry["bundle_hash"] is None else _hex(entry, "bundle_hash", 32)
        try:
            out.append(Restore(
                id=_hex(entry, "id", 16), bundle=_int(entry, "bundle", 0),
                bundle_hash=bundle_hash, seq=_int(entry, "seq", 0),
                chain=_hex(entry, "chain", 32), backup=_day(entry, "backup"),
                restored=_day(entry, "restored")))
        except RestoreInvalid as exc:
            raise Malformed(f"a restore in the manifest is invalid: {exc}") from None
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
