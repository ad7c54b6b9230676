"""The station side of bundles: ``reporter export``.

An export takes every report not yet exported (or, with ``all_held``, every
report the station still holds), builds and signs the manifest, and writes
the bundle to ``FILE.partial`` before renaming it to ``FILE``. The bundle's
number and ``FILE`` are reserved in the database before writing, and the
bundle is marked written after the rename.

A crash (or a failure) in between leaves a reservation, which the next export
settles first (``recover``): if ``FILE`` exists, the rename happened, the file
is complete and may already be on its way, so the bundle is marked written;
otherwise nothing left the station, so ``FILE.partial`` is deleted and the
number is used again. A bundle number is therefore never given to two
different files that could both reach a reviewer.

Attachments: each report's attachment ciphertext comes from the station's
``attachments.db`` (``blobs.py``), linked to the report by its envelope hash.
The station cannot open envelopes. Since attachments.db schema 2 it records
each upload's ciphertext hash when the report is stored, and the manifest
takes it from there (the writer still hashes every byte it writes and refuses
a mismatch). An upload stored before that has no hash recorded, and the
export reads it twice: once to measure and hash it for the
manifest (which comes first in the bundle and is signed), once to write it,
checking on the way that it has not changed. Both passes stream segment by
segment, read ahead on a thread so that SQLCipher decrypts the next segment
while this one is hashed or encrypted: memory does not grow with file size.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from reporter.errors import NoRecipients, NothingToExport, ReporterError
from reporter.formats.attachment import CiphertextHash
from reporter.formats.bundle import Outgoing, write_bundle
from reporter.formats.chain import envelope_hash
from reporter.formats.crypto import RecipientPublicKey
from reporter.formats.manifest import MAX_ATTACHMENTS, AttachmentEntry, Manifest, NamedRecipient
from reporter.station.instance import StationIdentity
from reporter.station.store import Store
from reporter.storage.blobs import BlobStore
from reporter.storage.durable import fsync_dir
from reporter.storage.pipeline import read_ahead

Progress = Callable[[int], None]


@dataclass(frozen=True)
class ExportResult:
    number: int
    first_seq: int
    last_seq: int
    reports: int
    size: int
    path: Path
    attachments: int = 0
    attachment_bytes: int = 0


def _range(store: Store, all_held: bool) -> tuple[int, int, int, bytes | None]:
    """(number, first_seq, last_seq, previous hash) of the next bundle."""
    written = [b for b in store.bundles() if b.written]
    number = (written[-1].number + 1) if written else 1
    previous = written[-1].hash if written else None
    exported = max((b.last_seq for b in written), default=0)
    held = store.first_held_seq()
    first = (held or store.last_seq() + 1) if all_held else exported + 1
    return number, first, store.last_seq(), previous


def _envelopes(store: Store, first: int, last: int) -> Iterator[tuple[int, bytes]]:
    for report in store.reports(after=first - 1):
        if report.seq > last:
            return
        if report.envelope is None:
            raise ReporterError(f"report {report.seq} was purged and cannot be exported")
        yield report.seq, report.envelope


def _measure(blobs: BlobStore, seq: int, index: int, upload: int,
             recorded: int) -> AttachmentEntry:
    """(size, ciphertext hash) of one stored attachment, read from the blob store."""
    hashed = CiphertextHash()
    size = 0
    with closing(read_ahead(blobs.read(upload))) as segments:
        for segment in segments:
            hashed.update(segment)
            size += len(segment)
    if size != recorded:
        raise ReporterError(
            f"report {seq}, attachment {index + 1}: attachments.db holds {size} bytes of it "
            f"but recorded {recorded}; the attachment database is damaged (restore it from "
            "a backup)")
    return size, hashed.digest()


def export_bundle(store: Store, identity: StationIdentity, out: Path, *,
                  all_held: bool = False, progress: Progress | None = None,
                  blobs: BlobStore | None = None) -> ExportResult:
    """Write the next bundle to ``out``.

    ``blobs`` is the station's attachment store; every report's attachments
    travel with it. ``None`` is only for a station without one (made before
    attachments existed): its reports have none.
    """
    listed = store.recipients()
    recipients = [r.public_key for r in listed]
    if not recipients:
        raise NoRecipients("no reviewer key is configured; add one with "
                           "'reporter recipients add' before exporting")
    if out.exists():
        raise ReporterError(f"{out} already exists; choose another --out")
    partial = _partial(out)
    recover(store)
    number, first, last, previous = _range(store, all_held)
    if first > last:
        raise NothingToExport(
            f"no new report since bundle {number - 1}; nothing written" if number > 1
            else "the station holds no report yet; nothing written")
    entries = []
    attachments: list[tuple[AttachmentEntry, ...]] = []
    uploads: list[list[int]] = []
    for seq, env in _envelopes(store, first, last):
        hashed = envelope_hash(env)
        entries.append((seq, len(env), hashed))
        stored = blobs.uploads_for(hashed) if blobs is not None else []
        if len(stored) > MAX_ATTACHMENTS:
            raise ReporterError(f"report {seq} has {len(stored)} attachments; a bundle "
                                f"carries at most {MAX_ATTACHMENTS} per report")
        if blobs is not None:
            attachments.append(tuple(
                (u.length, u.hash) if u.hash is not None
                else _measure(blobs, seq, i, u.id, u.length)
                for i, u in enumerate(stored)))
        else:
            attachments.append(())
        uploads.append([u.id for u in stored])
    manifest = Manifest(
        station_id=identity.station_id,
        station_key=identity.signing_key.verify_key,
        number=number,
        previous=previous,
        first_seq=first,
        last_seq=last,
        chain_before=store.chain_at(first - 1, identity.station_id),
        chain_head=store.chain_at(last, identity.station_id),
        envelopes=tuple(entries),
        recipients=(),
        named=tuple(NamedRecipient(r.public_key, r.name) for r in listed),
        created=datetime.now(UTC).date().isoformat(),
        attachments=tuple(attachments),
        restores=store.restores(),
    )
    store.reserve_bundle(number, first, last, manifest.hash(), str(out))
    try:
        size = _write_file(partial, manifest, identity, store, recipients, progress,
                           blobs, uploads)
    except BaseException:
        store.forget_bundle(number)
        partial.unlink(missing_ok=True)
        raise
    try:
        os.rename(partial, out)
        fsync_dir(out.parent)
    except OSError as exc:
        # Whether or not the rename happened, the next export's recover() decides.
        raise ReporterError(f"cannot finish writing {out}: {exc.strerror}; run export "
                            "again to settle it") from None
    store.mark_bundle_written(number)
    return ExportResult(number, first, last, len(entries), size, out,
                        manifest.attachment_count, manifest.attachment_bytes)


def _partial(out: Path) -> Path:
    return out.with_name(out.name + ".partial")


def recover(store: Store) -> list[int]:
    """Settle reservations left by an interrupted export; return numbers kept."""
    kept = []
    for number, recorded in store.unwritten_bundles():
        out = Path(recorded) if recorded else None
        if out is not None and out.exists() and not _partial(out).exists():
            store.mark_bundle_written(number)  # complete, possibly already sent
            kept.append(number)
        else:
            if out is not None:
                _partial(out).unlink(missing_ok=True)
            store.forget_bundle(number)
    return kept


def _write_file(path: Path, manifest: Manifest, identity: StationIdentity, store: Store,
                recipients: list[RecipientPublicKey], progress: Progress | None,
                blobs: BlobStore | None, uploads: list[list[int]]) -> int:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise ReporterError(f"cannot create {path}: {exc.strerror}") from None

    started: list[Generator[bytes, None, None]] = []

    def reports() -> Iterator[Outgoing]:
        for count, ((_seq, envelope), ids) in enumerate(zip(
                _envelopes(store, manifest.first_seq, manifest.last_seq), uploads,
                strict=True), 1):
            if progress is not None:
                progress(count)
            # Generators: each attachment is read only when write_bundle reaches it.
            pieces = [read_ahead(blobs.read(u)) for u in ids] if blobs is not None else []
            started.extend(pieces)
            yield Outgoing(envelope, pieces)

    with os.fdopen(fd, "wb") as fh:
        try:
            size = write_bundle(fh, manifest, identity.signing_key, reports(), recipients)
            fh.flush()
            os.fsync(fh.fileno())
        except OSError as exc:
            raise ReporterError(f"cannot write {path}: {exc.strerror}") from None
        except ValueError as exc:  # the store changed under the export
            raise ReporterError(f"cannot write {path}: {exc}; run export again") from None
        finally:
            for pieces in started:  # a failure half way: stop its read-ahead thread now
                pieces.close()
    return size
