"""The backup file (``reporter-backup`` v1, docs/backup-format.md): what is read back,
and every way a file that is not a whole, unaltered backup is refused."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

import pytest

from reporter.errors import BackupDamaged, UnknownVersion
from reporter.formats import backup

STATION_JSON = b'{"format": "reporter-station"}\n'
DB = bytes(range(256)) * 40  # 10 KiB, not a multiple of the tar block


class Sinks:
    """``open_file`` for ``read_backup``: keeps what each name received."""

    def __init__(self) -> None:
        self.files: dict[str, io.BytesIO] = {}

    def __call__(self, name: str) -> io.BytesIO:
        sink = _Kept()
        self.files[name] = sink
        return sink


class _Kept(io.BytesIO):
    def close(self) -> None:  # keep the bytes readable after the ``with``
        pass


def make(files: list[tuple[str, bytes]] | None = None, created: str = "2026-12-01") -> bytes:
    files = files if files is not None else [("station.json", STATION_JSON), ("station.db", DB)]
    out = io.BytesIO()
    backup.write_backup(out, [(n, io.BytesIO(d), len(d)) for n, d in files], created)
    return out.getvalue()


def read(data: bytes) -> tuple[backup.BackupManifest, Sinks]:
    sinks = Sinks()
    return backup.read_backup(io.BytesIO(data), sinks), sinks


def test_what_is_written_is_read_back_with_its_manifest() -> None:
    data = make([("station.json", STATION_JSON), ("station.db", DB),
                 ("attachments.db", b"A" * 70_000)])
    manifest, sinks = read(data)
    assert manifest.created == "2026-12-01"
    assert [(e.name, e.size) for e in manifest.files] == [
        ("station.json", len(STATION_JSON)), ("station.db", len(DB)),
        ("attachments.db", 70_000)]
    assert manifest.files[1].sha256 == hashlib.sha256(DB).hexdigest()
    assert sinks.files["station.db"].getvalue() == DB
    assert len(data) % 10240 == 0


def test_the_archive_says_nothing_but_names_and_sizes() -> None:
    with tarfile.open(fileobj=io.BytesIO(make())) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == ["reporter-backup/station.json",
                                         "reporter-backup/station.db",
                                         "reporter-backup/MANIFEST.json"]
    for m in members:
        assert (m.mtime, m.uid, m.gid, m.uname, m.gname, m.mode) == (0, 0, 0, "", "", 0o600)
    document = json.loads(tarfile.open(fileobj=io.BytesIO(make())).extractfile(
        "reporter-backup/MANIFEST.json").read())  # type: ignore[union-attr]
    assert set(document) == {"format", "version", "created", "files"}
    assert (document["format"], document["version"]) == ("reporter-backup", 1)


def test_a_file_cut_anywhere_is_refused() -> None:
    data = make()
    for cut in range(1, len(data)):
        with pytest.raises(BackupDamaged):
            read(data[:cut])


def test_a_flipped_byte_anywhere_in_a_file_or_the_manifest_is_refused() -> None:
    data = make()
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        spans = [(m.offset_data, m.offset_data + m.size) for m in tar.getmembers()]
    for start, end in spans:
        for offset in (start, (start + end) // 2, end - 1):
            altered = bytearray(data)
            altered[offset] ^= 0x01
            with pytest.raises(BackupDamaged):
                read(bytes(altered))


def test_bytes_after_the_end_are_refused() -> None:
    data = make()
    for tail in (b"\0", b"x", bytes(10240)):
        with pytest.raises(BackupDamaged, match="after its end"):
            read(data + tail)


def rewrite(members: list[tuple[str, bytes]], *, kind: bytes = tarfile.REGTYPE,
            odd: str | None = None) -> bytes:
    """A tar of ``members`` (names relative to the backup's folder) as given, with a
    correct manifest for the real files among them unless one is given."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name if name.startswith(("/", ".", "x")) or "/" in name
                                   else f"reporter-backup/{name}")
            info.size = len(data)
            if odd == name:
                info.type = kind
                info.linkname = "/etc/passwd"
                info.size = 0
                data = b""
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def manifest_for(files: list[tuple[str, bytes]], **changes: object) -> bytes:
    document = {"format": "reporter-backup", "version": 1, "created": "2026-12-01",
                "files": [{"name": n, "size": len(d), "sha256": hashlib.sha256(d).hexdigest()}
                          for n, d in files]}
    document.update(changes)
    return json.dumps(document).encode()


GOOD = [("station.json", STATION_JSON), ("station.db", DB)]


@pytest.mark.parametrize(("members", "expected"), [
    ([*GOOD], "no manifest"),
    ([("station.db", DB), ("station.json", STATION_JSON),
      ("MANIFEST.json", manifest_for(GOOD))], "out of order"),
    ([*GOOD, ("station.db", DB), ("MANIFEST.json", manifest_for(GOOD))], "twice"),
    ([*GOOD, ("MANIFEST.json", manifest_for(GOOD)), ("station.db", DB)], "after its manifest"),
    ([*GOOD, ("notes.txt", b"x"), ("MANIFEST.json", manifest_for(GOOD))], "does not belong"),
    ([("../station.json", STATION_JSON), ("station.db", DB),
      ("MANIFEST.json", manifest_for(GOOD))], "does not belong"),
    ([("/tmp/reporter-backup/station.json", STATION_JSON), ("station.db", DB),
      ("MANIFEST.json", manifest_for(GOOD))], "does not belong"),
    ([("station.json", STATION_JSON), ("MANIFEST.json", manifest_for(GOOD))], "missing"),
    ([*GOOD, ("MANIFEST.json", manifest_for(GOOD[:1]))], "does not list"),
    ([*GOOD, ("MANIFEST.json", manifest_for([*GOOD, ("attachments.db", b"x")]))], "missing"),
    ([*GOOD, ("MANIFEST.json", manifest_for([GOOD[0], ("station.db", DB[:-1])]))],
     "its manifest says"),
    ([*GOOD, ("MANIFEST.json", manifest_for(GOOD, extra=1))], "unknown fields"),
    ([*GOOD, ("MANIFEST.json", manifest_for(GOOD, created="yesterday"))], "no valid day"),
    ([*GOOD, ("MANIFEST.json", manifest_for(GOOD, format="other"))], "not a reporter-backup"),
    ([*GOOD, ("MANIFEST.json", b"{not json")], "not valid JSON"),
])
def test_an_archive_that_is_not_exactly_a_backup_is_refused(
        members: list[tuple[str, bytes]], expected: str) -> None:
    with pytest.raises(BackupDamaged, match=expected):
        read(rewrite(members))


def test_a_link_or_a_folder_in_place_of_a_file_is_refused() -> None:
    for kind in (tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.DIRTYPE):
        data = rewrite([*GOOD, ("MANIFEST.json", manifest_for(GOOD))], kind=kind,
                       odd="station.db")
        with pytest.raises(BackupDamaged, match="not a regular file"):
            read(data)


def test_another_version_asks_for_an_upgrade() -> None:
    data = rewrite([*GOOD, ("MANIFEST.json", manifest_for(GOOD, version=2))])
    with pytest.raises(UnknownVersion, match="upgrade reporter"):
        read(data)


def test_anything_else_is_not_a_backup() -> None:
    for data in (b"", b"RPTR-BDL\x04" + bytes(600), bytes(20480)):
        with pytest.raises(BackupDamaged):
            read(data)
