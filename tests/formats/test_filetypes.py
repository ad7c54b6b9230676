"""What kind of file an attachment is, from its first bytes; and the extension a
file of that kind gets on a reviewer's disk."""

from __future__ import annotations

import struct

import pytest

from reporter.formats import filetypes


def zip_head(first_entry: bytes, extra: bytes = b"") -> bytes:
    return (b"PK\x03\x04" + bytes(22) + struct.pack("<HH", len(first_entry), 0)
            + first_entry + extra)


HEADS = {
    b"\xff\xd8\xff\xe0\x00\x10JFIF": "image/jpeg",
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"GIF89a": "image/gif",
    b"RIFF\x00\x00\x00\x00WEBPVP8 ": "image/webp",
    b"RIFF\x00\x00\x00\x00WAVEfmt ": "audio/wav",
    b"\x00\x00\x00\x18ftypheic": "image/heic",
    b"\x00\x00\x00\x18ftypmif1": "image/heif",
    b"\x00\x00\x00\x18ftypavif": "image/avif",
    b"\x00\x00\x00\x18ftypM4A ": "audio/mp4",
    b"\x00\x00\x00\x18ftyp3gp4": "video/3gpp",
    b"\x00\x00\x00\x18ftyp3g2a": "video/3gpp2",
    b"\x00\x00\x00\x18ftypqt  ": "video/quicktime",
    b"\x00\x00\x00\x18ftypisom": "video/mp4",
    b"\x00\x00\x00\x08moov": "video/quicktime",
    b"\x1a\x45\xdf\xa3": "video/webm",
    b"OggS\x00\x02": "audio/ogg",
    b"ID3\x04\x00": "audio/mpeg",
    b"\xff\xfb\x90\x00": "audio/mpeg",
    b"\xff\xf1\x50\x80": "audio/aac",
    b"#!AMR\n": "audio/amr",
    b"fLaC\x00": "audio/flac",
    b"%PDF-1.7": "application/pdf",
    zip_head(b"mimetype", b"application/vnd.oasis.opendocument.text"):
        "application/vnd.oasis.opendocument.text",
    zip_head(b"[Content_Types].xml"): "application/vnd.openxmlformats-officedocument",
    zip_head(b"word/document.xml"): "application/vnd.openxmlformats-officedocument",
}


@pytest.mark.parametrize(("head", "media_type"), HEADS.items())
def test_every_accepted_kind_is_detected_and_has_an_extension(head: bytes,
                                                               media_type: str) -> None:
    assert filetypes.detect(head + bytes(64)) == media_type
    assert filetypes.extension(media_type) in filetypes.EXTENSIONS[media_type]
    assert filetypes.extension(media_type) != filetypes.UNKNOWN_EXTENSION


@pytest.mark.parametrize("head", [
    b"<html><script>", b"<svg xmlns=", b"MZ\x90\x00", b"@echo off\r\n", b"#!/bin/sh\n",
    zip_head(b"evil.exe"), b"{\\rtf1", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"",
])
def test_other_kinds_are_refused(head: bytes) -> None:
    assert filetypes.detect(head) is None
    assert filetypes.extension(filetypes.detect(head)) == ".bin"
