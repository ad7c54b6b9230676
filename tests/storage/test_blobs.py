"""reporter.storage.blobs: attachment ciphertext in attachments.db (SQLCipher)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from reporter.storage.blob_file import SEGMENT, blobs_path
from reporter.storage.blobs import BlobStore

KEY = bytes(range(32))


@pytest.fixture
def blobs(tmp_path: Path):  # type: ignore[no-untyped-def]
    with BlobStore.open(tmp_path, KEY) as store:
        yield store


def write(blobs: BlobStore, data: bytes, piece: int = 100_000) -> int:
    sink = blobs.begin()
    for start in range(0, len(data), piece):
        sink.write(data[start : start + piece])
    return sink.close().id


def test_what_is_written_reads_back_in_segments(blobs: BlobStore) -> None:
    data = os.urandom(3 * SEGMENT + 12345)
    upload = write(blobs, data)
    segments = list(blobs.read(upload))
    assert b"".join(segments) == data
    assert [len(s) for s in segments] == [SEGMENT, SEGMENT, SEGMENT, 12345]


def test_the_file_is_sqlcipher_not_plain(blobs: BlobStore, tmp_path: Path) -> None:
    marker = b"VISIBLE-ONLY-INSIDE-" * 1000
    write(blobs, marker)
    raw = blobs_path(tmp_path).read_bytes()
    assert not raw.startswith(b"SQLite format 3")
    assert b"VISIBLE-ONLY-INSIDE-" not in raw


def test_attached_uploads_are_found_by_their_envelope_in_order(blobs: BlobStore) -> None:
    first, second = write(blobs, b"a" * 10), write(blobs, b"b" * 20)
    blobs.attach([second, first], b"E" * 32)
    assert [(u.id, u.length) for u in blobs.uploads_for(b"E" * 32)] == [(second, 20),
                                                                          (first, 10)]
    assert blobs.total_bytes() == 30


def test_only_complete_uploads_can_be_attached(blobs: BlobStore) -> None:
    sink = blobs.begin()
    sink.write(b"x" * 10)
    with pytest.raises(Exception, match="not complete"):
        blobs.attach([sink.upload], b"E" * 32)
    sink.discard()


def test_deleting_zeroes_and_returns_the_space(blobs: BlobStore, tmp_path: Path) -> None:
    upload = write(blobs, os.urandom(4 * SEGMENT))
    big = blobs_path(tmp_path).stat().st_size
    blobs.delete([upload])
    assert blobs.upload_count() == 0
    assert blobs_path(tmp_path).stat().st_size < big // 4


def test_a_discarded_upload_leaves_nothing(blobs: BlobStore) -> None:
    sink = blobs.begin()
    sink.write(os.urandom(2 * SEGMENT + 5))
    sink.discard()
    assert blobs.upload_count() == 0


def test_sweep_keeps_only_uploads_of_held_envelopes(blobs: BlobStore) -> None:
    kept, orphan, unlinked = write(blobs, b"k"), write(blobs, b"o"), write(blobs, b"u")
    blobs.attach([kept], b"K" * 32)
    blobs.attach([orphan], b"O" * 32)
    receiving = blobs.begin()
    receiving.write(b"r")
    # never closed: a crash mid-upload, the row stays 'receiving'
    assert blobs.sweep(lambda h: h == b"K" * 32) == 3
    assert [u.id for u in blobs.uploads_for(b"K" * 32)] == [kept]
    assert blobs.upload_count() == 1
    del unlinked


def test_concurrent_uploads_each_read_back_whole(tmp_path: Path) -> None:
    datas = [os.urandom(2 * SEGMENT + i) for i in range(4)]
    ids: dict[int, int] = {}

    def upload(i: int) -> None:
        with BlobStore.open(tmp_path, KEY) as own:
            ids[i] = write(own, datas[i], piece=50_000)

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with BlobStore.open(tmp_path, KEY) as blobs:
        for i, data in enumerate(datas):
            assert b"".join(blobs.read(ids[i])) == data


def test_a_failed_write_is_raised_to_the_writer(blobs: BlobStore) -> None:
    sink = blobs.begin()
    blobs._db.execute("DROP TABLE segments")  # fault injection: the table is gone
    sink.write(os.urandom(SEGMENT + 1))
    with pytest.raises(Exception, match=r"could not be written|no such table"):
        sink.close()


def test_overlapping_uploads_on_one_store_never_share_a_transaction(blobs: BlobStore) -> None:
    """A request begins the next file while the last one's segments are still being
    written, and closes the first while the second streams: each reads back whole."""
    for _ in range(20):
        first_data, second_data = os.urandom(5 * SEGMENT + 7), os.urandom(4 * SEGMENT + 3)
        first = blobs.begin()
        first.write(first_data)
        second = blobs.begin()
        second.write(second_data[: 2 * SEGMENT])
        first_id = first.close().id
        second.write(second_data[2 * SEGMENT :])
        second_id = second.close().id
        assert b"".join(blobs.read(first_id)) == first_data
        assert b"".join(blobs.read(second_id)) == second_data
        blobs.delete([first_id, second_id])
    assert blobs.upload_count() == 0


def test_a_large_delete_lets_other_writers_in_between_steps(tmp_path: Path) -> None:
    """Purging a 500 MB video must not hold the write lock for its whole erasure:
    uploads arriving meanwhile would wait past the busy timeout (a 503 for a monitor).
    Another connection's write transactions get in, again and again, while it runs."""
    import time

    from reporter.storage import sqlc
    from reporter.storage.blob_file import DELETE_STEP, blobs_key
    with BlobStore.open(tmp_path, KEY) as store:
        upload = write(store, os.urandom(4 * DELETE_STEP * SEGMENT), piece=SEGMENT)
        other = sqlc.connect(blobs_path(tmp_path), blobs_key(KEY), create=False,
                             owner="station", page_size=64 * 1024, hmac_sha256=True,
                             journal="DELETE")
        other.execute("PRAGMA busy_timeout = 20")
        got_in: list[float] = []
        done = threading.Event()

        def writer() -> None:
            while not done.is_set():
                try:
                    with sqlc.Transaction(other):
                        other.execute("SELECT count(*) FROM uploads").fetchone()
                    got_in.append(time.monotonic())
                except Exception:  # noqa: S110 (locked: try again)
                    pass
                time.sleep(0.001)

        thread = threading.Thread(target=writer)
        thread.start()
        time.sleep(0.05)
        started = time.monotonic()
        try:
            store.delete([upload])
        finally:
            ended = time.monotonic()
            done.set()
            thread.join()
            other.close()
        during = [t for t in got_in if started < t < ended]
        assert len(during) >= 3, f"another writer got the lock {len(during)} times in the delete"
        assert store.upload_count() == 0
