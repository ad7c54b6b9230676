"""Where the review desk listens, and which ``Host`` it answers to.

The desk shows decrypted reports. On 127.0.0.1 only programs on this
computer can reach it; on any other address, anyone on the network (a
shared office Wi-Fi, a hotel) can reach its unlock page, and once it is
unlocked they would be one stolen cookie away from every report, over plain
HTTP that the whole network can read. So:

* the default is 127.0.0.1, and a loopback address (127.0.0.0/8, ``::1``,
  ``localhost``) is always accepted;
* any other address is refused unless the reviewer says
  ``--allow-remote-host``, and then only one named address, never a
  wildcard (``0.0.0.0``, ``::``): the ``Host`` check below must know the one
  name a browser will use. Reaching a desk from another machine is better
  done over an SSH tunnel to its 127.0.0.1 (docs/review.md);
* host names other than ``localhost`` are refused: an address is what a
  reviewer checks, a name is what DNS (or a rebinding attacker) says.

``allowed_hosts`` is what a request's ``Host`` header must be: a page on
``http://evil.example:8765/`` whose name an attacker points at 127.0.0.1
(DNS rebinding) reaches the desk's socket, but with ``Host:
evil.example:8765``, and is refused before anything else runs.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from reporter.errors import ConfigError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_IDLE_MINUTES = 15
MAX_IDLE_MINUTES = 24 * 60
DEFAULT_MAX_IMPORT_MB = 2048  # one upload of bundles from the import page (web/imports.py)
LOCALHOST = "localhost"


class HostRefused(ConfigError):
    """The desk was asked to listen where it must not (or not without being forced)."""


@dataclass(frozen=True)
class DeskConfig:
    """Everything the desk app needs, fixed when it starts."""

    review_db: Path
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT  # the port actually bound (known once listening)
    idle_seconds: float = DEFAULT_IDLE_MINUTES * 60.0
    testing: bool = False
    key_file: Path | None = None  # the reviewer's key file, for imports (``--key``)
    max_import_bytes: int = DEFAULT_MAX_IMPORT_MB * 1024 * 1024

    @property
    def allowed_hosts(self) -> frozenset[str]:
        return allowed_hosts(self.host, self.port)

    @property
    def cookie_name(self) -> str:
        """Cookies are not kept apart by port: two desks (or a desk and a station) on
        one machine share ``127.0.0.1``'s cookies, so the name carries the port."""
        return f"reporter_desk_{self.port}"


def check_host(host: str, allow_remote: bool) -> str:
    """The address to listen on (``localhost`` becomes ``127.0.0.1``), or
    ``HostRefused`` saying why not and what to do instead."""
    text = host.strip()
    if text.lower() == LOCALHOST:
        return DEFAULT_HOST
    try:
        address = ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        raise HostRefused(
            f"{host!r} is not an IP address: give the address to listen on, such as "
            "127.0.0.1 (the default: this computer only)") from None
    if address.is_loopback:
        return str(address)
    if address.is_unspecified:
        raise HostRefused(
            f"the review desk never listens on every address ({address}): it checks that "
            "each request names the address it listens on, so give one address with "
            "--host (and --allow-remote-host)")
    if not allow_remote:
        raise HostRefused(
            f"the review desk shows decrypted reports, so it listens on 127.0.0.1 only: "
            f"on {address}, anyone on that network could reach it, over plain HTTP that "
            "the network can read. To reach it from another computer, use an SSH tunnel "
            "to its 127.0.0.1 (docs/review.md); if you must, add --allow-remote-host")
    return str(address)


def is_loopback(host: str) -> bool:
    return ipaddress.ip_address(host).is_loopback


def allowed_hosts(host: str, port: int) -> frozenset[str]:
    """Every ``Host`` header value a browser sends for the desk at ``host:port``."""
    address = ipaddress.ip_address(host)
    literal = f"[{address}]" if address.version == 6 else str(address)
    names = {literal}
    if address in (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")):
        names.add(LOCALHOST)
    hosts = {f"{name}:{port}" for name in names}
    if port == 80:  # a browser leaves out the default port
        hosts |= names
    return frozenset(hosts)


def idle_seconds(minutes: float) -> float:
    """``--idle-lock MINUTES`` in seconds: more than 0, at most a day."""
    if not 0 < minutes <= MAX_IDLE_MINUTES:
        raise ConfigError(f"--idle-lock must be more than 0 and at most {MAX_IDLE_MINUTES} "
                          f"minutes, not {minutes:g}")
    return float(minutes) * 60.0
