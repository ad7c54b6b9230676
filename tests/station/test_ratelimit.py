"""The station-wide submission limit (station/ratelimit.py), on a clock the test moves.

Through a real server, with pages and tokens: tests/e2e/test_e2e_guard.py.
"""

from __future__ import annotations

import threading

import pytest

from reporter.station.ratelimit import TokenBucket, retry_after


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_of_the_whole_window_is_taken_then_one_token_at_a_time() -> None:
    clock = Clock()
    bucket = TokenBucket(60, 60.0, clock)
    assert [bucket.take() for _ in range(60)] == [0.0] * 60
    wait = bucket.take()
    assert wait == pytest.approx(1.0)  # one a second
    clock.now += 0.5
    assert bucket.take() == pytest.approx(0.5)
    clock.now += 0.5
    assert bucket.take() == 0.0
    assert bucket.take() > 0


def test_a_quiet_hour_refills_the_bucket_only_to_its_size() -> None:
    clock = Clock()
    bucket = TokenBucket(5, 60.0, clock)
    for _ in range(5):
        assert bucket.take() == 0.0
    clock.now += 3600
    assert [bucket.take() for _ in range(5)] == [0.0] * 5
    assert bucket.take() > 0


def test_a_token_given_back_can_be_taken_again_but_never_beyond_the_size() -> None:
    clock = Clock()
    bucket = TokenBucket(2, 60.0, clock)
    assert bucket.take() == 0.0 and bucket.take() == 0.0 and bucket.take() > 0
    bucket.give_back()
    assert bucket.take() == 0.0
    fresh = TokenBucket(2, 60.0, clock)
    fresh.give_back()  # full already: stays at two
    assert [fresh.take() for _ in range(3)][2] > 0


def test_zero_is_no_limit() -> None:
    bucket = TokenBucket(0, 60.0, Clock())
    assert bucket.off and all(bucket.take() == 0.0 for _ in range(10_000))


def test_a_clock_that_goes_back_gives_nothing_away() -> None:
    clock = Clock()
    bucket = TokenBucket(1, 60.0, clock)
    assert bucket.take() == 0.0
    clock.now -= 1000
    assert bucket.take() > 0


def test_threads_never_take_more_than_there_is() -> None:
    bucket = TokenBucket(100, 3600.0)
    taken: list[float] = []
    lock = threading.Lock()

    def grab() -> None:
        for _ in range(50):
            wait = bucket.take()
            with lock:
                taken.append(wait)

    threads = [threading.Thread(target=grab) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(1 for w in taken if w == 0.0) == 100


def test_retry_after_is_whole_seconds_rounded_up() -> None:
    assert retry_after(0.01) == 1 and retry_after(1.0) == 1 and retry_after(1.2) == 2


def test_nonsense_is_refused() -> None:
    with pytest.raises(ValueError):
        TokenBucket(-1)
    with pytest.raises(ValueError):
        TokenBucket(5, 0)
