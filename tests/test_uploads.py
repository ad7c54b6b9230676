"""Request bodies are parsed in memory: Werkzeug's disk spooling is replaced."""

from __future__ import annotations

import io
import tempfile

import pytest
from werkzeug.test import EnvironBuilder

from reporter.uploads import MemoryOnlyRequest


def test_a_large_file_part_stays_in_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    spooled: list[object] = []
    real = tempfile.SpooledTemporaryFile

    def watch(*args: object, **kwargs: object) -> object:
        spooled.append(args)
        return real(*args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(tempfile, "SpooledTemporaryFile", watch)
    payload = b"CNRYupload" + b"x" * (2 * 1024 * 1024)
    builder = EnvironBuilder(method="POST", data={"f": (io.BytesIO(payload), "photo.jpg")})
    request = MemoryOnlyRequest(builder.get_environ())
    stream = request.files["f"].stream
    assert isinstance(stream, io.BytesIO)
    assert stream.getvalue() == payload
    assert spooled == []


def test_the_default_request_would_have_spooled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Control: without the override, Werkzeug hands large parts to a temp file."""
    from flask import Request

    builder = EnvironBuilder(method="POST",
                             data={"f": (io.BytesIO(b"x" * (2 * 1024 * 1024)), "a.bin")})
    stream = Request(builder.get_environ()).files["f"].stream
    assert not isinstance(stream, io.BytesIO)
