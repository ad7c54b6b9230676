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
compared with the set that was pinned for their place in the history.
"""

from __future__ import annotations

from dataclasses import dataclass

from reporter.errors import ReporterError
from reporter.formats.crypto import RecipientPublicKey
from reporter.formats.manifest import Manifest
from reporter.review.db import Recipient, ReviewDB

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


def pin_for(db: ReviewDB, station_id: bytes, number: int
            ) -> tuple[int, list[Recipient]] | None:
    """The pinned set a bundle ``number`` is compared with: the one valid from the
    highest bundle number at or before it, else the earliest (``None``: no pin yet)."""
    pins = db.pins(station_id)
    if not pins:
        return None
    before = [n for n in pins if n <= number]
    start = max(before) if before else min(pins)
    return start, pins[start]


def check_bundle(db: ReviewDB, manifest: Manifest) -> Outcome:
    """Record whom a bundle being imported is sealed to, and compare it with the pin.

    Call inside the import's transaction, after the bundle's row is added.
    """
    sid, number = manifest.station_id, manifest.number
    now = of_manifest(manifest)
    db.add_bundle_recipients(sid, number, now)
    pin = pin_for(db, sid, number)
    if pin is None:
        db.pin_recipients(sid, number, now)
        outcome = Outcome(PINNED, now)
    else:
        start, pinned = pin
        change = compare(pinned, now, start)
        if change is None:
            for recipient in now:
                if recipient.key is not None:
                    db.learn_recipient(sid, start, recipient)
            outcome = Outcome(SAME, now)
        else:
            outcome = Outcome(CHANGED, now, change)
    db.set_recipients_state(sid, number, outcome.state)
    return outcome


def pending(db: ReviewDB) -> dict[bytes, list[int]]:
    """Per station, the bundles whose recipient change is not accepted yet."""
    out: dict[bytes, list[int]] = {}
    for sid, number in db.bundles_in_state(CHANGED):
        out.setdefault(sid, []).append(number)
    return out


def changes(db: ReviewDB, station_id: bytes) -> list[tuple[int, Change]]:
    """Each pending change of a station, compared with the pin valid for its bundle."""
    out = []
    for _sid, number in db.bundles_in_state(CHANGED, station_id):
        pin = pin_for(db, station_id, number)
        now = tuple(db.bundle_recipients(station_id, number))
        change = compare(pin[1], now, pin[0]) if pin is not None else None
        if change is not None:
            out.append((number, change))
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
        waiting = [n for _sid, n in db.bundles_in_state(CHANGED, station_id)]
        if not waiting:
            raise NoSuchChange(f"no recipient change of station {station_id.hex()[:8]} "
                               "is waiting to be accepted")
        if number is None:
            number = waiting[0]
        elif number not in waiting:
            raise NoSuchChange(
                f"bundle {number} of station {station_id.hex()[:8]} has no recipient change "
                f"waiting; the bundles that have: {', '.join(map(str, waiting))}")
        chosen = tuple(db.bundle_recipients(station_id, number))
        db.pin_recipients(station_id, number, chosen)
        db.set_recipients_state(station_id, number, ACCEPTED)
        settled, remaining = [], []
        for other in waiting:
            if other == number:
                continue
            pin = pin_for(db, station_id, other)
            now = tuple(db.bundle_recipients(station_id, other))
            if pin is not None and compare(pin[1], now, pin[0]) is None:
                db.set_recipients_state(station_id, other, ACCEPTED)
                settled.append(other)
            else:
                remaining.append(other)
    return Accepted(station_id, number, chosen, tuple(settled), tuple(remaining))


def fingerprint(recipient: Recipient) -> str:
    """The fingerprint read over the phone, or the key id when the bundle's format
    did not carry the key."""
    if recipient.key is not None:
        return RecipientPublicKey(recipient.key).fingerprint()
    return f"key id {recipient.id.hex()[:16]}"
