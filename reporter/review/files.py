"""A report's attachments on the reviewer's machine: written out, checked, stripped.

``reporter review attachments ID --out DIR`` decrypts each attachment of one
report from the review database's attachment store into ``DIR``, as
``<index + 1>-<name>``. The ciphertext goes through ``attachment.Reader``,
which checks every chunk's tag, the padding, the ciphertext hash and the
SHA-256 of the original as sealed by the station (the chain-of-custody hash);
the bytes are streamed to ``<file>.partial`` (mode 0600, created exclusively)
and only a file that passed every check gets its real name. A failure
deletes the partial file. An existing file is never overwritten.

With ``stripped``, each attachment is instead decrypted (and checked) to a
temporary file in ``DIR``, and ``strip.strip_copy`` makes
``<index + 1>-stripped-<name>`` from it; the temporary file is then removed.
Kinds that cannot be stripped are refused with ``StripError``'s message.

One attachment's failure does not stop the others: ``extract`` yields one
outcome per attachment, and the caller reports them.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from reporter.errors import FormatError, ReporterError
from reporter.formats import attachment
from reporter.formats.report import AttachmentInfo
from reporter.review.db import ReviewDB
from reporter.review.query import get_report
from reporter.storage.durable import fsync_dir

if TYPE_CHECKING:  # Pillow is loaded only when a stripped copy is asked for
    from reporter.review.strip import StripResult

NAME_MAX = 255  # bytes in one file name, on every file system reviewers use
PARTIAL = ".partial"
STRIPPED = "stripped-"
_SEPARATORS = frozenset("/\\" + os.sep + (os.altsep or ""))
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


class AttachmentError(ReporterError):
    """An attachment cannot be written out (missing, or the file cannot be created)."""


def clean_file_name(name: str, fallback: str) -> str:
    """``name`` made safe as one file name: no path separator (each becomes ``_``),
    no control or bidirectional-override character, no leading dot or space.

    The station cleaned the name already; this is done again because the review
    database is the only thing between a name a phone sent and the file system.
    """
    text = unicodedata.normalize("NFC", name)
    text = "".join("_" if c in _SEPARATORS else c for c in text
                   if unicodedata.category(c)[0] != "C" and c not in _BIDI_CONTROLS)
    text = text.strip().lstrip(".").strip()
    return text or fallback


def _fit(name: str, budget: int) -> str:
    """Shorten ``name`` to ``budget`` bytes of UTF-8, keeping a short extension."""
    if len(name.encode("utf-8")) <= budget:
        return name
    stem, dot, suffix = name.rpartition(".")
    if not dot or not stem or len(suffix.encode("utf-8")) > 16:
        stem, suffix = name, ""
    tail = f".{suffix}" if suffix else ""
    room = budget - len(tail.encode("utf-8"))
    return stem.encode("utf-8")[:room].decode("utf-8", "ignore") + tail


def file_name(info: AttachmentInfo, *, stripped: bool = False) -> str:
    """``<index + 1>-<name>`` (or ``<index + 1>-stripped-<name>``), at most 255 bytes
    with ``.partial`` added."""
    prefix = f"{info.index + 1}-{STRIPPED if stripped else ''}"
    name = clean_file_name(info.name, f"attachment-{info.index + 1}")
    return prefix + _fit(name, NAME_MAX - len(prefix) - len(PARTIAL))


@dataclass(frozen=True)
class Written:
    """One attachment written out (or, with ``stripped``, its stripped copy)."""

    info: AttachmentInfo
    path: Path
    size: int  # of the file written
    stripped: StripResult | None = None


@dataclass(frozen=True)
class Failed:
    info: AttachmentInfo
    error: ReporterError


Outcome = Written | Failed


@dataclass(frozen=True)
class Stored:
    """What it takes to open one report's attachments."""

    report_id: int
    attachments: tuple[AttachmentInfo, ...]
    file_key: bytes | None
    uploads: dict[int, int]  # index -> upload id in the attachment store


def stored_attachments(db: ReviewDB, report_id: int) -> Stored:
    """The report's attachments as its sealed body lists them, with their storage."""
    record = get_report(db, report_id).record
    return Stored(report_id, record.report.attachments, db.file_key(report_id),
                  db.attachment_uploads(report_id))


def extract(db: ReviewDB, report_id: int, out_dir: Path, *,
            stripped: bool = False) -> Iterator[Outcome]:
    """Write report ``report_id``'s attachments (or stripped copies) into ``out_dir``."""
    stored = stored_attachments(db, report_id)
    if not stored.attachments:
        return
    if stored.file_key is None or set(stored.uploads) != {a.index for a in stored.attachments}:
        raise AttachmentError(
            f"report {report_id}'s attachments are not in this review database (it was "
            "imported without them); import its bundle into a new review database")
    _make_dir(out_dir)
    for info in stored.attachments:
        try:
            if stripped:
                yield _strip_one(db, stored, info, out_dir)
            else:
                yield _write_one(db, stored, info, out_dir)
        except ReporterError as exc:
            yield Failed(info, exc)


def _make_dir(out_dir: Path) -> None:
    try:
        out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except FileExistsError:
        raise AttachmentError(f"{out_dir} exists and is not a folder; choose another "
                              "--out") from None
    except OSError as exc:
        raise AttachmentError(f"cannot create {out_dir}: {exc.strerror}") from None


def _decrypt(db: ReviewDB, stored: Stored, info: AttachmentInfo, partial: Path, *,
             durable: bool) -> None:
    """Decrypt and check one attachment into the new file ``partial`` (removed on failure)."""
    assert stored.file_key is not None  # noqa: S101 (checked by extract)
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
                     | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except FileExistsError:
        raise AttachmentError(f"{partial} already exists (left by an interrupted run?); "
                              "delete it and try again") from None
    except OSError as exc:
        raise AttachmentError(f"cannot create {partial}: {exc.strerror}") from None
    reader = attachment.Reader(stored.file_key, info.index, info.size, info.sha256,
                               info.ciphertext_hash)
    blobs = db.attachment_store()
    try:
        with os.fdopen(fd, "wb") as out:
            for data in reader.read(blobs.read(stored.uploads[info.index])):
                out.write(data)
            out.flush()
            if durable:
                os.fsync(out.fileno())
    except FormatError as exc:
        partial.unlink(missing_ok=True)
        # "attachment 2 was altered ..." -> "report 7, attachment 2 was altered ..."
        raise type(exc)(f"report {stored.report_id}, {exc}; nothing was written") from None
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise AttachmentError(f"cannot write {partial}: {exc.strerror}") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _publish(partial: Path, dest: Path) -> None:
    """Give ``partial`` its real name, never replacing a file that exists."""
    try:
        os.link(partial, dest)  # fails if ``dest`` exists, atomically
    except FileExistsError:
        partial.unlink(missing_ok=True)
        raise AttachmentError(f"{dest} already exists; reporter never overwrites a file: "
                              "choose another --out or move it") from None
    except OSError:
        # No hard links here (FAT or exFAT on a USB stick): check, then rename.
        if dest.exists() or dest.is_symlink():
            partial.unlink(missing_ok=True)
            raise AttachmentError(f"{dest} already exists; reporter never overwrites a "
                                  "file: choose another --out or move it") from None
        os.replace(partial, dest)
    else:
        partial.unlink()
    fsync_dir(dest.parent)


def _write_one(db: ReviewDB, stored: Stored, info: AttachmentInfo, out_dir: Path) -> Written:
    dest = out_dir / file_name(info)
    if dest.exists() or dest.is_symlink():
        raise AttachmentError(f"{dest} already exists; reporter never overwrites a file: "
                              "choose another --out or move it")
    partial = dest.with_name(dest.name + PARTIAL)
    _decrypt(db, stored, info, partial, durable=True)
    _publish(partial, dest)
    return Written(info, dest, info.size)


def _strip_one(db: ReviewDB, stored: Stored, info: AttachmentInfo, out_dir: Path) -> Written:
    from reporter.review.strip import strip_copy  # Pillow, only when asked for

    dest = out_dir / file_name(info, stripped=True)
    if dest.exists() or dest.is_symlink():
        raise AttachmentError(f"{dest} already exists; reporter never overwrites a file: "
                              "choose another --out or move it")
    # The checked original, decrypted for strip_copy to read, then removed.
    original = out_dir / (file_name(info) + PARTIAL)
    _decrypt(db, stored, info, original, durable=False)
    try:
        result = strip_copy(original, dest, info.type)
    finally:
        original.unlink(missing_ok=True)
    return Written(info, result.path, result.path.stat().st_size, result)
