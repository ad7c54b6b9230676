"""Keep a reporter process's memory out of core files, debuggers and /proc.

A station's memory holds, for a while, what monitors sent (Python frees
objects but does not wipe them) and the database key. A crash with core
dumps on would write all of it to disk; a process of the same user could
read it with ptrace or ``/proc/PID/mem``. So every ``reporter`` process:

* sets the ``RLIMIT_CORE`` soft limit to 0 (no core file, whatever the shell
  allowed), and
* marks itself not dumpable (``PR_SET_DUMPABLE`` 0): no core even through a
  ``core_pattern`` pipe, no ptrace attach and no ``/proc/PID/mem`` for
  processes of the same user (root still can: see SECURITY.md).

``forget_environment_variable`` removes a secret passed in the environment
(``REPORTER_PASSPHRASE``) from ``os.environ`` *and* from the copy the kernel
shows in ``/proc/PID/environ``, which is the process's original environment
block and outlives ``os.environ``: the bytes are overwritten in place.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import resource
import sys

PR_SET_DUMPABLE = 4


def harden() -> list[str]:
    """Apply both protections; return what could not be applied (empty when all did)."""
    missing = []
    try:
        # The soft limit is what the kernel applies; the hard one is left as it
        # was, so that programs this process starts keep what their user allowed.
        _soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
        resource.setrlimit(resource.RLIMIT_CORE, (0, hard))
    except (ValueError, OSError):
        missing.append("core-file limit")
    if sys.platform.startswith("linux"):
        name = ctypes.util.find_library("c")
        try:
            libc = ctypes.CDLL(name, use_errno=True)
            if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
                missing.append("not-dumpable flag")
        except (OSError, AttributeError, TypeError):
            missing.append("not-dumpable flag")
    return missing


def _environment_block() -> tuple[int, int] | None:
    """Where the kernel's copy of the starting environment is: (start, end) or None."""
    try:
        with open("/proc/self/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return None
    # Fields after the command name (which may contain spaces) start at field 3;
    # env_start and env_end are fields 50 and 51 (proc(5), Linux 3.5 and later).
    fields = stat[stat.rindex(b")") + 2:].split()
    if len(fields) < 49:
        return None
    return int(fields[47]), int(fields[48])


def forget_environment_variable(name: str) -> bool:
    """Drop ``name`` from the environment and wipe it from ``/proc/self/environ``.

    Returns whether the kernel's copy was found and wiped (False where there
    is no such copy to wipe, e.g. not on Linux, or the variable was not in the
    process's starting environment).
    """
    os.environ.pop(name, None)
    block = _environment_block()
    if block is None:
        return False
    start, end = block
    wiped = False
    with contextlib.suppress(OSError), open("/proc/self/mem", "r+b", buffering=0) as mem:
        mem.seek(start)
        data = bytearray(mem.read(end - start))
        prefix = name.encode() + b"="
        offset = 0
        for entry in bytes(data).split(b"\0"):
            if entry.startswith(prefix):
                data[offset:offset + len(entry)] = b"\0" * len(entry)
                wiped = True
            offset += len(entry) + 1
        if wiped:
            mem.seek(start)
            mem.write(bytes(data))
    return wiped
