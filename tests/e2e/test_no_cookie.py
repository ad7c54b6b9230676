"""No answer of the station sets a cookie: every route, method and outcome, through a
real ``reporter serve``, read from raw sockets so no client library hides a header.

A cookie would let the station (or anyone who seizes a phone's browser
profile) tie a monitor's visits together; the form's token is in the form
instead (SECURITY.md, "The web pages").
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest

from reporter.formats.receipt import new_receipt
from reporter.station.app import create_app
from reporter.station.config import load_config
from tests.conftest import Server, Station, form_token, raw_request, valid_report
from tests.e2e.test_e2e import multipart

pytestmark = pytest.mark.slow
METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"]
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 8


def exchange(server: Server, method: str, path: str, body: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, list[tuple[str, str]], bytes]:
    """One request on its own connection: status, every header line, body."""
    return raw_request(server.url, method, path, body, headers)


def no_cookie(answer: tuple[int, list[tuple[str, str]], bytes], what: object) -> int:
    status, headers, _body = answer
    names = [name.lower() for name, _value in headers]
    assert "set-cookie" not in names and "set-cookie2" not in names, (what, headers)
    return status


def fresh_token(server: Server, path: str = "/") -> str:
    return form_token(exchange(server, "GET", path)[2].decode())


def test_no_route_sets_a_cookie(server: Server, station: Station) -> None:
    app = create_app(load_config(station.path, station.key))
    routes = sorted({re.sub(r"<[^>]+>", "x", rule.rule) for rule in app.url_map.iter_rules()})
    statuses: set[int] = set()
    for route in [*routes, "/no-such-page", "/favicon.ico", "/static/style.css"]:
        for method in METHODS:
            answers = {"receipt": new_receipt(), "description": "walked", "follow_up": "1"} \
                if route != "/" else {k: v if isinstance(v, str) else v[0]
                                      for k, v in valid_report().items()}
            fields = {"form_token": fresh_token(server), "lang": "sw", **answers}
            multi, content_type = multipart(fields, [("attachments", "walk.jpg", JPEG)])
            for kind, body, content in (
                ("none", None, None),
                ("form", urlencode(fields).encode(), "application/x-www-form-urlencoded"),
                ("multipart", multi, content_type),
                ("garbage", bytes(range(256)), "multipart/form-data; boundary=x"),
            ):
                headers = {"Content-Type": content} if content else {}
                what = (method, route, kind)
                statuses.add(no_cookie(exchange(server, method, route, body, headers), what))
    # The walk met the outcomes that matter: pages, receipts, refusals and errors.
    assert {200, 400, 404, 405} <= statuses, statuses


def test_no_outcome_of_a_submission_sets_a_cookie(server: Server) -> None:
    form = "application/x-www-form-urlencoded"
    token = fresh_token(server)
    good = urlencode({"form_token": token, **valid_report()}, doseq=True).encode()
    cases = {
        "stored": ("POST", "/", good, {"Content-Type": form}),
        "sent again": ("POST", "/", good, {"Content-Type": form}),
        "with an error": ("POST", "/", urlencode({"form_token": fresh_token(server)}).encode(),
                          {"Content-Type": form}),
        "expired": ("POST", "/", urlencode(valid_report(), doseq=True).encode(),
                    {"Content-Type": form}),
        "from another site": ("POST", "/", good, {"Content-Type": form,
                                                  "Sec-Fetch-Site": "cross-site"}),
        "too large": ("POST", "/", b"x" * 100, {"Content-Type": form,
                                                "Content-Length": str(1 << 40)}),
        "follow-up": ("POST", "/follow-up", urlencode({
            "form_token": fresh_token(server, "/follow-up"), "receipt": new_receipt(),
            "description": "more"}).encode(), {"Content-Type": form}),
        "a browser's cookie": ("GET", "/", None, {"Cookie": "csrf=old; session=x"}),
        "favicon": ("GET", "/favicon.ico", None, {}),
    }
    seen = {}
    for what, (method, path, body, headers) in cases.items():
        if "Content-Length" in headers:  # announced, not sent: refused from the head
            length = headers.pop("Content-Length")
            status, pairs, _ = exchange(server, method, path, None,
                                        {**headers, "Content-Length": length})
            seen[what] = no_cookie((status, pairs, b""), what)
        else:
            seen[what] = no_cookie(exchange(server, method, path, body, headers), what)
    assert seen == {"stored": 200, "sent again": 200, "with an error": 400, "expired": 400,
                    "from another site": 403, "too large": 413, "follow-up": 200,
                    "a browser's cookie": 200, "favicon": 200}
