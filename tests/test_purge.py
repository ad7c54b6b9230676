"""Purge: once reviewers hold the reports, the station erases them for good."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from reporter.errors import StoreError
from reporter.export import export_bundle
from reporter.instance import db_path, load_identity

from .conftest import Station, add_reports

PAGE = 4096
RESERVE = 80  # SQLCipher 4: 16-byte IV + 64-byte HMAC-SHA512 at the end of each page


def decrypted_pages(path: Path, key: bytes) -> Iterator[bytes]:
    """Every page of a SQLCipher 4 file, decrypted: free pages included, so this
    sees what a forensic examiner with the key would see."""
    data = path.read_bytes()
    for offset in range(0, len(data), PAGE):
        page = data[offset : offset + PAGE]
        iv = page[-RESERVE : -RESERVE + 16]
        body = page[16 if offset == 0 else 0 : -RESERVE]
        decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
        yield decryptor.update(body) + decryptor.finalize()


def test_the_page_scanner_sees_stored_envelopes(station: Station) -> None:
    """Control: without a purge, the scanner does find the ciphertext."""
    add_reports(station, 2)
    with station.store() as store:
        envelopes = [r.envelope for r in store.reports()]
        store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    pages = b"".join(decrypted_pages(db_path(station.path), station.key))
    assert pages.startswith(b"\x10\x00")  # SQLite header bytes 16-17 (page size): right key
    assert all(e is not None and e[100:164] in pages for e in envelopes)


def test_purge_erases_the_ciphertext_from_every_page(station: Station, tmp_path: Path) -> None:
    add_reports(station, 3)
    with station.store() as store:
        identity = load_identity(store)
        export_bundle(store, identity, tmp_path / "1.rptr")
    add_reports(station, 2)
    with station.store() as store:
        purged = [r.envelope for r in store.reports() if r.seq <= 3]
        kept = [r.envelope for r in store.reports() if r.seq > 3]
        result = store.purge_through(1)
        assert (result.erased, result.through_seq, result.wal_truncated) == (3, 3, True)
        assert store.report_count() == 2 and store.purged_count() == 3
        store.verify_chain(station.station_id)  # the chain still verifies across the gap
        assert [b.purged for b in store.bundles()] == [True]
    wal = Path(str(db_path(station.path)) + "-wal")
    assert not wal.exists() or os.path.getsize(wal) == 0
    pages = b"".join(decrypted_pages(db_path(station.path), station.key))
    for envelope in purged:
        assert envelope is not None
        # Any 64-byte window of a purged envelope would do; take a few.
        for start in (0, 500, len(envelope) - 64):
            assert envelope[start : start + 64] not in pages
    assert all(e is not None and e[100:164] in pages for e in kept)


def test_export_all_after_a_purge_starts_at_the_first_report_held(station: Station,
                                                                    tmp_path: Path) -> None:
    add_reports(station, 2)
    with station.store() as store:
        identity = load_identity(store)
        export_bundle(store, identity, tmp_path / "1.rptr")
        store.purge_through(1)
    add_reports(station, 1)
    with station.store() as store:
        result = export_bundle(store, identity, tmp_path / "all.rptr", all_held=True)
    assert (result.first_seq, result.last_seq) == (3, 3)


def test_only_exported_bundles_can_be_purged(station: Station) -> None:
    add_reports(station, 1)
    with station.store() as store, pytest.raises(StoreError, match="never exported"):
        store.purge_through(1)
    with station.store() as store:
        assert store.report_count() == 1
