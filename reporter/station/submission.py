"""A submission being received: its file key and its attachments, sealed as they come.

A ``Draft`` exists for one request. It makes the file key of the report's
envelope before anything is read, so each attachment is encrypted under a
key derived from it (``attachment.py``) chunk by chunk while it streams in,
and only ciphertext reaches ``attachments.db`` (``blobs.py``). The file key
lives in this object's memory and nowhere else; when the request ends it is
gone, and only the reviewers can recover it from the envelope.

Each incoming file is an ``Incoming``: it checks the limits (count, total
size) and the kind of file (``filetypes.py``) as bytes arrive. A refused file
is not an error for the request: its bytes are still read (so the rest of the
form can be parsed and what the monitor typed shown again) but dropped, and
its ``problem`` says why, for the page to show beside the field.

``close()`` discards every upload that was not made part of a stored report:
after a refusal, a failed form, a dropped connection or a crash in between.

While files stream in, the draft asks its ``room`` (the disk guard,
``diskspace.py``) every ``ROOM_CHECK_BYTES``: once the disk is down to the
free space the station keeps, the file being received and every later one
are refused (``PROBLEM_NO_ROOM``) and their pages deleted, so an upload that
would fill the disk stops where it is, and nothing of it stays.

If ``attachments.db`` cannot be written (disk full, locked, damaged), the
file's remaining bytes are read and dropped like a refused file's, so the
form is still parsed and the page can show it again with what was typed;
``Draft.attachments()`` then raises that ``StoreError`` and nothing is stored.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from reporter.errors import NoRecipients, StoreError
from reporter.formats import attachment, envelope, filetypes
from reporter.formats.chain import envelope_hash
from reporter.formats.crypto import RecipientPublicKey
from reporter.formats.report import MAX_NAME, AttachmentInfo, Report
from reporter.storage.blob_writer import Sink
from reporter.storage.blobs import BlobStore

PROBLEM_TOO_LARGE = "too-large"
PROBLEM_TYPE = "type"
PROBLEM_COUNT = "count"
PROBLEM_NO_ROOM = "no-room"  # the disk is down to the free space the station keeps
# How often, in bytes received, an upload asks whether the disk still has room.
ROOM_CHECK_BYTES = 1024 * 1024
log = logging.getLogger("reporter")


@dataclass(frozen=True)
class Limits:
    max_bytes: int  # all attachments of one report together
    max_count: int


def clean_name(name: str | None, fallback: str) -> str:
    """The file name a phone sent, without folders, control characters or excess length."""
    text = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    text = unicodedata.normalize("NFC", text)
    text = "".join(c for c in text if unicodedata.category(c)[0] != "C").strip(" .")
    return text[:MAX_NAME] or fallback


class Incoming:
    """One file of the request, written through encryption as it arrives."""

    def __init__(self, draft: Draft, name: str | None) -> None:
        self._draft = draft
        self.raw_name = name
        self.problem: str | None = None
        self.media_type: str | None = None
        self.size = 0
        self._pending = b""
        self._counted = 0
        self._sink: Sink | None = None
        self._writer: attachment.Writer | None = None
        self.sealed: attachment.Sealed | None = None
        self.upload: int | None = None
        self.index: int | None = None
        # Set when attachments.db could not take this file (not the monitor's fault).
        self.failure: StoreError | None = None

    # Werkzeug writes each part's bytes here, then seeks back to the start.
    def write(self, data: bytes) -> int:
        self.size += len(data)
        if self.problem is not None or self.failure is not None:
            return len(data)  # refused or not storable: read and dropped
        try:
            self._write(data)
        except StoreError as exc:
            self._fail(exc)
        return len(data)

    def _write(self, data: bytes) -> None:
        if self._draft.received + len(data) > self._draft.limits.max_bytes:
            self._refuse(PROBLEM_TOO_LARGE)
            return
        if not self._draft.room_for(len(data)):
            self._refuse(PROBLEM_NO_ROOM)
            return
        self._draft.received += len(data)
        self._counted += len(data)
        if self._writer is None:
            # Until the first bytes are in, the kind of file is not known:
            # keep them (at most HEAD_BYTES plus one part) in memory.
            self._pending += data
            if len(self._pending) < filetypes.HEAD_BYTES:
                return
            pending, self._pending = self._pending, b""
            if self._start(pending[: filetypes.HEAD_BYTES]):
                assert self._writer is not None  # noqa: S101 (just started)
                self._writer.write(pending)
            return
        self._writer.write(data)

    def _start(self, head: bytes) -> bool:
        self.media_type = filetypes.detect(head)
        if self.media_type is None:
            self._refuse(PROBLEM_TYPE)
            return False
        index = self._draft.next_index()
        if index is None:
            self._refuse(PROBLEM_COUNT)
            return False
        self.index = index
        self._sink = self._draft.blobs.begin()
        self._writer = attachment.Writer(self._draft.file_key, index, self._sink.write)
        return True

    def _refuse(self, problem: str) -> None:
        self.problem = problem
        self._drop()

    def _fail(self, failure: StoreError) -> None:
        self.failure = failure
        self._drop()

    def _drop(self) -> None:
        self._pending = b""
        self._draft.received -= self._counted
        self._counted = 0
        self._writer = None
        self.discard()

    def seek(self, *_args: object) -> int:
        return 0

    def tell(self) -> int:
        return self.size

    def read(self, *_args: object) -> bytes:
        return b""  # the plaintext is gone: it was never kept

    def close(self) -> None:
        """Nothing to do: ``finish`` or ``Draft.close`` settles the upload."""

    @property
    def empty(self) -> bool:
        """A file input left empty: browsers still send a part, with no name and no bytes."""
        return self.size == 0 and not self.raw_name

    def finish(self) -> None:
        """The part is complete: push the last chunks and make the upload durable."""
        if self.problem is not None or self.failure is not None or self.empty \
                or self.sealed is not None:
            return
        try:
            self._finish()
        except StoreError as exc:
            self._fail(exc)

    def _finish(self) -> None:
        if self._writer is None:  # fewer bytes than HEAD_BYTES arrived
            if not self._pending:
                return
            pending, self._pending = self._pending, b""
            if not self._start(pending):
                return
            assert self._writer is not None  # noqa: S101 (just started)
            self._writer.write(pending)
        assert self._writer is not None and self._sink is not None  # noqa: S101
        sealed = self._writer.finish()
        self.upload = self._sink.close().id
        self.sealed = sealed
        self._sink = None

    def discard(self) -> None:
        """Drop this file's upload, if one was begun. Never raises: an upload that cannot
        be deleted now stays marked *receiving*, and ``serve`` deletes it at its next
        start (``BlobStore.sweep``)."""
        sink, self._sink = self._sink, None
        if sink is not None:
            try:
                sink.discard()
            except StoreError:
                log.warning("an unfinished upload could not be deleted now; "
                            "it will be deleted when the station next starts")

    def info(self) -> AttachmentInfo:
        assert self.sealed is not None and self.index is not None  # noqa: S101
        assert self.media_type is not None  # noqa: S101
        return AttachmentInfo(
            index=self.index,
            name=clean_name(self.raw_name, f"attachment-{self.index + 1}"),
            type=self.media_type,
            size=self.sealed.size,
            sha256=self.sealed.sha256,
            ciphertext_size=self.sealed.ciphertext_size,
            ciphertext_hash=self.sealed.ciphertext_hash,
        )


@dataclass
class Draft:
    """One submission's file key and attachments, for the life of one request."""

    blobs: BlobStore
    limits: Limits
    file_key: bytes = field(default_factory=envelope.new_file_key, repr=False)
    files: list[Incoming] = field(default_factory=list)
    received: int = 0
    # Asked every ROOM_CHECK_BYTES while files stream in: False once the disk is
    # down to what the station keeps free (the disk guard); None: not asked.
    room: Callable[[], bool] | None = None
    out_of_room: bool = False
    _unchecked: int = 0
    _indexes: int = 0
    _attached: bool = False

    def room_for(self, size: int) -> bool:
        """May ``size`` more bytes of files be written? Once no, never again in this draft."""
        if self.out_of_room:
            return False
        if self.room is None:
            return True
        self._unchecked += size
        if self._unchecked >= ROOM_CHECK_BYTES:
            self._unchecked = 0
            if not self.room():
                self.out_of_room = True
        return not self.out_of_room

    def incoming(self, name: str | None) -> Incoming:
        item = Incoming(self, name)
        self.files.append(item)
        return item

    def next_index(self) -> int | None:
        if self._indexes >= min(self.limits.max_count, attachment.MAX_ATTACHMENTS):
            return None
        self._indexes += 1
        return self._indexes - 1

    def add(self, name: str, data: bytes) -> Incoming:
        """Receive a whole file at once (tests, tools): as the web form does, in pieces."""
        item = self.incoming(name)
        for start in range(0, len(data), 64 * 1024):
            item.write(data[start : start + 64 * 1024])
        item.finish()
        return item

    @property
    def problems(self) -> list[tuple[str, str]]:
        """(cleaned file name, problem) for every refused file."""
        for item in self.files:
            item.finish()  # a file shorter than HEAD_BYTES is typed only now
        return [(clean_name(f.raw_name, "?"), f.problem) for f in self.files
                if f.problem is not None]

    def accepted(self) -> list[Incoming]:
        for item in self.files:
            item.finish()
        return sorted((f for f in self.files if f.sealed is not None),
                      key=lambda f: f.index if f.index is not None else -1)

    @property
    def failure(self) -> StoreError | None:
        """Why a file could not be stored (``attachments.db`` failed), if one could not."""
        for item in self.files:
            item.finish()
            if item.failure is not None:
                return item.failure
        return None

    def attachments(self) -> tuple[AttachmentInfo, ...]:
        """The accepted files; the ``StoreError`` if any could not be stored."""
        accepted = self.accepted()
        if (failure := self.failure) is not None:
            raise failure
        return tuple(f.info() for f in accepted)

    def seal(self, report: Report, recipients: Sequence[RecipientPublicKey]) -> bytes:
        """The report's envelope, its attachments linked to it durably (before it is stored)."""
        if not recipients:
            raise NoRecipients(
                "the station has no reviewer key; add one with 'reporter recipients add'")
        sealed = envelope.seal(report.to_body(), list(recipients), self.file_key)
        done = [f for f in self.accepted() if f.upload is not None and f.sealed is not None]
        if done:
            self.blobs.attach([f.upload for f in done if f.upload is not None],
                              envelope_hash(sealed),
                              [f.sealed.ciphertext_hash for f in done if f.sealed is not None])
        self._attached = True
        return sealed

    def close(self) -> None:
        """Drop every upload not linked to a sealed report; forget the file key.

        Never raises (it runs in the request's teardown, after the answer is
        chosen): what cannot be deleted now is deleted at the next start.
        """
        self.file_key = b""
        for item in self.files:
            if not self._attached or item.sealed is None:
                item.discard()
                if item.upload is not None and not self._attached:
                    try:
                        self.blobs.delete([item.upload])
                    except StoreError:
                        log.warning("an unfinished upload could not be deleted now; "
                                    "it will be deleted when the station next starts")
                    item.upload = None

