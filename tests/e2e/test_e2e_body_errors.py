"""A body the parser cannot take whole still reaches the form: nothing typed is lost.

A phone's "select all" in the gallery sends hundreds of files; a file name
can carry a byte that is not UTF-8. Before, the body parser's error was
swallowed by the language selection (which reads the form first), the form
was then read again from a stream already consumed, and the monitor saw
"Please fill in this field" beside everything they had written.

The bodies here are built as a browser builds them: every field in the
order the served page lists it, the files where the file input is.
"""

from __future__ import annotations

import re

import pytest
import requests

from reporter.storage.blobs import BlobStore
from tests.conftest import Server, Station, form_token
from tests.e2e.test_e2e import RECEIPT_RE
from tests.station.test_web_attachments import stored

pytestmark = pytest.mark.slow

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x11" * 2000
BOUNDARY = "----browserlikeBoundary7MA4YWxkTrZu0gW"
ANSWERS = {
    "incident_types": "shooting",
    "incident_day": "1",
    "incident_month": "11",
    "incident_year": "2026",
    "date_approximate": "",
    "site": "Marange",
    "site_other": "",
    "location": "KEEP-location near the river crossing",
    "people_affected": "12",
    "children_affected": "",
    "women_affected": "",
    "perpetrators": "police",
    "perpetrator_other": "",
    "description": "KEEP-description soldiers fired at the diggers at dawn",
    "source": "witnessed",
    "monitor_code": "KEEP-monitor-7",
    "contact": "contact",
    "contact_details": "KEEP-contact ask for Tendai at the market",
}


def _form_names(page: str) -> list[str]:
    """The names of the form's controls, in the order the page lists them."""
    form = page[page.index("<form"): page.index("</form>")]
    names: list[str] = []
    for name in re.findall(r'<(?:input|textarea|select)[^>]*\bname="([^"]+)"', form):
        if name not in names:
            names.append(name)
    return names


def browser_body(page: str, answers: dict[str, str],
                 files: list[tuple[bytes, bytes]]) -> tuple[bytes, str]:
    """A multipart body with ``answers`` and ``files`` (raw name, data) in page order."""
    fields = {"form_token": form_token(page), **answers}
    parts = []
    for name in _form_names(page):
        if name == "attachments":
            for filename, data in files:
                parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; '
                             f'name="attachments"; filename="'.encode() + filename
                             + b'"\r\nContent-Type: image/jpeg\r\n\r\n' + data + b"\r\n")
        elif name in fields:
            parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"'
                         f"\r\n\r\n{fields[name]}\r\n".encode())
    parts.append(f"--{BOUNDARY}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={BOUNDARY}"


def _post(server: Server, files: list[tuple[bytes, bytes]],
          answers: dict[str, str] = ANSWERS) -> requests.Response:
    session = requests.Session()
    page = session.get(server.url + "/?lang=fr", timeout=10).text
    body, content_type = browser_body(page, {**answers, "lang": "fr"}, files)
    return session.post(server.url + "/", data=body, timeout=60,
                        headers={"Content-Type": content_type})


def _uploads(station: Station) -> int:
    with BlobStore.open(station.path, station.key) as blobs:
        return blobs.upload_count()


@pytest.mark.parametrize("count", [21, 214, 230, 240, 600])
def test_selecting_too_many_files_keeps_every_answer(server: Server, station: Station,
                                                      count: int) -> None:
    files = [(f"IMG_{i:04}.jpg".encode(), JPEG) for i in range(count)]
    response = _post(server, files)
    page = response.text
    assert response.status_code == 400, page[:2000]
    for value in ANSWERS.values():
        if value.startswith("KEEP-"):
            assert value in page, f"{value} was lost"
    assert "Veuillez remplir ce champ" not in page
    error = re.search(r'<p class="error" id="attachments-error">(.*?)</p>', page, re.S)
    assert error, "no message beside the file field"
    assert "Trop de fichiers" in error.group(1)
    assert stored(station) == [] and _uploads(station) == 0
    # The station is still up and takes the next report.
    assert RECEIPT_RE.search(_post(server, files[:2]).text)


def test_a_file_name_that_is_not_utf8_costs_neither_the_file_nor_the_answers(
        server: Server, station: Station) -> None:
    response = _post(server, [(b"photo-\xff\xfe-march.jpg", JPEG), (b"second.jpg", JPEG)])
    assert response.status_code == 200, response.text[:2000]
    assert RECEIPT_RE.search(response.text)
    [(report, originals)] = stored(station)
    assert originals == [JPEG, JPEG]
    assert [a.name for a in report.attachments] == ["photo-\ufffd\ufffd-march.jpg", "second.jpg"]
    assert report.fields["description"] == ANSWERS["description"]
    assert report.fields["contact_details"] == ANSWERS["contact_details"]


def test_a_text_field_too_large_to_parse_is_a_413_page(server: Server, station: Station) -> None:
    """A body refused while it is parsed (one field over the 1 MiB text limit: no
    browser sends that, the field's maxlength is 20,000) is a 413, never an empty form."""
    response = _post(server, [], {**ANSWERS, "description": "x" * (2 * 1024 * 1024)})
    assert response.status_code == 413
    assert "Veuillez remplir ce champ" not in response.text
    assert stored(station) == []
