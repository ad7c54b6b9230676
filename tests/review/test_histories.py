"""A station restored from a backup, seen by reviewers (review/histories.py).

Real stations, real backups and restores (station/backup.py), real bundles
(format 4) and the importer: bundles of the restored station import in a
history of their own beside what the replaced station exported, in any order;
a fork point that does not match what was imported, another restore under the
same id, or numbers reused in one history are refused and change nothing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from reporter.errors import BundleConflict
from reporter.formats.chain import genesis
from reporter.formats.manifest import ROOT_HISTORY, Restore
from reporter.review import recipients as rr
from reporter.review import schema
from reporter.review.db import ReviewDB
from reporter.review.histories import Lineage
from reporter.review.importer import gaps, import_bundle
from reporter.station import backup
from reporter.station.instance import unlock
from reporter.storage import sqlc
from tests.conftest import PASSPHRASE, Station, add_reports
from tests.review.test_review import export, snapshot

ROOT = ROOT_HISTORY


@pytest.fixture
def db(tmp_path: Path):  # type: ignore[no-untyped-def]
    review = ReviewDB.create(tmp_path / "review.db", "a long review passphrase")
    yield review
    review.close()


def restore_of(station: Station, source: Path, target: Path, day: str | None = None
               ) -> tuple[Station, Restore]:
    result = backup.restore_backup(source, target, lambda: PASSPHRASE, day=day)
    key = unlock(target, PASSPHRASE)
    return Station(target, key, station.station_id, station.reviewer), result.restore


def descriptions(db: ReviewDB, history: bytes) -> dict[int, str]:
    return {int(s): str(d) for s, d in db.connection.execute(
        "SELECT seq, description FROM reports WHERE history = ?", (history,))}


def test_a_lineage_gives_each_number_to_the_history_that_made_it() -> None:
    first = Restore(bytes([1]) * 16, 2, bytes(32), 10, bytes(32), "2026-01-01", "2026-01-02")
    second = Restore(bytes([2]) * 16, 5, bytes(32), 30, bytes(32), "2026-02-01", "2026-02-02")
    lineage = Lineage((first, second))
    assert lineage.history == second.id and lineage.parent().history == first.id
    assert [lineage.owner_of_seq(s) for s in (1, 10, 11, 30, 31)] == [
        ROOT, ROOT, first.id, first.id, second.id]
    assert [lineage.owner_of_bundle(n) for n in (2, 3, 5, 6)] == [
        ROOT, first.id, first.id, second.id]
    assert lineage.segments(5, 40) == [(ROOT, 5, 10), (first.id, 11, 30), (second.id, 31, 40)]
    assert lineage.segments(12, 20) == [(first.id, 12, 20)]
    assert lineage.segments(10, 10) == [(ROOT, 10, 10)]
    assert Lineage().segments(1, 3) == [(ROOT, 1, 3)]


def test_the_restored_history_imports_beside_the_replaced_one_in_either_order(
        station: Station, tmp_path: Path) -> None:
    add_reports(station, 2, "before")
    b1 = export(station, tmp_path / "1.rptr")
    add_reports(station, 1, "held, not exported")
    backup.take_backup(station.path, station.key, tmp_path / "b.rbk")
    add_reports(station, 2, "lost station")
    lost2 = export(station, tmp_path / "2.rptr")
    restored, restore = restore_of(station, tmp_path / "b.rbk", tmp_path / "r")
    assert (restore.bundle, restore.seq) == (1, 3)
    add_reports(restored, 1, "restored")
    new2 = export(restored, tmp_path / "2-new.rptr")

    for order in ((b1, lost2, new2), (b1, new2, lost2), (new2, lost2, b1)):
        path = tmp_path / f"review-{len(list(tmp_path.glob('review-*')))}.db"
        with ReviewDB.create(path, "a long review passphrase") as db:
            results = {p: import_bundle(db, p, station.reviewer) for p in order}
            assert descriptions(db, ROOT) == {1: "before 0", 2: "before 1",
                                              3: "held, not exported 0",
                                              4: "lost station 0", 5: "lost station 1"}
            assert descriptions(db, restore.id) == {4: "restored 0"}
            assert results[new2].history == restore.id
            # The report the backup held but had not exported travels in both bundle 2s:
            # stored once, in the first history.
            assert results[lost2].added + results[new2].added == 4
            first_seen = next(r for r in results.values() if r.restores)
            [new] = first_seen.restores
            assert new.restore == restore and new.parent == ROOT
            if order.index(lost2) < order.index(new2):
                assert (new.held_reports, new.held_bundles) == (5, 2)
                assert results[lost2].replaced == []
            else:
                assert (new.held_reports, new.held_bundles) == (None, None)
                [replaced] = results[lost2].replaced
                assert replaced.restore == restore and not replaced.after_restore
            [g] = gaps(db)
            assert [h.history for h in g.histories] == [ROOT, restore.id]
            assert all(h.missing_bundles == [] and h.missing_reports == [] for h in g.histories)
            assert g.histories[0].replaced_by == [(restore, 5)]


def test_two_histories_with_the_same_numbers_and_ranges_import_interleaved(
        station: Station, db: ReviewDB, tmp_path: Path) -> None:
    """Bundle N of each history carries reports of the same numbers: neither history's
    bundles are taken for the other's neighbours."""
    add_reports(station, 1, "one")
    one = export(station, tmp_path / "1.rptr")
    backup.take_backup(station.path, station.key, tmp_path / "b.rbk")
    restored, restore = restore_of(station, tmp_path / "b.rbk", tmp_path / "r")
    paths = []
    for number in (2, 3, 4):
        for who, name in ((station, "old"), (restored, "new")):
            add_reports(who, 1, f"{name} {number}")
            paths.append(export(who, tmp_path / f"{number}-{name}.rptr"))
    for path in [paths[5], paths[0], one, paths[3], paths[2], paths[1], paths[4]]:
        import_bundle(db, path, station.reviewer)
    assert descriptions(db, ROOT) == {1: "one 0", 2: "old 2 0", 3: "old 3 0", 4: "old 4 0"}
    assert descriptions(db, restore.id) == {2: "new 2 0", 3: "new 3 0", 4: "new 4 0"}
    [g] = gaps(db)
    assert [(h.bundles, h.missing_bundles) for h in g.histories] == [(4, []), (3, [])]


def test_a_fork_point_that_is_not_what_was_imported_is_refused_both_ways(
        station: Station, db: ReviewDB, tmp_path: Path) -> None:
    add_reports(station, 1, "first")
    copy = tmp_path / "copied-by-hand"
    shutil.copytree(station.path, copy)
    add_reports(station, 1, "second")
    backup.take_backup(station.path, station.key, tmp_path / "b.rbk")
    restored, _restore = restore_of(station, tmp_path / "b.rbk", tmp_path / "r")
    add_reports(restored, 1, "restored")
    genuine = export(restored, tmp_path / "genuine.rptr")  # bundle 1: reports 1-3
    # Another history of reports 1-2 (a copy that diverged before the backup).
    other = Station(copy, station.key, station.station_id, station.reviewer)
    add_reports(other, 1, "another second")
    diverged = export(other, tmp_path / "diverged.rptr")  # bundle 1: reports 1-2

    import_bundle(db, genuine, station.reviewer)
    before = snapshot(db)
    with pytest.raises(BundleConflict, match="ends there with another hash chain"):
        import_bundle(db, diverged, station.reviewer)
    assert snapshot(db) == before

    with ReviewDB.create(tmp_path / "other.db", "a long review passphrase") as fresh:
        import_bundle(fresh, diverged, station.reviewer)
        before = snapshot(fresh)
        with pytest.raises(BundleConflict, match="ends there with another hash chain"):
            import_bundle(fresh, genuine, station.reviewer)
        assert snapshot(fresh) == before


def test_another_restore_under_the_same_id_is_refused(station: Station, db: ReviewDB,
                                                      tmp_path: Path) -> None:
    add_reports(station, 1)
    backup.take_backup(station.path, station.key, tmp_path / "b.rbk")
    restored, _restore = restore_of(station, tmp_path / "b.rbk", tmp_path / "r")
    twin = tmp_path / "twin"
    shutil.copytree(restored.path, twin)
    add_reports(restored, 1, "restored")
    import_bundle(db, export(restored, tmp_path / "1.rptr"), station.reviewer)
    other = Station(twin, station.key, station.station_id, station.reviewer)
    with other.store() as store:
        store._db.execute("UPDATE restores SET backup = '2020-01-01'")
    add_reports(other, 1, "twin")
    with pytest.raises(BundleConflict, match="another restore with the same id"):
        import_bundle(db, export(other, tmp_path / "twin.rptr"), station.reviewer)


def test_numbers_reused_within_a_history_are_still_refused(station: Station, db: ReviewDB,
                                                           tmp_path: Path) -> None:
    add_reports(station, 1)
    backup.take_backup(station.path, station.key, tmp_path / "b.rbk")
    restored, _restore = restore_of(station, tmp_path / "b.rbk", tmp_path / "r")
    copy = tmp_path / "copy-of-restored"
    shutil.copytree(restored.path, copy)
    add_reports(restored, 1, "restored")
    import_bundle(db, export(restored, tmp_path / "1.rptr"), station.reviewer)
    again = Station(copy, station.key, station.station_id, station.reviewer)
    add_reports(again, 1, "a copy of the restored station")
    with pytest.raises(BundleConflict, match="already imported with different contents"):
        import_bundle(db, export(again, tmp_path / "1-again.rptr"), station.reviewer)


def test_a_bundle_of_the_replaced_history_made_after_the_restore_is_a_warning(
        station: Station, db: ReviewDB, tmp_path: Path) -> None:
    add_reports(station, 1)
    backup.take_backup(station.path, station.key, tmp_path / "b.rbk")
    restored, restore = restore_of(station, tmp_path / "b.rbk", tmp_path / "r",
                                   day="2020-01-01")
    add_reports(restored, 1)
    import_bundle(db, export(restored, tmp_path / "new.rptr"), station.reviewer)
    add_reports(station, 1)  # the replaced station is still running, today
    result = import_bundle(db, export(station, tmp_path / "old.rptr"), station.reviewer)
    [replaced] = result.replaced
    assert replaced.after_restore and replaced.restore == restore
    # And the other way round: the restore recorded after that bundle.
    with ReviewDB.create(tmp_path / "other.db", "a long review passphrase") as fresh:
        import_bundle(fresh, tmp_path / "old.rptr", station.reviewer)
        [new] = import_bundle(fresh, tmp_path / "new.rptr", station.reviewer).restores
        assert new.made_after == (1,)


def test_the_restored_history_is_compared_with_the_recipients_pinned_before_the_fork(
        station: Station, db: ReviewDB, tmp_path: Path) -> None:
    from reporter.formats.crypto import RecipientPrivateKey

    add_reports(station, 1)
    import_bundle(db, export(station, tmp_path / "1.rptr"), station.reviewer)
    backup.take_backup(station.path, station.key, tmp_path / "b.rbk")
    restored, restore = restore_of(station, tmp_path / "b.rbk", tmp_path / "r")
    # The replaced station added a key after the backup; the reviewer accepted it.
    with station.store() as store:
        store.add_recipient("later", RecipientPrivateKey.generate().public_key)
    add_reports(station, 1)
    lost = import_bundle(db, export(station, tmp_path / "2.rptr"), station.reviewer)
    assert lost.recipients is not None and lost.recipients.state == rr.CHANGED
    rr.accept(db, station.station_id, 2)
    # The restored station seals to the set pinned at its fork, not the later one.
    add_reports(restored, 1)
    new = import_bundle(db, export(restored, tmp_path / "2-new.rptr"), station.reviewer)
    assert new.recipients is not None and new.recipients.state == rr.SAME
    assert rr.pending(db) == {}
    # A key added after the restore is a change of the restored history.
    with restored.store() as store:
        store.add_recipient("added after", RecipientPrivateKey.generate().public_key)
    add_reports(restored, 1)
    newer = import_bundle(db, export(restored, tmp_path / "3-new.rptr"), station.reviewer)
    assert newer.recipients is not None and newer.recipients.state == rr.CHANGED
    assert newer.recipients.change is not None and newer.recipients.change.pinned_from == 1
    assert rr.pending(db) == {station.station_id: [3]}
    done = rr.accept(db, station.station_id, 3)
    assert done.number == 3 and rr.pending(db) == {}
    assert sorted(db.pins(station.station_id, restore.id)) == [3]


def test_a_restore_of_a_restored_station_keeps_three_histories_apart(
        station: Station, db: ReviewDB, tmp_path: Path) -> None:
    add_reports(station, 1, "one")
    import_bundle(db, export(station, tmp_path / "1.rptr"), station.reviewer)
    backup.take_backup(station.path, station.key, tmp_path / "a.rbk")
    first, r1 = restore_of(station, tmp_path / "a.rbk", tmp_path / "r1")
    add_reports(first, 2, "two")
    import_bundle(db, export(first, tmp_path / "2.rptr"), station.reviewer)
    backup.take_backup(first.path, first.key, tmp_path / "b.rbk")
    add_reports(first, 1, "lost")
    import_bundle(db, export(first, tmp_path / "3.rptr"), station.reviewer)
    second, r2 = restore_of(station, tmp_path / "b.rbk", tmp_path / "r2")
    add_reports(second, 1, "three")
    result = import_bundle(db, export(second, tmp_path / "3-new.rptr"), station.reviewer)
    assert [n.restore for n in result.restores] == [r2]
    assert db.lineage(station.station_id, r2.id) == (r1, r2)
    assert descriptions(db, ROOT) == {1: "one 0"}
    assert descriptions(db, r1.id) == {2: "two 0", 3: "two 1", 4: "lost 0"}
    assert descriptions(db, r2.id) == {4: "three 0"}
    [g] = gaps(db)
    assert [(h.history, h.bundles) for h in g.histories] == [(ROOT, 1), (r1.id, 2), (r2.id, 1)]
    assert [h.missing_reports for h in g.histories] == [[], [], []]


def test_a_review_database_of_schema_3_keeps_everything_in_the_first_history(
        station: Station, tmp_path: Path) -> None:
    from tests.conftest import add_report_with_attachments

    path = tmp_path / "old.db"
    with ReviewDB.create(path, "a long review passphrase") as review:
        key = review._key
    path.unlink()
    old = sqlc.connect(path, key, create=True, owner="review database")
    sqlc.migrate(old, schema.MIGRATIONS[:3])
    old.close()
    # Schema 3 tables, filled by hand as the previous release left them.
    add_reports(station, 2)
    add_report_with_attachments(station, [("a.pdf", b"%PDF-1.4 test")])
    bundle = export(station, tmp_path / "1.rptr")
    old = sqlc.connect(path, key, create=False, owner="review database")
    with sqlc.Transaction(old):
        old.execute("INSERT INTO stations VALUES (?, ?)", (station.station_id, bytes(32)))
        old.execute("INSERT INTO bundles (station_id, number, hash, previous, first_seq, "
                    "last_seq, chain_before, chain_head, reports, created, recipients_state) "
                    "VALUES (?, 1, ?, NULL, 1, 3, ?, ?, 3, '2026-01-01', 'pinned')",
                    (station.station_id, bytes(32), genesis(station.station_id), bytes(32)))
        old.execute("INSERT INTO bundle_recipients VALUES (?, 1, ?, NULL, NULL)",
                    (station.station_id, bytes(32)))
        old.execute("INSERT INTO recipient_pins VALUES (?, 1, ?, NULL, 'r')",
                    (station.station_id, bytes(32)))
        for seq in (1, 3):
            old.execute("INSERT INTO reports (id, station_id, seq, envelope_hash, kind, "
                        "receipt, locale, submitted, types, description, body) VALUES "
                        "(?, ?, ?, ?, 'incident', 'R', 'en', '2026-01-01', '[]', 'd', '{}')",
                        (seq * 10, station.station_id, seq, bytes([seq]) * 32))
        old.execute("INSERT INTO attachments VALUES (30, 0, 7)")
        old.execute("INSERT INTO unreadable VALUES (?, 2, ?)", (station.station_id, bytes(32)))
    old.close()
    with ReviewDB.open(path, "a long review passphrase") as review:
        c = review.connection
        assert sqlc.schema_version(c) == len(schema.MIGRATIONS)
        assert c.execute("SELECT id, seq, history FROM reports ORDER BY id").fetchall() == [
            (10, 1, ROOT), (30, 3, ROOT)]
        assert review.attachment_uploads(30) == {0: 7}
        assert review.unreadable_seqs(station.station_id) == [2]
        assert [b.number for b in review.bundles(station.station_id)] == [1]
        assert list(review.pins(station.station_id)) == [1]
        assert review.bundle_recipients(station.station_id, 1)[0].name is None
        assert c.execute("PRAGMA foreign_key_check").fetchall() == []
        assert c.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert review.histories(station.station_id) == []
    del bundle
