"""deploy/torrc, the static setup: real tor accepts it and publishes a v3 service."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from reporter.station.onion.keys import public_key_of
from tests.tornet import require

TORRC = Path(__file__).resolve().parents[3] / "deploy" / "torrc"


def test_tor_runs_the_example_and_writes_the_hostname(tmp_path: Path) -> None:
    tor = require("tor")["tor"]
    service = tmp_path / "reporter"
    text = TORRC.read_text()
    assert "SafeLogging 1" in text and "HiddenServicePoWDefensesEnabled 1" in text
    # Only the folder changes (the example names Debian's); offline, in a data dir of its own.
    config = tmp_path / "torrc"
    config.write_text(text.replace("/var/lib/tor/reporter/", f"{service}/")
                      + f"DataDirectory {tmp_path / 'data'}\nDisableNetwork 1\n")
    checked = subprocess.run([tor, "--verify-config", "-f", str(config), "--defaults-torrc",
                              os.devnull], capture_output=True, timeout=60, check=False)
    assert checked.returncode == 0, checked.stdout.decode()
    process = subprocess.Popen([tor, "-f", str(config), "--defaults-torrc", os.devnull],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not (service / "hostname").exists() and time.monotonic() < deadline:
            assert process.poll() is None, process.stdout.read().decode()  # type: ignore[union-attr]
            time.sleep(0.1)
        hostname = (service / "hostname").read_text().strip()
    finally:
        process.terminate()
        process.wait(15)
    output = process.stdout.read().decode()  # type: ignore[union-attr]
    warnings = [line for line in output.splitlines()
                if "[warn]" in line and "running Tor as root" not in line]
    assert warnings == [], output
    assert len(public_key_of(hostname)) == 32
    assert (service / "hs_ed25519_secret_key").stat().st_mode & 0o077 == 0
