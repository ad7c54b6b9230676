"""A writer that runs in a thread of its own and streams what it writes, with a bound.

The CLI's export writers (``export.write_csv``, ``export.write_jsonl``,
``spreadsheet.write_xlsx``) write to a file; the desk sends the same bytes to
the browser without writing any file. ``start`` runs one of them in a
thread, writing into a ``Pipe``; the response's generator takes the bytes
from a queue of at most ``DEPTH`` chunks of ``CHUNK`` bytes (so at most about
1 MiB waits for a slow browser: the writer blocks, it does not pile up).
When the browser goes away the generator is closed, the pipe refuses the
next write and the thread ends; when the desk is locked (``going`` says no)
the same. A failure of the writer *before* its first byte (a spreadsheet
with too many rows) is raised to the view, which shows a page; after it,
the connection is dropped, so the download is visibly unfinished.
"""

from __future__ import annotations

import io
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

CHUNK = 64 * 1024
DEPTH = 16
POLL = 0.5
FIRST_WAIT = 600.0  # seconds the view waits for a writer's first bytes


class Cancelled(Exception):
    """The reader went away (or the desk was locked): the writer stops."""


class Failed(Exception):
    """The writer failed after its first bytes were sent."""


@dataclass
class _End:
    error: BaseException | None = None


class Pipe(io.RawIOBase):
    """A non-seekable binary stream whose bytes go to ``queue`` in chunks."""

    def __init__(self, out: queue.Queue[bytes | _End], stop: threading.Event,
                 going: Callable[[], bool]) -> None:
        super().__init__()
        self._out = out
        self._stop = stop
        self._going = going
        self._buffer = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self._buffer += view
        while len(self._buffer) >= CHUNK:
            self._put(bytes(self._buffer[:CHUNK]))
            del self._buffer[:CHUNK]
        return len(view)

    def finish(self) -> None:
        if self._buffer:
            self._put(bytes(self._buffer))
            self._buffer.clear()

    def _put(self, item: bytes) -> None:
        while True:
            if self._stop.is_set() or not self._going():
                raise Cancelled()
            try:
                self._out.put(item, timeout=POLL)
                return
            except queue.Full:
                continue


def start(write: Callable[[Pipe], None], going: Callable[[], bool]) -> Iterator[bytes]:
    """Run ``write(pipe)`` in a thread; the bytes it writes, as an iterator. Raises the
    writer's exception here if it fails before writing anything."""
    out: queue.Queue[bytes | _End] = queue.Queue(maxsize=DEPTH)
    stop = threading.Event()
    pipe = Pipe(out, stop, going)

    def run() -> None:
        try:
            write(pipe)
            pipe.finish()
        except BaseException as exc:  # handed to the reader
            end = _End(exc)
        else:
            end = _End()
        while not stop.is_set():
            try:
                out.put(end, timeout=POLL)
                return
            except queue.Full:
                continue

    thread = threading.Thread(target=run, name="desk-export", daemon=True)
    thread.start()
    try:
        first = out.get(timeout=FIRST_WAIT)
    except queue.Empty:
        stop.set()
        raise Failed("the export wrote nothing in time") from None
    if isinstance(first, _End) and first.error is not None:
        stop.set()
        thread.join(timeout=10)
        raise first.error
    return _drain(first, out, stop, thread)


def _drain(first: bytes | _End, out: queue.Queue[bytes | _End], stop: threading.Event,
           thread: threading.Thread) -> Iterator[bytes]:
    item = first
    try:
        while True:
            if isinstance(item, _End):
                if item.error is not None:
                    raise Failed(type(item.error).__name__) from None
                return
            yield item
            item = out.get()
    finally:
        stop.set()
        thread.join(timeout=10)
