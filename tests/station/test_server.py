"""reporter.station.server: the pieces of the HTTP server, one at a time.

The server as a whole is tested from outside, through real sockets, in
tests/e2e/test_slow_clients.py; these read as the rules its parts follow.
"""

from __future__ import annotations

import io
import logging

import h11
import pytest

from reporter.station.server.limits import Incidents, ServerLimits
from reporter.station.server.wsgi import FRONT_ERROR, environ_for


def _request(*headers: tuple[bytes, bytes], target: bytes = b"/?lang=fr") -> h11.Request:
    return h11.Request(method=b"POST", target=target, headers=[(b"Host", b"x"), *headers])


def test_a_quarter_of_the_workers_never_take_uploads() -> None:
    assert ServerLimits.for_threads(16).upload_slots == 12
    assert ServerLimits.for_threads(4).upload_slots == 3
    assert ServerLimits.for_threads(2).upload_slots == 1
    assert ServerLimits.for_threads(16, upload_slots=5).upload_slots == 5


def test_the_app_never_sees_a_client_address() -> None:
    environ = environ_for(_request((b"X-Forwarded-For", b"10.1.2.3")), io.BytesIO(),
                          server_name="0.0.0.0", server_port=8080)  # noqa: S104
    assert "REMOTE_ADDR" not in environ and "REMOTE_PORT" not in environ
    assert environ["PATH_INFO"] == "/" and environ["QUERY_STRING"] == "lang=fr"
    assert environ["wsgi.input_terminated"] is True


def test_header_names_with_underscores_are_dropped() -> None:
    """``X_Forwarded_For`` must not pose as ``X-Forwarded-For`` (both map to one key)."""
    environ = environ_for(_request((b"X_Lang", b"evil"), (b"X-Lang", b"good")), io.BytesIO(),
                          server_name="h", server_port=1)
    assert environ["HTTP_X_LANG"] == "good"


def test_repeated_headers_are_joined() -> None:
    environ = environ_for(_request((b"Accept", b"a"), (b"Accept", b"b")), io.BytesIO(),
                          server_name="h", server_port=1)
    assert environ["HTTP_ACCEPT"] == "a,b"


def test_a_refused_request_keeps_only_what_chooses_the_language() -> None:
    request = _request((b"Accept-Language", b"fr"), (b"Cookie", b"lang=fr"),
                       (b"Content-Type", b"multipart/form-data"), (b"X-Other", b"1"),
                       target=b"/follow-up?x=1")
    environ = environ_for(request, io.BytesIO(), server_name="h", server_port=1,
                          front_error=413)
    assert environ[FRONT_ERROR] == 413
    assert environ["REQUEST_METHOD"] == "GET" and environ["PATH_INFO"] == "/"
    assert environ["HTTP_ACCEPT_LANGUAGE"] == "fr" and environ["HTTP_COOKIE"] == "lang=fr"
    assert "HTTP_X_OTHER" not in environ and "CONTENT_TYPE" not in environ


def test_a_path_is_decoded_as_latin_1_bytes() -> None:
    """PEP 3333: PATH_INFO carries the decoded bytes as latin-1 code points."""
    environ = environ_for(_request(target=b"/%C3%A9t%C3%A9"), io.BytesIO(),
                          server_name="h", server_port=1)
    assert environ["PATH_INFO"].encode("latin-1").decode("utf-8") == "/été"


def test_incidents_log_at_once_then_once_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    incidents = Incidents(every=60)
    with caplog.at_level(logging.WARNING, logger="reporter"):
        incidents.count("connections closed: request head too slow")
        for _ in range(500):
            incidents.count("connections closed: request head too slow")
        assert len(caplog.records) == 1
        incidents.maybe_log(force=True)
    assert len(caplog.records) == 2
    assert "request head too slow: 500" in caplog.records[1].getMessage()
