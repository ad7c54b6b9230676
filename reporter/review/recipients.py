"""Whom a station seals to: each bundle's recipients, pinned per station.

Anyone who holds a station's passphrase (a coerced operator, a seized disk with
the passphrase file) can add a key of their own to the station's list under a
look-alike name: from then on every report is sealed to them too, and every
bundle still verifies. What the station cannot hide is its signed manifest,
which lists every key the bundle is sealed to (from bundle format 3 with the
name the station's list gives each key; before, key ids only).

So the importer pins the set like the station key (trust on first use): the
first bundle imported from a station pins its recipients, and every later
bundle is compared with the pin valid at its number. A key that appears, a
key that disappears and a pinned key with another name are a **change**:

* the bundle is still imported (its reports are authentic: signed by the
  pinned station key, chained to the rest; and holding them back would not
  take them back from the key that was added, it would only keep the
  evidence from the reviewers);
* the change is recorded against the bundle (``recipients_state`` =
  "changed") and is not pinned: the next bundle with the same set is a
  change again, import exits with a distinct status, and every review
  command reminds the reviewer until they decide;
* ``accept`` pins the set of the bundle that changed it, from that bundle
  on, once the reviewer checked every new fingerprint with its owner; the
  other bundles that showed the same change are settled with it.

Pins are valid from a bundle number, so bundles imported out of order are each
compared with the set that was pinned for their place in the history. A
station restored from a backup continues in a new history (``histories.py``):
its bundles are compared with the pins of their own lineage (the first
history's up to the fork, then the restored history's), never with a pin made
from a bundle of the history it replaced after the fork.
"""

from __future__ import annotations

from dataclasses import dataclass

from reporter.errors import ReporterError
from reporter.formats.crypto import RecipientPublicKey
from reporter.formats.manifest import ROOT_HISTORY, Manifest
from reporter.review.db import ReviewDB
from reporter.review.db_records import Recipient
from reporter.review.histories import Lineage, lineage_of

PINNED, SAME, CHANGED, ACCEPTED = "pinned", "same", "changed", "accepted"


class RecipientsChanged(ReporterError):
    """Bundles were imported whose recipients differ from the pinned set; the
    reviewer has to check the change and accept it (or raise the alarm)."""

    exit_code = 3


class NoSuchChange(ReporterError):
    """``accept`` was given a station or bundle with no pending recipient change."""


@dataclass(frozen=True)
class Change:
    """How a bundle's recipients differ from the pinned set they are compared with."""

    pinned_from: int  # the bundle number the compared pin is valid from
    added: tuple[Recipient, ...]
    removed: tuple[Recipient, ...]
    renamed: tuple[tuple[Recipient, Recipient], ...]  # (as pinned, as now named)


@dataclass(frozen=True)
class Outcome:
    """What ``check_bundle`` found for one imported bundle."""

    state: str  # PINNED, SAME or CHANGED
    recipients: tuple[Recipient, ...]
    change: Change | None = None


def of_manifest(manifest: Manifest) -> tuple[Recipient, ...]:
    """The recipients a signed manifest lists (named from format 3 on), sorted."""
    if manifest.named:
        return tuple(sorted((Recipient(r.id, r.key.raw, r.name) for r in manifest.named),
                            key=_order))
    return tuple(Recipient(i) for i in sorted(manifest.recipients))


def _order(r: Recipient) -> tuple[str, bytes]:
    return (r.name or "", r.id)


def compare(pinned: list[Recipient], now: tuple[Recipient, ...], pinned_from: int
            ) -> Change | None:
    """The change from ``pinned`` to ``now`` (by key id), or ``None``. A name counts
    only when both sides have one (formats 1 and 2 list ids only)."""
    before = {r.id: r for r in pinned}
    after = {r.id: r for r in now}
    added = tuple(sorted((r for i, r in after.items() if i not in before), key=_order))
    removed = tuple(sorted((r for i, r in before.items() if i not in after), key=_order))
    renamed = tuple((before[i], r) for i, r in sorted(after.items())
                    if i in before and r.name is not None and before[i].name is not None
                    and r.name != before[i].name)
    if not (added or removed or renamed):
        return None
    return Change(pinned_from, added, removed, renamed)


@dataclass(frozen=True)
class Pin:
    history: bytes  # the history whose bundle made the pin
    start: int  # the bundle number it is valid from
    recipients: list[Recipient]


def pin_for(db: ReviewDB, station_id: bytes, number: int,
            lineage: Lineage | None = None) -> Pin | None:
    """The pinned set a bundle ``number`` (of ``lineage``'s history) is compared with:
    among the pins of its lineage, the one valid from the highest bundle number at or
    before it, else the earliest (``None``: no pin yet)."""
    lineage = lineage or Lineage()
    pins = [Pin(h, start, recipients)
            for h in db.pinned_histories(station_id)
            for start, recipients in db.pins(station_id, h).items()
            if lineage.owner_of_bundle(start) == h]
    if not pins:
        return None
    before = [p for p in pins if p.start <= number]
    return (max(before, key=lambda p: p.start) if before
            else min(pins, key=lambda p: p.start))


def check_bundle(db: ReviewDB, manifest: Manifest, lineage: Lineage | None = None) -> Outcome:
    """Record whom a bundle being imported is sealed to, and compare it with the pin.

    Call inside the import's transaction, after the bundle's row is added.
    """
    sid, number = manifest.station_id, manifest.number
    history = lineage.history if lineage is not None else ROOT_HISTORY
    now = of_manifest(manifest)
    db.add_bundle_recipients(sid, number, now, history)
    pin = pin_for(db, sid, number, lineage)
    if pin is None:
        db.pin_recipients(sid, number, now, history)
        outcome = Outcome(PINNED, now)
    else:
        change = compare(pin.recipients, now, pin.start)
        if change is None:
            for recipient in now:
                if recipient.key is not None:
                    db.learn_recipient(sid, pin.start, recipient, pin.history)
            outcome = Outcome(SAME, now)
        else:
            outcome = Outcome(CHANGED, now, change)
    db.set_recipients_state(sid, number, outcome.state, history)
    return outcome


def pending(db: ReviewDB) -> dict[bytes, list[int]]:
    """Per station, the bundles whose recipient change is not accepted yet."""
    out: dict[bytes, list[int]] = {}
    for sid, number, _history in db.bundles_in_state(CHANGED):
        out.setdefault(sid, []).append(number)
    return out


def _change_of(db: ReviewDB, station_id: bytes, number: int, history: bytes
               ) -> Change | None:
    pin = pin_for(db, station_id, number, lineage_of(db, station_id, history))
    now = tuple(db.bundle_recipients(station_id, number, history))
    return compare(pin.recipients, now, pin.start) if pin is not None else None


def changes(db: ReviewDB, station_id: bytes) -> list[tuple[int, Change]]:
    """Each pending change of a station, compared with the pin valid for its bundle."""
    return [(number, change) for number, _history, change in history_changes(db, station_id)]


def history_changes(db: ReviewDB, station_id: bytes) -> list[tuple[int, bytes, Change]]:
    """``changes``, with the history of each bundle."""
    out = []
    for _sid, number, history in db.bundles_in_state(CHANGED, station_id):
        change = _change_of(db, station_id, number, history)
        if change is not None:
            out.append((number, history, change))
    return out


def find_station(db: ReviewDB, prefix: str) -> bytes:
    """The one station whose id (hex) starts with ``prefix``."""
    text = prefix.strip().lower()
    found = [sid for sid, _key in db.stations() if sid.hex().startswith(text)] if text else []
    if len(found) != 1:
        raise NoSuchChange(
            f"{'no' if not found else 'more than one'} station in this review database has "
            f"an id starting with {prefix!r}; 'reporter review recipients' lists them")
    return found[0]


@dataclass(frozen=True)
class Accepted:
    station_id: bytes
    number: int
    recipients: tuple[Recipient, ...]
    settled: tuple[int, ...]  # other bundles whose change this settles
    remaining: tuple[int, ...]  # bundles still showing a change


def accept(db: ReviewDB, station_id: bytes, number: int | None = None) -> Accepted:
    """Pin the recipients of bundle ``number`` (default: the earliest bundle with a
    pending change) from that bundle on, and settle every pending change it answers."""
    with db.transaction():
        waiting = [(n, h) for _sid, n, h in db.bundles_in_state(CHANGED, station_id)]
        if not waiting:
            raise NoSuchChange(f"no recipient change of station {station_id.hex()[:8]} "
                               "is waiting to be accepted")
        if number is None:
            number = waiting[0][0]
        matching = [h for n, h in waiting if n == number]
        if not matching:
            raise NoSuchChange(
                f"bundle {number} of station {station_id.hex()[:8]} has no recipient change "
                f"waiting; the bundles that have: {', '.join(str(n) for n, _h in waiting)}")
        # The same number waiting in two histories (a station restored, see histories.py):
        # the latest restore's, as in the lineage; accept again for the other.
        history = max(matching, key=lambda h: _position(db, station_id, h))
        chosen = tuple(db.bundle_recipients(station_id, number, history))
        db.pin_recipients(station_id, number, chosen, history)
        db.set_recipients_state(station_id, number, ACCEPTED, history)
        settled, remaining = [], []
        for other, other_history in waiting:
            if (other, other_history) == (number, history):
                continue
            if _change_of(db, station_id, other, other_history) is None:
                db.set_recipients_state(station_id, other, ACCEPTED, other_history)
                settled.append(other)
            else:
                remaining.append(other)
    return Accepted(station_id, number, chosen, tuple(settled), tuple(remaining))


def _position(db: ReviewDB, station_id: bytes, history: bytes) -> int:
    record = db.history(station_id, history)
    return 0 if record is None else record.position


def fingerprint(recipient: Recipient) -> str:
    """The fingerprint read over the phone, or the key id when the bundle's format
    did not carry the key."""
    if recipient.key is not None:
        return RecipientPublicKey(recipient.key).fingerprint()
    return f"key id {recipient.id.hex()[:16]}"
