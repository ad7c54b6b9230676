"""Stripped copies: metadata goes, pixels stay, the original is untouched, and
any file reporter cannot clean is refused with a message that says so.

Every test file is built here with Pillow or by hand; no binary fixtures.
"""

from __future__ import annotations

import hashlib
import io
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageCms, ImageFile, PngImagePlugin
from PIL.ExifTags import GPS, IFD, Base

from reporter.review import pixels, strip
from reporter.review.strip import StripError, strip_copy

SERIAL = "SN-4242-SECRET"
DATUM = "WGS-84-GPS-SECRET"
BYLINE = "Byline-IPTC-SECRET"
METADATA_KEYS = {"exif", "icc_profile", "xmp", "XML:com.adobe.xmp", "comment", "photoshop"}
# A TIFF's own layout lives in the same directory as EXIF: size, samples, strips.
TIFF_LAYOUT = {256, 257, 258, 259, 262, 273, 277, 278, 279, 284}


def exif_with_gps() -> Image.Exif:
    exif = Image.Exif()
    exif[Base.Make] = "PhoneMaker"
    exif[Base.Model] = "Phone 12"
    exif[Base.DateTime] = "2024:05:01 06:30:00"
    exif.get_ifd(IFD.Exif)[Base.BodySerialNumber] = SERIAL
    gps = exif.get_ifd(IFD.GPSInfo)
    gps[GPS.GPSLatitudeRef] = "S"
    gps[GPS.GPSLatitude] = (12.0, 34.0, 56.78)
    gps[GPS.GPSLongitudeRef] = "W"
    gps[GPS.GPSLongitude] = (76.0, 54.0, 32.1)
    gps[GPS.GPSMapDatum] = DATUM
    return exif


def picture(size: tuple[int, int] = (64, 48), mode: str = "RGB") -> Image.Image:
    """Left half red, right half blue: easy to recognise after a rotation."""
    im = Image.new("RGB", size, (220, 20, 20))
    im.paste((20, 20, 220), (size[0] // 2, 0, size[0], size[1]))
    return im.convert(mode)


def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def with_iptc(jpeg: bytes, byline: str) -> bytes:
    """Insert a Photoshop APP13 segment carrying an IPTC By-line after SOI."""
    value = byline.encode()
    iptc = b"\x1c\x02\x50" + struct.pack(">H", len(value)) + value
    iptc += b"\x00" * (len(iptc) % 2)
    resource = b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(iptc)) + iptc
    body = b"Photoshop 3.0\x00" + resource
    return jpeg[:2] + b"\xff\xed" + struct.pack(">H", len(body) + 2) + body + jpeg[2:]


def phone_jpeg(path: Path) -> Path:
    out = io.BytesIO()
    picture().save(
        out,
        "JPEG",
        exif=exif_with_gps(),
        xmp=b'<x:xmpmeta xmlns:x="adobe:ns:meta/">XMP-SECRET</x:xmpmeta>',
        comment=b"COMMENT-SECRET",
        icc_profile=srgb_profile(),
    )
    path.write_bytes(with_iptc(out.getvalue(), BYLINE))
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_clean(path: Path) -> None:
    with Image.open(path) as im:
        assert set(im.getexif()) <= (TIFF_LAYOUT if im.format == "TIFF" else set())
        assert METADATA_KEYS.isdisjoint(im.info), im.info
    raw = path.read_bytes()
    for secret in (SERIAL, DATUM, BYLINE, "XMP-SECRET", "COMMENT-SECRET", "PhoneMaker"):
        assert secret.encode() not in raw
    assert b"Exif\x00\x00" not in raw


def max_difference(a: Image.Image, b: Image.Image) -> int:
    extrema = ImageChops.difference(a.convert("RGB"), b.convert("RGB")).getextrema()
    return max(high for _, high in extrema)  # type: ignore[misc]


def no_output(dest: Path) -> bool:
    return not dest.exists() and not dest.with_name(dest.name + ".partial").exists()


# --- pictures: metadata removed, pixels kept ---------------------------------------


def test_a_phone_jpeg_loses_exif_gps_serial_xmp_iptc_icc_and_comment(tmp_path: Path) -> None:
    src = phone_jpeg(tmp_path / "evidence.jpg")
    with Image.open(src) as im:  # the fixture really carries all of it
        assert im.getexif()[Base.Make] == "PhoneMaker"
        assert {"exif", "icc_profile", "xmp", "comment", "photoshop"} <= set(im.info)
    before = sha256(src)

    result = strip_copy(src, tmp_path / "public.jpg", "image/jpeg")

    assert result.path == tmp_path / "public.jpg"
    assert "GPS" in result.removed and "serial" in result.removed
    assert "pixels" in result.kept
    assert_clean(result.path)
    with Image.open(result.path) as out, Image.open(src) as original:
        assert out.format == "JPEG" and out.size == original.size
        assert max_difference(out, original) < 40  # same picture, re-encoded
    assert sha256(src) == before  # the sealed original is untouched ...
    with Image.open(src) as im:  # ... and keeps its metadata as evidence
        assert im.getexif().get_ifd(IFD.GPSInfo)[GPS.GPSMapDatum] == DATUM


def test_png_text_chunks_and_exif_are_gone_and_pixels_are_exact(tmp_path: Path) -> None:
    text = PngImagePlugin.PngInfo()
    text.add_text("Author", "Jane Monitor")
    text.add_text("Comment", "near the tailings dam", zip=True)
    text.add_itxt("Location", "GPS -12.3456, -76.9012")
    src = tmp_path / "evidence.png"
    picture(mode="RGBA").save(src, pnginfo=text, exif=exif_with_gps())

    result = strip_copy(src, tmp_path / "public.png")

    assert_clean(result.path)
    raw = result.path.read_bytes()
    for chunk in (b"tEXt", b"zTXt", b"iTXt", b"eXIf"):
        assert chunk not in raw
    for secret in (b"Jane Monitor", b"-12.3456"):
        assert secret not in raw
    with Image.open(result.path) as out, Image.open(src) as original:
        assert out.mode == "RGBA"
        assert max_difference(out, original) == 0


@pytest.mark.parametrize("kind", ["WEBP", "TIFF", "AVIF"])
def test_other_picture_formats_lose_their_exif_and_keep_their_format(
    tmp_path: Path, kind: str
) -> None:
    src = tmp_path / "evidence"
    picture().save(src, kind, exif=exif_with_gps(), icc_profile=srgb_profile())
    with Image.open(src) as im:
        assert im.getexif()[Base.Make] == "PhoneMaker"

    result = strip_copy(src, tmp_path / "public")

    assert_clean(result.path)
    with Image.open(result.path) as out, Image.open(src) as original:
        assert out.format == kind and out.size == original.size
        assert max_difference(out, original) < 40


def test_a_palette_picture_keeps_its_palette_and_transparency(tmp_path: Path) -> None:
    src = tmp_path / "evidence.png"
    picture().convert("P").save(src, transparency=0, exif=exif_with_gps())

    result = strip_copy(src, tmp_path / "public.png")

    assert_clean(result.path)
    with Image.open(result.path) as out, Image.open(src) as original:
        assert out.mode == "P" and out.info["transparency"] == 0
        assert max_difference(out, original) == 0


def test_an_animated_gif_keeps_its_first_frame_only_and_loses_its_comment(
    tmp_path: Path,
) -> None:
    frames = [picture().convert("P"), Image.new("P", (64, 48), 1), Image.new("P", (64, 48), 2)]
    src = tmp_path / "evidence.gif"
    frames[0].save(src, save_all=True, append_images=frames[1:], comment=b"COMMENT-SECRET")

    result = strip_copy(src, tmp_path / "public.gif")

    assert "first frame" in result.kept
    assert_clean(result.path)
    with Image.open(result.path) as out, Image.open(src) as original:
        assert not getattr(out, "is_animated", False)
        assert max_difference(out, original) == 0


@pytest.mark.parametrize("kind", ["JPEG", "PNG"])
def test_exif_orientation_is_applied_so_the_copy_looks_upright(tmp_path: Path, kind: str) -> None:
    exif = Image.Exif()
    exif[Base.Orientation] = 6  # "rotate 90° clockwise to display"
    src = tmp_path / "sideways"
    picture(size=(40, 20), mode="P" if kind == "PNG" else "RGB").save(src, kind, exif=exif)

    result = strip_copy(src, tmp_path / "upright")

    with Image.open(result.path) as out:
        assert out.size == (20, 40)
        assert Base.Orientation not in out.getexif()
        rgb = out.convert("RGB")
        top, bottom = rgb.getpixel((10, 5)), rgb.getpixel((10, 34))
    assert isinstance(top, tuple) and isinstance(bottom, tuple)
    assert top[0] > 180 and top[2] < 80  # the left (red) half is now on top
    assert bottom[2] > 180 and bottom[0] < 80


def test_the_claimed_content_type_does_not_decide_the_kind(tmp_path: Path) -> None:
    src = phone_jpeg(tmp_path / "evidence.bin")
    result = strip_copy(src, tmp_path / "public.jpg", "application/pdf")
    assert_clean(result.path)


# --- hostile pictures ----------------------------------------------------------------


def png_claiming(tmp_path: Path, width: int, height: int) -> Path:
    """A tiny PNG whose IHDR (with a valid CRC) claims width x height pixels."""
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "PNG")
    raw = bytearray(out.getvalue())
    assert raw[12:16] == b"IHDR"
    raw[16:24] = struct.pack(">II", width, height)
    raw[29:33] = struct.pack(">I", zlib.crc32(bytes(raw[12:29])))
    path = tmp_path / "bomb.png"
    path.write_bytes(bytes(raw))
    return path


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [
        (8000, 8000, "8000x8000 pixels, above the 50-megapixel limit"),  # our limit
        (12000, 10000, "above the 50-megapixel limit"),  # Pillow's bomb warning
        (100_000, 100_000, "above the 50-megapixel limit"),  # Pillow's bomb error
    ],
)
def test_a_picture_claiming_huge_dimensions_is_refused_without_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, width: int, height: int, expected: str
) -> None:
    src = png_claiming(tmp_path, width, height)
    dest = tmp_path / "public.png"

    with pytest.raises(StripError, match=expected):
        strip_copy(src, dest)
    assert no_output(dest)

    # The decoder's own check, run in this process where it can be watched: it
    # refuses from the header, and no pixel is decoded.
    decoded: list[object] = []
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: decoded.append(self))
    with pytest.raises(StripError, match=expected):
        pixels.clean_pixels(src.read_bytes(), "PNG", max_pixels=strip.MAX_IMAGE_PIXELS,
                            max_scans=strip.LIMITS.jpeg_scans)
    assert decoded == []


def test_a_file_above_the_size_limit_is_refused_before_pillow_sees_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = phone_jpeg(tmp_path / "evidence.jpg")
    monkeypatch.setattr(strip, "MAX_IMAGE_BYTES", src.stat().st_size - 1)
    monkeypatch.setattr(Image, "open", lambda *a, **k: pytest.fail("Image.open was called"))
    dest = tmp_path / "public.jpg"

    with pytest.raises(StripError, match="MB limit for stripping"):
        strip_copy(src, dest)
    assert no_output(dest)


def test_a_truncated_jpeg_is_refused_and_leaves_nothing_behind(tmp_path: Path) -> None:
    full = tmp_path / "full.jpg"
    Image.effect_noise((256, 256), 64).convert("RGB").save(full, quality=95)
    src = tmp_path / "truncated.jpg"
    src.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    dest = tmp_path / "public.jpg"

    with pytest.raises(StripError, match="damaged or truncated"):
        strip_copy(src, dest)
    assert no_output(dest)


def test_a_failure_while_writing_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The decoder's file-size limit as a disk that is full after 100 bytes.
    monkeypatch.setattr(strip, "LIMITS", strip.Limits(output_bytes=100))
    src = phone_jpeg(tmp_path / "evidence.jpg")
    dest = tmp_path / "public.jpg"

    with pytest.raises(StripError, match="could not write the stripped copy: File too large"):
        strip_copy(src, dest)
    assert no_output(dest)


def test_an_existing_destination_is_never_overwritten(tmp_path: Path) -> None:
    src = phone_jpeg(tmp_path / "evidence.jpg")
    dest = tmp_path / "public.jpg"
    dest.write_bytes(b"someone else's file")

    with pytest.raises(StripError, match="already exists"):
        strip_copy(src, dest)
    assert dest.read_bytes() == b"someone else's file"


# --- decoder bombs and crashes: one file fails, named; the reviewer's process is safe --


def last_scan(jpeg: bytes) -> tuple[int, int]:
    """Where the last scan (its SOS segment and entropy-coded data) of ``jpeg`` is."""
    at, last = 2, (0, 0)
    while jpeg[at + 1] != 0xD9:
        assert jpeg[at] == 0xFF
        end = at + 2 + struct.unpack(">H", jpeg[at + 2 : at + 4])[0]
        if jpeg[at + 1] == 0xDA:
            while not (jpeg[end] == 0xFF and jpeg[end + 1] not in (0, *range(0xD0, 0xD8))):
                end += 1
            last = (at, end)
        at = end
    return last


def progressive_bomb(scans_added: int, size: int = 7000) -> bytes:
    """A plain progressive JPEG (10 scans, ~0.4 MB) with its last scan repeated:
    each scan is applied to every one of its 49 megapixels again."""
    out = io.BytesIO()
    Image.new("RGB", (size, size), (90, 120, 60)).save(out, "JPEG", progressive=True)
    jpeg = out.getvalue()
    start, end = last_scan(jpeg)
    return jpeg[:end] + jpeg[start:end] * scans_added + jpeg[end:]


def test_a_jpeg_with_its_last_scan_repeated_1000_times_is_refused_before_decoding(
        tmp_path: Path) -> None:
    """The file from the field: 42 s of CPU and 307 MB to decode, 0.5 MB to send."""
    src = tmp_path / "bomb.jpg"
    src.write_bytes(progressive_bomb(1000))
    dest = tmp_path / "public.jpg"
    started = time.monotonic()

    with pytest.raises(StripError, match=r"more than 100 scans \(101 counted"):
        strip_copy(src, dest)

    assert time.monotonic() - started < 20  # counted, not decoded (decoding: ~30 s here)
    assert no_output(dest)
    assert pixels.jpeg_scans(src.read_bytes(), 10_000) == 1010


def test_the_processor_time_limit_stops_what_the_scan_count_lets_through(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(strip, "LIMITS", strip.Limits(cpu_seconds=1, jpeg_scans=10_000))
    src = tmp_path / "bomb.jpg"
    src.write_bytes(progressive_bomb(300))  # about 9 s of CPU here, if it were let run
    dest = tmp_path / "public.jpg"

    with pytest.raises(StripError, match="took more than 1 s of processor time"):
        strip_copy(src, dest)
    assert no_output(dest)


def test_the_memory_limit_stops_a_picture_too_large_for_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(strip, "LIMITS", strip.Limits(memory_bytes=256 << 20))
    src = tmp_path / "large.jpg"
    Image.new("RGB", (7000, 7000), (90, 120, 60)).save(src, "JPEG")  # 147 MB of pixels
    dest = tmp_path / "public.jpg"

    with pytest.raises(StripError, match="needed more than 256 MB of memory"):
        strip_copy(src, dest)
    assert no_output(dest)


def fuzzed_gif() -> bytes:
    """A 17x8 GIF whose one frame sits at row 65535: Pillow decodes a 17x65536 picture,
    which no GIF can hold (found by fuzzing: OverflowError, and the command crashed)."""
    header = b"GIF89a" + struct.pack("<HHBBB", 17, 8, 0x80, 0, 0) + b"\x00" * 3 + b"\xff" * 3
    frame = b"," + struct.pack("<HHHHB", 0, 65535, 1, 1, 0) + b"\x02\x02\x44\x01\x00"
    return header + frame + b";"


def test_a_gif_that_decodes_to_an_impossible_picture_fails_with_a_message(
        tmp_path: Path) -> None:
    src = tmp_path / "fuzzed.gif"
    src.write_bytes(fuzzed_gif())
    dest = tmp_path / "public.gif"

    with pytest.raises(StripError, match=r"cannot be written again \(OverflowError\)"):
        strip_copy(src, dest)
    assert no_output(dest)


def fake_decoder(monkeypatch: pytest.MonkeyPatch, code: str) -> None:
    """Fault injection: the decoder's process replaced by ``python -c code``."""
    monkeypatch.setattr(strip, "_decoder_command",
                        lambda kind, limits, preview_side=None: [sys.executable, "-c", code])


@pytest.mark.parametrize(("code", "message"), [
    ("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)",
     r"the picture decoder crashed \(SIGSEGV\) on this JPEG file"),
    ("import sys; sys.stderr.write('Traceback (most recent call last): ...'); sys.exit(3)",
     r"the picture decoder failed on this JPEG file \(exit status 3\)"),
    ("import sys, json; sys.stdin.read(); print(json.dumps({'ok': True, 'bytes': 5}), "
     "file=sys.stderr)", "was not written whole"),
])
def test_a_decoder_that_crashes_or_lies_is_named_and_leaves_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: str, message: str) -> None:
    fake_decoder(monkeypatch, code)
    src = phone_jpeg(tmp_path / "evidence.jpg")
    dest = tmp_path / "public.jpg"

    with pytest.raises(StripError, match=message) as failed:
        strip_copy(src, dest)
    assert "Traceback" not in str(failed.value)
    assert no_output(dest)


@pytest.mark.parametrize(("code", "message"), [
    ("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)",
     r"the picture decoder crashed \(SIGSEGV\) on this JPEG file"),
    ("import sys, json; sys.stdin.read(); sys.stdout.write('xy'); "
     "print(json.dumps({'ok': True, 'bytes': 5}), file=sys.stderr)", "was not written whole"),
])
def test_a_preview_decoder_that_crashes_or_lies_is_named(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: str, message: str) -> None:
    """The review desk's previews (``strip.preview``): the same child, read from a pipe."""
    fake_decoder(monkeypatch, code)
    data = phone_jpeg(tmp_path / "evidence.jpg").read_bytes()
    for make in (strip.preview, strip.stripped_bytes):
        with pytest.raises(StripError, match=message) as failed:
            make(data, "image/jpeg")
        assert "Traceback" not in str(failed.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evidence.jpg"]


def test_a_decoder_that_hangs_is_stopped(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    fake_decoder(monkeypatch, "import time; time.sleep(60)")
    monkeypatch.setattr(strip, "LIMITS", strip.Limits(wall_seconds=1))
    src = phone_jpeg(tmp_path / "evidence.jpg")
    dest = tmp_path / "public.jpg"
    started = time.monotonic()

    with pytest.raises(StripError, match="took more than 1 s"):
        strip_copy(src, dest)
    assert time.monotonic() - started < 10
    assert no_output(dest)


def test_pictures_are_never_decoded_in_the_reviewer_s_process(tmp_path: Path) -> None:
    """``strip`` runs Pillow only in the decoder's process: not even imported here."""
    src = phone_jpeg(tmp_path / "evidence.jpg")
    script = ("import sys; from pathlib import Path; from reporter.review import strip; "
              "strip.strip_copy(Path(sys.argv[1]), Path(sys.argv[2])); "
              "print(sorted(m for m in sys.modules if m == 'PIL' or m.startswith('PIL.')))")
    done = subprocess.run([sys.executable, "-c", script, str(src), str(tmp_path / "out.jpg")],
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
    assert_clean(tmp_path / "out.jpg")


# --- everything else is refused, and the message says what remains ------------------


def test_a_pdf_is_refused_with_what_it_may_contain(tmp_path: Path) -> None:
    src = tmp_path / "report.pdf"
    src.write_bytes(b"%PDF-1.7\n1 0 obj << /Author (Jane Monitor) >> endobj\n%%EOF\n")
    dest = tmp_path / "public.pdf"

    with pytest.raises(StripError) as refused:
        strip_copy(src, dest, "application/pdf")

    message = str(refused.value)
    assert message.startswith("PDF document: reporter cannot remove metadata")
    for named in ("author", "creator tool", "dates", "XMP", "embedded images", "mat2"):
        assert named in message
    assert "\n" not in message
    assert no_output(dest)


def test_a_pdf_named_like_a_photo_is_treated_as_a_pdf(tmp_path: Path) -> None:
    src = tmp_path / "photo.jpg"
    src.write_bytes(b"%PDF-1.7\n1 0 obj << /Author (Jane Monitor) >> endobj\n%%EOF\n")
    with pytest.raises(StripError, match=r"^PDF document"):
        strip_copy(src, tmp_path / "public.jpg", "image/jpeg")


def test_an_mp4_is_refused_naming_gps_and_creation_date(tmp_path: Path) -> None:
    src = tmp_path / "clip.mp4"
    src.write_bytes(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00\x00\x00\x08moov")
    dest = tmp_path / "public.mp4"

    with pytest.raises(StripError) as refused:
        strip_copy(src, dest, "video/mp4")

    assert "GPS position" in str(refused.value)
    assert "creation date" in str(refused.value)
    assert no_output(dest)


def test_a_docx_is_refused_without_being_extracted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "statement.docx"
    with zipfile.ZipFile(src, "w", zipfile.ZIP_DEFLATED) as docx:
        docx.writestr("docProps/core.xml", "<dc:creator>Jane Monitor</dc:creator>")
        docx.writestr("word/document.xml", "\x00" * 10_000_000)  # compresses very well
    monkeypatch.setattr(zipfile, "ZipFile", lambda *a, **k: pytest.fail("zip was opened"))
    dest = tmp_path / "public.docx"

    docx_type = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    with pytest.raises(StripError, match="never extracts it") as refused:
        strip_copy(src, dest, docx_type)

    assert "author" in str(refused.value)
    assert no_output(dest)


@pytest.mark.parametrize(
    ("head", "named"),
    [
        (b"ID3\x04\x00\x00\x00\x00\x00\x00", "MP3/AAC audio"),
        (b"\x00\x00\x00\x1cftypM4A \x00\x00\x00\x00M4A isom", "M4A"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  ", "MOV"),
        (b"\x00\x00\x00\x14ftyp3gp4\x00\x00\x02\x00isom", "3GP"),
        (b"OggS\x00\x02" + b"\x00" * 20 + b"OpusHead", "OGG/Opus audio"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "WAV audio"),
        (b"#!AMR\n", "AMR audio"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01", "WebM/MKV video"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "HEIC"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 24, "Office 97-2003"),
        (b"BM\x3a\x00\x00\x00\x00\x00", "unrecognised kind of file"),
        (b"just some text\n", "unrecognised kind of file"),
    ],
)
def test_other_kinds_are_refused_by_magic_bytes(tmp_path: Path, head: bytes, named: str) -> None:
    src = tmp_path / "upload.jpg"
    src.write_bytes(head + b"\x00" * 64)
    dest = tmp_path / "public.jpg"

    with pytest.raises(StripError, match=named) as refused:
        strip_copy(src, dest, "image/jpeg")

    assert "cannot remove metadata" in str(refused.value)
    assert "offline machine" in str(refused.value)
    assert no_output(dest)


def test_a_raw_camera_tiff_is_refused_rather_than_reduced_to_its_preview(
    tmp_path: Path,
) -> None:
    src = tmp_path / "photo.dng"
    picture().save(src, "TIFF", tiffinfo={50706: b"\x01\x04\x00\x00"})
    with pytest.raises(StripError, match="raw camera photo"):
        strip_copy(src, tmp_path / "public.tif")


def test_an_empty_or_missing_source_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(StripError, match="empty"):
        strip_copy(empty, tmp_path / "a.jpg")
    with pytest.raises(StripError, match="cannot read"):
        strip_copy(tmp_path / "missing.jpg", tmp_path / "b.jpg")
    with pytest.raises(StripError, match="not a regular file"):
        strip_copy(tmp_path, tmp_path / "c.jpg")
