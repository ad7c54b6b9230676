"""reporter.storage.sqlc: a damaged file is named as such at whichever read meets it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reporter.errors import DatabaseUnreadable
from reporter.storage import sqlc

KEY = bytes(range(32))
PAGE = 4096  # SQLCipher's default page size


def flip_every_page_but_the_first(path: Path, page: int = PAGE) -> None:
    """One flipped bit in each page after the schema page: ``connect`` still works
    (it reads page 1 only), every later read of a table meets a bad page."""
    data = bytearray(path.read_bytes())
    for start in range(page, len(data), page):
        data[start + page // 2] ^= 0x01
    path.write_bytes(bytes(data))


def make(path: Path, rows: int = 300) -> None:
    db = sqlc.connect(path, KEY, create=True, owner="test")
    db.execute("CREATE TABLE t (x BLOB)")
    with sqlc.Transaction(db):
        for _ in range(rows):
            db.execute("INSERT INTO t VALUES (?)", (os.urandom(400),))
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


@pytest.mark.parametrize("read", [
    lambda db: db.execute("SELECT count(*), sum(length(x)) FROM t").fetchone(),
    lambda db: db.execute("SELECT x FROM t").fetchall(),
    lambda db: list(db.execute("SELECT x FROM t")),
    lambda db: db.cursor().execute("SELECT x FROM t").fetchmany(500),
    lambda db: db.execute("DELETE FROM t"),
])
def test_a_flipped_byte_is_called_damaged_not_an_unexpected_error(tmp_path: Path, read) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "x.db"
    make(path)
    flip_every_page_but_the_first(path)
    db = sqlc.connect(path, KEY, create=False, owner="test")
    try:
        with pytest.raises(DatabaseUnreadable, match=r"damaged or was altered.*backup"):
            read(db)
    finally:
        db.close()


def test_other_errors_keep_their_kind(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    make(path, rows=1)
    db = sqlc.connect(path, KEY, create=False, owner="test")
    with pytest.raises(sqlc.Error, match="no such table"):
        db.execute("SELECT * FROM missing_table")
    db.close()
