"""The numbers that keep slow and idle clients from taking the station off the air."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("reporter")


@dataclass(frozen=True)
class ServerLimits:
    """Every limit of the HTTP server, with the reason for its default.

    ``threads`` workers run the app. A request reaches one only when its head
    (and, for a body of at most ``small_body_bytes``, the whole body) has
    arrived: until then it waits in the front, which holds any number of
    connections up to ``max_connections`` for the price of a file descriptor
    and a few hundred bytes. Only uploads (larger bodies) stream from the
    socket inside a worker, and at most ``upload_slots`` at once, so the
    ``threads - upload_slots`` others always serve the form and text reports.
    """

    threads: int = 16
    # Uploads at once; the rest of the threads are kept for pages and text reports.
    upload_slots: int = 12
    # Connections held open (idle, sending a head, or in a worker). Raised to
    # the file-descriptor limit's reach at start-up if that is lower.
    max_connections: int = 4096
    # From accepting a connection (or answering its previous request) to a
    # complete head and small body. Tor adds seconds of latency, not minutes;
    # a browser reopens a keep-alive connection closed while idle.
    head_timeout: float = 60.0
    # A browser's request head is under 2 KiB; Tor Browser's about 600 bytes.
    max_head_bytes: int = 16 * 1024
    max_target_bytes: int = 8 * 1024
    # Bodies up to this size (every text-only report) are read by the front.
    small_body_bytes: int = 64 * 1024
    # All bytes the front holds for unfinished heads and small bodies.
    front_buffer_bytes: int = 64 * 1024 * 1024
    # An upload must deliver ``min_body_rate`` bytes a second, averaged over
    # each ``rate_window``: 1 KiB/s is a twentieth of a poor Tor circuit.
    min_body_rate: int = 1024
    rate_window: float = 60.0
    # A client that stops reading its answer for this long is dropped.
    send_timeout: float = 60.0
    # The longest an upload waits for a free slot before a "busy" page.
    upload_wait: float = 300.0
    # Bodies announced larger than this are refused (413) before any is read.
    max_body_bytes: int = 1 << 40
    # After an answer that leaves a body unread, read and drop what the client
    # still sends for this long, so it sees the answer instead of a reset.
    linger: float = 2.0

    @classmethod
    def for_threads(cls, threads: int, **overrides: Any) -> ServerLimits:
        """Limits for ``threads`` workers: a quarter (at least one) kept from uploads."""
        kept = max(1, threads // 4)
        values: dict[str, Any] = {"threads": threads, "upload_slots": max(1, threads - kept)}
        values.update(overrides)
        return cls(**values)


class Incidents:
    """Counts what the server shed or refused; logs a summary at most once a minute.

    No line names a client, a path or a header: only kinds and counts. An
    attacker who opens thousands of connections makes one line a minute.
    The app keeps one too (``what`` says whose), for the submissions it sheds.
    """

    def __init__(self, every: float = 60.0,
                 what: str = "the HTTP server shed or refused connections") -> None:
        self._every = every
        self._what = what
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._last = float("-inf")  # the first incident after a quiet minute logs at once

    def count(self, kind: str, n: int = 1) -> None:
        with self._lock:
            self._counts[kind] += n
        self.maybe_log()

    def maybe_log(self, *, force: bool = False) -> None:
        now = time.monotonic()
        with self._lock:
            if not self._counts or (not force and now - self._last < self._every):
                return
            counts, self._counts = self._counts, Counter()
            self._last = now
        summary = ", ".join(f"{kind}: {n}" for kind, n in sorted(counts.items()))
        log.warning("%s in the last minute (%s)", self._what, summary)
