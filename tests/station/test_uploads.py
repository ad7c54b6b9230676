"""Request bodies never reach disk in plaintext: Werkzeug's spooling is replaced."""

from __future__ import annotations

import io
import tempfile
from typing import Any

import pytest
from werkzeug.test import EnvironBuilder

from reporter.station.submission import Incoming
from reporter.station.uploads import Discard
from reporter.storage.blobs import BlobStore
from tests.conftest import Station


@pytest.fixture
def spooled(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    calls: list[object] = []
    real = tempfile.SpooledTemporaryFile

    def watch(*args: object, **kwargs: object) -> object:
        calls.append(args)
        return real(*args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(tempfile, "SpooledTemporaryFile", watch)
    monkeypatch.setattr(tempfile, "TemporaryFile", watch)
    monkeypatch.setattr(tempfile, "NamedTemporaryFile", watch)
    return calls


def test_a_file_part_nobody_asked_for_is_dropped(app: Any, spooled: list[object]) -> None:
    payload = b"CNRYupload" + b"x" * (2 * 1024 * 1024)
    builder = EnvironBuilder(method="POST", path="/no-such-form",
                             data={"f": (io.BytesIO(payload), "photo.jpg")})
    with app.request_context(builder.get_environ()):
        from flask import request

        stream = request.files["f"].stream
        assert isinstance(stream, Discard) and stream.size == len(payload)
        assert stream.read() == b""
    assert spooled == []


def test_a_file_part_of_a_report_is_sealed_as_it_streams(
        app: Any, station: Station, spooled: list[object]) -> None:
    payload = b"%PDF-1.7\nCNRYupload" + b"x" * (2 * 1024 * 1024)
    builder = EnvironBuilder(method="POST", path="/",
                             data={"attachments": (io.BytesIO(payload), "statement.pdf")})
    with app.request_context(builder.get_environ()):
        from flask import request

        request.url_rule, request.view_args = app.url_map.bind("localhost").match(
            "/", method="POST", return_rule=True)
        stream = request.files["attachments"].stream
        assert isinstance(stream, Incoming)
        assert stream.size == len(payload) and stream.media_type == "application/pdf"
        assert stream.read() == b"", "the plaintext is not kept to be read back"
        with BlobStore.open(station.path, station.key) as blobs:
            assert blobs.upload_count() == 1
    assert spooled == []
    with BlobStore.open(station.path, station.key) as blobs:
        assert blobs.upload_count() == 0, "the request ended without a report: dropped"


def test_a_urlencoded_body_is_held_to_the_text_limit(client: Any) -> None:
    limit = client.application.config["MAX_FORM_MEMORY_SIZE"]
    response = client.post("/", data={"description": "x" * limit})
    assert response.status_code == 413


def test_the_default_request_would_have_spooled() -> None:
    """Control: without the override, Werkzeug hands large parts to a temp file."""
    from flask import Request

    builder = EnvironBuilder(method="POST",
                             data={"f": (io.BytesIO(b"x" * (2 * 1024 * 1024)), "a.bin")})
    stream = Request(builder.get_environ()).files["f"].stream
    assert not isinstance(stream, io.BytesIO)


def test_a_body_that_failed_to_parse_never_reads_as_an_empty_form(app: Any) -> None:
    """Whoever reads the form first (the language selection ignores the error, so an
    error page can still be drawn), every later read fails the same way: the view
    answers 413, and never sees an empty form where the monitor had typed."""
    from werkzeug.exceptions import RequestEntityTooLarge

    limit = app.config["MAX_FORM_MEMORY_SIZE"]
    builder = EnvironBuilder(method="POST", path="/", data={
        "description": "x" * (limit + 1), "attachments": (io.BytesIO(b"%PDF-1.7"), "a.pdf")})
    with app.request_context(builder.get_environ()):
        from flask import request

        for _ in range(3):
            with pytest.raises(RequestEntityTooLarge):
                request.form  # noqa: B018 (reading it parses the body)


def test_a_header_byte_that_is_not_utf8_is_read_with_a_replacement(app: Any) -> None:
    body = (b'--b\r\nContent-Disposition: form-data; name="description"\r\n\r\nkept\r\n'
            b'--b\r\nContent-Disposition: form-data; name="other"; filename="a\xff.pdf"\r\n\r\n'
            b"%PDF-1.7\r\n--b--\r\n")
    builder = EnvironBuilder(method="POST", path="/", data=body,
                             content_type="multipart/form-data; boundary=b")
    with app.request_context(builder.get_environ()):
        from flask import request

        assert request.form["description"] == "kept"
        assert request.files["other"].filename == "a\ufffd.pdf"
