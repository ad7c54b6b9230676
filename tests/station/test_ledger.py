"""reporter.station.ledger: one form sent twice is stored once."""

from __future__ import annotations

import threading
import time

import pytest

from reporter.station.ledger import Claim, Ledger

LIFETIME = 3600


class Clock:
    def __init__(self, now: int = 10_000) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def name(i: int) -> bytes:
    return i.to_bytes(16, "big")


def test_a_stored_submission_is_done_for_every_resend() -> None:
    clock = Clock()
    ledger = Ledger(LIFETIME, clock)
    assert ledger.claim(name(1), clock.now) is Claim.NEW
    ledger.done(name(1))
    assert ledger.claim(name(1), clock.now) is Claim.DONE
    assert ledger.claim(name(1), clock.now) is Claim.DONE
    assert ledger.claim(name(2), clock.now) is Claim.NEW


def test_a_failed_attempt_leaves_no_trace() -> None:
    clock = Clock()
    ledger = Ledger(LIFETIME, clock)
    assert ledger.claim(name(1), clock.now) is Claim.NEW
    ledger.release(name(1))
    assert len(ledger) == 0
    assert ledger.claim(name(1), clock.now) is Claim.NEW
    ledger.done(name(1))
    ledger.release(name(1))  # too late: a stored submission stays done
    assert ledger.claim(name(1), clock.now) is Claim.DONE


def test_a_resend_waits_for_the_first_attempt_then_gets_its_outcome() -> None:
    clock = Clock()
    ledger = Ledger(LIFETIME, clock)
    assert ledger.claim(name(1), clock.now) is Claim.NEW
    outcome: list[Claim] = []
    waiter = threading.Thread(target=lambda: outcome.append(ledger.claim(name(1), clock.now)))
    waiter.start()
    time.sleep(0.3)
    assert outcome == []  # still waiting
    ledger.done(name(1))
    waiter.join(5)
    assert outcome == [Claim.DONE]

    assert ledger.claim(name(2), clock.now) is Claim.NEW
    outcome.clear()
    waiter = threading.Thread(target=lambda: outcome.append(ledger.claim(name(2), clock.now)))
    waiter.start()
    time.sleep(0.3)
    ledger.release(name(2))  # the first failed: the resend is processed
    waiter.join(5)
    assert outcome == [Claim.NEW]


def test_a_resend_waits_a_bounded_time() -> None:
    clock = Clock()
    ledger = Ledger(LIFETIME, clock, wait=0.2)
    assert ledger.claim(name(1), clock.now) is Claim.NEW
    started = time.monotonic()
    assert ledger.claim(name(1), clock.now) is Claim.BUSY
    assert 0.15 < time.monotonic() - started < 2


def test_many_resends_at_once_store_one() -> None:
    clock = Clock()
    ledger = Ledger(LIFETIME, clock)
    claims: list[Claim] = []
    lock = threading.Lock()

    def send() -> None:
        claim = ledger.claim(name(7), clock.now)
        if claim is Claim.NEW:
            time.sleep(0.05)  # sealing and storing
            ledger.done(name(7))
        with lock:
            claims.append(claim)

    threads = [threading.Thread(target=send) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(c.value for c in claims) == ["done"] * 15 + ["new"]


def test_entries_expire_with_their_token() -> None:
    clock = Clock()
    ledger = Ledger(LIFETIME, clock)
    issued = clock.now
    assert ledger.claim(name(1), issued) is Claim.NEW
    ledger.done(name(1))
    clock.now += LIFETIME
    assert ledger.claim(name(1), issued) is Claim.DONE
    clock.now += 1
    assert ledger.claim(name(1), issued) is Claim.EXPIRED
    assert len(ledger) == 0


def test_when_full_the_oldest_goes_and_no_token_as_old_is_fresh_again() -> None:
    clock = Clock(200)
    ledger = Ledger(LIFETIME, clock, capacity=3)
    for i, issued in enumerate([105, 101, 103]):
        assert ledger.claim(name(i), issued) is Claim.NEW
        ledger.done(name(i))
    assert ledger.floor < 101
    # A fourth: the entry issued earliest (101, name 1) is dropped...
    assert ledger.claim(name(3), 107) is Claim.NEW
    assert len(ledger) == 3 and ledger.floor == 101
    # ...and its token, which would otherwise look unused, is refused.
    assert ledger.claim(name(1), 101) is Claim.EXPIRED
    assert ledger.claim(name(9), 100) is Claim.EXPIRED  # any token as old
    assert ledger.claim(name(0), 105) is Claim.DONE
    assert ledger.claim(name(2), 103) is Claim.DONE
    ledger.done(name(3))
    # A token older than everything kept is refused without dropping anything.
    assert ledger.claim(name(8), 102) is Claim.EXPIRED
    assert ledger.floor == 103 and len(ledger) == 2  # 103 went to make room


def test_released_entries_do_not_grow_memory() -> None:
    clock = Clock()
    ledger = Ledger(LIFETIME, clock, capacity=10)
    for i in range(20_000):
        assert ledger.claim(name(i), clock.now) is Claim.NEW
        ledger.release(name(i))
    assert len(ledger) == 0
    assert len(ledger._by_age) <= 1024 + 2  # the bound is the point


def test_capacity_is_positive() -> None:
    with pytest.raises(ValueError):
        Ledger(LIFETIME, Clock(), capacity=0)
