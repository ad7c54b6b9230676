"""Reviewer-side use cases: verify and import bundles, find what is missing.

No Flask, no terminal: the CLI (``review_cli.py``) prints what these return.
Import is one transaction per bundle: a bundle that fails any check leaves
the review database exactly as it was.

Attachments: for each report it can open, the importer checks that the
attachment list sealed in the report (count, ciphertext sizes and hashes)
is the one the signed manifest lists, then streams each attachment's
ciphertext (checked by the reader against the manifest's hash as it passes)
into the attachment store beside the database (``ReviewDB.attachment_store``)
and links it to the report inside the bundle's transaction. The blobs are
written first: if the import fails they are deleted, and if it is killed,
the next import sweeps every blob no imported report links to. Neither
ciphertext nor plaintext of an attachment is ever held whole in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from reporter.errors import (
    BundleConflict,
    ForeignStation,
    NotARecipient,
    ReporterError,
    Tampered,
)
from reporter.formats.bundle import AttachmentStream, BundledReport, BundleReader
from reporter.formats.chain import genesis
from reporter.formats.crypto import RecipientPrivateKey, StationVerifyKey, constant_time_equal
from reporter.formats.envelope import inspect as inspect_envelope
from reporter.formats.envelope import open_envelope_with_key
from reporter.formats.manifest import ROOT_HISTORY, Manifest, Restore
from reporter.formats.report import AttachmentInfo, Report
from reporter.review.db import ReviewDB
from reporter.review.db_records import BundleRecord
from reporter.review.histories import (
    Lineage,
    NewRestore,
    Replaced,
    check_against_restores,
    record_restores,
)
from reporter.review.recipients import Outcome, check_bundle
from reporter.storage import sqlc
from reporter.storage.blob_file import SEGMENT
from reporter.storage.blobs import BlobStore
from reporter.storage.pipeline import read_ahead, rechunk

Progress = Callable[[int, int], None]  # (done, total)


@dataclass
class ImportResult:
    path: Path
    station_id: bytes
    station_key: StationVerifyKey
    number: int
    first_seq: int
    last_seq: int
    added: int = 0
    already_present: int = 0
    unreadable: list[int] = field(default_factory=list)  # seqs this key does not open
    # Of the reports added, those that an earlier import could not read (its key did
    # not open them) and this key opens: seqs.
    filled: list[int] = field(default_factory=list)
    already_imported: bool = False
    new_station: bool = False
    attachments: int = 0  # stored
    attachment_bytes: int = 0
    # First reports of this bundle whose receipt code an imported first report
    # already carries: (seq, its id, the ids of the others). See records.py, "Linking".
    shared_codes: list[tuple[int, int, list[int]]] = field(default_factory=list)
    # Whom the bundle is sealed to, compared with the station's pinned set.
    recipients: Outcome | None = None
    # Reports (seq, stanza count) sealed to more keys than the bundle lists: a key
    # was on the station's list when they arrived and is not any more.
    oversealed: list[tuple[int, int]] = field(default_factory=list)
    sealed_to: int = 0  # how many keys the bundle lists
    # Histories (bundle format 4): the one this bundle belongs to (all zero: the
    # station's first), restores of the station this import recorded for the first
    # time, and the restores that replaced this bundle's history before its number.
    history: bytes = bytes(16)
    restores: list[NewRestore] = field(default_factory=list)
    replaced: list[Replaced] = field(default_factory=list)


@dataclass(frozen=True)
class VerifyResult:
    manifest: Manifest
    reports: int
    manifest_hash: bytes
    attachments: int = 0
    attachment_bytes: int = 0
    # Reports (seq) whose envelope the key given does not open: sealed before it was
    # on the station's list. The others were opened (and authenticated) in memory.
    not_sealed_to_key: tuple[int, ...] = ()


@contextmanager
def _opened(path: Path) -> Iterator[BinaryIO]:
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise ReporterError(f"cannot read {path}: {exc.strerror}") from None
    with fh:
        yield fh


def verify_bundle(path: Path, key: RecipientPrivateKey,
                  station_key: StationVerifyKey | None = None) -> VerifyResult:
    """Check everything a bundle promises, without importing it; and which of its
    reports ``key`` opens (each one's envelope is opened and authenticated in memory,
    as import would, and nothing is kept)."""
    not_sealed: list[int] = []
    count = 0
    with _opened(path) as fh:
        reader = BundleReader(fh, key)
        if station_key is not None and reader.manifest.station_key != station_key:
            raise ForeignStation(
                f"{path} is signed by station key {reader.manifest.station_key.fingerprint()}"
                f", not the expected {station_key.fingerprint()}")
        for item in reader.reports():
            count += 1
            try:
                open_envelope_with_key(item.envelope, key)
            except NotARecipient:
                not_sealed.append(item.seq)
    return VerifyResult(reader.manifest, count, reader.manifest_hash,
                        reader.attachments_read, reader.attachment_bytes, tuple(not_sealed))


RESTORED_BY_HAND = ("a forgery, or a station whose files were copied back by hand instead of "
                    "with 'reporter restore'")


def _check_neighbours(db: ReviewDB, manifest: Manifest, manifest_hash: bytes,
                      lineage: Lineage) -> None:
    """The bundle must continue the bundles of its history that are imported: the one
    before it (by number, in the history that numbered it), the one after it, and the
    hash chain of any that ends just before or starts just after it."""
    sid, number = manifest.station_id, manifest.number
    before = (db.bundle(sid, number - 1, lineage.owner_of_bundle(number - 1))
              if number > 1 else None)
    if before is not None and before.hash != manifest.previous:
        raise BundleConflict(
            f"bundle {number} does not follow the bundle {number - 1} already imported "
            f"(different history): {RESTORED_BY_HAND}")
    after = db.bundle(sid, number + 1, lineage.history)
    if after is not None and after.previous != manifest_hash:
        raise BundleConflict(
            f"bundle {number} is not the one bundle {number + 1} says came before it "
            "(different history)")
    # The hash chain must continue across bundles too: from the station's
    # genesis value, and from whatever imported bundle ends just before.
    if manifest.first_seq == 1 and manifest.chain_before != genesis(sid):
        raise BundleConflict(f"bundle {number} does not start the station's hash chain")
    for other in db.bundles(sid):
        if not lineage.holds(other):
            continue  # another history's: a restored copy's, or the one a restore replaced
        if other.last_seq == manifest.first_seq - 1 and other.chain_head != manifest.chain_before:
            raise BundleConflict(
                f"bundle {number} does not continue the hash chain of bundle {other.number}")
        if manifest.last_seq == other.first_seq - 1 and manifest.chain_head != other.chain_before:
            raise BundleConflict(
                f"bundle {other.number} does not continue the hash chain of bundle {number}")


def import_bundle(db: ReviewDB, path: Path, key: RecipientPrivateKey,
                  progress: Progress | None = None) -> ImportResult:
    """Verify and decrypt one bundle into ``db``, in one transaction."""
    with _opened(path) as fh:
        reader = BundleReader(fh, key)
        m = reader.manifest
        result = ImportResult(path, m.station_id, m.station_key, m.number,
                              m.first_seq, m.last_seq, sealed_to=len(m.recipients))
        blobs = db.attachment_store() if m.attachment_count else None
        written: list[int] = []
        try:
            _import(db, reader, key, path, result, blobs, written, progress)
        except BaseException:
            if blobs is not None and written:
                with suppress(ReporterError, sqlc.Error):  # else the next import sweeps them
                    blobs.delete(written)
            raise
    return result


def _import(db: ReviewDB, reader: BundleReader, key: RecipientPrivateKey, path: Path,
            result: ImportResult, blobs: BlobStore | None, written: list[int],
            progress: Progress | None) -> None:
    """Everything ``import_bundle`` does, inside one transaction of ``db``."""
    m = reader.manifest
    lineage = Lineage(m.restores)
    result.history = lineage.history
    with db.transaction():
        if blobs is not None:
            # Under the write lock no other import is writing blobs, so every
            # blob no imported report holds is left by a failed or killed one.
            blobs.sweep(db.holds_envelope)
        pinned = db.pinned_key(m.station_id)
        if pinned is None:
            db.pin_station(m.station_id, m.station_key.raw)
            result.new_station = True
        elif pinned != m.station_key.raw:
            raise ForeignStation(
                f"SECURITY WARNING: {path} claims station {m.station_id.hex()} but is "
                f"signed by key {m.station_key.fingerprint()}, not the pinned key "
                f"{StationVerifyKey(pinned).fingerprint()}. It is forged, or the station "
                "was replaced. Nothing was imported; check with the operator by phone.")
        result.restores = record_restores(db, m.station_id, lineage)
        existing = db.bundle(m.station_id, m.number, lineage.history)
        if existing is not None:
            if existing.hash != reader.manifest_hash:
                raise BundleConflict(
                    f"bundle {m.number} of station {m.station_id.hex()[:8]} was already "
                    f"imported with different contents: {path} is {RESTORED_BY_HAND}. "
                    "Nothing was imported.")
            # The same bundle again, perhaps with another reviewer's key: it is read
            # and checked whole again, and the reports no key could read before that
            # this key opens are added (``_import_report``).
            result.already_imported = True
        else:
            _check_neighbours(db, m, reader.manifest_hash, lineage)
        total = len(m.envelopes)
        record = BundleRecord(
            station_id=m.station_id, number=m.number, hash=reader.manifest_hash,
            previous=m.previous, first_seq=m.first_seq, last_seq=m.last_seq,
            chain_before=m.chain_before, chain_head=m.chain_head,
            reports=total, created=m.created, history=lineage.history)
        if existing is None:
            result.replaced = check_against_restores(db, m.station_id, record)
        known: dict[int, bytes] = {}
        unreadable: set[int] = set()
        for history, first, last in lineage.segments(m.first_seq, m.last_seq):
            known.update(db.known_hashes(m.station_id, first, last, history))
            unreadable |= db.unreadable_between(m.station_id, first, last, history)
        for done, item in enumerate(reader.reports(), 1):
            _import_report(db, key, m.station_id, item, known.get(item.seq),
                           item.seq in unreadable, result, blobs, written,
                           lineage.owner_of_seq(item.seq))
            if item.seq not in known:
                # Stanzas name no key, but their number is in the envelope's clear
                # header: more than the bundle's recipients means a key that read it
                # is no longer listed (removed since, or added and removed between
                # two exports, which the manifest's list alone would not show).
                stanzas = inspect_envelope(item.envelope).recipients
                if stanzas > len(m.recipients):
                    result.oversealed.append((item.seq, stanzas))
            if progress is not None:
                progress(done, total)
        if existing is not None:
            return
        db.add_bundle(record)
        result.recipients = check_bundle(db, m, lineage)


def _import_report(db: ReviewDB, key: RecipientPrivateKey, station_id: bytes,
                   item: BundledReport, known: bytes | None, was_unreadable: bool,
                   result: ImportResult, blobs: BlobStore | None, written: list[int],
                   history: bytes) -> None:
    """Add one report. Attachments of a report that is skipped (already present, or
    not sealed to this key) are still read and checked by the reader, not stored.

    A report already known as not readable (``was_unreadable``: no key imported
    before opened it) is added if this key opens it; its envelope must be the one
    recorded then, byte for byte (same hash), like any report seen twice.
    """
    seq, h = item.seq, item.hash
    if known is not None:
        if known != h:
            raise BundleConflict(
                f"report {seq} of station {station_id.hex()[:8]} differs from the copy "
                f"already imported (different history): {RESTORED_BY_HAND}. Nothing was "
                "imported.")
        if not was_unreadable:
            result.already_present += 1
            return
    try:
        body, file_key = open_envelope_with_key(item.envelope, key)
    except NotARecipient:
        if not was_unreadable:
            db.add_unreadable(station_id, seq, h, history)
        result.unreadable.append(seq)
        return
    if was_unreadable:
        db.forget_unreadable(station_id, seq, history)
        result.filled.append(seq)
    report = Report.from_body(body)
    check_attachment_list(seq, report.attachments, item.attachments)
    report_id = db.add_report(station_id, seq, h, report, body,
                              file_key if report.attachments else None, history)
    result.added += 1
    if report.kind == "incident":
        others = [i for i, _s, _q in db.first_reports_with_receipt(report.receipt)
                  if i != report_id]
        if others:
            result.shared_codes.append((seq, report_id, others))
    if not item.attachments:
        return
    assert blobs is not None  # noqa: S101 (opened when the manifest lists attachments)
    uploads = [_store(blobs, stream, written) for stream in item.attachments]
    blobs.attach(uploads, h)
    for index, upload in enumerate(uploads):
        db.add_attachment(report_id, index, upload)
    result.attachments += len(uploads)
    result.attachment_bytes += sum(s.size for s in item.attachments)


def check_attachment_list(seq: int, sealed: tuple[AttachmentInfo, ...],
                          listed: tuple[AttachmentStream, ...]) -> None:
    """The report's own list (sealed by the station with the report) must be the signed
    manifest's: same count, and for each attachment the same ciphertext size and hash."""
    if len(sealed) != len(listed):
        many = "" if len(sealed) == 1 else "s"
        raise Tampered(f"report {seq}: the sealed report lists {len(sealed)} attachment{many}, "
                       f"the signed manifest {len(listed)}. Nothing was imported.")
    for info, stream in zip(sealed, listed, strict=True):
        if (info.ciphertext_size != stream.size
                or not constant_time_equal(info.ciphertext_hash, stream.hash)):
            raise Tampered(f"report {seq}, attachment {info.index + 1}: the sealed report and "
                           "the signed manifest disagree about its size or hash. Nothing was "
                           "imported.")


def _store(blobs: BlobStore, stream: AttachmentStream, written: list[int]) -> int:
    """Stream one attachment's ciphertext into the store; its upload id.

    The bundle is decrypted and checked on a thread ahead of the database writes,
    in whole segments; everything is one transaction of the store, so a failure
    (a check that fails half way included) leaves nothing of it behind.
    """
    with closing(read_ahead(rechunk(stream, SEGMENT))) as segments:
        upload = blobs.store(segments)
    written.append(upload.id)
    return upload.id


Ranges = list[tuple[int, int]]  # inclusive (first, last) pairs


@dataclass(frozen=True)
class HistoryGaps:
    """One history of a station: its own bundle and report numbers not imported yet."""

    history: bytes
    restore: Restore | None  # None: the station's first history
    bundles: int
    missing_bundles: Ranges
    missing_reports: Ranges
    unreadable_reports: list[int]
    last_seq: int
    # Restores that replaced this history: (restore, highest report held after its fork)
    replaced_by: list[tuple[Restore, int | None]] = field(default_factory=list)


@dataclass(frozen=True)
class StationGaps:
    station_id: bytes
    station_key: StationVerifyKey
    bundles: int
    missing_bundles: Ranges
    missing_reports: Ranges
    unreadable_reports: list[int]
    last_seq: int
    # Every history of the station, the first one first; the fields above are the
    # first history's (a station never restored has only that one).
    histories: list[HistoryGaps] = field(default_factory=list)


def missing_ranges(present: Iterable[int], top: int, start: int = 1) -> Ranges:
    """The numbers ``start``..``top`` not in ``present`` (ascending), as ranges.

    Ranges, not lists: a forged bundle may claim report 2**62, and listing
    every missing number would exhaust memory.
    """
    out: Ranges = []
    expected = start
    for n in present:
        if n > top:
            break
        if n < start:
            continue
        if n > expected:
            out.append((expected, n - 1))
        expected = max(expected, n + 1)
    if expected <= top:
        out.append((expected, top))
    return out


def _history_gaps(db: ReviewDB, station_id: bytes, history: bytes,
                  restore: Restore | None, children: list[Restore]) -> HistoryGaps:
    bundles = db.bundles(station_id, history)
    numbers = sorted(b.number for b in bundles)
    unreadable = db.unreadable_seqs(station_id, history)
    present = sorted({*db.seqs(station_id, history), *unreadable})
    last_seq = max([b.last_seq for b in bundles] + present[-1:], default=0)
    first_bundle, first_seq = (restore.bundle + 1, restore.seq + 1) if restore else (1, 1)
    replaced = [(r, max((s for s in present if s > r.seq), default=None)) for r in children]
    return HistoryGaps(
        history=history, restore=restore, bundles=len(numbers),
        missing_bundles=missing_ranges(numbers, max(numbers, default=0), first_bundle),
        missing_reports=missing_ranges(present, last_seq, first_seq),
        unreadable_reports=unreadable, last_seq=last_seq, replaced_by=replaced)


def gaps(db: ReviewDB) -> list[StationGaps]:
    """Per station (and per history of a restored station): bundle numbers and report
    numbers not (yet) imported."""
    out = []
    for station_id, verify_key in db.stations():
        records = db.histories(station_id)
        histories = [_history_gaps(db, station_id, ROOT_HISTORY, None,
                                   [h.restore for h in records if h.parent == ROOT_HISTORY])]
        histories += [_history_gaps(db, station_id, h.restore.id, h.restore,
                                    [c.restore for c in records if c.parent == h.restore.id])
                      for h in records]
        first = histories[0]
        out.append(StationGaps(
            station_id=station_id,
            station_key=StationVerifyKey(verify_key),
            bundles=first.bundles,
            missing_bundles=first.missing_bundles,
            missing_reports=first.missing_reports,
            unreadable_reports=first.unreadable_reports,
            last_seq=first.last_seq,
            histories=histories,
        ))
    return out


def format_ranges(ranges: Ranges) -> str:
    """``[(1, 3), (7, 7)]`` -> ``"1-3, 7"``."""
    return ", ".join(f"{a}-{b}" if a != b else f"{a}" for a, b in ranges)


def compress(numbers: list[int]) -> str:
    """``[1, 2, 3, 7, 9, 10]`` -> ``"1-3, 7, 9-10"``."""
    parts: list[str] = []
    start = prev = None
    for n in numbers:
        if start is None:
            start = prev = n
        elif prev is not None and n == prev + 1:
            prev = n
        else:
            parts.append(f"{start}-{prev}" if start != prev else f"{start}")
            start = prev = n
    if start is not None:
        parts.append(f"{start}-{prev}" if start != prev else f"{start}")
    return ", ".join(parts)
