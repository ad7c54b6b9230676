"""Whom bundles are sealed to, pinned per station (reporter/review/recipients.py):
real stations export real bundles; the importer pins, compares and records."""

from __future__ import annotations

from pathlib import Path

import pytest

from reporter.formats.crypto import RecipientPrivateKey
from reporter.formats.manifest import recipient_id
from reporter.review import recipients as rr
from reporter.review.db import ReviewDB
from reporter.review.db_records import Recipient
from reporter.review.importer import import_bundle
from reporter.station import export as station_export
from tests.conftest import Station, add_reports
from tests.review.test_review import export


@pytest.fixture
def db(tmp_path: Path):  # type: ignore[no-untyped-def]
    review = ReviewDB.create(tmp_path / "review.db", "a long review passphrase")
    yield review
    review.close()


@pytest.fixture
def zoe(station: Station) -> RecipientPrivateKey:
    """A second reviewer on the station's list (named outside ASCII)."""
    key = RecipientPrivateKey.generate()
    with station.store() as store:
        store.add_recipient("Zoë Ndlovu", key.public_key)
    return key


def next_bundle(station: Station, tmp_path: Path, number: int) -> Path:
    add_reports(station, 1, text=f"bundle {number}")
    return export(station, tmp_path / f"{number}.rptr")


def named(outcome: rr.Outcome | None) -> list[tuple[str | None, bytes | None]]:
    assert outcome is not None
    return [(r.name, r.key) for r in outcome.recipients]


def test_the_first_bundle_pins_its_recipients_by_name_and_key(
        station: Station, zoe: RecipientPrivateKey, db: ReviewDB, tmp_path: Path) -> None:
    result = import_bundle(db, next_bundle(station, tmp_path, 1), station.reviewer)
    assert result.recipients is not None and result.recipients.state == rr.PINNED
    assert named(result.recipients) == [("Zoë Ndlovu", zoe.public_key.raw),
                                        ("reviewer", station.reviewer.public_key.raw)]
    assert {r.id for r in result.recipients.recipients} == {
        recipient_id(zoe.public_key), recipient_id(station.reviewer.public_key)}
    assert list(db.pins(station.station_id)) == [1]
    result = import_bundle(db, next_bundle(station, tmp_path, 2), station.reviewer)
    assert result.recipients is not None and result.recipients.state == rr.SAME
    assert rr.pending(db) == {}


def test_a_key_added_is_a_change_imported_but_never_pinned_silently(
        station: Station, zoe: RecipientPrivateKey, db: ReviewDB, tmp_path: Path) -> None:
    import_bundle(db, next_bundle(station, tmp_path, 1), station.reviewer)
    mallory = RecipientPrivateKey.generate()
    with station.store() as store:  # whoever holds the passphrase, under a look-alike name
        store.add_recipient("reviewer.", mallory.public_key)
    result = import_bundle(db, next_bundle(station, tmp_path, 2), station.reviewer)
    assert result.added == 1  # the reports are imported
    outcome = result.recipients
    assert outcome is not None and outcome.state == rr.CHANGED
    assert outcome.change is not None and outcome.change.pinned_from == 1
    assert [(r.name, r.key) for r in outcome.change.added] == [
        ("reviewer.", mallory.public_key.raw)]
    assert outcome.change.removed == () and outcome.change.renamed == ()
    assert list(db.pins(station.station_id)) == [1]  # nothing pinned
    # The next bundle with the same keys is a change too, until the reviewer decides.
    again = import_bundle(db, next_bundle(station, tmp_path, 3), station.reviewer)
    assert again.recipients is not None and again.recipients.state == rr.CHANGED
    assert rr.pending(db) == {station.station_id: [2, 3]}
    assert [n for n, _c in rr.changes(db, station.station_id)] == [2, 3]

    done = rr.accept(db, station.station_id)
    assert (done.number, done.settled, done.remaining) == (2, (3,), ())
    assert rr.pending(db) == {}
    assert sorted(db.pins(station.station_id)) == [1, 2]
    later = import_bundle(db, next_bundle(station, tmp_path, 4), station.reviewer)
    assert later.recipients is not None and later.recipients.state == rr.SAME


def test_a_key_removed_and_a_key_renamed_are_changes(
        station: Station, zoe: RecipientPrivateKey, db: ReviewDB, tmp_path: Path) -> None:
    import_bundle(db, next_bundle(station, tmp_path, 1), station.reviewer)
    with station.store() as store:
        store.remove_recipient("Zoë Ndlovu")
        store.remove_recipient("reviewer")
        store.add_recipient("Amina (coalition)", station.reviewer.public_key)
    result = import_bundle(db, next_bundle(station, tmp_path, 2), station.reviewer)
    change = result.recipients.change if result.recipients else None
    assert change is not None and change.added == ()
    assert [r.name for r in change.removed] == ["Zoë Ndlovu"]
    assert [(a.name, b.name) for a, b in change.renamed] == [("reviewer", "Amina (coalition)")]


def test_each_bundle_is_compared_with_the_pin_of_its_place_in_the_history(
        station: Station, db: ReviewDB, tmp_path: Path) -> None:
    first, second = next_bundle(station, tmp_path, 1), next_bundle(station, tmp_path, 2)
    newcomer = RecipientPrivateKey.generate()
    with station.store() as store:
        store.add_recipient("newcomer", newcomer.public_key)
    third = next_bundle(station, tmp_path, 3)
    import_bundle(db, first, station.reviewer)
    assert import_bundle(db, third, station.reviewer).recipients.state == rr.CHANGED  # type: ignore[union-attr]
    rr.accept(db, station.station_id, 3)
    # Bundle 2 arrives late: it is compared with the keys pinned for bundles 1-2.
    late = import_bundle(db, second, station.reviewer)
    assert late.recipients is not None and late.recipients.state == rr.SAME


def test_accept_refuses_what_is_not_waiting(station: Station, db: ReviewDB,
                                            tmp_path: Path) -> None:
    import_bundle(db, next_bundle(station, tmp_path, 1), station.reviewer)
    with pytest.raises(rr.NoSuchChange, match="no recipient change"):
        rr.accept(db, station.station_id)
    with pytest.raises(rr.NoSuchChange, match="no station"):
        rr.find_station(db, "zz")
    assert rr.find_station(db, station.station_id.hex()[:4].upper()) == station.station_id


def test_a_station_of_format_2_pins_key_ids_then_learns_the_names(
        station: Station, zoe: RecipientPrivateKey, db: ReviewDB, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A station not yet upgraded writes version 2 bundles: key ids, no names.
    real = station_export.Manifest

    def version_2(**fields: object) -> object:
        fields["recipients"] = tuple(r.id for r in fields.pop("named"))  # type: ignore[attr-defined]
        return real(**fields, version=2)  # type: ignore[arg-type]

    monkeypatch.setattr(station_export, "Manifest", version_2)
    old = import_bundle(db, next_bundle(station, tmp_path, 1), station.reviewer)
    assert old.recipients is not None and old.recipients.state == rr.PINNED
    assert {(r.name, r.key) for r in old.recipients.recipients} == {(None, None)}
    monkeypatch.setattr(station_export, "Manifest", real)
    new = import_bundle(db, next_bundle(station, tmp_path, 2), station.reviewer)
    assert new.recipients is not None and new.recipients.state == rr.SAME
    assert {(r.name, r.key) for r in db.pins(station.station_id)[1]} == {
        ("reviewer", station.reviewer.public_key.raw), ("Zoë Ndlovu", zoe.public_key.raw)}


def test_compare_by_key_id() -> None:
    a, b, c = (Recipient(bytes([i]) * 32, bytes([i]) * 32, f"R{i}") for i in range(3))
    assert rr.compare([a, b], (b, a), 1) is None
    assert rr.compare([a, Recipient(b.id)], (a, b), 1) is None  # a name learnt, not changed
    change = rr.compare([a, b], (a, c), 4)
    assert change is not None and (change.added, change.removed) == ((c,), (b,))
    renamed = Recipient(a.id, a.key, "R0 (new)")
    change = rr.compare([a], (renamed,), 1)
    assert change is not None and change.renamed == ((a, renamed),)


def test_a_review_database_of_schema_2_pins_at_its_next_import(
        station: Station, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from reporter.review import schema
    from reporter.storage import sqlc

    path = tmp_path / "old-review.db"
    # Made at schema 5: the workflow's tables (schema 6 on) did not exist at schema 2.
    from reporter.review.workflow_schema import MIGRATION as WORKFLOW

    monkeypatch.setattr(schema, "MIGRATIONS",
                        schema.MIGRATIONS[:schema.MIGRATIONS.index(WORKFLOW)])
    # ... so without the search index of schema 7 either: import writes none.
    monkeypatch.setattr(ReviewDB, "_index_report", lambda *args: None)
    with ReviewDB.create(path, "a long review passphrase") as db:
        import_bundle(db, next_bundle(station, tmp_path, 1), station.reviewer)
        # Back to schema 2, as the previous release left it: no recipient tables
        # (nor what schema 4 added).
        c = db.connection
        # (Schemas 4 and 5's columns stay: migration 4 rebuilds the tables from the
        # named columns, and migration 5 adds the desk's columns again.)
        c.execute("DROP TABLE bundle_recipients")
        c.execute("DROP TABLE recipient_pins")
        c.execute("DROP TABLE histories")
        c.execute("ALTER TABLE bundles DROP COLUMN recipients_state")
        c.execute("PRAGMA user_version = 2")
    monkeypatch.undo()
    with ReviewDB.open(path, "a long review passphrase") as db:
        assert sqlc.schema_version(db.connection) == len(schema.MIGRATIONS)
        assert db.pins(station.station_id) == {} and rr.pending(db) == {}
        result = import_bundle(db, next_bundle(station, tmp_path, 2), station.reviewer)
        assert result.recipients is not None and result.recipients.state == rr.PINNED
        assert list(db.pins(station.station_id)) == [2]
