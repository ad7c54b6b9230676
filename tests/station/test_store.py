"""The SQLCipher store: encrypted at rest, append-only, hash-chained, migrated."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
import sqlcipher3.dbapi2 as sqlcipher

from reporter.errors import (
    ChainBroken,
    DatabaseUnreadable,
    DuplicateRecipient,
    InstanceError,
    SchemaTooNew,
    StoreError,
    StoreUnavailable,
    UnknownRecipient,
)
from reporter.formats.chain import chain_link, envelope_hash, genesis
from reporter.formats.crypto import RecipientPrivateKey, random_bytes
from reporter.station import store as store_module
from reporter.station.store import Store

KEY = bytes(range(32))
STATION = b"s" * 16


@pytest.fixture
def db(tmp_path: Path) -> Store:
    store = Store.open(tmp_path / "station.db", KEY, create=True)
    yield store
    store.close()


def test_the_file_is_not_readable_as_sqlite(db: Store, tmp_path: Path) -> None:
    db.append_report(b"envelope bytes", STATION)
    raw = (tmp_path / "station.db").read_bytes()
    assert not raw.startswith(b"SQLite format 3")
    with pytest.raises(sqlite3.DatabaseError, match="file is not a database"):
        sqlite3.connect(tmp_path / "station.db").execute("SELECT * FROM sqlite_master").fetchall()


def test_a_wrong_key_is_refused_without_reading_anything(db: Store, tmp_path: Path) -> None:
    db.close()
    with pytest.raises(DatabaseUnreadable, match="another station"):
        Store.open(tmp_path / "station.db", bytes(32))


def test_a_missing_database_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(InstanceError, match="reporter init"):
        Store.open(tmp_path / "nothing.db", KEY)


def test_durability_settings(db: Store) -> None:
    conn = db._db
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA secure_delete").fetchone()[0] == 1
    assert conn.execute("PRAGMA temp_store").fetchone()[0] == 2  # MEMORY


def test_reports_get_consecutive_numbers_and_a_chain(db: Store) -> None:
    envelopes = [random_bytes(100 + i) for i in range(5)]
    assert [db.append_report(e, STATION) for e in envelopes] == [1, 2, 3, 4, 5]
    previous = genesis(STATION)
    for stored, envelope in zip(db.reports(), envelopes, strict=True):
        previous = chain_link(previous, stored.seq, envelope)
        assert stored.envelope == envelope
        assert stored.chain == previous
    assert db.verify_chain(STATION) == previous
    assert db.report_count() == 5
    assert db.stored_bytes() == sum(map(len, envelopes))


def test_the_chain_depends_on_station_order_and_content(db: Store) -> None:
    assert genesis(b"a" * 16) != genesis(b"b" * 16)
    assert chain_link(genesis(STATION), 1, b"x") != chain_link(genesis(STATION), 2, b"x")
    assert chain_link(genesis(STATION), 1, b"x") != chain_link(genesis(STATION), 1, b"y")


def test_a_changed_envelope_breaks_the_chain(db: Store) -> None:
    for i in range(3):
        db.append_report(bytes([i]) * 50, STATION)
    db._db.execute("UPDATE reports SET envelope = ? WHERE seq = 2", (b"forged",))
    with pytest.raises(ChainBroken, match="report 2"):
        db.verify_chain(STATION)


def test_a_deleted_report_breaks_the_chain(db: Store) -> None:
    for i in range(3):
        db.append_report(bytes([i]) * 50, STATION)
    db._db.execute("DELETE FROM reports WHERE seq = 2")
    with pytest.raises(ChainBroken, match="report 2 is missing"):
        db.verify_chain(STATION)


def test_concurrent_appends_never_share_a_number(tmp_path: Path) -> None:
    path = tmp_path / "station.db"
    Store.open(path, KEY, create=True).close()
    seqs: list[int] = []
    lock = threading.Lock()

    def writer() -> None:
        with Store.open(path, KEY) as store:
            for _ in range(20):
                seq = store.append_report(random_bytes(64), STATION)
                with lock:
                    seqs.append(seq)

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(seqs) == list(range(1, 81))
    with Store.open(path, KEY) as store:
        store.verify_chain(STATION)


def test_a_locked_database_is_reported_and_nothing_is_written(tmp_path: Path) -> None:
    path = tmp_path / "station.db"
    Store.open(path, KEY, create=True).close()
    holder = Store.open(path, KEY)
    holder._db.execute("BEGIN IMMEDIATE")
    store = Store.open(path, KEY)
    store._db.execute("PRAGMA busy_timeout = 50")
    with pytest.raises(StoreUnavailable, match="locked"):
        store.append_report(b"x", STATION)
    holder._db.execute("ROLLBACK")
    assert store.report_count() == 0
    holder.close()
    store.close()


def test_a_read_only_database_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "station.db"
    Store.open(path, KEY, create=True).close()
    conn = sqlcipher.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    conn.execute(f"PRAGMA key = \"x'{KEY.hex()}'\"")
    store = Store(conn)
    with pytest.raises(StoreUnavailable, match="read-only"):
        store.append_report(b"x", STATION)
    store.close()


def test_recipients_are_unique_by_name_and_key(db: Store) -> None:
    key = RecipientPrivateKey.generate().public_key
    db.add_recipient("Alice", key)
    with pytest.raises(DuplicateRecipient, match="already exists"):
        db.add_recipient("Alice", RecipientPrivateKey.generate().public_key)
    with pytest.raises(DuplicateRecipient, match="already on the list as 'Alice'"):
        db.add_recipient("Bob", key)
    assert [(r.name, r.public_key) for r in db.recipients()] == [("Alice", key)]
    db.remove_recipient("Alice")
    assert db.recipients() == []
    with pytest.raises(UnknownRecipient):
        db.remove_recipient("Alice")


@pytest.mark.parametrize("name", ["", "   ", "a\x00b", "x" * 201])
def test_bad_names_are_refused(db: Store, name: str) -> None:
    with pytest.raises(StoreError):
        db.add_site(name)


def test_sites(db: Store) -> None:
    db.add_site("  Marange   (Chiadzwa) ")
    db.add_site("Tshikapa")
    assert db.sites() == ["Marange (Chiadzwa)", "Tshikapa"]
    with pytest.raises(StoreError, match="already"):
        db.add_site("Tshikapa")
    db.remove_site("Tshikapa")
    assert db.sites() == ["Marange (Chiadzwa)"]


def test_schema_is_migrated_and_versioned(db: Store) -> None:
    assert db.schema_version == store_module.SCHEMA_VERSION >= 1


def test_a_newer_schema_is_refused(db: Store, tmp_path: Path) -> None:
    db._db.execute(f"PRAGMA user_version = {store_module.SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(SchemaTooNew, match="upgrade reporter"):
        Store.open(tmp_path / "station.db", KEY)


def test_a_failed_migration_leaves_the_schema_untouched(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "station.db"
    Store.open(path, KEY, create=True).close()
    broken = (*store_module.MIGRATIONS, ("CREATE TABLE extra (x)", "THIS IS NOT SQL"))
    monkeypatch.setattr(store_module, "MIGRATIONS", broken)
    with pytest.raises(StoreError):
        Store.open(path, KEY)
    monkeypatch.undo()
    with Store.open(path, KEY) as store:
        assert store.schema_version == len(store_module.MIGRATIONS)
        tables = {r[0] for r in store._db.execute("SELECT name FROM sqlite_master")}
        assert "extra" not in tables


def test_a_first_version_database_is_migrated_with_its_reports(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "station.db"
    monkeypatch.setattr(store_module, "MIGRATIONS", store_module.MIGRATIONS[:1])
    with Store.open(path, KEY, create=True) as old:
        # As reporter 0.1 wrote it (no hash column yet).
        link = chain_link(genesis(STATION), 1, b"written by schema 1")
        old._db.execute("INSERT INTO reports (seq, envelope, size, chain) VALUES (1, ?, ?, ?)",
                        (b"written by schema 1", 19, link))
        assert old.schema_version == 1
    monkeypatch.undo()
    with Store.open(path, KEY) as store:
        assert store.schema_version == len(store_module.MIGRATIONS) >= 3
        assert [r.envelope for r in store.reports()] == [b"written by schema 1"]
        assert store.bundles() == []
        store.verify_chain(STATION)
        store.append_report(b"written by schema 3", STATION)
        assert store.holds_envelope(envelope_hash(b"written by schema 3"))
        assert not store.holds_envelope(envelope_hash(b"written by schema 1"))
        store.verify_chain(STATION)
