"""Bridge lines from a file, and the pluggable transports they need.

Where Tor is blocked, the station's tor reaches the network through bridges,
as Tor Browser and OnionShare do: ``UseBridges 1``, one ``Bridge`` line per
bridge, and a ``ClientTransportPlugin`` for each transport the lines use.
The file holds the lines as https://bridges.torproject.org or Tor Browser
give them (``obfs4 192.0.2.1:443 FINGERPRINT cert=... iat-mode=0``,
``snowflake 192.0.2.3:80 FINGERPRINT fingerprint=... url=... ice=...``), with
or without a leading ``Bridge``; blank lines and ``#`` comments are skipped.

Transports are Debian's programs, found on ``PATH``:

* obfs4 (and meek_lite, scramblesuit): ``obfs4proxy`` (package
  ``obfs4proxy``), or ``lyrebird``, its successor under Tor Browser;
* snowflake: ``snowflake-client`` (package ``snowflake-client``);
* webtunnel: ``lyrebird`` only.

A transport a line needs and no program provides is named, with the package
to install, before tor is started.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from reporter.errors import ConfigError, TorNotFound

# transport -> the programs that provide it, first found wins, and the Debian package.
TRANSPORTS: dict[str, tuple[tuple[str, ...], str]] = {
    "obfs4": (("obfs4proxy", "lyrebird"), "obfs4proxy"),
    "meek_lite": (("obfs4proxy", "lyrebird"), "obfs4proxy"),
    "scramblesuit": (("obfs4proxy", "lyrebird"), "obfs4proxy"),
    "webtunnel": (("lyrebird",), "lyrebird"),
    "snowflake": (("snowflake-client",), "snowflake-client"),
}
MAX_BRIDGES = 64
MAX_LINE = 2000
_ARGUMENT = re.compile(r"[A-Za-z0-9_.-]+=[\x21-\x7e]*")
_FINGERPRINT = re.compile(r"[0-9A-Fa-f]{40}")


@dataclass(frozen=True)
class Bridges:
    lines: tuple[str, ...]                  # each one a ``Bridge`` value
    plugins: tuple[tuple[str, str], ...]    # (transport, program path)

    def torrc(self) -> dict[str, list[str]]:
        """The options that make tor use these bridges (empty when there are none)."""
        if not self.lines:
            return {}
        options = {"UseBridges": ["1"], "Bridge": list(self.lines)}
        by_program: dict[str, list[str]] = {}
        for transport, program in self.plugins:
            by_program.setdefault(program, []).append(transport)
        if by_program:
            options["ClientTransportPlugin"] = [
                f"{','.join(names)} exec {program}" for program, names in by_program.items()]
        return options


def _is_address(token: str) -> bool:
    host, sep, port = token.rpartition(":")
    if not sep or not port.isdigit():
        return False
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def parse_line(line: str, where: str) -> tuple[str | None, str]:
    """(transport or None for a plain bridge, the ``Bridge`` value), or ``ConfigError``."""
    text = " ".join(line.split())
    if text.lower().startswith("bridge "):
        text = text[len("bridge "):]
    if len(text) > MAX_LINE or not text.isascii() or not text.isprintable():
        raise ConfigError(f"{where}: not a bridge line (too long, or characters a bridge "
                          "line never has)")
    words = text.split(" ")
    transport = None if _is_address(words[0]) else words[0].lower()
    if transport is not None:
        if transport not in TRANSPORTS:
            raise ConfigError(
                f"{where}: unknown transport {words[0]!r}; reporter knows "
                f"{', '.join(sorted(TRANSPORTS))} (or a plain 'ADDRESS:PORT FINGERPRINT' line)")
        words = [transport, *words[1:]]
    address_at = 0 if transport is None else 1
    if len(words) <= address_at or not _is_address(words[address_at]):
        raise ConfigError(f"{where}: a bridge line needs an ADDRESS:PORT after the transport")
    rest = words[address_at + 1:]
    if rest and _FINGERPRINT.fullmatch(rest[0]):
        rest = rest[1:]
    if any(not _ARGUMENT.fullmatch(word) for word in rest):
        raise ConfigError(f"{where}: after the address and fingerprint, a bridge line has only "
                          "KEY=VALUE arguments")
    return transport, " ".join(words)


def read_bridges(path: Path) -> Bridges:
    """The bridges in ``path`` and the transport programs they need, found on PATH."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the bridges file {path}: "
                          f"{getattr(exc, 'strerror', None) or exc}") from None
    lines: list[str] = []
    transports: list[str] = []
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        transport, value = parse_line(raw, f"{path}, line {number}")
        lines.append(value)
        if transport is not None and transport not in transports:
            transports.append(transport)
    if not lines:
        raise ConfigError(f"the bridges file {path} holds no bridge line; copy them from "
                          "https://bridges.torproject.org or Tor Browser's settings")
    if len(lines) > MAX_BRIDGES:
        raise ConfigError(f"the bridges file {path} holds {len(lines)} bridges; "
                          f"at most {MAX_BRIDGES} are used")
    return Bridges(tuple(lines), tuple((t, find_transport(t)) for t in transports))


def find_transport(transport: str) -> str:
    """The program for a transport, or ``TorNotFound`` naming the package to install."""
    programs, package = TRANSPORTS[transport]
    for program in programs:
        found = shutil.which(program)
        if found and not any(c.isspace() for c in found):  # tor splits the line on spaces
            return found
    raise TorNotFound(
        f"the bridges use {transport}, which needs the program {programs[0]}: install it with "
        f"'sudo apt-get install {package}' (Debian, Raspberry Pi OS), or use other bridges")
