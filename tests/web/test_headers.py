"""The headers both the station and the desk send (reporter/web/headers.py)."""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest

from reporter.web.headers import content_disposition


def test_a_plain_name_is_sent_as_it_is() -> None:
    assert content_disposition("report-3.csv") == "attachment; filename=report-3.csv"


@pytest.mark.parametrize("name", [
    "фото.jpg", "elɔkɔ.jpg", "1-relatório.jpg", "4-a%E2%80%AEgpj-exe.jpg",
    'a "quoted"; name.jpg', "back\\slash.jpg", "dépôt des plaintes.pdf", "照片.png",
])
def test_any_name_gives_an_ascii_header_that_says_it_exactly(name: str) -> None:
    header = content_disposition(name)
    assert header.isascii() and "\r" not in header and "\n" not in header
    header.encode("latin-1")  # what a WSGI server writes
    match = re.fullmatch(r'attachment; filename="([ -~]*)"; filename\*=UTF-8\'\'(\S+)', header)
    assert match, header
    fallback, encoded = match.groups()
    assert not set('%"\\') & set(fallback)
    assert unquote(encoded, errors="strict") == name
