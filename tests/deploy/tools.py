"""The programs the deploy tests run, or a clear reason they are missing.

On a machine without them the tests skip and say what to install; under CI
(``REPORTER_CI=1``, set by ``.ci/run``, which installs ``systemd``, ``strace``,
``dnsmasq-base``, ``hostapd`` and ``nftables``) a missing one is a failure,
as for the browser tests.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SBIN = ("/usr/sbin", "/sbin", "/usr/bin", "/bin")


def unavailable(reason: str) -> None:
    if os.environ.get("REPORTER_CI") == "1":
        pytest.fail(f"deploy tests cannot run in CI: {reason}")
    pytest.skip(reason)


def tool(name: str, package: str) -> str:
    """The path of program ``name`` (also looked for in sbin folders), or skip."""
    found = shutil.which(name) or shutil.which(name, path=os.pathsep.join(SBIN))
    if found is None:
        unavailable(f"{name} is not installed (Debian: apt-get install {package})")
    assert found is not None
    return found
