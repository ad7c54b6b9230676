"""The writer thread of a ``BlobStore`` and the ``Sink`` an upload is written through.

Apart from the store (``blobs.py``) because it is the one part with threads:
while uploads are received, every statement on the store's connection runs on
one thread, in the order it was asked for, and segments are committed a few MB
at a time. ``blobs.py`` says when an upload is begun, attached and swept; this
module says how its bytes reach ``attachments.db`` without two uploads ever
sharing a transaction, and without memory growing with a slow disk.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

from reporter.errors import StoreUnavailable
from reporter.storage import sqlc
from reporter.storage.blob_file import SEGMENT, Upload, delete_uploads

COMMIT_EVERY = 8  # segments per transaction while receiving (~8 MB)


class _Job:
    """Work for the writer thread: a segment to write, or a call to run and answer."""

    __slots__ = ("call", "data", "done", "error", "result", "seq", "sink")

    def __init__(self, *, sink: Sink | None = None, seq: int = 0, data: bytes = b"",
                 call: Callable[[sqlc.Connection], object] | None = None) -> None:
        self.sink = sink
        self.seq = seq
        self.data = data
        self.call = call
        self.done = threading.Event()
        self.result: object = None
        self.error: BaseException | None = None


def _failure(exc: Exception) -> Exception:
    """What an upload is failed with: our own errors as they are, SQLite's named."""
    return sqlc.unavailable(exc) if isinstance(exc, sqlc.Error) else exc


class Writer:
    """The one thread that uses a ``BlobStore``'s connection while uploads are received.

    Why one thread: a SQLite connection has one transaction at a time, whoever
    calls it. When the request thread began the next file's upload while a
    writer thread was still committing the previous file's segments on the
    same connection, one's ``COMMIT`` ended the other's transaction (issue 10:
    503s and 500s for reports with a photo and a video). Now every statement
    on the connection, from the first ``begin()`` until ``close()``, runs here,
    in the order it was asked for: segments of every file of the request, and
    the short transactions (``begin``, ``complete``, ``attach``, ``delete``)
    that the request thread waits for.

    The queue holds at most ``QUEUE_SEGMENTS`` jobs: memory stays bounded, and
    a slow disk slows the upload instead of filling memory. Segments are
    committed every ``COMMIT_EVERY``, or as soon as nothing more waits, so a
    write transaction is never held while the request waits for the network.
    If a transaction of segments fails, every upload with a segment in it is
    failed (it is raised to that upload's ``Sink``), never silently shortened.
    """

    QUEUE_SEGMENTS = 3

    def __init__(self, db: sqlc.Connection) -> None:
        self._db = db
        self._queue: queue.Queue[_Job | None] = queue.Queue(self.QUEUE_SEGMENTS)
        self._in_write: set[Sink] = set()  # uploads with a segment in the open transaction
        self._uncommitted = 0
        self._thread = threading.Thread(target=self._run, name="reporter-blobs", daemon=True)
        self._thread.start()

    # --- the writer thread ------------------------------------------------------

    def _run(self) -> None:
        while (job := self._queue.get()) is not None:
            if job.call is None:
                self._write_segment(job)
            else:
                self._settle()  # a call runs outside any transaction of segments
                try:
                    job.result = job.call(self._db)
                except sqlc.Error as exc:
                    sqlc.rollback_quietly(self._db)
                    job.error = sqlc.unavailable(exc)
                except BaseException as exc:  # handed to the caller
                    sqlc.rollback_quietly(self._db)
                    job.error = exc
                job.done.set()
            if self._in_write and (self._uncommitted >= COMMIT_EVERY or self._queue.empty()):
                self._settle()
        self._rollback(StoreUnavailable("the attachment store was closed"))

    def _write_segment(self, job: _Job) -> None:
        sink = job.sink
        assert sink is not None  # noqa: S101 (a job without a call is a segment)
        if sink.error is not None:
            return  # already failed: the rest of its bytes are dropped
        self._in_write.add(sink)  # before BEGIN: a failed BEGIN fails this upload too
        try:
            if not self._db.in_transaction:
                self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("INSERT INTO segments (upload, seq, data) VALUES (?, ?, ?)",
                             (sink.upload, job.seq, job.data))
            self._uncommitted += 1
        except Exception as exc:  # handed to the uploads; the thread goes on
            self._rollback(_failure(exc))

    def _settle(self) -> None:
        """Commit the open transaction of segments, or fail every upload that was in it."""
        if not self._db.in_transaction:
            self._in_write.clear()
            self._uncommitted = 0
            return
        try:
            self._db.execute("COMMIT")
        except Exception as exc:  # handed to the uploads; the thread goes on
            self._rollback(_failure(exc))
            return
        self._in_write.clear()
        self._uncommitted = 0

    def _rollback(self, error: BaseException) -> None:
        for sink in self._in_write:
            sink.error = sink.error or error
        self._in_write.clear()
        self._uncommitted = 0
        sqlc.rollback_quietly(self._db)

    # --- the request thread -----------------------------------------------------

    def segment(self, sink: Sink, seq: int, data: bytes) -> None:
        """Queue one segment (returns at once unless ``QUEUE_SEGMENTS`` already wait)."""
        self._queue.put(_Job(sink=sink, seq=seq, data=data))

    def call(self, work: Callable[[sqlc.Connection], object]) -> object:
        """Run ``work(connection)`` on the writer thread, after everything queued before it."""
        job = _Job(call=work)
        self._queue.put(job)
        job.done.wait()
        if job.error is not None:
            raise job.error
        return job.result

    def stop(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()


class Sink:
    """Receives one attachment's ciphertext and hands it, in segments, to the writer thread."""

    def __init__(self, writer: Writer, upload: int) -> None:
        self._writer = writer
        self.upload = upload
        self._buffer = bytearray()
        self._length = 0
        self._seq = 0
        self._open = True
        # Set by the writer thread when a segment could not be stored.
        self.error: BaseException | None = None

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error

    def _send(self, segment: bytes) -> None:
        self._writer.segment(self, self._seq, segment)
        self._seq += 1

    def write(self, data: bytes) -> None:
        self._raise()
        self._buffer += data
        self._length += len(data)
        while len(self._buffer) >= SEGMENT:
            segment = bytes(self._buffer[:SEGMENT])
            del self._buffer[:SEGMENT]
            self._send(segment)

    def close(self) -> Upload:
        """Write what is left and commit durably; the upload is then *complete*."""
        if self._buffer:
            self._send(bytes(self._buffer))
            self._buffer.clear()
        upload, length = self.upload, self._length

        def complete(db: sqlc.Connection) -> None:
            if self.error is not None:
                raise self.error
            with sqlc.Transaction(db):
                db.execute("UPDATE uploads SET state = 'complete', length = ? WHERE id = ?",
                           (length, upload))

        try:
            self._writer.call(complete)
        except BaseException:
            self.discard()
            raise
        self._open = False
        return Upload(upload, length)

    def discard(self) -> None:
        """Drop the upload: nothing of it stays (its pages are zeroed)."""
        self._buffer.clear()
        if self._open:
            self._open = False
            self._writer.call(lambda db: delete_uploads(db, [self.upload]))
