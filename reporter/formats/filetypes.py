"""What kind of file an attachment is, from its first bytes only.

The station accepts photos, audio, video and documents, and nothing else. It
never trusts the name or the type the phone claims: it looks at the first
bytes (the "magic"), in memory, as they stream past, and never opens or
decodes the file itself (decoders are where bugs live; the station has none
to attack). Office documents are ZIP files: only the name of the first entry
of the archive is read, never anything decompressed.

``EXTENSIONS`` is the other half, for the reviewer's side: the file name
extension a file of each detected type is written with. An operating system
chooses the program that opens a file by its extension, so a JPEG that a
phone (or an attacker) named ``evidence.html`` must not reach a reviewer's
disk as ``.html``: a browser would run the script hidden after the picture.
The extension always comes from this fixed map, never from the sent name.
"""

from __future__ import annotations

import struct

HEAD_BYTES = 64

# ISO base media (MP4 family): the brand at bytes 8..12 after "ftyp".
_FTYP_BRANDS = {
    b"heic": "image/heic", b"heix": "image/heic", b"mif1": "image/heif",
    b"msf1": "image/heif", b"avif": "image/avif",
    b"M4A ": "audio/mp4", b"M4B ": "audio/mp4",
    b"3gp4": "video/3gpp", b"3gp5": "video/3gpp", b"3gp6": "video/3gpp",
    b"3gp7": "video/3gpp", b"3gs7": "video/3gpp", b"3g2a": "video/3gpp2",
    b"qt  ": "video/quicktime",
}
_MP4_DEFAULT = "video/mp4"  # isom, mp41, mp42, avc1, iso2..iso6, dash, MSNV, ...


def _zip_document(head: bytes) -> str | None:
    """An office document: a ZIP whose first entry is the format's marker file."""
    if len(head) < 30:
        return None
    (name_length,) = struct.unpack_from("<H", head, 26)
    name = head[30 : 30 + name_length]
    if name == b"mimetype":  # OpenDocument: the type follows, stored uncompressed
        rest = head[30 + name_length + struct.unpack_from("<H", head, 28)[0]:]
        if rest.startswith(b"application/vnd.oasis.opendocument.text"):
            return "application/vnd.oasis.opendocument.text"
        return None
    if name == b"[Content_Types].xml" or name.startswith((b"word/", b"_rels/", b"docProps/")):
        return "application/vnd.openxmlformats-officedocument"
    return None


def detect(head: bytes) -> str | None:
    """The media type of an accepted kind of file, or ``None`` to refuse it."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head[4:8] == b"ftyp" and len(head) >= 12:
        return _FTYP_BRANDS.get(head[8:12], _MP4_DEFAULT)
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free"):
        return "video/quicktime"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"  # also Matroska: the same container
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF
                                   and head[1] & 0xE0 == 0xE0 and head[1] & 0x06):
        return "audio/mpeg"
    if len(head) > 1 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:
        return "audio/aac"
    if head.startswith(b"#!AMR"):
        return "audio/amr"
    if head.startswith(b"fLaC"):
        return "audio/flac"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"PK\x03\x04"):
        return _zip_document(head)
    return None


# The extensions of each detected type: the first is the one a file gets; the
# others name the same type, so a sent name already ending in one keeps it
# (``photo.jpeg`` stays ``.jpeg``). None of them runs code when opened: an Office
# document is never ``.docm``/``.xlsm``/``.pptm`` (macro-enabled), and an OOXML
# document whose name does not say which kind it is becomes ``.docx`` (most are).
# ``image/tiff`` is never detected here (the station refuses TIFF) but a stripped
# copy of one (from a forged or altered bundle) may be written.
EXTENSIONS: dict[str, tuple[str, ...]] = {
    "image/jpeg": (".jpg", ".jpeg", ".jpe", ".jfif"),
    "image/png": (".png",),
    "image/gif": (".gif",),
    "image/webp": (".webp",),
    "image/heic": (".heic", ".heif"),
    "image/heif": (".heif", ".heic"),
    "image/avif": (".avif",),
    "image/tiff": (".tif", ".tiff"),
    "audio/wav": (".wav", ".wave"),
    "audio/mp4": (".m4a", ".m4b"),
    "audio/ogg": (".ogg", ".oga", ".opus"),
    "audio/mpeg": (".mp3",),
    "audio/aac": (".aac",),
    "audio/amr": (".amr",),
    "audio/flac": (".flac",),
    "video/mp4": (".mp4", ".m4v"),
    "video/quicktime": (".mov", ".qt"),
    "video/3gpp": (".3gp", ".3gpp"),
    "video/3gpp2": (".3g2", ".3gp2"),
    "video/webm": (".webm", ".mkv"),
    "application/pdf": (".pdf",),
    "application/vnd.oasis.opendocument.text": (".odt",),
    "application/vnd.openxmlformats-officedocument": (".docx", ".xlsx", ".pptx"),
}
UNKNOWN_EXTENSION = ".bin"
"""For bytes of no known type: no operating system opens ``.bin`` with a program."""


def extensions(media_type: str | None) -> tuple[str, ...]:
    """Every extension a file of ``media_type`` may be written with, preferred first."""
    return EXTENSIONS.get(media_type or "", (UNKNOWN_EXTENSION,))


def extension(media_type: str | None) -> str:
    """The extension a file of ``media_type`` is written with (``.bin`` if unknown)."""
    return extensions(media_type)[0]
