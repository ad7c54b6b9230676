"""``make run``'s script, as a newcomer meets it (deploy/demo-station.sh)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_the_demo_shows_its_public_key_and_names_a_busy_port(tmp_path: Path) -> None:
    venv = Path(sys.executable).parent.parent
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = subprocess.run(
            ["bash", str(ROOT / "deploy" / "demo-station.sh")], cwd=ROOT, timeout=300,
            capture_output=True, text=True, check=False,
            env={**os.environ, "VENV": str(venv), "INSTANCE": str(tmp_path / "instance"),
                 "PORT": str(port)})
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    # The label is never left dangling: the key itself is shown.
    assert re.search(r"public key: reporter1[0-9a-z]{20,}", output), output
    assert "give this line to station operators):\nFingerprint" not in output
    assert f"port {port} on 127.0.0.1 is already in use" in output
    assert f"make run PORT={port + 1}" in output
    assert "unexpected OSError" not in output
