"""The picture decoder's own process: decode, keep the pixels, encode them again.

Decoders are where the bugs and the bombs are, and the files come from anyone
who found the form. ``strip.strip_copy`` runs this module in a child process
(``python -I``), hands it the picture on standard input and the new file's
descriptor as standard output, and reads one line of JSON on standard error:
``{"ok": true, "animated": false, "bytes": N}``, ``{"error": "<message>"}``,
``{"memory": true}`` or ``{"crash": "<exception type>"}``.
Before reading anything the child limits itself with ``setrlimit``: processor
time (``RLIMIT_CPU``: killed by ``SIGXCPU``), address space (``RLIMIT_AS``:
allocations fail, ``MemoryError``), the size of the file it writes
(``RLIMIT_FSIZE``) and core dumps (none: a crash must not write the picture
to disk). Whatever the decoder does, the reviewer's ``reporter`` only sees a
failed child and names it; the report's other attachments are still written.

Work that is cheap to count is refused before any pixel is decoded:

* pictures above the megapixel limit, from the header;
* progressive JPEGs with more than ``jpeg_scans`` scans, counted by walking
  the file's markers. Decoding time grows with pixels times scans, and a
  290 KB file with its last scan repeated 1,000 times took 42 s of CPU and
  307 MB to decode (libjpeg-turbo's own answer is a scan limit; ordinary
  progressive JPEGs have about 10 scans).
"""

from __future__ import annotations

import io
import json
import os
import re
import resource
import signal
import sys
import warnings
from typing import Any

from PIL import Image, ImageOps

from reporter.review.strip import QUALITY, StripError, refusal

_SOS = 0xDA
_EOI = 0xD9
# In entropy-coded data a 0xFF is followed by 0x00 (a stuffed byte), a restart
# marker (0xD0-0xD7) or more 0xFF fill; anything else is the next marker.
_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def jpeg_scans(data: bytes | bytearray, stop_after: int) -> int:
    """How many scans (``SOS`` segments) the first image of a JPEG has, counted up
    to ``stop_after + 1`` at most, without decoding anything."""
    scans, at, end = 0, 2, len(data)
    while at + 4 <= end and scans <= stop_after:
        if data[at] != 0xFF or data[at + 1] == 0xFF:  # junk or fill: skip a byte
            at += 1
            continue
        marker = data[at + 1]
        if marker == _EOI:
            break
        if 0xD0 <= marker <= 0xD7 or marker in (0x00, 0x01):  # no length
            at += 2
            continue
        length = int.from_bytes(data[at + 2 : at + 4], "big")
        at += 2 + max(length, 2)
        if marker == _SOS:
            scans += 1
            found = _NEXT_MARKER.search(data, at)
            if found is None:
                break
            at = found.start()
    return scans


def _too_large(what: str, max_pixels: int) -> StripError:
    return StripError(
        f"image is {what}, above the {max_pixels // 1_000_000}-megapixel limit for "
        f"stripping; the original is kept as it is"
    )


def clean_pixels(data: bytes | bytearray, kind: str, *, max_pixels: int,
                 max_scans: int) -> tuple[Image.Image, dict[str, object], bool]:
    """A new image holding only the upright pixels of the picture ``data``, its save
    options, and whether it had more than one frame. ``StripError`` for whatever
    cannot or must not be decoded."""
    if kind == "JPEG" and (scans := jpeg_scans(data, max_scans)) > max_scans:
        raise StripError(
            f"this JPEG has more than {max_scans} scans ({scans} counted before stopping; "
            "a photo has about 10): decoding it could take minutes or hours, so it may be "
            "built to exhaust the computer (a decompression bomb). No stripped copy was "
            "made; the original is kept as it is")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=[kind]) as im:  # the header only
                width, height = im.size
                if width * height > max_pixels:
                    raise _too_large(f"{width}x{height} pixels", max_pixels)
                tags = getattr(im, "tag_v2", {})
                if 50706 in tags or 330 in tags:  # DNGVersion, SubIFDs: a raw photo
                    raise StripError(refusal("RAW", None))
                animated = bool(getattr(im, "is_animated", False))
                ImageOps.exif_transpose(im, in_place=True)  # decodes the first frame
                clean = Image.new(im.mode, im.size)
                clean.paste(im)
                if im.palette is not None:
                    rawmode = im.palette.mode
                    palette = im.getpalette(rawmode)
                    if palette is not None:
                        clean.putpalette(palette, rawmode)
                transparency = im.info.get("transparency")
        except (StripError, MemoryError):
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise _too_large("far too large (Pillow refused it as a decompression bomb)",
                             max_pixels) from e
        except Exception as e:  # hostile input can make a decoder raise anything
            raise StripError(
                f"this {kind} image is damaged or truncated and cannot be read, so no stripped "
                f"copy was made; the original is kept as it is"
            ) from e
    options: dict[str, object] = {}
    if kind in ("JPEG", "WEBP", "AVIF"):
        options["quality"] = QUALITY
    if kind == "PNG":
        options["compress_level"] = 1  # 50 megapixels in 4 s instead of 20
    if transparency is not None and kind in ("PNG", "GIF"):
        options["transparency"] = transparency
    return clean, options, animated


def encode(clean: Image.Image, kind: str, options: dict[str, object]) -> bytes:
    """``clean`` encoded as ``kind``; ``StripError`` if it cannot be. Encoded in
    memory: Pillow writing to a file descriptor ignores a short write (a full
    disk), and would leave a truncated copy that looks complete."""
    buffer = io.BytesIO()
    try:
        clean.save(buffer, format=kind, **options)
    except MemoryError:
        raise
    except Exception as e:  # a crafted picture can decode to what cannot be encoded
        raise StripError(
            f"this {kind} image decodes to pixels that cannot be written again "
            f"({type(e).__name__}): it is damaged or crafted. No stripped copy was made; "
            "the original is kept as it is") from e
    return buffer.getvalue()


def write_all(fd: int, data: bytes) -> None:
    """Every byte of ``data`` to ``fd``, or ``StripError`` (a full disk, the size limit)."""
    view, done = memoryview(data), 0
    try:
        while done < len(view):
            done += os.write(fd, view[done:])
    except OSError as e:
        raise StripError(f"could not write the stripped copy: {e.strerror or e}; the "
                         "original is kept as it is") from e


def _limit(cpu_seconds: int, memory_bytes: int, output_bytes: int) -> None:
    """Limit this process before it reads anything (where the system allows it)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write over the limit fails instead
    for what, soft, hard in ((resource.RLIMIT_CORE, 0, 0),
                             (resource.RLIMIT_CPU, cpu_seconds, cpu_seconds + 1),
                             (resource.RLIMIT_AS, memory_bytes, memory_bytes),
                             (resource.RLIMIT_FSIZE, output_bytes, output_bytes)):
        try:
            resource.setrlimit(what, (soft, hard))
        except (ValueError, OSError):  # not lowerable here (macOS: RLIMIT_AS)
            pass


def for_preview(clean: Image.Image, kind: str, max_side: int
                ) -> tuple[Image.Image, str, dict[str, object]]:
    """``clean`` made a screen preview: at most ``max_side`` pixels on its longest side,
    in a mode browsers show, to be encoded as a JPEG (from a JPEG) or a PNG."""
    target = "JPEG" if kind == "JPEG" else "PNG"
    if target == "JPEG" and clean.mode not in ("L", "RGB"):
        clean = clean.convert("RGB")
    elif target == "PNG" and clean.mode not in ("1", "L", "LA", "RGB", "RGBA"):
        has_alpha = "A" in clean.getbands() or clean.mode == "P"
        clean = clean.convert("RGBA" if has_alpha else "RGB")
    clean.thumbnail((max_side, max_side))
    options: dict[str, object] = ({"quality": 90} if target == "JPEG"
                                  else {"compress_level": 1})
    return clean, target, options


def main(argv: list[str]) -> int:
    """``KIND MAX_PIXELS MAX_SCANS CPU_SECONDS MEMORY_BYTES OUTPUT_BYTES [PREVIEW_SIDE]``;
    the picture on standard input, the copy to standard output, the outcome on standard
    error. With ``PREVIEW_SIDE``, the copy is a preview (``for_preview``)."""
    kind = argv[0]
    max_pixels, max_scans, cpu, memory, output = (int(a) for a in argv[1:6])
    preview_side = int(argv[6]) if len(argv) > 6 else None
    _limit(cpu, memory, output)
    status: dict[str, Any]
    try:
        data = sys.stdin.buffer.read()
        clean, options, animated = clean_pixels(data, kind, max_pixels=max_pixels,
                                                max_scans=max_scans)
        del data
        target = kind
        if preview_side is not None:
            clean, target, options = for_preview(clean, kind, preview_side)
        copy = encode(clean, target, options)
        del clean
        write_all(sys.stdout.fileno(), copy)
        status = {"ok": True, "animated": animated, "bytes": len(copy)}
    except StripError as e:
        status = {"error": str(e)}
    except MemoryError:
        status = {"memory": True}
    except BaseException as e:  # everything becomes this one file's failure
        status = {"crash": type(e).__name__}
    os.write(sys.stderr.fileno(), json.dumps(status).encode() + b"\n")
    return 0 if status.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
