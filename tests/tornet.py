"""Real ``tor`` for tests: a check that it is installed, and a private Tor network.

``require(*programs)`` skips a test when ``tor`` (or ``tor-gencert``) is not
installed, saying what to install, except under CI (``REPORTER_CI=1``, set by
``.ci/run``, which installs Debian's ``tor``), where a missing tor fails.

``TorNetwork`` builds a Tor network on 127.0.0.1 the way Tor's own test tool
chutney does: three directory authorities (keys from ``tor-gencert``), three
relays and a client with a SOCKS port, every one with ``TestingTorNetwork
1`` and votes every 20 seconds. An onion service joins it with
``network.torrc_lines()`` (the station's own tor, through ``reporter serve
--onion --tor-config FILE``). Measured here: the first request through an
onion 29 to 61 s after launch (../shared/FIELD-NOTES.md). Relays need
``AssumeReachable 1`` (chutney's templates do not set it): without it they
never publish and nothing gets past "Bootstrapped 95%".

Only processes this module started are ever stopped, by their own handle.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

AUTHORITIES = 3
RELAYS = 3
VOTING = 20  # seconds between votes (and the first one)

COMMON = [
    ("TestingTorNetwork", "1"),
    ("PathsNeededToBuildCircuits", "0.67"),
    ("TestingDirAuthVoteExit", "*"),
    ("TestingDirAuthVoteHSDir", "*"),
    ("TestingDirAuthVoteGuard", "*"),
    ("TestingMinExitFlagThreshold", "0"),
    ("V3AuthNIntervalsValid", "2"),
    ("ShutdownWaitLength", "2"),
]
SERVER = [
    ("Address", "127.0.0.1"),
    ("AssumeReachable", "1"),
    ("ExitRelay", "0"),
    ("ExitPolicy", "reject *:*"),
    ("ContactInfo", "reporter-tests@example.invalid"),
    ("SocksPort", "0"),
]
AUTHORITY = [
    ("AuthoritativeDirectory", "1"),
    ("V3AuthoritativeDirectory", "1"),
    ("TestingV3AuthInitialVotingInterval", str(VOTING)),
    ("TestingV3AuthInitialVoteDelay", "4"),
    ("TestingV3AuthInitialDistDelay", "4"),
    ("V3AuthVotingInterval", str(VOTING)),
    ("V3AuthVoteDelay", "4"),
    ("V3AuthDistDelay", "4"),
]


def _unavailable(reason: str) -> None:
    if os.environ.get("REPORTER_CI") == "1":
        pytest.fail(f"tor tests cannot run in CI: {reason}")
    pytest.skip(reason)


def require(*programs: str) -> dict[str, str]:
    """The paths of tor's programs (default ``tor``), or skip (fail under CI) naming the fix."""
    found = {}
    for program in programs or ("tor",):
        path = shutil.which(program) or shutil.which(program, path="/usr/sbin:/usr/bin")
        if path is None:
            _unavailable(f"{program} is not installed (apt-get install tor)")
        else:
            found[program] = path
    return found


def free_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1 now (held open together, so they are distinct)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


def torrc(lines: list[tuple[str, str]]) -> str:
    return "".join(f"{name} {value}\n" for name, value in lines)


@dataclass
class Node:
    name: str
    folder: Path
    lines: list[tuple[str, str]]
    process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.folder / "notice.log"

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""


@dataclass
class TorNetwork:
    """A private Tor network in ``folder``; ``start()``, then ``stop()`` (also on failure)."""

    folder: Path
    tor: str
    gencert: str
    nodes: list[Node] = field(default_factory=list)
    dir_authorities: list[str] = field(default_factory=list)
    socks_port: int = 0
    control_port: int = 0

    @classmethod
    def build(cls, folder: Path) -> TorNetwork:
        found = require("tor", "tor-gencert")
        network = cls(folder, found["tor"], found["tor-gencert"])
        network._make()
        return network

    def _run(self, *args: str, stdin: bytes = b"") -> str:
        done = subprocess.run(list(args), input=stdin, capture_output=True, timeout=60,
                              check=True)
        return done.stdout.decode()

    def _identity(self, folder: Path) -> str:
        """A node's RSA identity fingerprint, made before its first start."""
        self._run(self.tor, "--ignore-missing-torrc", "-f", os.devnull, "--defaults-torrc",
                  os.devnull, "--orport", "1", "--datadirectory", str(folder),
                  "--list-fingerprint", "--quiet")
        return (folder / "fingerprint").read_text().split()[1]

    def _make(self) -> None:
        ports = iter(free_ports(2 * AUTHORITIES + RELAYS + 2))
        authorities = []
        for i in range(AUTHORITIES):
            folder = self.folder / f"auth{i}"
            (folder / "keys").mkdir(parents=True, mode=0o700)
            folder.chmod(0o700)
            orport, dirport = next(ports), next(ports)
            self._run(self.gencert, "--create-identity-key", "--passphrase-fd", "0",
                      "-i", str(folder / "keys/authority_identity_key"),
                      "-s", str(folder / "keys/authority_signing_key"),
                      "-c", str(folder / "keys/authority_certificate"),
                      "-m", "12", "-a", f"127.0.0.1:{dirport}", stdin=b"\n")
            certificate = (folder / "keys/authority_certificate").read_text()
            v3ident = re.search(r"^fingerprint (\w+)$", certificate, re.M)
            assert v3ident is not None, certificate
            rsa = self._identity(folder)
            self.dir_authorities.append(
                f"auth{i} orport={orport} no-v2 v3ident={v3ident.group(1)} "
                f"127.0.0.1:{dirport} {rsa}")
            authorities.append((folder, orport, dirport))
        for i, (folder, orport, dirport) in enumerate(authorities):
            self.nodes.append(Node(f"auth{i}", folder, [
                *SERVER, *AUTHORITY, ("Nickname", f"auth{i}"),
                ("ORPort", f"127.0.0.1:{orport}"), ("DirPort", f"127.0.0.1:{dirport}")]))
        for i in range(RELAYS):
            folder = self.folder / f"relay{i}"
            folder.mkdir(mode=0o700)
            self.nodes.append(Node(f"relay{i}", folder, [
                *SERVER, ("Nickname", f"relay{i}"), ("ORPort", f"127.0.0.1:{next(ports)}")]))
        self.socks_port, self.control_port = next(ports), next(ports)
        folder = self.folder / "client"
        folder.mkdir(mode=0o700)
        self.nodes.append(Node("client", folder, [
            ("SocksPort", f"127.0.0.1:{self.socks_port}"),
            ("ControlPort", f"127.0.0.1:{self.control_port}"),
            ("CookieAuthentication", "1")]))

    def torrc_lines(self) -> list[tuple[str, str]]:
        """What any other tor needs to join this network (a service, a second client)."""
        return [*COMMON, *(("DirAuthority", line) for line in self.dir_authorities)]

    def start(self) -> None:
        for node in self.nodes:
            lines = [("DataDirectory", str(node.folder)), *self.torrc_lines(), *node.lines,
                     ("Log", f"notice file {node.log}")]
            (node.folder / "torrc").write_text(torrc(lines))
            node.process = subprocess.Popen(
                [self.tor, "-f", str(node.folder / "torrc"), "--defaults-torrc", os.devnull],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=node.folder)

    def wait_for_client(self, timeout: float = 240) -> float:
        """Seconds until the client has a consensus and circuits ("Bootstrapped 100%")."""
        started = time.monotonic()
        client = self.nodes[-1]
        while time.monotonic() - started < timeout:
            for node in self.nodes:
                if node.process is not None and node.process.poll() is not None:
                    raise RuntimeError(f"{node.name} exited: {node.log_text()[-2000:]}")
            if "Bootstrapped 100%" in client.log_text():
                return time.monotonic() - started
            time.sleep(0.5)
        raise RuntimeError("the client did not bootstrap in time: " + self.summary())

    def summary(self) -> str:
        """The last bootstrap line of every node, for a failure message."""
        out = []
        for node in self.nodes:
            lines = [line for line in node.log_text().splitlines() if "Bootstrapped" in line
                     or "[warn]" in line]
            out.append(f"{node.name}: {lines[-1] if lines else 'nothing logged'}")
        return "; ".join(out)

    def stop(self) -> None:
        for node in self.nodes:
            if node.process is not None and node.process.poll() is None:
                node.process.terminate()
        for node in self.nodes:
            if node.process is not None:
                try:
                    node.process.wait(15)
                except subprocess.TimeoutExpired:
                    node.process.kill()
                    node.process.wait()

    def proxies(self) -> dict[str, str]:
        """For ``requests``: names resolved by the client tor (``socks5h``), never locally."""
        url = f"socks5h://127.0.0.1:{self.socks_port}"
        return {"http": url, "https": url}
