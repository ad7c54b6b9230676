"""Make a copy of an evidence picture with its identifying metadata removed.

The sealed original keeps every byte, metadata included: where and when a photo
was taken, and with which phone, is part of the evidence. A reviewer who wants
to share or publish a picture asks for a *stripped copy* instead.

What is removed: for JPEG, PNG, WebP, GIF, TIFF and AVIF pictures, everything
but the pixels. The picture is decoded, its EXIF orientation applied (so the
copy looks upright), and its pixels are pasted into a new, empty image of the
same mode and size, which is encoded again in the same format (JPEG and lossy
formats at quality 95). Nothing is carried over from the original file, so no
EXIF (GPS position, camera make/model/serial number, date taken, thumbnail),
XMP, IPTC, ICC colour profile, comment or text chunk can survive. Colours of
wide-gamut photos may shift slightly without their profile. Animations and
multi-page files keep their first frame only.

What is not removed: anything visible in the picture itself (faces, signs,
screens, reflections). And nothing at all from any other kind of file: PDFs,
audio, video, HEIC photos (Pillow cannot decode them without a plugin), raw
camera files, office documents and archives are refused with a message naming
what they may contain, so that nobody mistakes an untouched file for a clean
one. Archives, which office documents are, are never opened.

The input comes from untrusted phones and is treated as hostile: its kind is
decided by its magic bytes, never by its name or claimed type; files above
``MAX_IMAGE_BYTES`` are refused before anything is decoded. Decoding happens
only in a process of its own (``pixels.py``; Pillow is never even imported
in the reviewer's ``reporter``), limited in processor time, memory and output
size (``Limits``), which refuses pictures above ``MAX_IMAGE_PIXELS`` from
their header and progressive JPEGs with too many scans before decoding a
pixel. Whatever happens there (an exception, a limit reached, a crash, a
hang) becomes a ``StripError`` naming it, for this one file. The picture
reaches that process from memory (``strip_copy`` takes its bytes), so the
original, with its GPS position, is never written next to the copy meant for
sharing. The copy is written to ``dest + ".partial"`` (mode 0600, like the
originals), its length checked, and linked into place, so ``dest`` is either
complete or absent, and an existing ``dest`` is never overwritten.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import reporter
from reporter.errors import ReporterError
from reporter.storage.durable import fsync_dir

MAX_IMAGE_BYTES = 200_000_000
"""Largest input file stripped (200 MB); checked before anything is decoded."""

MAX_IMAGE_PIXELS = 50_000_000
"""Largest picture stripped (50 megapixels), read from the header before decoding."""


@dataclass(frozen=True)
class Limits:
    """What the decoder's process (``pixels.py``) may spend on one picture."""

    pixels: int = MAX_IMAGE_PIXELS
    jpeg_scans: int = 100  # a progressive photo has about 10; libjpeg-turbo suggests 500
    cpu_seconds: int = 30  # a 50-megapixel photo takes 1-4 s here
    memory_bytes: int = 2 << 30  # address space; a 50-megapixel RGBA picture needs ~1 GiB
    output_bytes: int = 1 << 30  # the copy written
    wall_seconds: int = 120  # in case it waits rather than works


LIMITS = Limits()

HEAD_BYTES = 4096
"""Bytes read to tell the kind of a file (``check``)."""

QUALITY = 95
"""Quality of the re-encoded JPEG, WebP and AVIF copies."""

IMAGE_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "TIFF", "AVIF")
"""Kinds of file a stripped copy can be made of (Pillow's format names)."""

COPY_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp",
              "GIF": "image/gif", "TIFF": "image/tiff", "AVIF": "image/avif"}
"""The media type of a stripped copy of each kind (a copy keeps its original's format)."""

REMOVED = (
    "all metadata: EXIF (including GPS position, camera make/model/serial number, "
    "date taken and thumbnail), XMP, IPTC, ICC colour profile, comments and text chunks"
)
KEPT = (
    "only the pixels, re-encoded; anything visible in the picture "
    "(faces, signs, screens, reflections) can still identify people or places"
)

_ADVICE = (
    "Use a dedicated tool (for example mat2 or exiftool) on an offline machine before "
    "publishing it; the original is kept as it is."
)
_EXIF = "EXIF (GPS position, camera make/model/serial number, date taken)"

# kind -> (what to call it, what it may contain)
_REFUSED: dict[str, tuple[str, str]] = {
    "HEIC": (
        "HEIC/HEIF photo (Pillow cannot decode it without a plugin)",
        f"{_EXIF}, XMP, depth maps and Live Photo links",
    ),
    "RAW": ("raw camera photo (DNG or similar)", f"{_EXIF}, XMP, maker notes and previews"),
    "PDF": (
        "PDF document",
        "author, title, creator tool, creation and modification dates, XMP, earlier "
        f"revisions kept by incremental saves, and embedded images with their own {_EXIF}",
    ),
    "ISO": (
        "MP4/MOV/3GP video or M4A audio",
        "recording device make/model, creation date, GPS position "
        "(MP4/MOV 'udta'/'©xyz' atoms), encoder and app names",
    ),
    "MKV": ("WebM/MKV video", "creation date, title, muxing app, and tags naming device or place"),
    "AVI": ("AVI video", "INFO chunks naming software, device and dates"),
    "MP3": (
        "MP3/AAC audio",
        f"ID3 tags (author, recording app, dates, comments) and pictures with their own {_EXIF}",
    ),
    "OGG": ("OGG/Opus audio", "comments naming encoder, recording app, author, dates or place"),
    "FLAC": ("FLAC audio", "comments naming encoder, author, dates or place, and pictures"),
    "WAV": ("WAV audio", "INFO, BWF 'bext', iXML or XMP chunks: recording device, dates, software"),
    "AMR": (
        "AMR audio",
        "few fields of its own, but reporter does not process audio, and voices or "
        "background sounds in the recording",
    ),
    "ZIP": (
        "zip archive (docx, xlsx, pptx, odt and epub files are zip archives; reporter "
        "never extracts them)",
        "author and last-editor names, company, revision history, comments, dates, and "
        f"embedded pictures with their own {_EXIF}",
    ),
    "OLE": (
        "Microsoft Office 97-2003 document",
        "author, last-saved-by, company, revision count, dates, comments and tracked changes",
    ),
    "RTF": ("RTF document", "author, operator, company and dates"),
    "UNKNOWN": ("unrecognised kind of file", "author names, device details, dates or places"),
}

_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
_QUICKTIME_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}


class StripError(ReporterError):
    """No stripped copy was made; the one-line message says why and what to do."""


@dataclass(frozen=True)
class StripResult:
    path: Path  # the stripped copy written
    removed: str  # plain-English summary of what was removed
    kept: str  # plain-English summary of what may remain


def strip_copy(src: Path | bytes | bytearray, dest: Path,
               content_type: str | None = None) -> StripResult:
    """Write a copy of picture ``src`` (a file, or the picture's bytes) without its
    metadata to the new file ``dest`` (mode 0600).

    ``content_type`` is the type the sender claimed; it is never trusted, and
    only used to name an ambiguous container (zip, MP4) in a refusal.
    """
    if dest.exists() or dest.is_symlink():
        raise StripError(f"{dest} already exists; choose another name for the stripped copy")
    if isinstance(src, Path):
        head, size = _read_head(src)
    else:
        head, size = bytes(src[:HEAD_BYTES]), len(src)
    kind = check(head, size, content_type)
    data = _read_all(src, size) if isinstance(src, Path) else src
    animated = _save(data, kind, dest, LIMITS)
    kept = KEPT + ("; first frame or page only" if animated else "")
    return StripResult(path=dest, removed=REMOVED, kept=kept)


def check(head: bytes, size: int, content_type: str | None = None) -> str:
    """The kind of a file of ``size`` bytes starting with ``head`` (at least its first
    ``HEAD_BYTES``), if a stripped copy can be made of it; ``StripError`` saying why
    not otherwise. Cheap: a caller checks this before decrypting a whole file."""
    if size == 0:
        raise StripError("the file is empty; there is nothing to strip")
    kind = _detect(head)
    if kind not in IMAGE_FORMATS:
        raise StripError(refusal(kind, content_type))
    if size > MAX_IMAGE_BYTES:
        raise StripError(
            f"file is {size / 1e6:.0f} MB, above the {MAX_IMAGE_BYTES // 1_000_000} MB limit "
            f"for stripping; the original is kept as it is"
        )
    return kind


def copy_type(head: bytes) -> str | None:
    """The media type a stripped copy of a file starting with ``head`` would have,
    or ``None`` if no stripped copy can be made of it."""
    return COPY_TYPES.get(_detect(head))


def _read_head(src: Path) -> tuple[bytes, int]:
    try:
        info = src.stat()
        if not stat.S_ISREG(info.st_mode):
            raise StripError(f"{src} is not a regular file")
        with src.open("rb") as f:
            return f.read(HEAD_BYTES), info.st_size
    except OSError as e:
        raise StripError(f"cannot read {src}: {e.strerror or e}") from e


def _read_all(src: Path, size: int) -> bytes:
    try:
        with src.open("rb") as f:
            data = f.read(size + 1)
    except OSError as e:
        raise StripError(f"cannot read {src}: {e.strerror or e}") from e
    if len(data) != size:
        raise StripError(f"{src} changed while it was read; try again")
    return data


def _detect(head: bytes) -> str:
    """The kind of file, from its magic bytes alone."""
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    if head.startswith((b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")):
        return "TIFF"
    if head.startswith(b"RIFF"):
        return {b"WEBP": "WEBP", b"WAVE": "WAV", b"AVI ": "AVI"}.get(head[8:12], "UNKNOWN")
    if head[4:8] == b"ftyp":
        box_end = min(int.from_bytes(head[:4], "big"), len(head))
        brands = {head[8:12]} | {head[i : i + 4] for i in range(16, box_end - 3, 4)}
        if brands & {b"avif", b"avis"}:
            return "AVIF"
        return "HEIC" if brands & _HEIF_BRANDS else "ISO"
    if head[4:8] in _QUICKTIME_ATOMS:
        return "ISO"
    if b"%PDF-" in head[:1024]:  # readers accept junk before the header
        return "PDF"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        return "ZIP"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "MKV"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "MP3"
    prefixes = {
        b"OggS": "OGG",
        b"fLaC": "FLAC",
        b"#!AMR": "AMR",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1": "OLE",
        b"{\\rtf": "RTF",
    }
    for prefix, kind in prefixes.items():
        if head.startswith(prefix):
            return kind
    return "UNKNOWN"


def refusal(kind: str, content_type: str | None) -> str:
    """Why no stripped copy can be made of this kind of file, and what it may contain."""
    name, contents = _REFUSED[kind]
    hint = (content_type or "").lower()
    if kind == "ISO" and hint.startswith("audio/"):
        name = "M4A/AAC audio"
    elif kind == "ZIP" and ("officedocument" in hint or "opendocument" in hint):
        name = "office document (a zip archive; reporter never extracts it)"
    return (
        f"{name}: reporter cannot remove metadata from this kind of file. "
        f"It may contain {contents}. {_ADVICE}"
    )


PREVIEW_PIXELS = 1600
"""Longest side of a preview (``preview``): enough for a screen, small to send."""

PREVIEW_TYPES = {"JPEG": "image/jpeg"}
"""A preview is a JPEG for a JPEG, a PNG for every other kind (lossless, and shown
by every browser, which TIFF and AVIF are not)."""


@dataclass(frozen=True)
class Preview:
    """A picture's pixels alone, re-encoded in memory: no metadata survives."""

    data: bytes
    media_type: str  # image/jpeg or image/png
    animated: bool  # the picture had more frames: the preview has the first


def preview(data: bytes | bytearray, content_type: str | None = None,
            max_side: int = PREVIEW_PIXELS) -> Preview:
    """A metadata-free copy of the picture ``data`` to show on a screen, made in memory
    by the decoder's process with the same limits as ``strip_copy``: at most
    ``max_side`` pixels on its longest side, a JPEG for a JPEG and a PNG otherwise.
    ``StripError`` for what cannot or must not be decoded; nothing is written."""
    kind = check(bytes(data[:HEAD_BYTES]), len(data), content_type)
    status, out = _run_decoder(data, kind, LIMITS, None, preview_side=max_side)
    return Preview(out, PREVIEW_TYPES.get(kind, "image/png"), bool(status.get("animated")))


def stripped_bytes(data: bytes | bytearray, content_type: str | None = None) -> Preview:
    """``strip_copy``'s copy (same format, full size, every limit), in memory: for a
    reviewer who downloads it from the review desk. Nothing is written."""
    kind = check(bytes(data[:HEAD_BYTES]), len(data), content_type)
    status, out = _run_decoder(data, kind, LIMITS, None)
    return Preview(out, COPY_TYPES[kind], bool(status.get("animated")))


def _decoder_command(kind: str, limits: Limits, preview_side: int | None = None) -> list[str]:
    """``python -I`` running ``pixels.main``, importing this very ``reporter``."""
    if not sys.executable:
        raise StripError("cannot start the picture decoder: no Python interpreter path is "
                         "known (sys.executable is empty)")
    root = str(Path(reporter.__file__).resolve().parent.parent)
    code = ("import sys; sys.path.insert(0, sys.argv.pop(1)); "
            "from reporter.review.pixels import main; sys.exit(main(sys.argv[1:]))")
    return [sys.executable, "-I", "-c", code, root, kind, str(limits.pixels),
            str(limits.jpeg_scans), str(limits.cpu_seconds), str(limits.memory_bytes),
            str(limits.output_bytes), *([str(preview_side)] if preview_side else [])]


def _decode(data: bytes | bytearray, kind: str, out_fd: int, limits: Limits) -> bool:
    """Run the decoder's process on ``data``, writing the copy to ``out_fd``; whether
    the picture had more than one frame. ``StripError`` for any failure, named."""
    status, _ = _run_decoder(data, kind, limits, out_fd)
    return bool(status.get("animated"))


def _run_decoder(data: bytes | bytearray, kind: str, limits: Limits, out_fd: int | None,
                 *, preview_side: int | None = None) -> tuple[dict[str, object], bytes]:
    """Run the decoder's process on ``data``; its status and, with ``out_fd`` None, the
    copy it wrote (else the copy went to ``out_fd``). ``StripError`` for any failure."""
    try:
        child = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
            _decoder_command(kind, limits, preview_side), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE if out_fd is None else out_fd, stderr=subprocess.PIPE,
            close_fds=True)
    except OSError as e:
        raise StripError(f"cannot start the picture decoder: {e.strerror or e}") from e
    try:
        out, err = child.communicate(data, timeout=limits.wall_seconds)  # type: ignore[arg-type]
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        raise StripError(
            f"decoding this {kind} picture took more than {limits.wall_seconds} s: it may be "
            f"crafted to exhaust the computer. {_NOTHING}") from None
    except BaseException:
        child.kill()
        child.wait()
        raise
    status = _status(err)
    if child.returncode == 0 and status.get("ok") is True:
        written = len(out or b"") if out_fd is None else os.fstat(out_fd).st_size
        if status.get("bytes") != written:
            raise StripError(f"the stripped copy was not written whole (is the disk full?). "
                             f"{_NOTHING}")
        return status, out or b""
    error = status.get("error")
    if isinstance(error, str):
        raise StripError(error[:1000])
    if child.returncode == -signal.SIGKILL:
        raise StripError(
            f"the picture decoder was killed (SIGKILL) decoding this {kind} picture, most "
            f"likely because the computer ran out of memory: it may be crafted to exhaust "
            f"it. {_NOTHING}")
    if status.get("memory"):
        raise StripError(
            f"decoding this {kind} picture needed more than {limits.memory_bytes >> 20} MB "
            f"of memory: it may be crafted to exhaust the computer (a decompression bomb). "
            f"{_NOTHING}")
    if child.returncode == -signal.SIGXCPU:
        raise StripError(
            f"decoding this {kind} picture took more than {limits.cpu_seconds} s of processor "
            f"time, far more than a photo needs: it may be crafted to exhaust the computer "
            f"(a decompression bomb). {_NOTHING}")
    if child.returncode < 0:
        name = signal.Signals(-child.returncode).name
        raise StripError(f"the picture decoder crashed ({name}) on this {kind} file: it is "
                         f"damaged or crafted. {_NOTHING}")
    raise StripError(f"the picture decoder failed on this {kind} file "
                     f"({status.get('crash') or f'exit status {child.returncode}'}): it is "
                     f"damaged or crafted. {_NOTHING}")


_NOTHING = "No stripped copy was made; the original is kept as it is."


def _status(err: bytes) -> dict[str, object]:
    """The decoder's last line on standard error, as JSON (``{}`` if there is none)."""
    for line in reversed(err.splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        return value if isinstance(value, dict) else {}
    return {}


def _save(data: bytes | bytearray, kind: str, dest: Path, limits: Limits) -> bool:
    """Decode ``data`` and write its pixels into ``dest + ".partial"`` (new, mode 0600),
    then give it the name ``dest``, never replacing a file that exists; whether the
    picture had more than one frame."""
    partial = dest.with_name(dest.name + ".partial")
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
                     | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except FileExistsError as e:
        raise StripError(
            f"{partial} already exists (left by an interrupted run?); delete it and try again"
        ) from e
    except OSError as e:
        raise StripError(f"cannot write {partial}: {e.strerror or e}") from e
    try:
        try:
            animated = _decode(data, kind, fd, limits)
            os.fsync(fd)
        finally:
            os.close(fd)
        _publish(partial, dest)
        return animated
    except BaseException as e:
        partial.unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise StripError(f"could not write the stripped copy {dest}: "
                             f"{e.strerror or e}; the original is kept as it is") from e
        raise


def _publish(partial: Path, dest: Path) -> None:
    try:
        os.link(partial, dest)  # fails if ``dest`` exists, atomically
    except FileExistsError as e:
        raise StripError(f"{dest} already exists; choose another name for the stripped "
                         "copy") from e
    except OSError:
        # No hard links here (FAT or exFAT on a USB stick): check, then rename.
        if dest.exists() or dest.is_symlink():
            raise StripError(f"{dest} already exists; choose another name for the stripped "
                             "copy") from None
        os.replace(partial, dest)
    else:
        partial.unlink()
    fsync_dir(dest.parent)
