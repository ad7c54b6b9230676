"""The report itself: its fields, vocabularies and canonical serialisation.

A report is what a monitor submits, turned into canonical JSON (sorted keys,
no insignificant white space, UTF-8) before it is sealed. The JSON carries a
schema number and the form version so reviewers can read reports written by
older stations. The vocabularies use stable English codes; the words a monitor
sees are translated in ``forms.py``.

Nothing in a report records who sent it or from where: no IP address, no user
agent, and only the calendar date (UTC) of arrival, never the time.

Schema 2 adds ``attachments``: what the envelope's reader needs to open and
check each sealed attachment (``attachment.py``): its index, the file name
the phone gave (cleaned), the type the station detected from its first bytes,
its size, the SHA-256 of the original (chain of custody) and the size and
hash of its ciphertext. Schema 1 reports (no attachments) are still read.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from reporter.errors import InvalidReceipt, InvalidReport
from reporter.formats import attachment, jsonio
from reporter.formats.receipt import parse_receipt

SCHEMA = 2
READABLE_SCHEMAS = (1, 2)
MAX_NAME = 255
_HEX64 = re.compile(r"[0-9a-f]{64}")
_MEDIA_TYPE = re.compile(r"[a-z]+/[a-z0-9.+-]{1,80}")
FORM_VERSION = "incident/1"
FOLLOW_UP_FORM_VERSION = "follow-up/1"

INCIDENT_TYPES = (
    "shooting",
    "beating-torture",
    "sexual-violence",
    "killing",
    "forced-labour",
    "child-labour",
    "eviction-destruction",
    "smuggling",
    "environmental-harm",
    "intimidation-of-monitors",
    "other",
)
PERPETRATORS = (
    "state-security",
    "police",
    "private-security",
    "armed-group",
    "mine-operator",
    "unknown",
    "other",
)
SOURCES = ("witnessed", "heard")
CONTACT_CHOICES = ("none", "contact")

KINDS = ("incident", "follow-up")
ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True)
class AttachmentInfo:
    """One attachment as its report's envelope describes it."""

    index: int
    name: str
    type: str
    size: int
    sha256: bytes
    ciphertext_size: int
    ciphertext_hash: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "name": self.name,
            "type": self.type,
            "size": self.size,
            "sha256": self.sha256.hex(),
            "ciphertext_size": self.ciphertext_size,
            "ciphertext_hash": self.ciphertext_hash.hex(),
        }

    @classmethod
    def from_json(cls, item: Any, position: int) -> AttachmentInfo:
        where = f"attachment {position + 1}"
        if not isinstance(item, dict):
            raise InvalidReport(f"{where} is not a JSON object")
        index, name, kind = item.get("index"), item.get("name"), item.get("type")
        size, ct_size = item.get("size"), item.get("ciphertext_size")
        sha, ct_hash = item.get("sha256"), item.get("ciphertext_hash")
        if index != position:
            raise InvalidReport(f"{where} has index {index!r}: attachments are out of order")
        if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME:
            raise InvalidReport(f"{where} has no valid file name")
        if not isinstance(kind, str) or not _MEDIA_TYPE.fullmatch(kind):
            raise InvalidReport(f"{where} has no valid type")
        if (not isinstance(size, int) or isinstance(size, bool)
                or not 0 < size <= attachment.MAX_SIZE):
            raise InvalidReport(f"{where} has an invalid size")
        if ct_size != attachment.ciphertext_size(size):
            raise InvalidReport(f"{where}: its ciphertext size does not match its size")
        if not (isinstance(sha, str) and _HEX64.fullmatch(sha)
                and isinstance(ct_hash, str) and _HEX64.fullmatch(ct_hash)):
            raise InvalidReport(f"{where} has an invalid hash")
        return cls(position, name, kind, size, bytes.fromhex(sha), ct_size,
                   bytes.fromhex(ct_hash))


@dataclass(frozen=True)
class Report:
    """One submission: a first report or a follow-up to one."""

    kind: str
    receipt: str
    locale: str
    submitted: str  # ISO date (UTC), never a time
    fields: dict[str, Any] = field(default_factory=dict)
    follows: str | None = None  # receipt code of the first report, for follow-ups
    form: str = FORM_VERSION
    attachments: tuple[AttachmentInfo, ...] = ()

    def to_body(self) -> bytes:
        """Canonical JSON: the same report always gives the same bytes."""
        document = {
            "schema": SCHEMA,
            "kind": self.kind,
            "form": self.form,
            "receipt": self.receipt,
            "follows": self.follows,
            "locale": self.locale,
            "submitted": self.submitted,
            "fields": self.fields,
            "attachments": [a.to_json() for a in self.attachments],
        }
        return json.dumps(
            document, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode("utf-8")

    @classmethod
    def from_body(cls, body: bytes) -> Report:
        """Parse a decrypted body, checking the schema; ``InvalidReport`` if it is wrong."""
        try:
            document = jsonio.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise InvalidReport("the sealed report is not valid JSON") from None
        if not isinstance(document, dict):
            raise InvalidReport("the sealed report is not a JSON object")
        schema = document.get("schema")
        if schema not in READABLE_SCHEMAS or isinstance(schema, bool):
            raise InvalidReport(
                f"report schema {schema!r} is not supported "
                f"(this reporter reads schemas {', '.join(map(str, READABLE_SCHEMAS))})"
            )
        kind = document.get("kind")
        if kind not in KINDS:
            raise InvalidReport(f"unknown report kind {kind!r}")
        fields = document.get("fields")
        if not isinstance(fields, dict):
            raise InvalidReport("the report has no fields object")
        try:
            receipt = parse_receipt(str(document.get("receipt", "")))
            follows_raw = document.get("follows")
            follows = parse_receipt(str(follows_raw)) if follows_raw is not None else None
            submitted = str(document.get("submitted"))
            if not ISO_DAY.fullmatch(submitted):
                raise ValueError(f"submitted date {submitted!r} is not YYYY-MM-DD")
            date.fromisoformat(submitted)
            incident_date = fields.get("incident_date")
            if incident_date is not None:
                if not isinstance(incident_date, str) or not ISO_DAY.fullmatch(incident_date):
                    raise ValueError(f"incident date {incident_date!r} is not YYYY-MM-DD")
                date.fromisoformat(incident_date)
        except (InvalidReceipt, ValueError) as exc:
            raise InvalidReport(f"the report header is invalid: {exc}") from None
        if (kind == "follow-up") != (follows is not None):
            raise InvalidReport("only a follow-up names the report it follows")
        items = document.get("attachments", []) if schema >= 2 else []
        if not isinstance(items, list) or len(items) > attachment.MAX_ATTACHMENTS:
            raise InvalidReport("the report's attachment list is invalid")
        attachments = tuple(AttachmentInfo.from_json(item, i) for i, item in enumerate(items))
        report = cls(
            kind=kind,
            receipt=receipt,
            locale=str(document.get("locale", "")),
            submitted=str(document["submitted"]),
            fields=fields,
            follows=follows,
            form=str(document.get("form", "")),
            attachments=attachments,
        )
        if b"\\u" in body:
            # Only a JSON escape can smuggle a lone surrogate ("\\ud800") in: text
            # that cannot be written back as UTF-8 is refused here, not later.
            try:
                report.to_body()
            except UnicodeEncodeError:
                raise InvalidReport("the sealed report holds invalid text "
                                    "(a lone surrogate)") from None
        return report
