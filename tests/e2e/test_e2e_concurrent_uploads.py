"""Several monitors at once, each sending a photo and a video, through a real server.

Each part of a submission is written to ``attachments.db`` by a writer
thread while the request thread parses the next part. Small files, or one
file per report, never make the two overlap, which is why this test sends
what phones send on a field day: a small JPEG and a video of 1 to 20 MB in
one report, from several clients at once, again and again. Every submission
must get a receipt and every byte of every file must reach the reviewer.
"""

from __future__ import annotations

import hashlib
import random
import re
import threading
from pathlib import Path

import pytest
import requests

from tests.conftest import Server, Station, form_token, start_server, valid_report
from tests.e2e.test_e2e import RECEIPT_RE, multipart
from tests.station.test_web_attachments import stored

pytestmark = pytest.mark.slow

JPEG_HEAD = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"
MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00"
PDF_HEAD = b"%PDF-1.7\n"
CLIENTS = 3
ROUNDS = 4


def _files(rng: random.Random, label: str) -> list[tuple[str, str, bytes]]:
    """A small photo, then a video (or a PDF) of 1 to 20 MB, in either order."""
    photo = JPEG_HEAD + rng.randbytes(rng.randrange(2_000, 60_000))
    size = rng.randrange(1_000_000, 20_000_000)
    head = MP4_HEAD if rng.random() < 0.75 else PDF_HEAD
    big = head + rng.randbytes(size)
    files = [("attachments", f"{label}.jpg", photo), ("attachments", f"{label}.mp4", big)]
    if rng.random() < 0.3:
        files.reverse()
    return files


def _monitor(server: Server, number: int, results: list[tuple[str, int, str | None]],
             sent: dict[str, list[bytes]], lock: threading.Lock) -> None:
    rng = random.Random(1000 + number)
    session = requests.Session()
    for round_ in range(ROUNDS):
        label = f"m{number}r{round_}"
        files = _files(rng, label)
        token = form_token(session.get(server.url + "/", timeout=30).text)
        fields = {"form_token": token, **{k: v if isinstance(v, str) else v[0]
                                         for k, v in valid_report(description=label).items()}}
        body, content_type = multipart(fields, files, boundary=f"b-{label}-{rng.random()}")
        try:
            response = session.post(server.url + "/", data=body, timeout=120,
                                    headers={"Content-Type": content_type})
            status, text = response.status_code, response.text
        except requests.RequestException as exc:
            status, text = 0, type(exc).__name__
        match = RECEIPT_RE.search(text)
        with lock:
            results.append((label, status, match.group(1) if match else None))
            sent[label] = [data for _field, _name, data in files]


def test_several_monitors_sending_photos_and_videos_at_once_lose_nothing(
        station: Station, tmp_path: Path) -> None:
    server = start_server(station, tmp_path, threads=CLIENTS + 1)
    results: list[tuple[str, int, str | None]] = []
    sent: dict[str, list[bytes]] = {}
    lock = threading.Lock()
    try:
        threads = [threading.Thread(target=_monitor, args=(server, n, results, sent, lock))
                   for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(600)
        log = server.log.read_text(errors="replace")
    finally:
        server.stop()
    failed = [(label, status) for label, status, receipt in results if receipt is None]
    assert not failed, f"{len(failed)} of {len(results)} submissions failed: {failed}\n{log}"
    assert len(results) == CLIENTS * ROUNDS
    assert not re.search(r"unhandled|escaped|Traceback", log), log
    reports = stored(station)
    assert len(reports) == CLIENTS * ROUNDS
    for report, originals in reports:
        label = report.fields["description"]
        assert [hashlib.sha256(o).digest() for o in originals] == \
            [hashlib.sha256(d).digest() for d in sent[label]], label
