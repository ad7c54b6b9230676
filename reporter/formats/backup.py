"""The backup file: a station's still-encrypted files in one tar archive.

Format ``reporter-backup`` version 1, specified in ``docs/backup-format.md``::

    reporter-backup/station.json     the passphrase sidecar (salt, cost, key check)
    reporter-backup/station.db       a consistent copy of the SQLCipher database
    reporter-backup/attachments.db   the attachment store, if the station has one
    reporter-backup/MANIFEST.json    last: format, version, day, and every file's
                                     size and SHA-256

Nothing in here is ever decrypted: the databases are copied by SQLCipher under
the station's own key, and this module only packs and checks bytes. The
manifest comes last so that a file cut anywhere is missing it (or a file it
lists): a backup is complete only if the manifest is there and every file
matches it. Reading streams (no seeking, nothing held whole in memory), takes
only the member names above, only regular files, in that order, and never
lets the archive choose a path on disk: the caller gives a writable file for
each name.

The SHA-256 values find damage and truncation; they do not authenticate the
file (anyone can recompute them). What authenticates the contents is
SQLCipher: each page of each database carries an HMAC under the station's
key, checked at restore.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, BinaryIO

from reporter.errors import BackupDamaged, UnknownVersion
from reporter.formats import jsonio

FORMAT = "reporter-backup"
VERSION = 1
FOLDER = "reporter-backup"
MANIFEST = "MANIFEST.json"
FILES = ("station.json", "station.db", "attachments.db")  # in this order
REQUIRED = ("station.json", "station.db")
MAX_MANIFEST = 64 * 1024
PIECE = 1024 * 1024
RECORD = tarfile.RECORDSIZE  # 10240: the archive is padded with zeros to a whole record
END_BLOCKS = 2 * tarfile.BLOCKSIZE
_HEX64 = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class Entry:
    name: str
    size: int
    sha256: str  # lower-case hex


@dataclass(frozen=True)
class BackupManifest:
    created: str  # the UTC day the backup was taken, YYYY-MM-DD
    files: tuple[Entry, ...]

    def to_json(self) -> bytes:
        document = {"format": FORMAT, "version": VERSION, "created": self.created,
                    "files": [{"name": e.name, "size": e.size, "sha256": e.sha256}
                              for e in self.files]}
        return (json.dumps(document, sort_keys=True, indent=1) + "\n").encode("ascii")


class _Hashing:
    """A file object that hashes and counts what is read through it."""

    def __init__(self, fh: BinaryIO) -> None:
        self._fh = fh
        self.sha256 = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        data = self._fh.read(size)
        self.sha256.update(data)
        self.size += len(data)
        return data


def _info(name: str, size: int) -> tarfile.TarInfo:
    """A member header that says nothing but the name and size (no owner, no time)."""
    info = tarfile.TarInfo(f"{FOLDER}/{name}")
    info.size = size
    info.mode = 0o600
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    return info


def write_backup(out: BinaryIO, files: Iterable[tuple[str, BinaryIO, int]],
                 created: str) -> BackupManifest:
    """Write the archive to ``out``: each ``(name, open file, size)`` in order, then the
    manifest. A file that changes size while it is read fails (``ValueError``)."""
    entries = []
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for name, fh, size in files:
            if name not in FILES:
                raise ValueError(f"{name} does not belong in a backup")
            hashing = _Hashing(fh)
            tar.addfile(_info(name, size), hashing)
            if hashing.size != size or fh.read(1):
                raise ValueError(f"{name} changed size while it was copied")
            entries.append(Entry(name, size, hashing.sha256.hexdigest()))
        manifest = BackupManifest(created, tuple(entries))
        data = manifest.to_json()
        tar.addfile(_info(MANIFEST, len(data)), io.BytesIO(data))
    return manifest


def read_backup(source: IO[bytes], open_file: Callable[[str], BinaryIO]) -> BackupManifest:
    """Check a backup while writing each file it holds to ``open_file(name)``.

    Raises ``BackupDamaged`` (or ``UnknownVersion``) naming the first problem:
    not a tar archive, a member that does not belong (another name or type, out
    of order, twice, anything after the manifest), the archive cut short, a
    manifest that is missing or invalid, a file missing or whose size or
    SHA-256 is not the manifest's. What ``open_file`` received is valid only if
    this returns.
    """
    seen: list[Entry] = []
    manifest: bytes | None = None
    start = source.tell()
    try:
        tar = tarfile.open(fileobj=source, mode="r|")
    except (tarfile.TarError, EOFError, OSError):
        raise BackupDamaged("this is not a reporter backup (not a tar archive), or its "
                            "beginning is damaged") from None
    with tar:
        while True:
            try:
                member = tar.next()
            except (tarfile.TarError, EOFError):
                raise BackupDamaged("the backup is cut short or damaged between two of "
                                    "its files") from None
            if member is None:
                break
            name = _member_name(member, seen, manifest is not None)
            if name == MANIFEST:
                if member.size > MAX_MANIFEST:
                    raise BackupDamaged("the backup's manifest is too large")
                manifest = b"".join(_pieces(tar, member, name))
                continue
            hashed = hashlib.sha256()
            with open_file(name) as sink:
                for piece in _pieces(tar, member, name):
                    hashed.update(piece)
                    sink.write(piece)
            seen.append(Entry(name, member.size, hashed.hexdigest()))
        end = tar.offset
    if manifest is None:
        raise BackupDamaged("the backup has no manifest at its end: it is cut short "
                            "(copy it again from where it was made)")
    checked = _check(manifest, seen)
    _check_end(source, start + end, start)
    return checked


def _check_end(source: IO[bytes], end: int, start: int) -> None:
    """After the manifest come the end-of-archive blocks and zero padding to a whole
    record, exactly: a file cut anywhere (even in its padding) is refused."""
    source.seek(end)
    expected = END_BLOCKS + (-(end - start + END_BLOCKS)) % RECORD
    tail = source.read(expected + 1)
    if tail.strip(b"\0") or len(tail) > expected:
        raise BackupDamaged("the backup has bytes after its end")
    if len(tail) < expected:
        raise BackupDamaged("the backup is cut short after its manifest (copy it again "
                            "from where it was made)")


def _member_name(member: tarfile.TarInfo, seen: list[Entry], after_manifest: bool) -> str:
    folder, _, name = member.name.partition("/")
    if folder != FOLDER or name not in (*FILES, MANIFEST):
        raise BackupDamaged(f"the backup holds a file that does not belong in one: "
                            f"{member.name[:80]!r}")
    if not member.isreg():
        raise BackupDamaged(f"{name} in the backup is not a regular file")
    if after_manifest:
        raise BackupDamaged("the backup holds files after its manifest")
    if name != MANIFEST:
        done = [e.name for e in seen]
        if name in done or any(FILES.index(name) < FILES.index(d) for d in done):
            raise BackupDamaged(f"{name} is in the backup twice or out of order")
    return name


def _pieces(tar: tarfile.TarFile, member: tarfile.TarInfo, name: str) -> Iterator[bytes]:
    """The bytes of one member, in pieces; ``BackupDamaged`` if the archive ends first."""
    fh = tar.extractfile(member)
    if fh is None:  # not a regular file: refused before
        raise BackupDamaged(f"{name} in the backup cannot be read")
    size = 0
    while True:
        try:
            piece = fh.read(PIECE)
        except (tarfile.TarError, EOFError, OSError):
            raise BackupDamaged(f"the backup is cut short inside {name} (copy it again "
                                "from where it was made)") from None
        if not piece:
            break
        size += len(piece)
        yield piece
    if size != member.size:
        raise BackupDamaged(f"the backup is cut short inside {name} (copy it again from "
                            "where it was made)")


def parse_manifest(data: bytes) -> BackupManifest:
    try:
        doc = jsonio.loads(data.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise BackupDamaged("the backup's manifest is not valid JSON") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise BackupDamaged("the backup's manifest is not a reporter-backup manifest")
    version = doc.get("version")
    if type(version) is not int or version != VERSION:
        raise UnknownVersion(f"backup format version {version!r} is not supported (this "
                             f"reporter reads version {VERSION}); upgrade reporter")
    if set(doc) != {"format", "version", "created", "files"}:
        raise BackupDamaged("the backup's manifest has missing or unknown fields")
    created, files = doc["created"], doc["files"]
    if (not isinstance(created, str) or len(created) != 10
            or not all(c.isdigit() or (i in (4, 7) and c == "-")
                       for i, c in enumerate(created))):
        raise BackupDamaged("the backup's manifest has no valid day")
    if not isinstance(files, list):
        raise BackupDamaged("the backup's manifest lists no files")
    entries = []
    for item in files:
        if (not isinstance(item, dict) or set(item) != {"name", "size", "sha256"}
                or item["name"] not in FILES or type(item["size"]) is not int
                or item["size"] < 0 or not isinstance(item["sha256"], str)
                or len(item["sha256"]) != 64 or not set(item["sha256"]) <= _HEX64):
            raise BackupDamaged("a file entry of the backup's manifest is invalid")
        entries.append(Entry(item["name"], item["size"], item["sha256"]))
    return BackupManifest(created, tuple(entries))


def _check(data: bytes, seen: list[Entry]) -> BackupManifest:
    manifest = parse_manifest(data)
    listed = {e.name: e for e in manifest.files}
    if len(listed) != len(manifest.files):
        raise BackupDamaged("the backup's manifest lists a file twice")
    for name in REQUIRED:
        if name not in listed:
            raise BackupDamaged(f"the backup's manifest does not list {name}")
    found = {e.name: e for e in seen}
    for name, entry in listed.items():
        got = found.get(name)
        if got is None:
            raise BackupDamaged(f"{name} is missing from the backup (it was cut short, or "
                                "a file was removed)")
        if got.size != entry.size:
            raise BackupDamaged(f"{name} in the backup has {got.size} bytes, its manifest "
                                f"says {entry.size}: it was cut short or altered")
        if got.sha256 != entry.sha256:
            raise BackupDamaged(f"{name} in the backup does not match the SHA-256 its "
                                "manifest records: it was damaged or altered")
    extra = sorted(set(found) - set(listed))
    if extra:
        raise BackupDamaged(f"the backup holds {extra[0]}, which its manifest does not list")
    return manifest
