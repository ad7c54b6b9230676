"""Purge: once reviewers hold the reports, the station erases them for good."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from reporter.cli.main import main
from reporter.errors import StoreError
from reporter.formats.chain import envelope_hash
from reporter.station.export import export_bundle
from reporter.station.instance import db_path, load_identity
from reporter.storage import blob_file
from reporter.storage.blobs import BlobStore
from tests.conftest import PASSPHRASE, Station, add_report_with_attachments, add_reports

PAGE = 4096


def _layout(data: bytes, key: bytes, page_size: int) -> tuple[int, int]:
    """(offset of the IV in each page, bytes of content per page) of a SQLCipher 4 file.

    Every page ends with a reserved area (80 bytes, the SQLite header's byte 20)
    holding the page's IV and HMAC: the IV starts 80 bytes before the end with
    HMAC-SHA512 (``station.db``), 48 with HMAC-SHA256 (``attachments.db``). Rather
    than trust either, find the offset at which page 1's first block decrypts to
    the SQLite header's page size and file format bytes (which proves the key right,
    too); the content ends where the reserve, as that header says, begins.
    """
    page_field = (page_size if page_size < 65536 else 1).to_bytes(2, "big")
    # One block decrypted with a zero IV: XOR the real IV in afterwards.
    decryptor = Cipher(algorithms.AES(key), modes.CBC(bytes(16))).decryptor()
    first = decryptor.update(data[16:32])
    for offset in range(page_size - 128, page_size - 15):
        block = bytes(a ^ b for a, b in zip(first, data[offset : offset + 16], strict=True))
        if block[:4] in (page_field + b"\x01\x01", page_field + b"\x02\x02"):
            assert page_size - block[4] <= offset  # the IV lies in the reserve
            return offset, page_size - block[4]
    raise AssertionError("no IV found: wrong key or not a SQLCipher 4 file")


def decrypted_pages(path: Path, key: bytes, page_size: int = PAGE) -> Iterator[bytes]:
    """Every page of a SQLCipher 4 file, decrypted: free pages included, so this
    sees what a forensic examiner with the key would see."""
    data = path.read_bytes()
    iv_at, content = _layout(data, key, page_size)
    for offset in range(0, len(data), page_size):
        page = data[offset : offset + page_size]
        iv = page[iv_at : iv_at + 16]
        body = page[16 if offset == 0 else 0 : content]
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


def cli(*args: str) -> int:
    try:
        return main(list(args)) or 0
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1


def stored_pieces(station: Station) -> list[bytes]:
    """A 64-byte piece of the first stored segment of every attachment, in report order."""
    with station.store() as store, BlobStore.open(station.path, station.key) as store_blobs:
        hashes = [envelope_hash(r.envelope) for r in store.reports()
                  if r.envelope is not None]
        uploads = [u for h in hashes for u in store_blobs.uploads_for(h)]
        return [next(store_blobs.read(u.id))[5000:5064] for u in uploads]


def attachment_pages(station: Station) -> bytes:
    return b"".join(decrypted_pages(blob_file.blobs_path(station.path),
                                    blob_file.blobs_key(station.key), blob_file.PAGE_SIZE))


def test_purge_erases_the_attachments_from_every_page_of_attachments_db(
        station: Station, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPORTER_PASSPHRASE", PASSPHRASE)
    add_report_with_attachments(station, [("a.pdf", b"%PDF-1.7\n" + os.urandom(300_000)),
                                          ("b.mp4", b"\x00\x00\x00\x18ftypmp42"
                                           + os.urandom(2_500_000))])
    assert cli("--instance", str(station.path), "export", "--out", str(tmp_path / "1.rptr")) == 0
    add_report_with_attachments(station, [("c.pdf", b"%PDF-1.7\n" + os.urandom(5000))])
    purged_a, purged_b, kept = stored_pieces(station)
    # Control: before the purge, the scanner finds every piece (and so reads the file right).
    pages = attachment_pages(station)
    assert pages.startswith(b"\x00\x01")  # SQLite header bytes 16-17: 64 KiB pages
    assert purged_a in pages and purged_b in pages and kept in pages

    assert cli("--instance", str(station.path), "purge", "--through", "1", "--yes") == 0
    pages = attachment_pages(station)
    assert purged_a not in pages and purged_b not in pages
    assert kept in pages
    with BlobStore.open(station.path, station.key) as store_blobs:
        assert store_blobs.upload_count() == 1
    journal = Path(str(blob_file.blobs_path(station.path)) + "-journal")
    assert not journal.exists()
