"""A report's attachments on the reviewer's machine: written out, checked, stripped.

``reporter review attachments ID --out DIR`` decrypts each attachment of one
report from the review database's attachment store into ``DIR``. The
ciphertext goes through ``attachment.Reader``, which checks every chunk's
tag, the padding, the ciphertext hash and the SHA-256 of the original as
sealed by the station (the chain-of-custody hash); the bytes are streamed to
``<file>.partial`` (mode 0600, created exclusively) and only a file that
passed every check gets its real name. A failure deletes the partial file.
An existing file is never overwritten.

The name is ``<index + 1>-<stem><extension>`` (``file_name``). The
extension comes from the type of the bytes themselves, detected again here
from their first bytes (``filetypes.detect``) and looked up in a fixed map
(``filetypes.EXTENSIONS``); never from the name the phone sent, which anyone
can choose. The sent name is kept as the stem, with every dot turned into a
dash, so ``evidence.html`` holding a JPEG is written ``1-evidence-html.jpg``
(one dot per name: nothing for a system that hides known extensions, or
that reads ``.html.jpg`` as HTML, to get wrong). A sent name that already
ends in an extension of its type keeps it: ``photo.jpeg`` is ``1-photo.jpeg``.

With ``stripped``, each attachment is instead decrypted (and checked) into
memory, never into ``DIR`` (which is for sharing, while the original holds
the GPS position), and ``strip.strip_copy`` makes
``<index + 1>-stripped-<stem><extension>`` from it (mode 0600). Kinds that
cannot be stripped are refused with ``StripError``'s message from their
first bytes, before the rest is decrypted.

One attachment's failure does not stop the others: ``extract`` yields one
outcome per attachment, and the caller reports them.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from reporter.errors import FormatError, ReporterError
from reporter.formats import attachment, filetypes
from reporter.formats.report import AttachmentInfo
from reporter.review.db import ReviewDB
from reporter.review.records import get_report
from reporter.storage.durable import fsync_dir

if TYPE_CHECKING:  # Pillow is loaded only when a stripped copy is asked for
    from reporter.review.strip import StripResult

NAME_MAX = 255  # bytes in one file name, on every file system reviewers use
PARTIAL = ".partial"
STRIPPED = "stripped-"
_SEPARATORS = frozenset("/\\" + os.sep + (os.altsep or ""))
# Not allowed in a file name on Windows, or on the FAT and exFAT of USB sticks.
_NOT_PORTABLE = frozenset('<>:"|?*')
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# What a sent name's extension looks like (an extension in ``filetypes.EXTENSIONS``
# is at most five characters; a longer run after the last dot is just words).
_EXTENSION = re.compile(r"\.([0-9A-Za-z]{1,8})\Z")


class AttachmentError(ReporterError):
    """An attachment cannot be written out (missing, or the file cannot be created)."""


def clean_file_name(name: str, fallback: str) -> str:
    """``name`` made safe as one file name: no path separator and none of the
    characters Windows or FAT forbid (each becomes ``_``), no control, format
    or bidirectional-override character (so no ``U+202E`` making ``gpj.exe``
    look like ``exe.jpg``), compatibility characters folded (a full-width dot
    becomes a dot), no leading or trailing dot or space (Windows drops trailing
    ones, and a leading dot hides a file).

    The station cleaned the name already; this is done again because the review
    database is the only thing between a name a phone sent and the file system.
    """
    text = unicodedata.normalize("NFKC", name)
    text = "".join("_" if c in _SEPARATORS or c in _NOT_PORTABLE else c for c in text
                   if unicodedata.category(c)[0] != "C" and c not in _BIDI_CONTROLS)
    before = None
    while before != text:  # "a . ." -> "a"
        before, text = text, text.strip().strip(".")
    return text or fallback


def sent_extension(name: str) -> str | None:
    """The extension the sent ``name`` claims (``.html``), lower case, if it has one."""
    match = _EXTENSION.search(clean_file_name(name, ""))
    return "." + match.group(1).lower() if match else None


def name_disagrees(info: AttachmentInfo, media_type: str | None) -> str | None:
    """The sent name's extension if it is not one of ``media_type``'s, else ``None``."""
    claimed = sent_extension(info.name)
    return claimed if claimed and claimed not in filetypes.extensions(media_type) else None


def _fit(stem: str, budget: int) -> str:
    """Cut ``stem`` to ``budget`` bytes of UTF-8 (never inside a character)."""
    return stem.encode("utf-8")[:max(budget, 0)].decode("utf-8", "ignore")


def file_name(info: AttachmentInfo, media_type: str | None, *, stripped: bool = False) -> str:
    """``<index + 1>-<stem><extension>`` (``<index + 1>-stripped-...`` for a stripped
    copy) for a file whose bytes are of ``media_type`` (``None``: unknown, ``.bin``).

    The extension is ``media_type``'s, from ``filetypes.EXTENSIONS``; the stem is
    the cleaned sent name without that extension, every dot made a dash. The
    name is at most 255 bytes with ``.partial`` added, and starts with a digit,
    so it is never a Windows device name (``CON``, ``NUL``, ``COM1``...), never
    hidden, and never taken for an option.
    """
    number = info.index + 1
    prefix = f"{number}-{STRIPPED if stripped else ''}"
    name = clean_file_name(info.name, f"attachment-{number}")
    extension = filetypes.extension(media_type)
    claimed = sent_extension(name)
    if claimed and claimed in filetypes.extensions(media_type):
        name, extension = name[: -len(claimed)], claimed
    stem = name.replace(".", "-").strip() or f"attachment-{number}"
    budget = NAME_MAX - len(prefix) - len(extension) - len(PARTIAL)
    return prefix + _fit(stem, budget).rstrip() + extension


@dataclass(frozen=True)
class Written:
    """One attachment written out (or, with ``stripped``, its stripped copy)."""

    info: AttachmentInfo
    path: Path
    size: int  # of the file written
    stripped: StripResult | None = None
    # The type of the bytes written, detected here (the original's, for a stripped
    # copy); ``info.type`` is what the station detected and sealed.
    detected: str | None = None


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


class UnknownAttachment(AttachmentError):
    """The report has no attachment with that number."""


@dataclass
class Opened:
    """One attachment being decrypted, for a reader that streams it (the review desk).

    ``head`` is its first bytes, already decrypted and checked, from which
    ``detected`` (its type, ``filetypes.detect``) was told; ``rest`` yields the
    remaining bytes, each chunk checked before it is yielded, and the last
    check (the SHA-256 the station sealed) is made when it is exhausted: a
    reader that stops early has had only authenticated chunks. Close ``rest``
    to stop.
    """

    info: AttachmentInfo
    detected: str | None
    head: bytes
    rest: Generator[bytes, None, None]

    def chunks(self) -> Iterator[bytes]:
        """Every byte of the file, ``head`` first."""
        if self.head:
            yield self.head
        yield from self.rest


def _stored_one(db: ReviewDB, report_id: int, index: int) -> tuple[Stored, AttachmentInfo]:
    stored = stored_attachments(db, report_id)
    if not 0 <= index < len(stored.attachments):
        raise UnknownAttachment(f"report {report_id} has no attachment {index + 1}")
    if stored.file_key is None or index not in stored.uploads:
        raise AttachmentError(
            f"report {report_id}'s attachments are not in this review database (it was "
            "imported without them); import its bundle into a new review database")
    return stored, stored.attachments[index]


def open_attachment(db: ReviewDB, report_id: int, index: int) -> Opened:
    """Start decrypting attachment ``index`` (from 0) of report ``report_id``: its first
    bytes are decrypted and checked now, to tell its type; the rest as it is read."""
    stored, info = _stored_one(db, report_id, index)
    chunks = _plaintext(db, stored, info)
    head = b""
    for chunk in chunks:
        head += chunk
        if len(head) >= filetypes.HEAD_BYTES:
            break
    return Opened(info, filetypes.detect(head[: filetypes.HEAD_BYTES]), head, chunks)


def read_picture(db: ReviewDB, report_id: int, index: int) -> tuple[AttachmentInfo, bytearray]:
    """Attachment ``index`` of report ``report_id`` decrypted whole into memory, checked
    to the last byte, if a stripped copy can be made of it (``strip.check``, from its
    first bytes and sealed size, before the rest is decrypted); else ``StripError``."""
    from reporter.review import strip  # its limits; Pillow stays in the child process

    stored, info = _stored_one(db, report_id, index)
    chunks = _plaintext(db, stored, info)
    data = bytearray()
    for chunk in chunks:
        data += chunk
        if len(data) >= strip.HEAD_BYTES:
            break
    strip.check(bytes(data[: strip.HEAD_BYTES]), info.size, info.type)
    for chunk in chunks:
        data += chunk
    return info, data


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


def _plaintext(db: ReviewDB, stored: Stored,
               info: AttachmentInfo) -> Generator[bytes, None, None]:
    """One attachment's bytes, checked chunk by chunk; the last check (the SHA-256 the
    station sealed) is made when the last chunk has been taken."""
    assert stored.file_key is not None  # noqa: S101 (checked by extract)
    reader = attachment.Reader(stored.file_key, info.index, info.size, info.sha256,
                               info.ciphertext_hash)
    try:
        yield from reader.read(db.attachment_store().read(stored.uploads[info.index]))
    except FormatError as exc:
        # "attachment 2 was altered ..." -> "report 7, attachment 2 was altered ..."
        raise type(exc)(f"report {stored.report_id}, {exc}; nothing was written") from None


def _decrypt(db: ReviewDB, stored: Stored, info: AttachmentInfo, partial: Path, *,
             durable: bool) -> bytes:
    """Decrypt and check one attachment into the new file ``partial`` (removed on
    failure); return its first ``filetypes.HEAD_BYTES`` bytes, to tell its type."""
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
                     | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except FileExistsError:
        raise AttachmentError(f"{partial} already exists (left by an interrupted run?); "
                              "delete it and try again") from None
    except OSError as exc:
        raise AttachmentError(f"cannot create {partial}: {exc.strerror}") from None
    head = b""
    try:
        with os.fdopen(fd, "wb") as out:
            for data in _plaintext(db, stored, info):
                if len(head) < filetypes.HEAD_BYTES:
                    head += data[: filetypes.HEAD_BYTES - len(head)]
                out.write(data)
            out.flush()
            if durable:
                os.fsync(out.fileno())
        return head
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


def _refuse_existing(dest: Path) -> None:
    if dest.exists() or dest.is_symlink():
        raise AttachmentError(f"{dest} already exists; reporter never overwrites a file: "
                              "choose another --out or move it")


def _write_one(db: ReviewDB, stored: Stored, info: AttachmentInfo, out_dir: Path) -> Written:
    expected = out_dir / file_name(info, info.type)
    _refuse_existing(expected)
    partial = expected.with_name(expected.name + PARTIAL)
    # Named by what the bytes are, which is what the station sealed unless the
    # bundle was forged: then by the bytes, never by the station's word.
    detected = filetypes.detect(_decrypt(db, stored, info, partial, durable=True))
    dest = expected if detected == info.type else out_dir / file_name(info, detected)
    _publish(partial, dest)
    return Written(info, dest, info.size, detected=detected)


def _strip_one(db: ReviewDB, stored: Stored, info: AttachmentInfo, out_dir: Path) -> Written:
    from reporter.review import strip  # Pillow, only when asked for

    _refuse_existing(out_dir / file_name(info, info.type, stripped=True))
    # The original is decrypted into memory, never into ``out_dir``: that folder is
    # for sharing, and the original holds the GPS position. Its first bytes say
    # whether it can be stripped at all, before the rest is decrypted.
    chunks = _plaintext(db, stored, info)
    data = bytearray()
    for chunk in chunks:
        data += chunk
        if len(data) >= strip.HEAD_BYTES:
            break
    head = bytes(data[: strip.HEAD_BYTES])
    strip.check(head, info.size, info.type)
    for chunk in chunks:  # the rest, and the final check of the whole file
        data += chunk
    dest = out_dir / file_name(info, strip.copy_type(head), stripped=True)
    result = strip.strip_copy(data, dest, info.type)
    return Written(info, result.path, result.path.stat().st_size, result,
                   detected=filetypes.detect(head))
