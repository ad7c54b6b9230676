"""``reporter backup`` and ``reporter restore``: the station's files, still encrypted.

**Backup** (online: ``reporter serve`` goes on accepting reports). The
station database is copied with ``VACUUM INTO`` under its own key: one read
transaction of a WAL database, so writers are never held up, and the copy is
a consistent snapshot with no free page and no write-ahead log. The
attachment store uses a rollback journal, where a long read would hold up
every upload's commit, so it is not copied page by page: every attachment of
a report the snapshot holds is copied into a new store under the same key,
segment by segment, each read its own short transaction. Attachments are
durable and linked before their report is committed, and only a purge
removes them afterwards, so the pair is consistent unless a purge ran in
between, which the backup checks and refuses. Upload leftovers (cut off,
never attached) are not copied. Nothing is decrypted but by SQLCipher, in
memory: what reaches the disk is the same ciphertext the instance holds.
The files are packed by ``formats/backup.py`` (``docs/backup-format.md``).

**Restore** checks the whole file before asking for the passphrase, unpacks
it beside the target folder, opens it with the passphrase, checks every page
of both databases and the hash chain, and only then moves it into place. It
never overwrites a station: ``replace`` moves the old one aside, and is
refused while another process has it open.

**Numbering after a restore.** The backup is older than the station it
replaces, which may have exported bundles after it: the restored station
would give the same bundle and report numbers to other contents, and
reviewers would refuse its next bundle as a forgery. So a restore starts a
new *history*: a ``restores`` record with a random id and the fork point
(what the backup held), which every later bundle lists (bundle format version
4). Reviewers keep each history's bundles and reports apart, check the fork
point against what they hold, and say what was lost. See
``docs/bundle-format.md``, *Restores*.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from reporter.errors import (
    BackupDamaged,
    DatabaseUnreadable,
    InstanceError,
    InstanceExists,
    ReporterError,
    StoreError,
)
from reporter.formats import backup as container
from reporter.formats.crypto import random_bytes
from reporter.formats.manifest import ROOT_HISTORY, Restore
from reporter.station.instance import (
    DB_FILE,
    STATION_FILE,
    StationIdentity,
    db_path,
    load_identity,
    unlock,
)
from reporter.station.store import Store
from reporter.storage import sqlc
from reporter.storage.blob_file import BLOBS_FILE, blobs_key, blobs_path
from reporter.storage.blobs import BlobStore
from reporter.storage.durable import fsync_dir

SETTING_BACKUP_DAY = "backup_day"


def today() -> str:
    return datetime.now(UTC).date().isoformat()


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size: int
    created: str
    reports: int  # held (not purged) in the copy
    last_seq: int
    last_bundle: int  # highest written bundle in the copy (0: none)
    attachments: int


@dataclass(frozen=True)
class RestoreResult:
    instance: Path
    identity: StationIdentity
    restore: Restore
    reports: int
    attachments: int
    replaced: Path | None  # where the station that was there was moved
    dropped_reservations: int  # exports that had not finished when the backup was taken


@contextlib.contextmanager
def _staging(beside: Path, prefix: str) -> Iterator[Path]:
    """A private folder (0700) beside ``beside``, removed afterwards unless renamed."""
    try:
        beside.parent.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=prefix, dir=beside.parent))
    except OSError as exc:
        raise InstanceError(f"cannot make a private folder in {beside.parent}: "
                            f"{exc.strerror}") from None
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _private_file(path: Path) -> BinaryIO:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    return os.fdopen(fd, "wb")


# --- backup -------------------------------------------------------------------------


def take_backup(instance: Path, key: bytes, out: Path, *, day: str | None = None) -> BackupResult:
    """Write a backup of the station in ``instance`` to ``out`` (never overwritten)."""
    day = day or today()
    if out.exists() or out.is_symlink():
        raise ReporterError(f"{out} already exists; choose another --out (a backup never "
                            "overwrites a file)")
    if not out.parent.is_dir():
        raise ReporterError(f"the folder {out.parent} does not exist")
    if out.resolve().parent.is_relative_to(instance.resolve()):
        raise ReporterError(f"{out} is inside the station's folder: put the backup on another "
                            "disk (a USB stick), where a failure of this one cannot take it too")
    with _staging(out, ".reporter-backup-") as staging:
        stats = _snapshot(instance, key, staging, day)
        partial = out.with_name(out.name + ".partial")
        try:
            size = _pack(staging, partial, day)
            os.rename(partial, out)
            fsync_dir(out.parent)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    return BackupResult(out, size, day, *stats)


def _snapshot(instance: Path, key: bytes, staging: Path, day: str) -> tuple[int, int, int, int]:
    """Copy the station's files into ``staging``: (reports, last seq, last bundle,
    attachments)."""
    try:
        (staging / STATION_FILE).write_bytes((instance / STATION_FILE).read_bytes())
    except OSError as exc:
        raise InstanceError(f"cannot read {instance / STATION_FILE}: {exc.strerror}") from None
    os.chmod(staging / STATION_FILE, 0o600)
    with Store.open(db_path(instance), key) as live:
        purged = live.purged_count()
        live.snapshot_to(staging / DB_FILE)
    os.chmod(staging / DB_FILE, 0o600)
    with Store.open(staging / DB_FILE, key) as copy:
        copy.set_setting(SETTING_BACKUP_DAY, day.encode("ascii"))
        held = copy.held_hashes()
        reports, last_seq = copy.report_count(), copy.last_seq()
        written = [b.number for b in copy.bundles() if b.written]
    attachments = 0
    if blobs_path(instance).exists():
        attachments = _copy_attachments(instance, key, staging, held)
    with Store.open(db_path(instance), key) as live:
        if live.purged_count() != purged:
            raise StoreError("reports were purged while the backup was being taken, so its "
                             "two databases may not match; run the backup again")
    return reports, last_seq, max(written, default=0), attachments


def _copy_attachments(instance: Path, key: bytes, staging: Path, held: list[bytes]) -> int:
    """Copy the attachments of every held report, as they are (sealed), into a new store."""
    count = 0
    with BlobStore.open(instance, key) as live, BlobStore.open_at(
            staging / BLOBS_FILE, blobs_key(key), owner="backup") as copy:
        for envelope in held:
            uploads = live.uploads_for(envelope)
            if not uploads:
                continue
            ids = []
            for upload in uploads:
                stored = copy.store(live.read(upload.id))
                if stored.length != upload.length:
                    raise StoreError("an attachment changed while the backup was being "
                                     "taken (a purge?); run the backup again")
                ids.append(stored.id)
            hashes = [u.hash for u in uploads]
            copy.attach(ids, envelope, None if None in hashes else
                        [h for h in hashes if h is not None])
            count += len(ids)
    return count


def _pack(staging: Path, partial: Path, day: str) -> int:
    names = [n for n in container.FILES if (staging / n).exists()]
    try:
        with _private_file(partial) as out, contextlib.ExitStack() as stack:
            files = [(n, stack.enter_context(open(staging / n, "rb")),
                      (staging / n).stat().st_size) for n in names]
            container.write_backup(out, files, day)
            out.flush()
            os.fsync(out.fileno())
            return out.tell()
    except OSError as exc:
        raise ReporterError(f"cannot write {partial}: {exc.strerror}") from None


# --- restore ------------------------------------------------------------------------


def holds_station(instance: Path) -> bool:
    return (instance / STATION_FILE).exists() or db_path(instance).exists()


def check_target(instance: Path, replace: bool) -> None:
    """Refuse a folder that holds a station (unless ``replace``), or anything else."""
    if holds_station(instance):
        if not replace:
            raise InstanceExists(
                f"{instance} already holds a station; restore never overwrites one. Restore "
                "into another --instance folder, or stop that station and add --replace "
                "(it is then kept aside, not deleted)")
        if sqlc.in_use(db_path(instance)):
            raise InstanceError(
                f"the station in {instance} is open in another process (a running 'reporter "
                "serve'?); stop it first (systemctl stop reporter-station), then restore")
    elif instance.exists() and (not instance.is_dir() or any(instance.iterdir())):
        raise InstanceError(f"{instance} exists and is not an empty folder; choose another")


def restore_backup(source: Path, instance: Path, passphrase: Callable[[], str], *,
                   replace: bool = False, day: str | None = None) -> RestoreResult:
    """Restore the backup ``source`` into ``instance``, as a new history of the station.

    ``passphrase`` is asked only once the whole file is known to be intact.
    """
    check_target(instance, replace)
    try:
        fh = open(source, "rb")
    except OSError as exc:
        raise ReporterError(f"cannot read {source}: {exc.strerror}") from None
    with fh, _staging(instance, ".reporter-restore-") as staging:
        os.chmod(staging, 0o700)
        try:
            made = container.read_backup(fh, lambda name: _private_file(staging / name))
        except OSError as exc:
            raise ReporterError(f"cannot unpack the backup beside {instance}: "
                                f"{exc.strerror}") from None
        key = unlock(staging, passphrase())
        restore, identity, reports, dropped = _settle(staging, key, made.created,
                                                      day or today())
        attachments = _check_attachments(staging, key)
        check_target(instance, replace)  # again: time passed while unpacking
        replaced = _move_into_place(staging, instance)
    return RestoreResult(instance, identity, restore, reports, attachments, replaced, dropped)


def _altered(name: str, problem: str) -> BackupDamaged:
    # The passphrase was proved by station.json's key check and every SHA-256 matched:
    # a page that fails its HMAC now was changed by someone who recomputed them.
    return BackupDamaged(f"{name} in the backup fails its integrity check ({problem}): the "
                         "backup was damaged or altered")


def _settle(staging: Path, key: bytes, created: str, day: str
            ) -> tuple[Restore, StationIdentity, int, int]:
    try:
        return _settle_checked(staging, key, created, day)
    except DatabaseUnreadable as exc:
        raise _altered(DB_FILE, str(exc)) from None


def _settle_checked(staging: Path, key: bytes, created: str, day: str
                    ) -> tuple[Restore, StationIdentity, int, int]:
    """Check the restored database and record the restore that starts a new history."""
    with Store.open(db_path(staging), key) as store:
        problem = store.integrity_problem()
        if problem is not None:
            raise _altered(DB_FILE, problem)
        identity = load_identity(store)
        store.verify_chain(identity.station_id)
        dropped = store.forget_unwritten_bundles()
        written = [b for b in store.bundles() if b.written]
        last = store.last_seq()
        stamped = store.get_setting(SETTING_BACKUP_DAY)
        backup_day = stamped.decode("ascii", "replace") if stamped else created
        restore = Restore(
            id=_history_id(), bundle=written[-1].number if written else 0,
            bundle_hash=written[-1].hash if written else None, seq=last,
            chain=store.chain_at(last, identity.station_id), backup=backup_day, restored=day)
        store.add_restore(restore)
        store.delete_setting(SETTING_BACKUP_DAY)
        store.use_wal()
        return restore, identity, store.report_count(), dropped


def _history_id() -> bytes:
    while True:
        value = random_bytes(16)
        if value != ROOT_HISTORY:
            return value


def _check_attachments(staging: Path, key: bytes) -> int:
    if not blobs_path(staging).exists():
        return 0
    try:
        with BlobStore.open(staging, key) as blobs:
            problem = blobs.integrity_problem()
            if problem is not None:
                raise _altered(BLOBS_FILE, problem)
            return blobs.upload_count()
    except DatabaseUnreadable as exc:
        raise _altered(BLOBS_FILE, str(exc)) from None


def _move_into_place(staging: Path, instance: Path) -> Path | None:
    replaced = None
    try:
        if holds_station(instance):
            replaced = _aside(instance)
            os.rename(instance, replaced)
        elif instance.exists():
            instance.rmdir()  # empty, checked before
        os.rename(staging, instance)
        fsync_dir(instance.parent)
    except OSError as exc:
        raise InstanceError(f"cannot move the restored station into {instance}: "
                            f"{exc.strerror}") from None
    return replaced


def _aside(instance: Path) -> Path:
    for n in range(1, 1000):
        candidate = instance.with_name(f"{instance.name}.replaced-{n}")
        if not candidate.exists():
            return candidate
    raise InstanceError(f"too many {instance.name}.replaced-N folders; remove old ones")
