"""Wiring attachments into requests: one ``Draft`` per submission, always closed.

The request's stream factory (``uploads.py``) asks here for the draft of the
current request; the first file part makes it (a fresh file key and a
connection to ``attachments.db``). Whatever happens next (the report is
stored, the form has an error, the connection drops, a bug), the teardown
closes the draft: every upload not linked to a stored report is deleted,
and the file key is forgotten.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from flask import Flask, g, request

from reporter.errors import ReporterError
from reporter.station.instance import open_store
from reporter.station.submission import Draft, Limits
from reporter.station.uploads import DRAFT
from reporter.station.web.admission import admission
from reporter.station.web.context import station
from reporter.storage.blobs import BlobStore

log = logging.getLogger("reporter")
POST_ENDPOINTS = ("intake.submit_report", "intake.submit_follow_up")


def current_draft() -> Draft | None:
    draft: Draft | None = g.get(DRAFT)
    return draft


def _make_draft(app: Flask) -> Draft | None:
    draft = current_draft()
    if draft is not None:
        return draft
    context = station(app)
    config = context.config
    if not config.max_attachment_bytes or request.endpoint not in POST_ENDPOINTS:
        return None
    if not admission().files_taken:
        return None  # shed, or no room on the disk: the files are read and dropped
    blobs = BlobStore.open(config.instance_path, config.db_key)
    draft = Draft(blobs, Limits(max_bytes=config.max_attachment_bytes,
                                max_count=config.max_attachments),
                  room=None if context.disk.off else context.disk.files_fit)
    setattr(g, DRAFT, draft)
    return draft


def init_app(app: Flask) -> None:
    app.extensions[DRAFT] = lambda: _make_draft(app)

    @app.teardown_request
    def _close_draft(_exc: BaseException | None = None) -> None:
        draft = current_draft()
        if draft is None:
            return
        try:
            draft.close()
        finally:
            draft.blobs.close()


def orphaned_uploads(instance_path: Path, db_key: bytes) -> list[int]:
    """At start-up, before serving: uploads cut off by a crash, or never linked to a
    stored report (or left by a purge that was cut off).

    Only while no server runs on this instance: an upload in progress would
    look the same as one cut off. The list is taken before serving; deleting
    it may take a while (erasure is paced, see ``blob_file.delete_uploads``), so it runs
    beside the server (``delete_in_background``): uploads that start after the
    list was taken are not in it.
    """
    with open_store(instance_path, db_key) as store, \
            BlobStore.open(instance_path, db_key) as blobs:
        return blobs.orphans(store.holds_envelope)


def delete_in_background(instance_path: Path, db_key: bytes, uploads: list[int]) -> (
        threading.Thread):
    """Erase ``uploads`` on a thread of their own; log how many when done."""
    def erase() -> None:
        try:
            with BlobStore.open(instance_path, db_key) as blobs:
                blobs.delete(uploads)
        except ReporterError as exc:
            log.warning("unfinished uploads could not be deleted now (%s); the next start "
                        "tries again", exc)
            return
        count = len(uploads)
        log.info("Deleted %d unfinished upload%s left by an interrupted submission (never "
                 "acknowledged to a monitor).", count, "" if count == 1 else "s")

    thread = threading.Thread(target=erase, name="reporter-sweep", daemon=True)
    thread.start()
    return thread
