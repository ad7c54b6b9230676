"""Histories: what a reviewer does with a station that was restored from a backup.

A station restored from a backup (``reporter restore``) numbers its bundles and
reports on from the backup's numbers, which the station it replaced may have
given already to bundles a reviewer holds. Its bundles (format version 4)
therefore list the station's restores, oldest first, each with a random id and
its fork point (the backup's last bundle and its hash, its last report and the
hash chain after it). Each restore starts a new **history**; the station's
first history has the id ``ROOT_HISTORY`` (all zero).

The rules, with ``L`` the lineage of restores a bundle lists:

* A bundle belongs to its lineage's last history and is keyed by (station,
  history, number). Bundle numbers of a history start after its fork's bundle.
* A report ``seq`` belongs to the history that sealed it: the last restore of
  ``L`` whose fork is before it (``seq > fork seq``), else the first history.
  Reports a backup held but had not exported travel in the restored history's
  bundles and are recognised as the earlier history's (the same envelopes).
* A bundle of history ``H`` is part of ``L``'s history when ``L`` gives its
  number to ``H`` (``holds``): bundles of an earlier history after the fork are
  not (they are the replaced station's). Neighbour and chain checks across
  bundles apply within a lineage only.
* A restore is checked against what the reviewer holds of the history it
  forks from: that history's bundle at the fork must have the hash the restore
  names, and its chain at the fork's report the chain value it names (both
  ways: whichever arrives first). Another restore with the same id, a fork
  point that does not match, or a bundle that reuses a history's number with
  other contents are ``BundleConflict``.

What this cannot tell: a station restored by copying its files by hand (not
``reporter restore``) reuses numbers in the same history and is refused, as a
forgery would be. A station and a restored copy both running are two genuine
histories; a bundle of the replaced history made after the restore day is
reported as a warning (``Replaced.after_restore``), not refused. Whoever holds the station's
signing key can fabricate a restore, as they can fabricate any bundle.
"""

from __future__ import annotations

from dataclasses import dataclass

from reporter.errors import BundleConflict
from reporter.formats.manifest import ROOT_HISTORY, Restore
from reporter.review.db import ReviewDB
from reporter.review.db_records import BundleRecord, HistoryRecord


def short(history: bytes) -> str:
    return history.hex()[:8]


@dataclass(frozen=True)
class Lineage:
    """The restores that led to a history, oldest first (empty: the first history)."""

    restores: tuple[Restore, ...] = ()

    @property
    def history(self) -> bytes:
        return self.restores[-1].id if self.restores else ROOT_HISTORY

    def parent(self) -> Lineage:
        return Lineage(self.restores[:-1])

    def owner_of_seq(self, seq: int) -> bytes:
        """The history that sealed report ``seq``."""
        owner = ROOT_HISTORY
        for r in self.restores:
            if seq > r.seq:
                owner = r.id
        return owner

    def owner_of_bundle(self, number: int) -> bytes:
        """The history that numbered bundle ``number``."""
        owner = ROOT_HISTORY
        for r in self.restores:
            if number > r.bundle:
                owner = r.id
        return owner

    def holds(self, bundle: BundleRecord) -> bool:
        """Whether an imported bundle is part of this lineage's history."""
        return self.owner_of_bundle(bundle.number) == bundle.history

    def segments(self, first: int, last: int) -> list[tuple[bytes, int, int]]:
        """``first..last`` cut where the reports change history: (history, first, last)."""
        out: list[tuple[bytes, int, int]] = []
        start = first
        for r in self.restores:
            if start <= r.seq < last:
                out.append((self.owner_of_seq(start), start, r.seq))
                start = r.seq + 1
        out.append((self.owner_of_seq(start), start, last))
        return out


def lineage_of(db: ReviewDB, station_id: bytes, history: bytes) -> Lineage:
    return Lineage(db.lineage(station_id, history))


@dataclass(frozen=True)
class NewRestore:
    """A restore recorded by this import, with what the reviewer holds of the history it
    replaced after its fork point (the rest of that history is lost, or on its way)."""

    restore: Restore
    parent: bytes
    held_reports: int | None  # the highest report held after the fork, if any
    held_bundles: int | None  # the highest bundle held after the fork, if any
    # Bundles of the replaced history held here and made after the day of the restore:
    # a copy of the station that was not replaced may still be running.
    made_after: tuple[int, ...] = ()


@dataclass(frozen=True)
class Replaced:
    """A bundle of a history that a restore replaced, numbered after the restore's fork:
    made by the station before it was restored, or (``after_restore``: made after the
    day of the restore) by a copy of the station that is still running."""

    restore: Restore
    created: str

    @property
    def after_restore(self) -> bool:
        return self.created > self.restore.restored


def _fork_conflict(restore: Restore, bundle: BundleRecord) -> str | None:
    """How ``bundle`` (of the history the restore forks from) contradicts its fork point."""
    if bundle.number == restore.bundle and bundle.hash != restore.bundle_hash:
        return (f"the station says it was restored from a backup holding bundle "
                f"{restore.bundle}, but the bundle {restore.bundle} you imported is another")
    if bundle.last_seq == restore.seq and bundle.chain_head != restore.chain:
        return (f"the station says it was restored from a backup holding reports up to "
                f"{restore.seq}, but the bundle {bundle.number} you imported ends there with "
                "another hash chain")
    if bundle.first_seq == restore.seq + 1 and bundle.chain_before != restore.chain:
        return (f"the station says it was restored from a backup holding reports up to "
                f"{restore.seq}, but the bundle {bundle.number} you imported continues from "
                "another hash chain")
    return None


def _conflict(station_id: bytes, restore: Restore, problem: str) -> BundleConflict:
    return BundleConflict(
        f"station {station_id.hex()[:8]}, restore {short(restore.id)} of {restore.restored}: "
        f"{problem}. The restore is forged, or the history you imported is. Nothing was "
        "imported; check with the operator by phone.")


def record_restores(db: ReviewDB, station_id: bytes, lineage: Lineage) -> list[NewRestore]:
    """Record the restores a bundle lists that are new here, each checked against what
    the reviewer holds of the history it forks from. Inside the import's transaction."""
    new = []
    for position, restore in enumerate(lineage.restores, 1):
        parent = Lineage(lineage.restores[:position - 1])
        known = db.history(station_id, restore.id)
        if known is not None:
            if known.restore != restore or known.parent != parent.history:
                raise _conflict(station_id, restore, "another restore with the same id was "
                                "imported before")
            continue
        held = [b for b in db.bundles(station_id) if parent.holds(b)]
        for bundle in held:
            problem = _fork_conflict(restore, bundle)
            if problem is not None:
                raise _conflict(station_id, restore, problem)
        db.add_history(HistoryRecord(station_id, restore, parent.history, position))
        after = [b for b in held if b.number > restore.bundle]
        reports = [s for s in (*db.seqs(station_id, parent.history),
                               *db.unreadable_seqs(station_id, parent.history))
                   if s > restore.seq]
        new.append(NewRestore(restore, parent.history, max(reports, default=None),
                              max((b.number for b in after), default=None),
                              tuple(b.number for b in after if b.created > restore.restored)))
    return new


def check_against_restores(db: ReviewDB, station_id: bytes, bundle: BundleRecord
                           ) -> list[Replaced]:
    """A bundle arriving after restores of its history were recorded: it must agree with
    their fork points. Returns the restores that replaced its history before it."""
    replaced = []
    for record in db.histories(station_id):
        parent = lineage_of(db, station_id, record.parent)
        if not parent.holds(bundle):
            continue
        problem = _fork_conflict(record.restore, bundle)
        if problem is not None:
            raise _conflict(station_id, record.restore, problem)
        if bundle.number > record.restore.bundle:
            replaced.append(Replaced(record.restore, bundle.created))
    return replaced
