"""A report's attachments: the original (download, or a player's source), a preview
and a copy without metadata.

Every file comes from a monitor's phone, or from a station that may run
modified software, and is sent so that no browser runs it:

* the type is the one its own first bytes give (``filetypes.detect``, looked
  up in the project's fixed map), never the name it was sent with nor the
  type the station recorded; bytes of no known type are
  ``application/octet-stream``;
* ``Content-Disposition: attachment`` with the name ``review attachments``
  writes it under (``files.file_name``: the extension of what it is), so
  opening the link saves it; ``<audio>`` and ``<video>`` still play it;
* ``X-Content-Type-Options: nosniff`` and ``Content-Security-Policy:
  default-src 'none'; sandbox``: opened on its own, a file is an inert,
  sandboxed document whatever it holds;
* previews are the exception to ``attachment``: they are not the file but
  its pixels, decoded in the stripper's limited child process and encoded
  again (``strip.preview``), sent as ``image/jpeg`` or ``image/png``.

An original is decrypted as it is sent, chunk by chunk, each authenticated
before a byte of it leaves (``files.open_attachment``); if a check fails, or
the desk is locked, half way, the connection is dropped, so the browser
keeps an unfinished download, never a file that looks whole. ``Range``
requests (a player seeking) are answered from a decryption that starts at
the file's beginning (the stream cannot start in its middle).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

from flask import Blueprint, Response, request

from reporter.errors import ReporterError
from reporter.formats.report import AttachmentInfo
from reporter.review import files, strip
from reporter.review.db import ReviewDB
from reporter.review.desk.present import media_type
from reporter.review.desk.security import FILE_POLICY
from reporter.review.desk.vault import Vault
from reporter.review.desk.web.context import desk
from reporter.web.headers import content_disposition

bp = Blueprint("files", __name__)
log = logging.getLogger("reporter")
# Pictures decoded at once (each in a child process of up to 2 GiB).
DECODERS = threading.BoundedSemaphore(2)
DECODER_WAIT = 120.0


class StreamStopped(Exception):
    """Raised inside a file's stream so the server drops the connection."""


def _file_response(body: bytes | Iterator[bytes], *, media: str, status: int = 200) -> Response:
    response = Response(body, status=status, mimetype=media, direct_passthrough=True)
    response.headers["Content-Security-Policy"] = FILE_POLICY
    return response


def _attachment(response: Response, name: str) -> Response:
    response.headers["Content-Disposition"] = content_disposition(name)
    return response


def _stream(vault: Vault, db: ReviewDB, opened: files.Opened, start: int, stop: int,
            generation: int) -> Iterator[bytes]:
    """Bytes ``start`` to ``stop - 1`` of the file; closes ``db`` when done. (It runs
    after the view has returned, outside the app's context: everything is passed in.)"""
    at = 0
    try:
        for chunk in opened.chunks():
            if not vault.current(generation):
                raise StreamStopped("locked")
            end = at + len(chunk)
            if end > start:
                yield chunk[max(0, start - at): max(0, stop - at)]
            at = end
            if at >= stop:
                break
    except ReporterError as exc:
        log.error("review desk: a file stopped half way: %s", type(exc).__name__)
        raise StreamStopped(type(exc).__name__) from None
    finally:
        opened.rest.close()
        db.close()


@bp.get("/reports/<rowid:report_id>/attachments/<rowid:number>")
def original(report_id: int, number: int) -> Response:
    vault = desk().vault
    generation = vault.generation
    db = vault.open()
    try:
        opened = files.open_attachment(db, report_id, number - 1)
    except BaseException:
        db.close()
        raise
    size = opened.info.size
    start, stop, status = 0, size, 200
    wanted = request.range
    if wanted is not None and len(wanted.ranges) == 1:
        span = wanted.range_for_length(size)
        if span is None:
            opened.rest.close()
            db.close()
            response = _file_response(b"", media="text/plain", status=416)
            response.headers["Content-Range"] = f"bytes */{size}"
            return response
        start, stop, status = span[0], span[1], 206
    media = media_type(opened.detected)
    response = _file_response(_stream(vault, db, opened, start, stop, generation),
                              media=media, status=status)
    response.headers["Content-Length"] = str(stop - start)
    response.headers["Accept-Ranges"] = "bytes"
    if status == 206:
        response.headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
    return _attachment(response, files.file_name(opened.info, opened.detected))


def _picture(report_id: int, number: int) -> tuple[AttachmentInfo, bytearray]:
    with desk().vault.open() as db:
        return files.read_picture(db, report_id, number - 1)


def _decoding() -> threading.BoundedSemaphore:
    if not DECODERS.acquire(timeout=DECODER_WAIT):
        raise strip.StripError("the picture decoder is busy; reload the page in a moment")
    return DECODERS


@bp.get("/reports/<rowid:report_id>/attachments/<rowid:number>/preview")
def preview(report_id: int, number: int) -> Response:
    info, data = _picture(report_id, number)
    slot = _decoding()
    try:
        made = strip.preview(data, info.type)
    finally:
        slot.release()
    return _file_response(made.data, media=made.media_type)


@bp.get("/reports/<rowid:report_id>/attachments/<rowid:number>/stripped")
def stripped(report_id: int, number: int) -> Response:
    info, data = _picture(report_id, number)
    slot = _decoding()
    try:
        made = strip.stripped_bytes(data, info.type)
    finally:
        slot.release()
    response = _file_response(made.data, media=made.media_type)
    return _attachment(response, files.file_name(info, made.media_type, stripped=True))
