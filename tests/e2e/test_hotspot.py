"""Captive-portal answers (``reporter serve --hotspot``), through a real server and raw sockets.

On the field hotspot dnsmasq sends every name to the station, so each phone's
connectivity check reaches it with its own Host header. The answer must be
anything but the expected success, so that the phone opens its sign-in page:
here a redirect to the form at the station's own address (the connection's
local address, never the Host). Over Tor (a ``.onion`` Host) and without
``--hotspot`` these paths are unknown: 404. docs/hotspot-answers.md.
"""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.conftest import Server, Station, form_token, start_server, valid_report
from tests.e2e.test_e2e import RECEIPT_RE

pytestmark = pytest.mark.slow

# (Host, path) as each operating system asks it.
CHECKS = [
    ("connectivitycheck.gstatic.com", "/generate_204"),  # Android
    ("clients3.google.com", "/generate_204"),
    ("www.google.com", "/gen_204"),
    ("connectivitycheck.platform.hicloud.com", "/generate_204"),  # Huawei
    ("captive.apple.com", "/hotspot-detect.html"),  # Apple
    ("www.apple.com", "/library/test/success.html"),
    ("www.msftconnecttest.com", "/connecttest.txt"),  # Windows
    ("www.msftconnecttest.com", "/redirect"),
    ("www.msftncsi.com", "/ncsi.txt"),
    ("detectportal.firefox.com", "/canonical.html"),  # Firefox
    ("detectportal.firefox.com", "/success.txt"),
    ("nmcheck.gnome.org", "/check_network_status.txt"),  # a check not in the list: its Host
]


def exchange(server: Server, method: str, path: str, host: str,
             headers: dict[str, str] | None = None,
             body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    """One request on its own connection, with exactly the Host given."""
    address, port = server.url.removeprefix("http://").split(":")
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: close",
             "User-Agent: CaptiveNetworkSupport-443 wispr"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    with socket.create_connection((address, int(port)), timeout=30) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b""))
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, _, rest = reply.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    found: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        assert name.lower() not in found, f"{name} twice"
        found[name.lower()] = value.strip()
    return int(status_line.split()[1]), found, rest


@pytest.fixture
def hotspot(station: Station, tmp_path: Path):  # type: ignore[no-untyped-def]
    server = start_server(station, tmp_path, extra_args=["--hotspot"])
    yield server
    server.stop()


def own(server: Server) -> str:
    return server.url + "/"  # http://127.0.0.1:PORT/: where the phone reached the station


@pytest.mark.parametrize(("host", "path"), CHECKS)
def test_every_check_opens_the_form_at_the_station_s_own_address(
        hotspot: Server, host: str, path: str) -> None:
    for method in ("GET", "HEAD"):
        status, headers, body = exchange(hotspot, method, path, host)
        assert status == 302, (method, host, path)
        assert headers["location"] == own(hotspot)
        assert "no-store" in headers["cache-control"]  # not kept once there is internet
        assert "set-cookie" not in headers
        assert headers["content-security-policy"].startswith("default-src 'none'")
        if method == "GET":
            assert own(hotspot).encode() in body  # a link, for a client that shows the page
    # What the phone's sign-in window opens next: the form.
    status, headers, body = exchange(hotspot, "GET", "/", host=own(hotspot).split("/")[2])
    assert status == 200 and b'name="form_token"' in body


def test_a_check_path_asked_of_the_station_s_own_address_still_opens_the_form(
        hotspot: Server) -> None:
    status, headers, _body = exchange(hotspot, "GET", "/generate_204", "127.0.0.1")
    assert status == 302 and headers["location"] == own(hotspot)


def test_the_redirect_goes_where_the_phone_connected_never_where_the_host_says(
        hotspot: Server) -> None:
    for host in ("evil.example", "evil.example:80", "[::1]", "127.0.0.1.evil.example"):
        status, headers, _body = exchange(hotspot, "GET", "/generate_204", host)
        assert status == 302 and headers["location"] == own(hotspot), host


def test_the_station_s_own_address_serves_every_page_as_usual(hotspot: Server) -> None:
    host = own(hotspot).split("/")[2]
    assert exchange(hotspot, "GET", "/", host)[0] == 200
    assert exchange(hotspot, "GET", "/", "127.0.0.1")[0] == 200  # the address without the port
    assert exchange(hotspot, "GET", "/follow-up?lang=fr", host)[0] == 200
    assert exchange(hotspot, "GET", "/no-such-page", host)[0] == 404


def test_over_tor_the_check_paths_are_unknown(hotspot: Server) -> None:
    onion = "reporterxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.onion"
    for _host, path in CHECKS:
        assert exchange(hotspot, "GET", path, onion)[0] == 404, path
    assert exchange(hotspot, "GET", "/", onion)[0] == 200


def test_without_hotspot_the_check_paths_are_unknown(server: Server) -> None:
    for host, path in CHECKS:
        status, _headers, _body = exchange(server, "GET", path, host)
        assert status == 404, (host, path)
    # Any Host is served: a foreign name is not refused.
    assert exchange(server, "GET", "/", "connectivitycheck.gstatic.com")[0] == 200


def test_posts_are_never_redirected_and_the_cross_site_check_still_holds(
        hotspot: Server) -> None:
    host = "connectivitycheck.gstatic.com"
    status, _headers, body = exchange(hotspot, "GET", "/", own(hotspot).split("/")[2])
    token = form_token(body.decode())
    fields = {"form_token": token,
              **{k: v if isinstance(v, str) else v[0] for k, v in valid_report().items()}}
    form = urlencode(fields).encode()
    content = {"Content-Type": "application/x-www-form-urlencoded"}
    status, _headers, _body = exchange(hotspot, "POST", "/", host,
                                       {**content, "Sec-Fetch-Site": "cross-site"}, form)
    assert status == 403
    # Sent from the form itself (even under a foreign name): stored, not redirected.
    status, _headers, body = exchange(hotspot, "POST", "/", host,
                                      {**content, "Sec-Fetch-Site": "same-origin"}, form)
    assert status == 200 and RECEIPT_RE.search(body.decode())
