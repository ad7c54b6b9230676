"""The station under test: a throwaway instance, and the server processes.

The instance is made with a cheap Argon2id cost (the bench patches
``reporter.formats.crypto.KDF_PROFILES`` in its own process before ``init_instance``;
``reporter serve`` reads the cost from ``station.json``), so a server starts in
well under a second. Everything else is the real thing: SQLCipher with
``synchronous=FULL``, one reviewer key, libsodium sealing.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nacl.pwhash.argon2id as argon2id

from reporter.formats import crypto
from reporter.formats.crypto import RecipientPrivateKey
from reporter.station.instance import init_instance, open_store, unlock

from .load import Connection, HttpError, get_request
from .payload import SITE

PASSPHRASE = "bench station passphrase"
# libsodium's minimum Argon2id cost: a benchmark station protects nothing.
CHEAP_KDF = (argon2id.OPSLIMIT_MIN, argon2id.MEMLIMIT_MIN)
REAL_KDF_PROFILES = dict(crypto.KDF_PROFILES)  # as shipped, before any patching
REPO = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Station:
    path: Path
    key: bytes
    station_id: bytes


def make_station(path: Path, *, real_kdf: bool = False) -> Station:
    """A new station at ``path`` with one reviewer key and two mine sites.

    With ``real_kdf`` the station uses the shipped "moderate" Argon2id cost
    (256 MiB), as a real one would; otherwise libsodium's minimum.
    """
    for profile in list(crypto.KDF_PROFILES):
        crypto.KDF_PROFILES[profile] = REAL_KDF_PROFILES[profile] if real_kdf else CHEAP_KDF
    try:
        identity = init_instance(path, PASSPHRASE)
    finally:
        for profile in list(crypto.KDF_PROFILES):
            crypto.KDF_PROFILES[profile] = CHEAP_KDF
    key = unlock(path, PASSPHRASE)
    with open_store(path, key) as store:
        store.add_recipient("reviewer", RecipientPrivateKey.generate().public_key)
        store.add_site(SITE)
        store.add_site("Tshikapa")
    return Station(path, key, identity.station_id)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """A server subprocess we started (and only that one is ever stopped)."""

    def __init__(self, name: str, argv: list[str], port: int, log: Path,
                 env: dict[str, str] | None = None) -> None:
        self.name, self.port, self.log = name, port, log
        with open(log, "wb") as out:
            self.process = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, cwd=REPO,
                env={**os.environ, **(env or {})},
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self, timeout: float = 30.0) -> float:
        """Wait until ``GET /`` answers 200; return the seconds it took."""
        start = time.monotonic()
        last = "no answer"
        while time.monotonic() - start < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start: {self.log.read_text()}")
            try:
                conn = Connection("127.0.0.1", self.port, timeout=5)
                try:
                    status = conn.request(get_request("127.0.0.1", self.port, "/")).status
                    if status == 200:
                        return time.monotonic() - start
                    last = f"GET / answered {status}"
                finally:
                    conn.close()
            except (OSError, HttpError) as exc:
                last = repr(exc)
            time.sleep(0.05)
        tail = self.log.read_text(errors="replace").splitlines()[-5:]
        raise RuntimeError(f"{self.name} did not answer GET / with 200 within {timeout} s "
                           f"({last}); log: " + " | ".join(tail))

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    # --- /proc ------------------------------------------------------------

    def rss_kib(self) -> dict[str, int]:
        """VmRSS and VmHWM (peak) of the server process, in KiB."""
        values: dict[str, int] = {"VmRSS": 0, "VmHWM": 0}  # 0: the process is gone
        if not self.alive():
            return values
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return values
        for line in status.splitlines():
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                values[name] = int(rest.split()[0])
        return values

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process (all threads)."""
        stat = Path(f"/proc/{self.pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK


def start_reporter(station: Station, port: int, threads: int, log: Path) -> ServerProcess:
    return ServerProcess(
        "reporter serve",
        # The submission limit off: the load test measures how many the station can take.
        [sys.executable, "-m", "reporter", "--instance", str(station.path), "serve",
         "--host", "127.0.0.1", "--port", str(port), "--threads", str(threads),
         "--max-submissions-per-minute", "0"],
        port, log, env={"REPORTER_PASSPHRASE": PASSPHRASE},
    )


def start_trivial(port: int, threads: int, log: Path) -> ServerProcess:
    return ServerProcess(
        "trivial Flask app",
        [sys.executable, "-m", "bench.trivial", "--host", "127.0.0.1", "--port", str(port),
         "--threads", str(threads)],
        port, log,
    )


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies over all CPUs, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    total = sum(values[:8])
    return float(total - idle), float(total)
