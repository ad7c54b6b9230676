"""The disk guard: how much room is left on the instance's file system, and what it allows.

A station that fills its disk stops everything at once: SQLite cannot write
its journal, a purge cannot ``VACUUM``, and on a Raspberry Pi whose instance
sits on the root file system the system itself stops working. A flood of
junk uploads (each up to the attachment limit) would get there in minutes.
So the station keeps ``min_free`` bytes free (``--min-free-mib``, default
512 MiB: room for SQLite's journals and a purge's rebuild of ``station.db``,
for the system's own logs and updates, and more than one report's worth of
attachments, so a single upload admitted just above it cannot fill the disk):

* **Room** (free space at least ``min_free`` once the body is in): every
  submission is taken.
* **Text only** (below ``min_free``, or an upload whose ``Content-Length``
  would take it there): files are refused, what was typed is kept, and a
  report or follow-up *without* files is still taken. A text report is a
  4 or 8 KiB envelope: the room left is for them, so a flood of uploads
  cannot stop monitors from reporting (and the submission rate limit bounds
  how fast text can eat the rest: at 60 a minute, about 28 hours from 512
  to 128 MiB).
* **Full** (below a quarter of ``min_free``, the *reserve*): nothing is
  taken; the form comes back with what was typed.

An upload is checked again every megabyte while it streams
(``submission.ROOM_CHECK_BYTES``): one
that takes the disk below ``min_free`` (several at once, or another program
writing) is stopped there, its pages deleted, and the form comes back.

Free space is ``statvfs``'s ``f_bavail * f_frsize``: what an unprivileged
process may still write (root's reserved blocks do not count). ``0`` turns
the guard off. A file system that cannot be asked (``statvfs`` fails) does
not stop the station: it is logged once and the guard stands aside.

**Test hook** (fault injection only, never for a station in the field):
``REPORTER_TEST_DISK_SIZE_FILE`` names a file holding a number of bytes; the
station then behaves as if its instance were alone on a file system of that
size (free = that size minus every file under the instance folder, read at
each check). A test can thus let an upload fill the disk for real, and
change the size while the station runs.
"""

from __future__ import annotations

import enum
import logging
import os
from pathlib import Path

log = logging.getLogger("reporter")

MIB = 1024 * 1024
DEFAULT_MIN_FREE = 512 * MIB
# Below min_free / RESERVE_FRACTION, nothing more is taken, not even text.
RESERVE_FRACTION = 4


class Room(enum.Enum):
    PLENTY = "plenty"  # everything is taken
    TEXT_ONLY = "text-only"  # files are refused; text is still taken
    FULL = "full"  # nothing is taken


class DiskSpace:
    def __init__(self, path: Path, min_free: int = DEFAULT_MIN_FREE,
                 simulated_size_file: Path | None = None) -> None:
        self.path = path
        self.min_free = min_free
        self.simulated_size_file = simulated_size_file
        self._warned = False

    @property
    def reserve(self) -> int:
        """Below this, nothing is taken: a quarter of ``min_free``."""
        return self.min_free // RESERVE_FRACTION

    @property
    def off(self) -> bool:
        return self.min_free == 0

    def free_bytes(self) -> int | None:
        """Bytes an unprivileged process may still write there; None if it cannot be known."""
        try:
            if self.simulated_size_file is not None:
                return self._simulated()
            stat = os.statvfs(self.path)
        except (OSError, ValueError) as exc:
            if not self._warned:
                self._warned = True
                log.warning("the free space on the instance's file system cannot be read "
                            "(%s): the disk guard is not checking it", type(exc).__name__)
            return None
        return stat.f_bavail * stat.f_frsize

    def _simulated(self) -> int:
        assert self.simulated_size_file is not None  # noqa: S101
        size = int(self.simulated_size_file.read_text(encoding="ascii").strip())
        used = 0
        for folder, _dirs, files in os.walk(self.path):
            for name in files:
                try:
                    used += os.lstat(os.path.join(folder, name)).st_size
                except FileNotFoundError:
                    continue  # a journal that was just deleted
        return max(0, size - used)

    def room(self, incoming: int = 0) -> Room:
        """What may be taken now, for a body of ``incoming`` bytes."""
        if self.off:
            return Room.PLENTY
        free = self.free_bytes()
        if free is None:
            return Room.PLENTY
        if free < self.reserve:
            return Room.FULL
        if free - max(0, incoming) < self.min_free:
            return Room.TEXT_ONLY
        return Room.PLENTY

    def files_fit(self) -> bool:
        """While an upload streams in: is there still ``min_free`` left?"""
        return self.room() is Room.PLENTY


def mib(size: int) -> str:
    """A size in MiB, with thousands separated: ``12,345 MiB``."""
    return f"{size // MIB:,} MiB"
