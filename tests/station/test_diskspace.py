"""The disk guard's figures and levels (station/diskspace.py).

The real file system is asked through ``statvfs``; the test hook (a simulated
disk that the instance's own files fill) is checked here against what it
promises, since the end-to-end tests (tests/e2e/test_e2e_guard.py) rely on it
to let an upload really cross the threshold.
"""

from __future__ import annotations

import os
from pathlib import Path

from reporter.station.diskspace import MIB, DiskSpace, Room, mib


def test_free_space_is_what_statvfs_says_an_unprivileged_process_may_write(
        tmp_path: Path) -> None:
    guard = DiskSpace(tmp_path, 512 * MIB)
    stat = os.statvfs(tmp_path)
    free = guard.free_bytes()
    assert free is not None
    # The disk is shared with other tests: allow for what they write meanwhile.
    assert abs(free - stat.f_bavail * stat.f_frsize) < 256 * MIB


def _simulated(tmp_path: Path, size: int, min_free: int) -> DiskSpace:
    instance = tmp_path / "instance"
    instance.mkdir(exist_ok=True)
    size_file = tmp_path / "disk-size"
    size_file.write_text(str(size))
    return DiskSpace(instance, min_free, size_file)


def test_the_simulated_disk_is_filled_by_the_instance_s_own_files(tmp_path: Path) -> None:
    guard = _simulated(tmp_path, 100 * MIB, 40 * MIB)
    assert guard.free_bytes() == 100 * MIB
    (guard.path / "attachments.db").write_bytes(bytes(30 * MIB))
    (guard.path / "tor").mkdir()
    (guard.path / "tor" / "state").write_bytes(bytes(MIB))
    assert guard.free_bytes() == 69 * MIB
    assert guard.room() is Room.PLENTY
    assert guard.room(incoming=30 * MIB) is Room.TEXT_ONLY  # this upload would cross
    (guard.path / "attachments.db").write_bytes(bytes(70 * MIB))  # 29 MiB left
    assert guard.room() is Room.TEXT_ONLY and not guard.files_fit()


def test_the_three_levels(tmp_path: Path) -> None:
    guard = _simulated(tmp_path, 100 * MIB, 40 * MIB)
    assert guard.reserve == 10 * MIB
    data = guard.path / "station.db"
    for used, room in ((59 * MIB, Room.PLENTY), (60 * MIB, Room.PLENTY),
                       (60 * MIB + 1, Room.TEXT_ONLY), (90 * MIB, Room.TEXT_ONLY),
                       (90 * MIB + 1, Room.FULL), (100 * MIB, Room.FULL)):
        data.write_bytes(bytes(used))
        assert guard.room() is room, used


def test_zero_turns_the_guard_off(tmp_path: Path) -> None:
    guard = _simulated(tmp_path, 1, 0)
    (guard.path / "station.db").write_bytes(bytes(MIB))
    assert guard.off and guard.room(incoming=10**12) is Room.PLENTY and guard.files_fit()


def test_a_file_system_that_cannot_be_asked_does_not_stop_the_station(tmp_path: Path) -> None:
    guard = DiskSpace(tmp_path / "gone", 512 * MIB)
    assert guard.free_bytes() is None and guard.room() is Room.PLENTY


def test_sizes_are_written_in_mib() -> None:
    assert mib(12345 * MIB + 7) == "12,345 MiB"
