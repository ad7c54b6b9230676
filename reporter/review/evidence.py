"""An evidence package: chosen reports, their files and their provenance, in ONE zip.

The layout is specified in ``docs/evidence-package.md`` (``FORMAT`` and
``VERSION`` are in its ``manifest.json``). In short, under one folder
``evidence-<UTC time>/``::

    README.txt                        how to check the package
    summary.html                      printable summary (no script, inline CSS)
    manifest.json                     every report and item, with SHA-256 hashes
    SHA256SUMS                        `sha256sum -c SHA256SUMS` checks every file
    reports/<id>/report.json          the report as `review export --format jsonl`
    reports/<id>/custody.json         its chain of custody (``custody.py``)
    reports/<id>/originals/<name>     each attachment, byte for byte
    reports/<id>/stripped/<name>      a copy without metadata (pictures only)

The package is *streamed*: ``build`` is a generator of the zip's bytes, and
no decrypted byte goes to any file (the review desk sends them straight to
the browser). ``zipfile`` writes to a sink that is not seekable, so each
entry has a data descriptor after its bytes (sizes and CRC-32 known only
then), which every unzip tool reads. What is held in memory at once is one
decrypted chunk of a file, and, for a picture the stripper can take (at most
``strip.MAX_IMAGE_BYTES``), the picture and its stripped copy: the copy is
made by ``strip.stripped_bytes`` in its limited child process, from memory.
Videos and other files are never held whole.

Names in the archive: an attachment's name is the one ``review attachments``
writes (``files.file_name``: its number, the sent name cleaned of path
separators, controls, bidirectional marks and characters Windows forbids,
the extension of what the bytes *are*, at most 255 bytes), and every path is
checked again by ``member`` (relative, no ``..``, no backslash, no control
character) before it is written: a name a phone sent can never climb out of
the folder the package is extracted into.

If a file fails its check half way (a chunk whose tag does not verify, the
SHA-256 the station sealed that does not match), ``build`` raises and the
archive stops without its central directory: an unzip tool refuses it,
rather than a lawyer receiving a file that looks whole.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import unicodedata
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager as ContextManager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from reporter.errors import ReporterError
from reporter.formats.report import AttachmentInfo
from reporter.review import files, strip
from reporter.review.custody import Custody, custody
from reporter.review.db import ReviewDB
from reporter.review.export import ExportRow, export_rows_of, jsonl_line
from reporter.review.records import Record, get_report
from reporter.review.sensitivity import reasons

FORMAT = "reporter-evidence-package"
VERSION = 1
MAX_REPORTS = 500  # in one package


class Stopped(ReporterError):
    """The package was stopped half way (the desk was locked)."""


class UnsafeName(ReporterError):
    """A path in the archive would not be safe (a bug: every name is cleaned first)."""


def member(path: str) -> str:
    """``path`` if it is safe as a zip member name: relative, ``/``-separated parts that
    are none of ``""``, ``.``, ``..``, with no backslash, colon, control, format or
    bidirectional character; else ``UnsafeName``."""
    parts = path.split("/")
    bad = (not path or path.startswith("/") or "\\" in path or ":" in path
           or any(p in ("", ".", "..") for p in parts)
           or any(unicodedata.category(c)[0] == "C" for c in path)
           or any(len(p.encode("utf-8")) > files.NAME_MAX for p in parts))
    if bad:
        raise UnsafeName(f"unsafe archive path {path!r}")
    return path


@dataclass
class Item:
    """One attachment in the package."""

    info: AttachmentInfo
    detected: str | None = None
    original: str | None = None  # path in the package (relative to its folder)
    stripped: str | None = None
    stripped_sha256: str | None = None
    stripped_type: str | None = None
    not_stripped: str | None = None  # why there is no stripped copy
    missing: str | None = None  # why the original is not in the package


@dataclass
class Packaged:
    """One report in the package (for ``manifest.json`` and the summary)."""

    record: Record
    custody: Custody
    sensitive: tuple[str, ...]
    path: str  # its folder in the package
    items: list[Item] = field(default_factory=list)


@dataclass
class Package:
    root: str  # the archive's single top folder
    created: str  # UTC
    reports: list[Packaged] = field(default_factory=list)
    hashes: dict[str, str] = field(default_factory=dict)  # path -> SHA-256 hex, in order

    @property
    def file_name(self) -> str:
        return self.root + ".zip"


def new_package(now: datetime | None = None) -> Package:
    moment = (now or datetime.now(UTC)).replace(microsecond=0)
    return Package(root=f"evidence-{moment.strftime('%Y%m%dT%H%M%SZ')}",
                   created=moment.strftime("%Y-%m-%dT%H:%M:%SZ"))


class _Sink:
    """What ``zipfile`` writes to: not seekable (so it writes data descriptors), its
    bytes taken by ``build`` after each step and sent on."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


Summary = Callable[[Package], str]


def build(db: ReviewDB, report_ids: Sequence[int], summary: Summary, *,
          package: Package | None = None,
          going: Callable[[], bool] = lambda: True,
          decoder_slot: Callable[[], ContextManager[Any]] = contextlib.nullcontext,
          ) -> Iterator[bytes]:
    """The zip of reports ``report_ids`` (each once, in that order), as it is made.
    ``summary`` renders ``summary.html`` from the finished ``Package``; ``going`` is
    asked between chunks (``Stopped`` when it says no); ``decoder_slot`` is held
    while a picture is stripped (the desk's limit on decoders at once)."""
    package = package or new_package()
    moment = datetime.strptime(package.created, "%Y-%m-%dT%H:%M:%SZ")
    stamp = moment.timetuple()[:6]
    sink = _Sink()
    ids = list(dict.fromkeys(report_ids))
    if not ids or len(ids) > MAX_REPORTS:
        raise ReporterError(f"an evidence package holds 1 to {MAX_REPORTS} reports")

    def entry(path: str, compress: bool) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(f"{package.root}/{member(path)}", stamp)
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        info.external_attr = 0o600 << 16  # rw for the owner only, once extracted
        return info

    def small(archive: zipfile.ZipFile, path: str, data: bytes) -> None:
        archive.writestr(entry(path, True), data)
        package.hashes[path] = hashlib.sha256(data).hexdigest()

    with zipfile.ZipFile(sink, "w", allowZip64=True) as archive:
        for row in export_rows_of(db, ids):
            record = get_report(db, row.id).record
            chain = custody(db, row.id)
            packaged = Packaged(record, chain, reasons(db, row.id, record.report),
                                f"reports/{row.id}")
            package.reports.append(packaged)
            small(archive, f"{packaged.path}/report.json", _report_json(row))
            small(archive, f"{packaged.path}/custody.json", _json(_custody(chain)))
            yield sink.take()
            yield from _attachments(db, archive, sink, package, packaged, entry, going,
                                    decoder_slot)
        small(archive, "README.txt", _readme(package).encode("utf-8"))
        small(archive, "summary.html", summary(package).encode("utf-8"))
        small(archive, "manifest.json", _json(manifest(package)))
        sums = "".join(f"{digest}  {path}\n" for path, digest in package.hashes.items())
        archive.writestr(entry("SHA256SUMS", True), sums.encode("utf-8"))
        yield sink.take()
    yield sink.take()


def _attachments(db: ReviewDB, archive: zipfile.ZipFile, sink: _Sink, package: Package,
                 packaged: Packaged, entry: Callable[[str, bool], zipfile.ZipInfo],
                 going: Callable[[], bool],
                 decoder_slot: Callable[[], ContextManager[Any]]) -> Iterator[bytes]:
    report_id = packaged.record.id
    for info in packaged.record.report.attachments:
        item = Item(info)
        packaged.items.append(item)
        try:
            opened = files.open_attachment(db, report_id, info.index)
        except files.AttachmentError as exc:
            item.missing = str(exc)
            continue
        item.detected = opened.detected
        path = f"{packaged.path}/originals/{files.file_name(info, opened.detected)}"
        zinfo = entry(path, False)
        zinfo.file_size = info.size  # so that zipfile writes ZIP64 fields when it must
        digest = hashlib.sha256()
        kept: bytearray | None = None
        head = b""
        decided = False
        try:
            with archive.open(zinfo, "w") as out:
                for chunk in opened.chunks():
                    if not going():
                        raise Stopped("the desk was locked")
                    out.write(chunk)
                    digest.update(chunk)
                    if not decided:
                        head += chunk[: strip.HEAD_BYTES - len(head)]
                        if len(head) >= strip.HEAD_BYTES or len(head) >= info.size:
                            decided = True
                            try:
                                strip.check(head, info.size, info.type)
                                kept = bytearray()
                            except strip.StripError as exc:
                                item.not_stripped = str(exc)
                    if kept is not None:
                        kept += chunk
                    yield sink.take()
        finally:
            opened.rest.close()
        if not decided:  # an empty file
            item.not_stripped = "the file is empty"
        item.original = path
        package.hashes[path] = digest.hexdigest()
        if kept is not None:
            try:
                with decoder_slot():
                    made = strip.stripped_bytes(kept, info.type)
            except strip.StripError as exc:
                item.not_stripped = str(exc)
            else:
                spath = (f"{packaged.path}/stripped/"
                         f"{files.file_name(info, made.media_type, stripped=True)}")
                archive.writestr(entry(spath, False), made.data)
                item.stripped, item.stripped_type = spath, made.media_type
                item.stripped_sha256 = package.hashes[spath] = hashlib.sha256(
                    made.data).hexdigest()
            del kept
            yield sink.take()


def _json(document: Any) -> bytes:
    return (json.dumps(document, ensure_ascii=False, indent=2, sort_keys=False)
            + "\n").encode("utf-8")


def _report_json(row: ExportRow) -> bytes:
    return (jsonl_line(row) + "\n").encode("utf-8")


def _custody(chain: Custody) -> dict[str, Any]:
    document = asdict(chain)
    document["signature"] = ("each bundle's signature was verified at import with the "
                             "station key pinned for this station (station_key)")
    document["hash_chain"] = ("recomputed over every report of each bundle at import; "
                              "chain_before and chain_head are the values it gave")
    return document


def manifest(package: Package) -> dict[str, Any]:
    """``manifest.json``: the package's format and version, every report and item."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "created": package.created,
        "hash": "sha256",
        "reports": [{
            "id": p.record.id,
            "station": p.record.station,
            "seq": p.record.seq,
            "kind": p.record.report.kind,
            "receipt": p.record.report.follows if p.record.report.kind == "follow-up"
            and p.record.report.follows else p.record.report.receipt,
            "submitted": p.record.report.submitted,
            "envelope_hash": p.custody.envelope_hash,
            "sensitive": list(p.sensitive),
            "report": f"{p.path}/report.json",
            "report_sha256": package.hashes.get(f"{p.path}/report.json"),
            "custody": f"{p.path}/custody.json",
            "attachments": [_item(item) for item in p.items],
        } for p in package.reports],
        "files": [{"path": path, "sha256": digest} for path, digest in package.hashes.items()
                  if path != "manifest.json"],
    }


def _item(item: Item) -> dict[str, Any]:
    info = item.info
    return {
        "number": info.index + 1,
        "sent_name": info.name,
        "sealed_type": info.type,
        "detected_type": item.detected,
        "size": info.size,
        "sha256_sealed": info.sha256.hex(),
        "ciphertext_sha256_sealed": info.ciphertext_hash.hex(),
        "original": item.original,
        "missing": item.missing,
        "stripped": item.stripped,
        "stripped_type": item.stripped_type,
        "stripped_sha256": item.stripped_sha256,
        "not_stripped": item.not_stripped if item.stripped is None else None,
    }


def _readme(package: Package) -> str:
    return (
        f"Evidence package made by reporter on {package.created} (UTC).\n\n"
        "summary.html  a printable summary of every report and file, with its custody\n"
        "manifest.json every report and file, with SHA-256 hashes "
        f"({FORMAT}, version {VERSION})\n"
        "SHA256SUMS    checks every file: in this folder, run\n"
        "                  sha256sum -c SHA256SUMS\n"
        "              (on macOS: shasum -a 256 -c SHA256SUMS)\n\n"
        "reports/<id>/originals holds each file exactly as the monitor sent it, metadata\n"
        "included (it may say where and when a photo was taken, and with which phone).\n"
        "reports/<id>/stripped holds copies of pictures without their metadata: share\n"
        "those. The SHA-256 of each original is the one the station sealed when the\n"
        "file arrived (manifest.json, sha256_sealed).\n"
    )
