"""reporter.cli.process: no core files, and a secret leaves /proc/PID/environ."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux /proc only")

PROBE = """
import os, resource
from pathlib import Path
from reporter.cli.process import forget_environment_variable, harden
before = Path('/proc/self/environ').read_bytes()
assert b'REPORTER_PASSPHRASE=hunter2-correct-horse' in before
assert forget_environment_variable('REPORTER_PASSPHRASE')
after = Path('/proc/self/environ').read_bytes()
assert b'hunter2' not in after and b'REPORTER_PASSPHRASE' not in after, after
assert 'REPORTER_PASSPHRASE' not in os.environ
assert os.environ['KEEP_ME'] == 'yes' and b'KEEP_ME=yes' in after
assert harden() == []
assert resource.getrlimit(resource.RLIMIT_CORE)[0] == 0
print('ok')
"""


def test_a_secret_is_wiped_from_the_kernels_copy_of_the_environment() -> None:
    env = {**os.environ, "REPORTER_PASSPHRASE": "hunter2-correct-horse", "KEEP_ME": "yes"}
    result = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_without_the_wipe_the_kernel_keeps_showing_it() -> None:
    """Control: dropping it from os.environ alone is not enough (why the wipe exists)."""
    code = ("import os; from pathlib import Path; os.environ.pop('REPORTER_PASSPHRASE');"
            "print(b'hunter2' in Path('/proc/self/environ').read_bytes())")
    env = {**os.environ, "REPORTER_PASSPHRASE": "hunter2-correct-horse"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.stdout.strip() == "True"


def test_a_name_that_is_absent_is_a_no_op(tmp_path: Path) -> None:
    from reporter.cli.process import forget_environment_variable
    assert forget_environment_variable("REPORTER_NO_SUCH_VARIABLE_HERE") is False
