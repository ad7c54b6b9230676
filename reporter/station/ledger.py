"""Which form tokens have been used: what makes a submission idempotent.

The ledger maps a submission's name (``FormTokens.ledger_name``, a keyed
hash of its token's nonce) to its state, in this process's memory only:

* absent: not sent yet, or its last attempt failed (a form error, the store
  unavailable): the next one is processed normally;
* PENDING: a request is storing it now. Another request with the same token
  (a double tap, a retry while the first is still being sealed) waits for it;
* DONE: it was stored. A resend stores nothing; the page shows the same
  receipt again.

An entry lives as long as its token (``issued + lifetime``); past that the
token itself is refused. The ledger holds at most ``capacity`` entries: when
full, the entry issued earliest is dropped **and every token issued at or
before it is refused from then on** as expired (the "floor"), so dropping an
entry can never make a used token fresh again. Nothing in it names a receipt
or a report, and it dies with the process, like the key.
"""

from __future__ import annotations

import enum
import heapq
import threading
import time
from collections.abc import Callable

DEFAULT_CAPACITY = 100_000
# How long a resend waits for the first attempt of the same form to finish
# (sealing and a durable commit take well under a second; a stalled disk
# may take longer). After that the monitor is told to send again shortly.
DEFAULT_WAIT = 60.0


class Claim(enum.Enum):
    NEW = "new"  # the caller stores it, then calls ``done`` or ``release``
    DONE = "done"  # stored already: show its receipt, store nothing
    EXPIRED = "expired"  # its token is too old (or below the floor) to be told apart
    BUSY = "busy"  # another request still holds it after the wait


_PENDING = 0
_DONE = 1


class Ledger:
    """Thread-safe; one per app."""

    def __init__(self, lifetime: int, clock: Callable[[], int], *,
                 capacity: int = DEFAULT_CAPACITY, wait: float = DEFAULT_WAIT) -> None:
        if capacity < 1:
            raise ValueError("a ledger holds at least one entry")
        self._lifetime = lifetime
        self._clock = clock
        self._capacity = capacity
        self._wait = wait
        self._entries: dict[bytes, tuple[int, int]] = {}  # name -> (state, issued)
        self._by_age: list[tuple[int, bytes]] = []  # (issued, name), may hold stale items
        self._floor = -1  # tokens issued at or before this are refused
        self._changed = threading.Condition(threading.Lock())

    def __len__(self) -> int:
        with self._changed:
            return len(self._entries)

    @property
    def floor(self) -> int:
        return self._floor

    def claim(self, name: bytes, issued: int) -> Claim:
        """Take the submission ``name`` (whose token was issued at ``issued``) to store it."""
        deadline = time.monotonic() + self._wait
        with self._changed:
            while True:
                self._expire()
                if issued <= self._floor or self._clock() - issued > self._lifetime:
                    return Claim.EXPIRED
                entry = self._entries.get(name)
                if entry is None:
                    if len(self._entries) >= self._capacity:
                        self._drop_oldest()
                        if issued <= self._floor:  # older than everything kept
                            return Claim.EXPIRED
                    self._insert(name, issued)
                    return Claim.NEW
                if entry[0] == _DONE:
                    return Claim.DONE
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return Claim.BUSY
                self._changed.wait(remaining)

    def stored(self, name: bytes) -> bool:
        """Whether ``name`` was stored, without claiming it (a resend the station
        cannot take now still gets its receipt)."""
        with self._changed:
            entry = self._entries.get(name)
            return entry is not None and entry[0] == _DONE

    def done(self, name: bytes) -> None:
        """The submission was stored: resends get its receipt."""
        with self._changed:
            entry = self._entries.get(name)
            if entry is not None:
                self._entries[name] = (_DONE, entry[1])
            self._changed.notify_all()

    def release(self, name: bytes) -> None:
        """The attempt failed and stored nothing: the next one is processed normally."""
        with self._changed:
            entry = self._entries.get(name)
            if entry is not None and entry[0] == _PENDING:
                del self._entries[name]
            self._changed.notify_all()

    # -- below, the lock is held --

    def _insert(self, name: bytes, issued: int) -> None:
        self._entries[name] = (_PENDING, issued)
        heapq.heappush(self._by_age, (issued, name))
        if len(self._by_age) > 2 * len(self._entries) + 1024:
            # Released entries leave their heap item behind: rebuild now and then.
            self._by_age = [(i, n) for n, (_s, i) in self._entries.items()]
            heapq.heapify(self._by_age)

    def _live(self, item: tuple[int, bytes]) -> bool:
        entry = self._entries.get(item[1])
        return entry is not None and entry[1] == item[0]

    def _drop_oldest(self) -> None:
        while self._by_age:
            issued, name = heapq.heappop(self._by_age)
            if self._live((issued, name)):
                del self._entries[name]
                self._floor = max(self._floor, issued)
                self._changed.notify_all()
                return

    def _expire(self) -> None:
        oldest_live = self._clock() - self._lifetime
        while self._by_age and self._by_age[0][0] < oldest_live:
            issued, name = heapq.heappop(self._by_age)
            if self._live((issued, name)):
                del self._entries[name]
                self._changed.notify_all()
