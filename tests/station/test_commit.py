"""Group commit: concurrent appends share transactions, each durable on return."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from reporter.errors import StoreUnavailable
from reporter.formats.crypto import random_bytes
from reporter.station.commit import GroupCommit
from reporter.station.store import Store

KEY = bytes(range(32))
STATION = b"s" * 16


@pytest.fixture
def path(tmp_path: Path) -> Path:
    p = tmp_path / "station.db"
    Store.open(p, KEY, create=True).close()
    return p


def test_a_single_append_is_numbered_and_durable(path: Path) -> None:
    commits = GroupCommit(lambda: Store.open(path, KEY), STATION)
    assert commits.append(b"one") == 1
    assert commits.append(b"two") == 2
    with Store.open(path, KEY) as other:  # another connection sees both at once
        assert [r.envelope for r in other.reports()] == [b"one", b"two"]
    commits.close()


def test_concurrent_appends_are_batched_without_gaps(path: Path) -> None:
    transactions = 0
    real = Store.append_reports

    def counting(self: Store, envelopes: list[bytes], station_id: bytes) -> list[int]:
        nonlocal transactions
        transactions += 1
        return real(self, envelopes, station_id)

    commits = GroupCommit(lambda: Store.open(path, KEY), STATION)
    results: dict[bytes, int] = {}
    lock = threading.Lock()
    start = threading.Barrier(16)

    def writer() -> None:
        start.wait()
        for _ in range(25):
            envelope = random_bytes(32)
            seq = commits.append(envelope)
            with lock:
                results[envelope] = seq

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Store, "append_reports", counting)
        threads = [threading.Thread(target=writer) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(results.values()) == list(range(1, 401))
    assert transactions < 400, "no batching happened"
    with Store.open(path, KEY) as store:
        store.verify_chain(STATION)
        stored = {r.envelope: r.seq for r in store.reports()}
    assert stored == results
    commits.close()


def test_a_failed_commit_fails_the_whole_batch_and_recovers(path: Path) -> None:
    broken = {"on": True}
    real = Store.append_reports

    def flaky(self: Store, envelopes: list[bytes], station_id: bytes) -> list[int]:
        if broken["on"]:
            raise StoreUnavailable("the disk is full; free space and try again")
        return real(self, envelopes, station_id)

    commits = GroupCommit(lambda: Store.open(path, KEY), STATION)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Store, "append_reports", flaky)
        with pytest.raises(StoreUnavailable, match="disk is full"):
            commits.append(b"lost")
        broken["on"] = False
        assert commits.append(b"kept") == 1
    with Store.open(path, KEY) as store:
        assert [r.envelope for r in store.reports()] == [b"kept"]
    commits.close()


def test_an_unexpected_error_becomes_store_unavailable(path: Path) -> None:
    def explode(self: Store, envelopes: list[bytes], station_id: bytes) -> list[int]:
        raise RuntimeError("CNRYcommit")

    commits = GroupCommit(lambda: Store.open(path, KEY), STATION)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Store, "append_reports", explode)
        with pytest.raises(StoreUnavailable) as raised:
            commits.append(b"x")
    assert "CNRY" not in str(raised.value)
