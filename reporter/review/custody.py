"""The chain of custody of one report, from what the review database recorded.

Everything here was checked when the report was imported, or the import
would have failed and recorded nothing (``importer.py``): the bundle's
signature by the station key pinned for its station, its place in the
station's history (previous bundle's hash, the hash chain before and after
its reports, recomputed over every envelope), each envelope's hash against
the signed manifest, and whom the bundle was sealed to against the pinned
set. So a report that is in the database *has* a verified custody; this
module says what it is, for the review desk's report page (and, later, an
evidence package):

* the station: its id and the fingerprint of its pinned signing key;
* the report's sequence number at the station and its envelope's hash
  (``chain.envelope_hash``: its name in the station's log and in manifests);
* each imported bundle that carried it (a report travels again in a later
  ``export --all``), with the bundle's number, hash, report range, the hash
  chain values before and after that range, when the station made it, when
  it was imported, and whom it was sealed to (names as the station's list
  gives them, fingerprints, and how that set compared with the pinned one);
* when the report itself was added to this database;
* the station's history the report belongs to (``histories.py``): the
  station's first, or the restores from backups that led to it, oldest first.

Import times exist from schema 5 on; earlier imports show none.
"""

from __future__ import annotations

from dataclasses import dataclass

from reporter.formats.crypto import StationVerifyKey
from reporter.formats.manifest import Restore
from reporter.review.db import ReviewDB
from reporter.review.recipients import fingerprint
from reporter.review.records import UnknownReport


@dataclass(frozen=True)
class Sealed:
    """One key a bundle was sealed to."""

    name: str | None  # as the station's recipient list names it (bundle format 3 on)
    fingerprint: str  # to read over the phone; a key id for formats 1 and 2


@dataclass(frozen=True)
class BundleCustody:
    number: int
    hash: str  # of the signed manifest, hex
    first_seq: int
    last_seq: int
    chain_before: str  # hex
    chain_head: str  # hex
    created: str  # when the station made it, as its manifest says
    imported: str | None  # UTC; None before schema 5
    sealed_to: tuple[Sealed, ...]
    recipients_state: str | None  # recipients.PINNED, SAME, CHANGED, ACCEPTED; None: older


@dataclass(frozen=True)
class Custody:
    report_id: int
    station: str  # hex
    station_key: str  # fingerprint of the pinned signing key
    seq: int
    envelope_hash: str  # hex
    imported: str | None  # UTC; None before schema 5
    bundles: tuple[BundleCustody, ...]  # every imported bundle that carried it, by number
    history: str = "00" * 16  # hex; all zero: the station's first (never restored)
    restores: tuple[Restore, ...] = ()  # the restores that led to ``history``, oldest first


def custody(db: ReviewDB, report_id: int) -> Custody:
    """The chain of custody of report ``report_id``; ``UnknownReport`` if there is none."""
    row = db.connection.execute(
        "SELECT station_id, seq, envelope_hash, imported, history FROM reports WHERE id = ?",
        (report_id,)).fetchone()
    if row is None:
        raise UnknownReport(f"no report with id {report_id}")
    station_id, seq, history = bytes(row[0]), int(row[1]), bytes(row[4])
    pinned = db.pinned_key(station_id)
    bundles = tuple(
        BundleCustody(
            number=b.number, hash=b.hash.hex(), first_seq=b.first_seq, last_seq=b.last_seq,
            chain_before=b.chain_before.hex(), chain_head=b.chain_head.hex(),
            created=b.created, imported=b.imported,
            sealed_to=tuple(Sealed(r.name, fingerprint(r))
                            for r in db.bundle_recipients(station_id, b.number, history)),
            recipients_state=db.recipients_state(station_id, b.number, history))
        for b in db.bundles_carrying(station_id, seq, history))
    return Custody(
        report_id=report_id, station=station_id.hex(),
        station_key=StationVerifyKey(pinned).fingerprint() if pinned else "",
        seq=seq, envelope_hash=bytes(row[2]).hex(),
        imported=None if row[3] is None else str(row[3]), bundles=bundles,
        history=history.hex(), restores=db.lineage(station_id, history))
