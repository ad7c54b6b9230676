"""``station/backup.py``: a backup is consistent while the station writes, holds only
ciphertext, and restores to a working station that starts a new history."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from reporter.errors import (
    BackupDamaged,
    InstanceError,
    InstanceExists,
    StoreError,
    WrongPassphrase,
)
from reporter.formats import backup as container
from reporter.formats.chain import genesis
from reporter.formats.envelope import open_envelope
from reporter.formats.report import Report
from reporter.station import backup
from reporter.station.instance import db_path, unlock
from reporter.station.onion import stored
from reporter.station.store import Store
from reporter.storage.blobs import BlobStore, blobs_key
from tests.conftest import PASSPHRASE, Station, add_report_with_attachments, add_reports

JPEG = b"\xff\xd8\xff\xe0" + bytes(200_000)


def restore(source: Path, target: Path, **options: object) -> backup.RestoreResult:
    return backup.restore_backup(source, target, lambda: PASSPHRASE, **options)  # type: ignore[arg-type]


def descriptions(path: Path, station: Station) -> list[str]:
    with Store.open(db_path(path), unlock(path, PASSPHRASE)) as store:
        return [str(Report.from_body(open_envelope(r.envelope, station.reviewer))
                    .fields["description"]) for r in store.reports() if r.envelope]


def test_a_backup_restores_to_the_same_station_as_a_new_history(
        station: Station, tmp_path: Path) -> None:
    add_reports(station, 3, "kept")
    add_report_with_attachments(station, [("photo.jpg", JPEG)])
    with station.store() as store:
        onion = stored.ensure_onion_key(store)[0].url
    made = backup.take_backup(station.path, station.key, tmp_path / "b.rbk", day="2026-12-01")
    assert (made.reports, made.last_seq, made.last_bundle, made.attachments) == (4, 4, 0, 1)
    result = restore(tmp_path / "b.rbk", tmp_path / "restored", day="2026-12-05")
    assert result.identity.station_id == station.station_id and result.attachments == 1
    r = result.restore
    assert (r.bundle, r.bundle_hash, r.seq, r.backup, r.restored) == (
        0, None, 4, "2026-12-01", "2026-12-05")
    assert len(r.id) == 16 and r.id != bytes(16)
    restored = tmp_path / "restored"
    key = unlock(restored, PASSPHRASE)
    with Store.open(db_path(restored), key) as store:
        assert store.restores() == (r,)
        assert store.verify_chain(station.station_id) == r.chain
        assert store.get_setting(backup.SETTING_BACKUP_DAY) is None
        assert stored.onion_key(store).url == onion  # type: ignore[union-attr]
        hashes = store.held_hashes()
    with BlobStore.open(restored, key) as blobs:
        assert [len(blobs.uploads_for(h)) for h in hashes] == [0, 0, 0, 1]
    assert descriptions(restored, station) == ["kept 0", "kept 1", "kept 2",
                                              "report with attachments"]
    assert oct(restored.stat().st_mode & 0o777) == "0o700"


def test_the_backup_holds_only_the_stations_ciphertext(station: Station, tmp_path: Path) -> None:
    canary = "CANARYbackup0123456789"
    add_reports(station, 2, canary)
    add_report_with_attachments(station, [("photo.jpg", JPEG[:4] + canary.encode() * 10)])
    backup.take_backup(station.path, station.key, tmp_path / "b.rbk")
    data = (tmp_path / "b.rbk").read_bytes()
    for form in (canary.encode(), canary.encode("utf-16-le"), b"Marange", b"reviewer",
                 b"SQLite format 3"):
        assert form not in data
    names = tarfile.open(tmp_path / "b.rbk").getnames()
    assert names == ["reporter-backup/station.json", "reporter-backup/station.db",
                     "reporter-backup/attachments.db", "reporter-backup/MANIFEST.json"]
    assert oct((tmp_path / "b.rbk").stat().st_mode & 0o777) == "0o600"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".reporter-backup")]


def test_a_backup_taken_while_reports_arrive_is_consistent(station: Station,
                                                          tmp_path: Path) -> None:
    """Another process appends reports with a photo each the whole time."""
    script = (
        "from tests.conftest import Station, add_report_with_attachments as add\n"
        "from reporter.station.instance import unlock\n"
        "from reporter.formats.crypto import RecipientPrivateKey\n"
        "from pathlib import Path\n"
        f"p = Path({str(station.path)!r})\n"
        f"s = Station(p, unlock(p, {PASSPHRASE!r}), bytes.fromhex({station.station_id.hex()!r}),"
        " RecipientPrivateKey.generate())\n"
        "for i in range(60):\n"
        "    add(s, [('p.jpg', b'\\xff\\xd8\\xff\\xe0' + bytes(300_000))], f'while {i}')\n"
        "    print(i, flush=True)\n")
    add_reports(station, 2)
    writer = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    outs = []
    try:
        assert writer.stdout is not None and writer.stdout.readline() == b"0\n"
        while writer.poll() is None or len(outs) < 2:
            outs.append(backup.take_backup(station.path, station.key,
                                           tmp_path / f"{len(outs)}.rbk"))
    finally:
        assert writer.wait(120) == 0
    counts = [made.reports for made in outs]
    assert len(set(counts)) > 1, counts  # the backups were taken while reports arrived
    for n, made in enumerate(outs):
        result = restore(tmp_path / f"{n}.rbk", tmp_path / f"r{n}")
        assert result.reports == made.reports and result.attachments == made.attachments
        assert made.attachments == made.reports - 2  # every report's photo, none missing
        key = unlock(tmp_path / f"r{n}", PASSPHRASE)
        with Store.open(db_path(tmp_path / f"r{n}"), key) as store, BlobStore.open(
                tmp_path / f"r{n}", key) as blobs:
            for h in store.held_hashes()[2:]:
                [upload] = blobs.uploads_for(h)
                assert sum(len(s) for s in blobs.read(upload.id)) == upload.length


def test_a_purge_during_the_backup_is_refused(station: Station, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    add_reports(station, 2)
    real = backup._copy_attachments

    def purging(*args, **kwargs):  # type: ignore[no-untyped-def]
        with station.store() as store:  # a fault injected between the two copies
            store._db.execute("UPDATE reports SET envelope = NULL WHERE seq = 1")
        return real(*args, **kwargs)

    monkeypatch.setattr(backup, "_copy_attachments", purging)
    add_report_with_attachments(station, [("photo.jpg", JPEG)])
    with pytest.raises(StoreError, match="purged while the backup"):
        backup.take_backup(station.path, station.key, tmp_path / "b.rbk")
    assert not (tmp_path / "b.rbk").exists()
    assert not (tmp_path / "b.rbk.partial").exists()


def test_a_backup_never_overwrites_and_never_goes_into_the_station(
        station: Station, tmp_path: Path) -> None:
    (tmp_path / "b.rbk").write_bytes(b"keep")
    with pytest.raises(Exception, match="already exists"):
        backup.take_backup(station.path, station.key, tmp_path / "b.rbk")
    assert (tmp_path / "b.rbk").read_bytes() == b"keep"
    with pytest.raises(Exception, match="inside the station's folder"):
        backup.take_backup(station.path, station.key, station.path / "b.rbk")


def test_restore_never_overwrites_a_station_unless_told_and_keeps_it_aside(
        station: Station, tmp_path: Path) -> None:
    add_reports(station, 1, "old")
    backup.take_backup(station.path, station.key, tmp_path / "b.rbk")
    add_reports(station, 1, "newer")
    with pytest.raises(InstanceExists, match="restore never overwrites"):
        restore(tmp_path / "b.rbk", station.path)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes").write_text("x")
    with pytest.raises(InstanceError, match="not an empty folder"):
        restore(tmp_path / "b.rbk", tmp_path / "other")
    result = restore(tmp_path / "b.rbk", station.path, replace=True)
    assert result.replaced == tmp_path / "instance.replaced-1"
    assert descriptions(station.path, station) == ["old 0"]
    assert descriptions(result.replaced, station) == ["old 0", "newer 0"]


def test_restore_refuses_to_replace_a_station_in_use(station: Station, tmp_path: Path) -> None:
    backup.take_backup(station.path, station.key, tmp_path / "b.rbk")
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from reporter.station.store import Store; "
         "from reporter.station.instance import unlock, open_store; from pathlib import Path; "
         f"p = Path({str(station.path)!r}); s = open_store(p, unlock(p, {PASSPHRASE!r})); "
         "s.report_count(); print('open', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"open\n"
        with pytest.raises(InstanceError, match="open in another process"):
            restore(tmp_path / "b.rbk", station.path, replace=True)
    finally:
        holder.kill()
        holder.wait()
    assert restore(tmp_path / "b.rbk", station.path, replace=True).replaced is not None


def test_a_wrong_passphrase_or_an_altered_database_restores_nothing(
        station: Station, tmp_path: Path) -> None:
    add_reports(station, 1)
    backup.take_backup(station.path, station.key, tmp_path / "b.rbk")
    with pytest.raises(WrongPassphrase):
        backup.restore_backup(tmp_path / "b.rbk", tmp_path / "r", lambda: "not the passphrase")
    # Someone flips a byte inside the encrypted database and writes a new manifest with
    # matching SHA-256s: the page HMAC (the station's key) still catches it.
    files = {}
    with tarfile.open(tmp_path / "b.rbk") as tar:
        for name in ("station.json", "station.db"):
            member = tar.extractfile(f"reporter-backup/{name}")
            assert member is not None
            files[name] = member.read()
    db = bytearray(files["station.db"])
    db[5000] ^= 0x01
    out = io.BytesIO()
    container.write_backup(out, [("station.json", io.BytesIO(files["station.json"]),
                                  len(files["station.json"])),
                                 ("station.db", io.BytesIO(bytes(db)), len(db))], "2026-12-01")
    (tmp_path / "altered.rbk").write_bytes(out.getvalue())
    with pytest.raises(BackupDamaged, match=r"station\.db in the backup fails its integrity"):
        restore(tmp_path / "altered.rbk", tmp_path / "r")
    assert not (tmp_path / "r").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["altered.rbk", "b.rbk", "instance"]


def rewritten(source: Path, out: Path, name: str, offset: int) -> Path:
    """``source`` with one byte of member ``name`` flipped, and a manifest made again to
    match (what someone who alters a backup on purpose does)."""
    with tarfile.open(source) as tar:
        files = []
        for member in tar.getmembers():
            if member.name.endswith("MANIFEST.json"):
                continue
            reader = tar.extractfile(member)
            assert reader is not None
            files.append((member.name.split("/", 1)[1], bytearray(reader.read())))
    for member_name, data in files:
        if member_name == name:
            data[offset] ^= 0x01
    buffer = io.BytesIO()
    container.write_backup(buffer, [(n, io.BytesIO(bytes(d)), len(d)) for n, d in files],
                           "2026-12-01")
    out.write_bytes(buffer.getvalue())
    return out


def test_a_page_altered_anywhere_in_either_database_restores_nothing(
        station: Station, tmp_path: Path) -> None:
    """Every page of both databases is checked, not only those a restore happens to read
    (an index, a segment of an attachment)."""
    add_reports(station, 30)
    add_report_with_attachments(station, [("photo.jpg", JPEG)])
    backup.take_backup(station.path, station.key, tmp_path / "b.rbk")
    with tarfile.open(tmp_path / "b.rbk") as tar:
        sizes = {m.name.split("/", 1)[1]: m.size for m in tar.getmembers()}
    for name, page in (("station.db", 4096), ("attachments.db", 65536)):
        for number in range(sizes[name] // page):
            altered = rewritten(tmp_path / "b.rbk", tmp_path / "altered.rbk", name,
                                number * page + page // 2)
            with pytest.raises((BackupDamaged, WrongPassphrase)):
                restore(altered, tmp_path / "r")
            assert not (tmp_path / "r").exists()


def test_restore_drops_an_export_that_had_not_finished(station: Station, tmp_path: Path) -> None:
    add_reports(station, 2)
    with station.store() as store:
        store.reserve_bundle(1, 1, 2, bytes(32), str(tmp_path / "1.rptr"))
    backup.take_backup(station.path, station.key, tmp_path / "b.rbk")
    result = restore(tmp_path / "b.rbk", tmp_path / "r")
    assert result.dropped_reservations == 1 and result.restore.bundle == 0
    with Store.open(db_path(tmp_path / "r"), unlock(tmp_path / "r", PASSPHRASE)) as store:
        assert store.bundles() == []


def test_a_restored_station_restored_again_lists_both_restores(
        station: Station, tmp_path: Path) -> None:
    add_reports(station, 1)
    backup.take_backup(station.path, station.key, tmp_path / "1.rbk")
    first = restore(tmp_path / "1.rbk", tmp_path / "r1").restore
    key = unlock(tmp_path / "r1", PASSPHRASE)
    restored = Station(tmp_path / "r1", key, station.station_id, station.reviewer)
    add_reports(restored, 2)
    backup.take_backup(restored.path, key, tmp_path / "2.rbk")
    second = restore(tmp_path / "2.rbk", tmp_path / "r2").restore
    with Store.open(db_path(tmp_path / "r2"), key) as store:
        assert store.restores() == (first, second)
    assert (first.seq, second.seq) == (1, 3) and first.id != second.id
    # The same backup restored twice: two histories, never the same id.
    again = restore(tmp_path / "1.rbk", tmp_path / "r3").restore
    assert again.id != first.id and (again.bundle, again.seq) == (first.bundle, first.seq)


def test_an_empty_station_backs_up_and_restores(station: Station, tmp_path: Path) -> None:
    made = backup.take_backup(station.path, station.key, tmp_path / "b.rbk")
    assert (made.reports, made.attachments) == (0, 0)
    result = restore(tmp_path / "b.rbk", tmp_path / "r")
    assert (result.restore.seq, result.restore.chain) == (0, genesis(station.station_id))
    names = tarfile.open(tmp_path / "b.rbk").getnames()
    assert "reporter-backup/attachments.db" not in names


def test_the_copy_is_keyed_like_the_station(station: Station, tmp_path: Path) -> None:
    """The attachment store in the backup opens with the station's derived key only."""
    add_report_with_attachments(station, [("photo.jpg", JPEG)])
    backup.take_backup(station.path, station.key, tmp_path / "b.rbk")
    with tarfile.open(tmp_path / "b.rbk") as tar:
        data = tar.extractfile("reporter-backup/attachments.db").read()  # type: ignore[union-attr]
    (tmp_path / "a.db").write_bytes(data)
    with BlobStore.open_at(tmp_path / "a.db", blobs_key(station.key), owner="test") as blobs:
        assert blobs.upload_count() == 1
    with pytest.raises(Exception, match="cannot be read"):
        BlobStore.open_at(tmp_path / "a.db", blobs_key(bytes(32)), owner="test")


def test_a_target_that_cannot_be_made_is_said_so(station: Station, tmp_path: Path) -> None:
    backup.take_backup(station.path, station.key, tmp_path / "b.rbk")
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(InstanceError, match="cannot make a private folder"):
        restore(tmp_path / "b.rbk", tmp_path / "a-file" / "below" / "instance")
