"""The last-resort guard both the station and the desk sit behind (reporter/web/guard.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from reporter.web.guard import Guard, where
from reporter.web.headers import BARE_POLICY, COMMON

PAGE = b"<!doctype html><p>fixed</p>"
CANARY = "CANARY-report-text-7f3a"


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, list[tuple[str, str]], Any]] = []

    def __call__(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        self.calls.append((status, headers, exc_info))


def raising_before_start(environ: dict[str, Any],
                         start_response: Callable[..., Any]) -> list[bytes]:
    raise ValueError(f"the monitor wrote {CANARY}")


def raising_in_body(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    yield b"first part, "
    raise KeyError(CANARY)


@pytest.mark.parametrize("buffer", [True, False])
def test_an_escaping_exception_gets_the_fixed_page_and_a_log_line_without_its_message(
        buffer: bool, caplog: pytest.LogCaptureFixture) -> None:
    start = Recorder()
    with caplog.at_level(logging.ERROR, logger="reporter"):
        body = b"".join(Guard(raising_before_start, PAGE, buffer=buffer)({}, start))
    assert body == PAGE
    status, headers, exc_info = start.calls[-1]
    assert status.startswith("500")
    assert exc_info is None
    sent = dict(headers)
    assert sent["Content-Security-Policy"] == BARE_POLICY
    assert sent["Content-Length"] == str(len(PAGE))
    for name, value in COMMON.items():
        assert sent[name] == value
    assert "escaped ValueError at" in caplog.text
    assert CANARY not in caplog.text


def test_buffered_a_failure_half_way_through_the_body_still_becomes_the_fixed_page(
        caplog: pytest.LogCaptureFixture) -> None:
    start = Recorder()
    with caplog.at_level(logging.ERROR, logger="reporter"):
        body = b"".join(Guard(raising_in_body, PAGE, buffer=True)({}, start))
    assert body == PAGE
    assert [c[0][:3] for c in start.calls] == ["200", "500"]
    assert start.calls[-1][2] is not None  # exc_info: replaces headers not yet sent
    assert CANARY not in caplog.text


def test_streaming_the_body_is_not_read_by_the_guard_so_a_failure_reaches_the_server() -> None:
    started: list[str] = []

    def streaming(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
        start_response("200 OK", [])
        started.append("body")
        yield b"a" * 10
        raise KeyError(CANARY)

    result = Guard(streaming, PAGE, buffer=False)({}, Recorder())
    assert started == []  # not consumed: a 300 MB file would not be held in memory
    chunks = iter(result)
    assert next(chunks) == b"a" * 10
    with pytest.raises(KeyError):
        next(chunks)  # the server closes the connection: a download that did not finish


def test_buffered_the_apps_close_is_called() -> None:
    closed: list[bool] = []

    class Body:
        def __iter__(self) -> Iterator[bytes]:
            yield b"ok"

        def close(self) -> None:
            closed.append(True)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Body:
        start_response("200 OK", [])
        return Body()

    assert list(Guard(app, PAGE, buffer=True)({}, Recorder())) == [b"ok"]
    assert closed == [True]


def test_where_names_the_innermost_frame() -> None:
    def inner() -> None:
        raise RuntimeError("x")

    try:
        inner()
    except RuntimeError as exc:
        location = where(exc)
    assert location.endswith(f"test_guard.py:{inner.__code__.co_firstlineno + 1}")


def test_a_header_the_server_could_not_write_becomes_the_fixed_page_before_any_is_sent(
        caplog: pytest.LogCaptureFixture) -> None:
    def naming(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [("Content-Disposition", "attachment; filename=фото.jpg")])
        return [b"jpeg"]

    for buffer in (True, False):
        start = Recorder()
        with caplog.at_level(logging.ERROR, logger="reporter"):
            body = b"".join(Guard(naming, PAGE, buffer=buffer)({}, start))
        assert body == PAGE
        assert [c[0][:3] for c in start.calls] == ["500"]  # the server saw one set only
        assert "фото" not in caplog.text
