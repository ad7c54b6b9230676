"""A station-wide limit on submissions: a token bucket, in memory.

Why station-wide and not per client: behind an onion service every client is
127.0.0.1, and on a hotspot an attacker can change address at will; the app
never even sees an address (the server does not pass one). What the limit
protects is the station's disk, CPU and the reviewers' time, which a flood
spends whoever sends it.

The bucket holds at most ``per_window`` tokens and gains ``per_window`` every
``window`` seconds, continuously: a burst of ``per_window`` submissions at
once is taken, then one every ``window / per_window`` seconds. A submission
takes a token before its body is read; when none is left it is shed (the
form comes back with what was typed, nothing stored, its form token unused).
``per_window`` 0 turns the limit off.

Nothing here is stored or logged: the bucket is a number and a time, gone at
a restart (which refills it: a restart is not something an attacker can
cause from outside).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class TokenBucket:
    """Thread-safe. ``take`` returns 0 when a token was taken, else the seconds to wait."""

    def __init__(self, per_window: int, window: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if per_window < 0 or window <= 0:
            raise ValueError("a bucket needs per_window >= 0 and window > 0")
        self.per_window = per_window
        self.window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens = float(per_window)
        self._stamp = clock()

    @property
    def off(self) -> bool:
        return self.per_window == 0

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._stamp)
        self._stamp = now
        self._tokens = min(float(self.per_window),
                           self._tokens + elapsed * self.per_window / self.window)

    def take(self) -> float:
        """Take a token: 0.0 if one was there, else how long until one will be."""
        if self.off:
            return 0.0
        with self._lock:
            self._refill()
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return 0.0
            return (1.0 - self._tokens) * self.window / self.per_window

    def give_back(self) -> None:
        """Return a token taken for something that turned out not to be a submission."""
        if self.off:
            return
        with self._lock:
            self._refill()
            self._tokens = min(float(self.per_window), self._tokens + 1.0)


def retry_after(wait: float) -> int:
    """``wait`` as a Retry-After value: whole seconds, rounded up, at least one."""
    return max(1, math.ceil(wait))
