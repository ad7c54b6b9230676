"""Two small stream helpers for moving large attachments: read ahead, re-cut.

``read_ahead`` runs an iterator on a thread of its own, a bounded number of
items ahead of its consumer. It exists for the two long copies of attachment
ciphertext (``export.py``: station store -> bundle; ``review.py``: bundle ->
review store): SQLite releases the GIL while it reads or writes a segment, and
libsodium and hashlib while they decrypt or hash one, so on two cores the
producer's and the consumer's work overlap. Memory stays bounded: at most
``depth`` items wait in the queue.

The iterator must not be touched by anyone else while the generator runs,
and it is finished (or abandoned, and its thread stopped and joined) before
the generator returns or is closed, so the object it reads from (a database
connection, a bundle reader) is used by one thread at a time.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterable, Iterator

_END = object()


def read_ahead(items: Iterable[bytes], depth: int = 2) -> Generator[bytes, None, None]:
    """``items``, produced on a thread at most ``depth`` ahead; its errors re-raised here.

    Close the generator (``contextlib.closing``) when a consumer may stop early: that
    stops and joins the thread at once, not whenever the generator is collected.
    """
    pipe: queue.Queue[object] = queue.Queue(depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                pipe.put(item)
            pipe.put(_END)
        except BaseException as exc:  # handed to the consumer
            pipe.put(exc)

    thread = threading.Thread(target=produce, name="reporter-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = pipe.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, bytes)  # noqa: S101 (only items and markers are queued)
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting to put
            try:
                pipe.get(timeout=0.05)
            except queue.Empty:
                pass
        thread.join()


def rechunk(pieces: Iterable[bytes], size: int) -> Iterator[bytes]:
    """The bytes of ``pieces`` again, cut into pieces of exactly ``size`` (the last: 1..size)."""
    buffer = bytearray()
    for piece in pieces:
        buffer += piece
        if len(buffer) >= size:
            whole = len(buffer) - len(buffer) % size
            with memoryview(buffer) as view:
                for start in range(0, whole, size):
                    yield bytes(view[start : start + size])
            del buffer[:whole]
    if buffer:
        yield bytes(buffer)
