"""The systemd units in deploy/ are what systemd accepts, and what the docs say.

``systemd-analyze verify`` loads each unit with each unlocking drop-in (any
warning fails: an unknown or misspelt setting is only a warning to systemd,
and would silently weaken the sandbox); ``systemd-analyze security`` scores the
station's unit, and docs/deploy.md must show that score; every option a unit
gives ``reporter`` must exist. Whether the station actually works inside that
sandbox is tests/deploy/test_sandbox.py.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.tools import DEPLOY, ROOT, tool

UNIT = DEPLOY / "reporter-station.service"
INSTALLED = "/opt/reporter/venv/bin/reporter"
REPORTER = str(Path(sys.executable).with_name("reporter"))
UNLOCK = ("unlock/credential.conf", "unlock/ask-password.conf", "unlock/key-file.conf")
DOC = ROOT / "docs" / "deploy.md"


def install(tmp_path: Path, dropins: tuple[str, ...]) -> Path:
    """The station's unit and the prompt's units in a folder of their own, with
    ``dropins`` in ``reporter-station.service.d``; the program's path is this
    checkout's (verify checks that it exists)."""
    folder = tmp_path / "units"
    (folder / "reporter-station.service.d").mkdir(parents=True)
    for unit in (UNIT, DEPLOY / "unlock" / "reporter-station-ask.socket",
                 DEPLOY / "unlock" / "reporter-station-ask@.service"):
        (folder / unit.name).write_text(unit.read_text().replace(INSTALLED, REPORTER))
    for dropin in dropins:
        source = DEPLOY / dropin
        (folder / "reporter-station.service.d" / source.name).write_text(
            source.read_text().replace(INSTALLED, REPORTER))
    return folder


def verify(*units: Path) -> subprocess.CompletedProcess[str]:
    analyze = tool("systemd-analyze", "systemd")
    return subprocess.run([analyze, "verify", *map(str, units)], capture_output=True,
                          text=True, timeout=60, check=False,
                          cwd=units[0].parent)


@pytest.mark.parametrize("dropins", [
    *((d,) for d in UNLOCK),
    ("unlock/credential.conf", "onion.conf"),
    ("unlock/ask-password.conf", "onion.conf"),
], ids=lambda d: "+".join(Path(x).stem for x in d))
def test_the_station_unit_passes_systemd_analyze_verify(tmp_path: Path,
                                                        dropins: tuple[str, ...]) -> None:
    folder = install(tmp_path, dropins)
    done = verify(folder / "reporter-station.service")
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr  # not even a warning


def test_a_setting_systemd_does_not_know_is_caught(tmp_path: Path) -> None:
    """The control: a misspelt sandbox setting in a drop-in is only a warning to
    systemd, and these tests fail on it."""
    folder = install(tmp_path, ("unlock/credential.conf",))
    dropin = folder / "reporter-station.service.d" / "credential.conf"
    dropin.write_text(dropin.read_text() + "MemoryDenyWriteExecutes=yes\n")
    done = verify(folder / "reporter-station.service")
    assert "Unknown key 'MemoryDenyWriteExecutes'" in done.stderr


def test_the_other_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    folder = install(tmp_path, ())
    for unit in (folder / "reporter-station-ask.socket",
                 folder / "reporter-station-ask@.service"):
        done = verify(unit)
        assert done.returncode == 0 and done.stderr.strip() == "", (unit, done.stderr)
    hotspot = tmp_path / "reporter-hotspot-address.service"
    shutil.copy(DEPLOY / "hotspot" / hotspot.name, hotspot)
    done = verify(hotspot)
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr


def score(unit: Path) -> float:
    analyze = tool("systemd-analyze", "systemd")
    done = subprocess.run([analyze, "security", "--offline=yes", "--no-pager", str(unit)],
                          capture_output=True, text=True, timeout=60, check=False,
                          cwd=unit.parent)
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d)", done.stdout)
    if match is None and "--offline" in done.stderr:
        pytest.skip("this systemd-analyze cannot score a unit file offline (systemd < 250)")
    assert match, done.stdout + done.stderr
    return float(match.group(1))


def test_the_security_score_is_low_and_the_one_the_docs_give(tmp_path: Path) -> None:
    folder = install(tmp_path, ("unlock/credential.conf",))
    value = score(folder / "reporter-station.service")
    assert value <= 1.5, value
    recorded = re.search(r"`systemd-analyze security` score: \*\*(\d+\.\d)", DOC.read_text())
    assert recorded is not None, "docs/deploy.md records no score"
    assert float(recorded.group(1)) == value, (
        f"docs/deploy.md says {recorded.group(1)}; systemd-analyze says {value}")
    ask = install(tmp_path / "ask", ())
    assert score(ask / "reporter-station-ask@.service") <= 2.0


def exec_lines(path: Path) -> list[str]:
    return [line.split("=", 1)[1] for line in path.read_text().splitlines()
            if line.startswith("ExecStart=") and line.split("=", 1)[1]]


def test_every_option_the_units_give_reporter_exists(tmp_path: Path) -> None:
    """Click refuses an unknown option before it reads ``--help``: each unit's command,
    as written, with ``--help`` after it, must be accepted."""
    commands = [c for path in (UNIT, DEPLOY / "onion.conf") for c in exec_lines(path)]
    assert len(commands) == 2
    for command in commands:
        argv = shlex.split(command.replace("${CREDENTIALS_DIRECTORY}", str(tmp_path)))
        assert argv[0] == INSTALLED
        done = subprocess.run([REPORTER, *argv[1:], "--help"], capture_output=True,
                              text=True, timeout=60, check=False)
        assert done.returncode == 0, (command, done.stderr)
    done = subprocess.run([REPORTER, "serve", "--no-such-option", "--help"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2  # the control
