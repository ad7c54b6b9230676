"""A crashing station writes no core file, and its passphrase leaves /proc at once.

Measured before: ``kill -SEGV`` of ``reporter serve`` one second after a
submission left a 186 MB core in its working folder holding the report's
text and the raw SQLCipher key; ``/proc/PID/environ`` showed
``REPORTER_PASSPHRASE`` for the server's whole life.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import PASSPHRASE, Station, form_token, free_port, valid_report

pytestmark = pytest.mark.slow
CORE_PATTERN = Path("/proc/sys/kernel/core_pattern")


def _cores_land_in_the_working_folder() -> None:
    try:
        pattern = CORE_PATTERN.read_text().strip()
    except OSError:
        pytest.skip("no /proc/sys/kernel/core_pattern: not Linux")
    if pattern.startswith("|") or "/" in pattern:
        pytest.skip(f"core files go to {pattern!r}, not the working folder: cannot look for one")


def _allow_cores() -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


def _crash(process: subprocess.Popen[bytes]) -> None:
    os.kill(process.pid, signal.SIGSEGV)
    process.wait(30)


def _cores(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name == "core" or p.name.startswith("core.")]


def test_a_plain_python_process_would_leave_a_core(tmp_path: Path) -> None:
    """Control: on this machine, with cores allowed, a crash does leave one."""
    _cores_land_in_the_working_folder()
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                               cwd=tmp_path, preexec_fn=_allow_cores)
    time.sleep(0.5)
    _crash(process)
    assert _cores(tmp_path), "the control process left no core: the test below proves nothing"


def test_a_crashing_station_writes_no_core_and_forgets_its_passphrase(
        station: Station, tmp_path: Path) -> None:
    _cores_land_in_the_working_folder()
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    port = free_port()
    env = {**os.environ, "REPORTER_PASSPHRASE": PASSPHRASE}
    process = subprocess.Popen(
        [sys.executable, "-m", "reporter", "--instance", str(station.path), "serve",
         "--port", str(port)],
        cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        preexec_fn=_allow_cores)
    try:
        url = f"http://127.0.0.1:{port}/"
        session = requests.Session()
        for _ in range(200):
            try:
                page = session.get(url, timeout=5)
                break
            except requests.ConnectionError:
                time.sleep(0.05)
        canary = "CANARY-core-7f3a9c"
        answer = session.post(url, data=valid_report(form_token=form_token(page.text),
                                                     description=canary), timeout=30)
        assert answer.status_code == 200
        environ = Path(f"/proc/{process.pid}/environ").read_bytes()
        assert PASSPHRASE.encode() not in environ
        assert b"REPORTER_PASSPHRASE" not in environ
        limits = Path(f"/proc/{process.pid}/limits").read_text()
        core_line = next(line for line in limits.splitlines() if line.startswith("Max core"))
        assert core_line.split()[4] == "0", core_line  # the soft limit, which applies
        _crash(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert not _cores(workdir), "the station left a core file"
