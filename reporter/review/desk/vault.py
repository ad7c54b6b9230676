"""The unlocked review database: its key in memory, who may use it, and the idle lock.

The desk starts locked. ``unlock`` derives the database key from the
passphrase typed on the unlock page (Argon2id, at the cost ``<db>.json``
names), proves it by opening the database, and keeps the key in this
object's memory: never on disk, never in a cookie, a URL or a log. The
session that unlocked it is the only one that may use it (its id is kept as
a BLAKE2b digest and compared in constant time); an unlock from another
browser ends the previous session's access.

``lock`` drops the key and that session: on the Lock button, and when no
request of the unlocked session came for ``idle_seconds`` (a thread checks
at least every few seconds, and every request checks first, so a request
after the deadline finds the desk locked even if the thread is late).
What "drops" means in Python: the reference goes, and the bytes stay in
freed memory until it is reused; SQLCipher wipes its own copy when a
connection closes. A stream of a file in progress checks ``generation``
between chunks and stops when the desk is locked.

The reviewer's name (``workflow.clean_name``: what was typed on the unlock
page, else the last one remembered in the database) is kept here with the
session, and dropped with it: every change the desk records carries it.

Key derivations are made one at a time (``Busy`` if another is running for
more than ``UNLOCK_WAIT`` seconds): each costs up to 256 MiB of memory
(Argon2id "moderate"), and a page sent many times at once must not add them up.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar

from reporter.errors import ReporterError, WrongPassphrase
from reporter.review.db import ReviewDB

UNLOCK_WAIT = 30.0
IDLE, BUTTON, ELSEWHERE = "idle", "button", "elsewhere"

T = TypeVar("T")
MEMO = 64  # values ``remembered`` keeps


class Locked(ReporterError):
    """The desk is locked: unlock it with the review database's passphrase."""


class Busy(ReporterError):
    """Another unlock is being checked; try again in a moment."""


# Wrong passphrases: the first FREE_GUESSES in a row are checked at once; each one after
# waits twice as long as the one before (1 s, 2 s, 4 s, ...; at most MAX_WAIT) and an
# unlock tried sooner is refused unchecked. The database file is mode 0600, so the
# unlock page is the only place another user of the laptop can guess at.
FREE_GUESSES = 5
MAX_WAIT = 60.0


class Throttled(ReporterError):
    """Too many wrong passphrases in a row: no passphrase is checked for ``wait`` s.
    ``first``: the first unlock refused in this wait (the one worth a log line: any
    local program can send thousands more)."""

    def __init__(self, wait: float, *, first: bool = True) -> None:
        super().__init__(f"too many wrong passphrases; try again in {wait:.0f} s")
        self.wait = wait
        self.first = first


def session_digest(session_id: str) -> bytes:
    return hashlib.blake2b(session_id.encode("ascii"), digest_size=32,
                           person=b"reporter-desk-s1").digest()


class Vault:
    def __init__(self, path: Path, idle_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self.idle_seconds = idle_seconds
        self._clock = clock
        self._state = threading.Lock()
        self._unlocking = threading.Lock()
        self._key: bytes | None = None
        self._session: bytes | None = None
        self._last = 0.0
        self.generation = 0
        self.reason: str | None = None  # why it locked last (IDLE, BUTTON, ELSEWHERE)
        self._reviewer: str | None = None
        # What ``remembered`` keeps while this unlock lasts (dropped by lock and unlock).
        self._memo: OrderedDict[Hashable, Any] = OrderedDict()
        self._failures = 0  # wrong passphrases in a row (since the last unlock)
        self._not_before = 0.0  # no passphrase is checked before this (clock)
        self._refused_in_wait = False  # an unlock was refused since _not_before was set
        self.failed_before_unlock = 0  # shown to the reviewer once unlocked
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    # --- unlocking and locking -----------------------------------------------

    def unlock(self, passphrase: str, session_id: str) -> None:
        """Derive and check the key, then let ``session_id`` (and only it) use it.
        ``WrongPassphrase``, ``Busy``, or the database's own error."""
        self._check_throttle()
        if not self._unlocking.acquire(timeout=UNLOCK_WAIT):
            raise Busy("another unlock is being checked; try again in a moment")
        try:
            # Again now that it is this unlock's turn: the guesses queued behind a
            # derivation were checked before it failed (sent at once, one per worker,
            # they were all tried).
            self._check_throttle()
            try:
                key = ReviewDB.derive_key(self.path, passphrase)
            except WrongPassphrase:
                with self._state:
                    self._failures += 1
                    if self._failures >= FREE_GUESSES:
                        self._not_before = self._clock() + min(
                            MAX_WAIT, 2.0 ** (self._failures - FREE_GUESSES))
                        self._refused_in_wait = False
                raise
            # Opening proves the file is there and readable with the key, and brings
            # its schema up to date once, before any page reads it.
            ReviewDB.open_with_key(self.path, key).close()
        finally:
            self._unlocking.release()
        with self._state:
            self._key = key
            self._session = session_digest(session_id)
            self._last = self._clock()
            self._memo.clear()
            self.generation += 1
            self.reason = None
            self._reviewer = None
            self.failed_before_unlock, self._failures, self._not_before = self._failures, 0, 0.0

    def _check_throttle(self) -> None:
        with self._state:
            wait = self._not_before - self._clock()
            first = not self._refused_in_wait
            if wait > 0:
                self._refused_in_wait = True
        if wait > 0:
            raise Throttled(wait, first=first)

    def lock(self, reason: str) -> None:
        with self._state:
            if self._key is None:
                return
            self._key = None
            self._session = None
            self._reviewer = None
            self._memo.clear()
            self.generation += 1
            self.reason = reason

    def expire_if_idle(self) -> bool:
        """Lock if the idle period has passed; whether it locked now."""
        with self._state:
            idle = self._key is not None and self._clock() - self._last >= self.idle_seconds
        if idle:
            self.lock(IDLE)
        return idle

    # --- using it ----------------------------------------------------------------

    @property
    def unlocked(self) -> bool:
        with self._state:
            return self._key is not None

    def authorised(self, session_id: str | None, *, use: bool = True) -> bool:
        """Whether ``session_id`` is the session that unlocked the desk (after the idle
        check); if ``use``, its idle period starts again (a page of the desk; not the
        unlock page, the style sheets or the lock button, which a page left open loads
        or a reviewer leaving presses)."""
        self.expire_if_idle()
        if session_id is None:
            return False
        digest = session_digest(session_id)
        with self._state:
            if self._session is None or not hmac.compare_digest(self._session, digest):
                return False
            if use:
                self._last = self._clock()
            return True

    def open(self) -> ReviewDB:
        """A connection to the database with the key held (``Locked`` if none is)."""
        with self._state:
            key = self._key
        if key is None:
            raise Locked("the review desk is locked")
        return ReviewDB.open_with_key(self.path, key)

    def remembered(self, key: Hashable, make: Callable[[], T]) -> T:
        """``make()``, kept for ``key`` while this unlock lasts (the last ``MEMO``
        keys): for counts that cost a walk of the database and that paging asks for
        again. The key must name the state of the database it was computed on. Lock
        and unlock drop everything (a key can hold a search the reviewer typed)."""
        with self._state:
            generation = self.generation
            if key in self._memo:
                self._memo.move_to_end(key)
                return self._memo[key]  # type: ignore[no-any-return]
        value = make()
        with self._state:
            if self.generation == generation and self._key is not None:
                self._memo[key] = value
                while len(self._memo) > MEMO:
                    self._memo.popitem(last=False)
        return value

    @property
    def reviewer(self) -> str | None:
        """The name changes are recorded under (None until one is given)."""
        with self._state:
            return self._reviewer if self._key is not None else None

    def set_reviewer(self, name: str | None) -> None:
        with self._state:
            if self._key is not None:
                self._reviewer = name

    def current(self, generation: int) -> bool:
        """Whether nothing has locked (or unlocked) the desk since ``generation``."""
        with self._state:
            return self._key is not None and self.generation == generation

    def seconds_left(self) -> float:
        with self._state:
            if self._key is None:
                return 0.0
            return max(0.0, self.idle_seconds - (self._clock() - self._last))

    # --- the idle watch -------------------------------------------------------------

    def start_watch(self) -> None:
        """A daemon thread that locks the desk when it has been idle long enough."""
        if self._watcher is not None:
            return
        interval = max(0.2, min(5.0, self.idle_seconds / 10))

        def watch() -> None:
            while not self._stop.wait(interval):
                self.expire_if_idle()

        self._watcher = threading.Thread(target=watch, name="desk-idle-lock", daemon=True)
        self._watcher.start()

    def stop_watch(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=10)
            self._watcher = None
