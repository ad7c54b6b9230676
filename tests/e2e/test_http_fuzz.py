"""Hostile HTTP against a real ``reporter serve``: no 5xx, no traceback, still taking reports.

Two tests share one server process:

* ``test_every_route_method_and_content_type`` walks every route of the app
  (read from its URL map, so a new route is walked too) with every method
  and six kinds of body: form, multipart, JSON, plain text, none, garbage.
* ``test_fuzzed_requests`` (Hypothesis) sends requests built from hostile
  paths, query strings, headers, content types and bodies: forms and
  multipart bodies with fuzzed names, file names and values, with and
  without a fresh form token so that the validators are reached too.

Every answer must be a complete HTTP response with a status below 500 and
no traceback; the server must stay up, its log must hold no traceback and no
"unhandled"/"escaped" line, and a good report with an attachment must still
get a receipt afterwards.

Requests are written on raw sockets (no client library to tidy them up), but
with valid HTTP/1.1 framing: the request line, ``Content-Length`` and
``Transfer-Encoding`` are the server front's business (``serve.py``), not the
app's. The default run is small (``make test``); ``REPORTER_HTTP_FUZZ_EXAMPLES``
sets how many requests the fuzzer sends (docs/benchmarks.md, "HTTP fuzzer").
"""

from __future__ import annotations

import json
import os
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reporter.formats.receipt import new_receipt
from reporter.station.app import create_app
from reporter.station.config import load_config
from reporter.station.instance import open_store
from tests.conftest import (
    Server,
    Station,
    form_token,
    start_server,
    valid_report,
)
from tests.desk import fast_station
from tests.e2e.test_e2e import RECEIPT_RE, multipart

pytestmark = pytest.mark.slow

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 8
METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND",
           "BREW"]
BAD_LOG = re.compile(r"Traceback|unhandled|escaped|File \"")


def examples(default: int) -> int:
    value = os.environ.get("REPORTER_HTTP_FUZZ_EXAMPLES")
    return int(value) if value else default


# --- one station and one server for the module ------------------------------------------


@dataclass
class Target:
    station: Station
    server: Server
    host: str
    port: int
    routes: list[str]
    sent: int = 0

    def fresh_token(self) -> str:
        """A new form's token: a used one would only show its receipt again."""
        return form_token(requests.get(self.server.url + "/", timeout=10).text)


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    tmp = tmp_path_factory.mktemp("fuzz")
    with fast_station(tmp) as station:
        app = create_app(load_config(station.path, station.key))
    routes = sorted({re.sub(r"<[^>]+>", "x", rule.rule) for rule in app.url_map.iter_rules()})
    # The submission limit off: the fuzzer sends hundreds of POSTs a minute, and its
    # checks (a receipt after each example, three log lines at most) are about parsing.
    # Shedding, with hostile bodies too: tests/e2e/test_e2e_guard.py.
    server = start_server(station, tmp, threads=4,
                          extra_args=["--max-submissions-per-minute", "0"])
    try:
        host, port = server.url.removeprefix("http://").split(":")
        yield Target(station, server, host, int(port), routes)
    finally:
        server.stop()


def send(target: Target, method: str, path: str, headers: list[tuple[str, bytes]],
         body: bytes | None) -> bytes:
    """One request on a fresh connection; the whole answer (the server closes)."""
    head = [f"{method} {path} HTTP/1.1".encode(), f"Host: {target.host}".encode()]
    head += [name.encode() + b": " + value for name, value in headers]
    if body is not None:
        head.append(f"Content-Length: {len(body)}".encode())
    head.append(b"Connection: close")
    request = b"\r\n".join(head) + b"\r\n\r\n" + (body or b"")
    target.sent += 1
    with socket.create_connection((target.host, target.port), timeout=30) as sock:
        try:
            sock.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer (413) and close before reading it all
        reply = b""
        try:
            while chunk := sock.recv(65536):
                reply += chunk
        except ConnectionResetError:
            pass
    return reply


def check(target: Target, reply: bytes, what: object) -> int:
    match = re.match(rb"HTTP/1\.[01] (\d{3}) ", reply)
    assert match, f"no HTTP answer to {what!r}: {reply[:200]!r}"
    status = int(match.group(1))
    assert status < 500, f"{status} for {what!r}: {reply[:600]!r}"
    assert b"Traceback" not in reply and b'File "' not in reply, what
    assert target.server.process.poll() is None, f"the server died on {what!r}"
    return status


def assert_still_healthy(target: Target) -> None:
    """The log is clean and a good report with an attachment still gets a receipt."""
    session = requests.Session()
    token = form_token(session.get(target.server.url + "/", timeout=10).text)
    fields = {"form_token": token, **{k: v if isinstance(v, str) else v[0]
                                     for k, v in valid_report().items()}}
    body, content_type = multipart(fields, [("attachments", "after.jpg", JPEG)])
    response = session.post(target.server.url + "/", data=body, timeout=30,
                            headers={"Content-Type": content_type})
    assert response.status_code == 200 and RECEIPT_RE.search(response.text)
    log = target.server.log.read_text(errors="replace")
    assert not BAD_LOG.search(log), log[-3000:]
    # Nothing is logged per request: hostile traffic cannot fill the disk with lines.
    assert len(log.splitlines()) <= 3, log[-3000:]


# --- the walk: every route x method x kind of body --------------------------------------


def bodies(target: Target, route: str, method: str) -> dict[str, tuple[str | None, bytes | None]]:
    """The six kinds of body, each as (Content-Type, body), valid where it can be."""
    answers = ({"receipt": new_receipt(), "description": "walked"} if "follow" in route else
               {k: v if isinstance(v, str) else v[0] for k, v in valid_report().items()})
    token = target.fresh_token() if method == "POST" else PLACEHOLDER
    fields = {"form_token": token, **answers}
    body, content_type = multipart(fields, [("attachments", "walk.jpg", JPEG)])
    return {
        "form": ("application/x-www-form-urlencoded", urlencode(fields).encode()),
        "multipart": (content_type, body),
        "json": ("application/json", json.dumps(fields).encode()),
        "text": ("text/plain; charset=utf-8", b"description=plain text\r\n"),
        "none": (None, None),
        "garbage": ("\x7f/\x00;;boundary=\xff", bytes(range(256)) * 3),
    }


def test_every_route_method_and_content_type(target: Target) -> None:
    assert {"/", "/follow-up"} <= set(target.routes), target.routes
    seen: dict[int, int] = {}
    for route in [*target.routes, "/no-such-page", "/static/style.css"]:
        for method in METHODS:
            for kind, (content_type, body) in bodies(target, route, method).items():
                headers = []
                if content_type is not None:
                    headers.append(("Content-Type", content_type.encode("latin-1")))
                what = (method, route, kind)
                status = check(target, send(target, method, route, headers, body), what)
                seen[status] = seen.get(status, 0) + 1
                if method == "POST" and route in ("/", "/follow-up") and \
                        kind in ("form", "multipart"):
                    assert status == 200, what
    assert_still_healthy(target)
    assert set(seen) <= {200, 400, 404, 405}, seen


# --- the fuzzer -------------------------------------------------------------------------

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)
RAW_URL = st.text("abcxyz0129/%._-~!$&'()*+,;=:@?#[]ÿé", max_size=30)
KNOWN_PATHS = ["/", "/follow-up", "/?lang=fr", "/static/style.css", "/static/x/../../a",
               "/%2f%2f", "/%2e%2e/%2e%2e/etc/passwd", "/follow-up/", "/index.html", "/.git/config",
               "/%00", "/%ff%fe", "/;", "/" + "a" * 2000]


@st.composite
def paths(draw: st.DrawFn) -> str:
    # Mostly the two forms (where the code is), often anything else.
    base = draw(st.one_of(st.sampled_from(["/", "/", "/follow-up"]),
                          st.sampled_from(["/", "/", "/follow-up"]),
                          st.sampled_from(KNOWN_PATHS),
                          TEXT.map(lambda t: "/" + quote(t, safe="/")),
                          RAW_URL.map(lambda t: "/" + t.encode("utf-8").decode("latin-1"))))
    if draw(st.booleans()):
        pairs = draw(st.lists(st.tuples(st.sampled_from(["lang", "x", "lang[]", ""]) | TEXT,
                                        st.sampled_from(["fr", "sw", "xx", "", "../"]) | TEXT),
                              max_size=4))
        query = urlencode(pairs) if draw(st.booleans()) else \
            "&".join(f"{k}={v}" for k, v in pairs).replace(" ", "+")
        base += "?" + quote(query, safe="=&+%")
    # Only what may stand in a request line: no spaces, no control characters.
    # "//..." (a network-path reference) is fair game too.
    return "".join(c if 0x21 <= ord(c) < 0x7f else quote(c) for c in base)


HEADER_VALUE = st.binary(max_size=60).map(
    lambda b: bytes(c for c in b if c >= 0x20 and c != 0x7f))
TOKEN = st.text("abcdefghijklmnopqrstuvwxyzABCXYZ0123456789-!#$%&'*+.^_`|~", min_size=1,
                max_size=20)
# Stands for a fresh form token in a fuzzed body; replaced just before sending.
PLACEHOLDER = "T" * 55
NAMED_HEADERS = ["Accept-Language", "Cookie", "Referer", "Origin", "Sec-Fetch-Site",
                 "Sec-Fetch-Mode", "Accept", "Accept-Encoding",
                 "If-None-Match", "If-Modified-Since", "Range", "X-Forwarded-For",
                 "X-Forwarded-Proto", "Forwarded", "User-Agent", "Authorization",
                 "Content-Encoding", "Content-Disposition", "X-HTTP-Method-Override"]
CONTENT_TYPES = ["application/x-www-form-urlencoded", "multipart/form-data; boundary=B",
                 "multipart/form-data", "multipart/form-data; boundary=", "application/json",
                 "text/plain", "multipart/mixed; boundary=B", "application/octet-stream",
                 "multipart/form-data; boundary=B; charset=utf-16",
                 "application/x-www-form-urlencoded; charset=latin-1", "*/*", ""]
FIELDS = ["form_token", "lang", "description", "incident_types", "incident_day",
          "incident_month", "incident_year", "site",
          "site_other", "people_affected", "children_affected", "source", "contact",
          "contact_details", "receipt", "attachments", "monitor_code", "perpetrators"]
VALUES = st.one_of(TEXT, st.sampled_from(["shooting", "other", "witnessed", "none", "contact",
                                          "2026-11-01", "2999-99-99", "-1", "1e9", "Marange",
                                          "11", "2026", "31", "0",
                                          "7KQM-3XHD-9TWA-R2PC", "", "\x00", "fr"]))


@st.composite
def multipart_bodies(draw: st.DrawFn, token: str) -> bytes:
    parts = []
    if draw(st.booleans()):
        parts.append(b'Content-Disposition: form-data; name="form_token"\r\n\r\n'
                     + token.encode())
    for _ in range(draw(st.integers(0, 8))):
        name = draw(st.sampled_from(FIELDS) | TEXT).encode("utf-8", "replace")
        name = name.replace(b'"', b"").replace(b"\r", b"").replace(b"\n", b"")
        disposition = b'Content-Disposition: form-data; name="' + name + b'"'
        if draw(st.booleans()):
            filename = draw(st.binary(max_size=30)).replace(b'"', b"")
            filename = bytes(c for c in filename if c not in b"\r\n")
            disposition += b'; filename="' + filename + b'"'
            data = draw(st.sampled_from([JPEG, b"%PDF-1.7\n", b"MZ\x90", b""]) |
                        st.binary(max_size=300))
        else:
            data = draw(VALUES).encode("utf-8", "replace")
        extra = draw(st.sampled_from([b"", b"\r\nContent-Type: text/plain; charset=utf-16",
                                      b"\r\nContent-Type: image/jpeg",
                                      b"\r\nContent-Transfer-Encoding: base64"]))
        parts.append(disposition + extra + b"\r\n\r\n" + data)
    body = b"".join(b"--B\r\n" + part + b"\r\n" for part in parts) + b"--B--\r\n"
    cut = draw(st.sampled_from([None, None, None, 0, 1, 7, len(body) // 2, len(body) - 3]))
    return body if cut is None else body[:cut]


@st.composite
def urlencoded_bodies(draw: st.DrawFn, token: str) -> bytes:
    pairs = [(draw(st.sampled_from(FIELDS) | TEXT), draw(VALUES))
             for _ in range(draw(st.integers(0, 10)))]
    if draw(st.booleans()):
        pairs.insert(0, ("form_token", token))
    return urlencode(pairs).encode()


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT | VALUES,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(FIELDS) | TEXT, inner, max_size=5),
    max_leaves=10)
JSON_BODIES = st.one_of(
    st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES, max_size=8),  # a form, as JSON
    JSON_VALUES,
).map(lambda v: json.dumps(v).encode())
# Each kind of body, and the Content-Type that usually goes with it.
KINDS = {
    "form": "application/x-www-form-urlencoded",
    "multipart": "multipart/form-data; boundary=B",
    "json": "application/json",
    "raw": None,
    "none": None,
}


@st.composite
def requests_(draw: st.DrawFn, token: str) -> tuple[str, str, list, bytes | None]:
    method = draw(st.one_of(st.just("POST"), st.just("POST"), st.just("GET"),
                            st.sampled_from(METHODS), TOKEN.map(str.upper)))
    path = draw(paths())
    headers: list[tuple[str, bytes]] = []
    if not draw(st.integers(0, 7)):
        headers.append(("Sec-Fetch-Site", draw(st.sampled_from(
            [b"same-origin", b"same-site", b"cross-site", b"none", b"CROSS-SITE "]))))
    for _ in range(draw(st.integers(0, 4))):
        headers.append((draw(st.sampled_from(NAMED_HEADERS) | TOKEN), draw(HEADER_VALUE)))
    kind = draw(st.sampled_from(list(KINDS)))
    body = {
        "form": lambda: draw(urlencoded_bodies(token)),
        "multipart": lambda: draw(multipart_bodies(token)),
        "json": lambda: draw(JSON_BODIES),
        "raw": lambda: draw(st.binary(max_size=2000)),
        "none": lambda: draw(st.sampled_from([None, b""])),
    }[kind]()
    content_type = KINDS[kind]
    if content_type is None or not draw(st.integers(0, 5)):  # sometimes one that does not fit
        content_type = draw(st.sampled_from(CONTENT_TYPES) | TEXT)
    if content_type:
        headers.append(("Content-Type", content_type.encode("utf-8", "replace")))
    # Headers that set the framing belong to the server front, not to the app.
    headers = [(n, v) for n, v in headers
               if n.lower() not in ("content-length", "transfer-encoding", "host",
                                    "connection", "expect", "upgrade", "te", "trailer")]
    return method, path, headers, body


def test_fuzzed_requests(target: Target) -> None:
    statuses: dict[int, int] = {}

    @settings(max_examples=examples(400), deadline=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(request=requests_(PLACEHOLDER))
    def one(request: tuple[str, str, list[tuple[str, bytes]], bytes | None]) -> None:
        method, path, headers, body = request
        if body is not None and PLACEHOLDER.encode() in body:
            body = body.replace(PLACEHOLDER.encode(), target.fresh_token().encode())
        status = check(target, send(target, method, path, headers, body), request)
        statuses[status] = statuses.get(status, 0) + 1

    one()
    lines = len(target.server.log.read_text(errors="replace").splitlines())
    print(f"\nHTTP fuzzer: {sum(statuses.values())} requests, answers "
          f"{sorted(statuses.items())}, server log lines {lines}")
    assert_still_healthy(target)


def test_the_fuzzer_reaches_the_form_and_the_store(target: Target) -> None:
    """Guard: the walk and the fuzzer above did get reports accepted (they are not only
    bouncing off the form-token check)."""
    with open_store(target.station.path, target.station.key) as store:
        assert store.report_count() >= 3
    assert target.sent > 50


# Found by the fuzzer: Cheroot's request-line parser (``urllib.parse``) raised on
# these request targets and Cheroot answered 500 itself, before the app ran. The
# station's own server front (``reporter/station/server``) answers them itself.
FRONT_500 = ["//[", "//[x]", "http://[/", "//", "http://x/", "*"]


@pytest.mark.parametrize("path", FRONT_500)
def test_odd_request_targets_get_a_page_not_a_500(target: Target, path: str) -> None:
    check(target, send(target, "GET", path, [], None), path)
