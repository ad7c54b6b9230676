"""Answers to phones' captive-portal checks, for a station on its own Wi-Fi (``--hotspot``).

On the field hotspot, dnsmasq resolves every name to the station. When a
phone joins a Wi-Fi it asks a well-known address whether the internet is
there (Android ``connectivitycheck.gstatic.com/generate_204``, Apple
``captive.apple.com/hotspot-detect.html``, Windows ``www.msftconnecttest.com/
connecttest.txt``, Firefox ``detectportal.firefox.com/canonical.html``, ...).
Any answer but the expected one makes the phone show its "sign in to the
network" page: here, a redirect (302) to the report form **at the station's
own address**, so the form opens by itself, and on one origin (the one a
monitor can type again), not under ``connectivitycheck.gstatic.com``.

With ``--hotspot``, a GET or HEAD is redirected when

* its path is one of the checks' (``CHECK_PATHS``), whatever its Host; or
* its Host is not the station's own address: a phone's check we do not know
  (Huawei, Xiaomi, a Linux desktop, ...), or a name a monitor typed, lands on
  the form all the same.

The station's own address is the local address of the connection (the one
the phone reached, ``server.wsgi.LOCAL_ADDRESS``), never the Host header: an
attacker's Host cannot choose where the redirect goes. A POST is never
redirected (a redirect would turn it into a GET and lose what was typed):
the form posts to its own page, and the cross-site check still refuses a
POST another site's page makes (``refusals.py``). A Host ending in
``.onion`` is never redirected, nor are the check paths answered for it:
over Tor they are unknown paths, a 404 like any other. Without ``--hotspot``
none of this exists (the paths are 404s); behind a reverse proxy, do not use
it (every request would look foreign).

The redirect's page (for a client that shows it instead of following) is a
link to the form; like every answer, it is ``no-store``, so a phone does not
keep the redirect once it has internet again.
"""

from __future__ import annotations

import ipaddress

from flask import Flask, make_response, render_template, request
from werkzeug.wrappers import Response

from reporter.station.web.context import station
from reporter.web.server.wsgi import LOCAL_ADDRESS

CHECK_PATHS = frozenset({
    "/generate_204", "/gen_204",  # Android (connectivitycheck.gstatic.com, clients3.google.com)
    "/hotspot-detect.html", "/library/test/success.html",  # Apple
    "/connecttest.txt", "/redirect", "/ncsi.txt",  # Windows (msftconnecttest.com, msftncsi.com)
    "/canonical.html", "/success.txt",  # Firefox (detectportal.firefox.com)
})


def station_url(local: tuple[str, int]) -> str:
    """``http://ADDRESS[:PORT]/`` for the station's side of a connection."""
    address, port = local
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        host = address
    else:
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        host = f"[{ip}]" if ip.version == 6 else str(ip)
    return f"http://{host}/" if port == 80 else f"http://{host}:{port}/"


def host_name(host_header: str) -> str:
    """The name or address in a Host header, without its port or brackets, lowercased."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def _is_own(host: str, local: tuple[str, int]) -> bool:
    own = station_url(local).removeprefix("http://").split("/", 1)[0]
    return host == host_name(own)


def _answer(target: str) -> Response:
    response = make_response(render_template("hotspot.html", target=target), 302)
    response.headers["Location"] = target
    return response


def init_app(app: Flask) -> None:
    """Only with ``hotspot`` set: register after ``refusals`` (refused requests keep
    their own pages)."""
    if not station(app).config.hotspot:
        return

    @app.before_request
    def _captive() -> Response | None:
        if request.method not in ("GET", "HEAD"):
            return None
        local = request.environ.get(LOCAL_ADDRESS)
        if local is None:
            return None
        host = host_name(request.headers.get("Host", ""))
        if host.endswith(".onion"):
            return None
        if request.path in CHECK_PATHS or not _is_own(host, local):
            return _answer(station_url(local))
        return None
