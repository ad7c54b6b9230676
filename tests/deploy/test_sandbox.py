"""The station works inside the sandbox of deploy/reporter-station.service.

systemd is not PID 1 where these tests run (a container), so the unit cannot
be started with ``systemd-run``. What can be checked without it, on a real
``reporter serve`` taking real reports with attachments:

* ``MemoryDenyWriteExecute=yes``: the station runs under the kernel's own
  W^X switch (``prctl(PR_SET_MDWE)``, Linux 6.3+, what systemd uses for that
  setting where it can), and a control shows the switch refuses a writable
  and executable mapping (and a cffi callback, which needs one);
* ``SystemCallFilter=`` and ``RestrictAddressFamilies=``: every system call
  the station makes (``strace -f``: the server, its threads, and the tor it
  starts with ``--onion``) is one the unit's filter allows, as
  ``systemd-analyze syscall-filter`` expands its groups, and every socket it
  opens is of a family the unit allows.
"""

from __future__ import annotations

import functools
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tests.conftest import PASSPHRASE, Station, form_token, free_port, valid_report
from tests.deploy.tools import DEPLOY, tool, unavailable

UNIT = DEPLOY / "reporter-station.service"
PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1
MDWE = (
    "import ctypes, os, sys\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    f"if libc.prctl({PR_SET_MDWE}, {PR_MDWE_REFUSE_EXEC_GAIN}, 0, 0, 0) != 0:\n"
    "    sys.exit('MDWE: ' + os.strerror(ctypes.get_errno()))\n"
    "os.execv(sys.argv[1], sys.argv[1:])\n")
JPEG = b"\xff\xd8\xff\xe0" + bytes(2_000_000)


def mdwe_prefix(tmp_path: Path) -> list[str]:
    wrapper = tmp_path / "mdwe.py"
    wrapper.write_text(MDWE)
    probe = subprocess.run([sys.executable, str(wrapper), sys.executable, "-c", "pass"],
                           capture_output=True, text=True, timeout=30, check=False)
    if probe.returncode != 0:
        pytest.skip(f"this kernel has no PR_SET_MDWE (Linux 6.3 or newer): {probe.stderr}")
    return [sys.executable, str(wrapper)]


@contextmanager
def serving(station: Station, tmp_path: Path, prefix: list[str],
            extra: tuple[str, ...] = ()) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    log = tmp_path / f"serve-{port}.log"
    env = {**os.environ, "REPORTER_PASSPHRASE": PASSPHRASE}
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [*prefix, sys.executable, "-m", "reporter", "--instance", str(station.path),
             "serve", "--port", str(port), "--threads", "4", *extra],
            stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()
            try:
                requests.get(url + "/", timeout=5)
                break
            except (requests.ConnectionError, requests.Timeout):
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        yield url, process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def exercise(url: str) -> None:
    """A monitor's visit: the form, a report with a photo, a follow-up."""
    session = requests.Session()
    token = form_token(session.get(url + "/", timeout=10).text)
    sent = session.post(url + "/", data={"form_token": token, **valid_report()},
                        files={"attachments": ("photo.jpg", JPEG, "image/jpeg")}, timeout=60)
    assert sent.status_code == 200, sent.text
    code = re.search(r'class="receipt"[^>]*>([0-9A-Z-]{19})<', sent.text)
    assert code is not None
    token = form_token(session.get(url + "/follow-up", timeout=10).text)
    follow = session.post(url + "/follow-up", data={
        "form_token": token, "receipt": code.group(1), "description": "more"}, timeout=30)
    assert follow.status_code == 200, follow.text


def test_a_writable_executable_mapping_is_refused_under_the_switch(tmp_path: Path) -> None:
    """The control: the switch the station runs under does refuse W+X memory."""
    prefix = mdwe_prefix(tmp_path)
    for code in ("import mmap; mmap.mmap(-1, 4096, prot=7)",
                 "import cffi; cffi.FFI().callback('int(int)', lambda x: x)"):
        done = subprocess.run([*prefix, sys.executable, "-c", code], capture_output=True,
                              text=True, timeout=30, check=False)
        assert done.returncode != 0 and ("Permission denied" in done.stderr
                                         or "write+execute" in done.stderr), done.stderr


@pytest.mark.parametrize("extra", [(), ("--onion",)], ids=["hotspot", "onion"])
def test_the_station_runs_with_memory_deny_write_execute(station: Station, tmp_path: Path,
                                                        extra: tuple[str, ...]) -> None:
    assert "MemoryDenyWriteExecute=yes" in UNIT.read_text()
    prefix = mdwe_prefix(tmp_path)
    if extra:
        tool("tor", "tor")
    with serving(station, tmp_path, prefix, extra) as (url, process):
        exercise(url)
        if extra:  # tor runs, under the same switch (inherited across fork and exec)
            tors = [c for c in children(process.pid)
                    if Path(f"/proc/{c}/comm").read_text().strip() == "tor"]
            assert tors, "no tor started"
    env = {**os.environ, "REPORTER_PASSPHRASE": PASSPHRASE}
    for verb in (["export", "--out", str(tmp_path / "1.rptr")],
                 ["backup", "--out", str(tmp_path / "station.rbk")]):
        done = subprocess.run([*prefix, sys.executable, "-m", "reporter", "--instance",
                               str(station.path), *verb], capture_output=True, text=True,
                              env=env, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
    with station.store() as store:
        assert store.report_count() == 2


@functools.cache
def expand(group: str) -> frozenset[str]:
    analyze = tool("systemd-analyze", "systemd")
    out = subprocess.run([analyze, "syscall-filter", group], capture_output=True, text=True,
                         timeout=30, check=True).stdout
    names: set[str] = set()
    for line in out.splitlines()[1:]:
        line = line.strip()
        if line and not line.startswith("#"):
            names |= expand(line) if line.startswith("@") else {line}
    return frozenset(names)


def allowed_syscalls() -> frozenset[str]:
    """What the unit's SystemCallFilter= lines allow: the allow list, less every ~ list."""
    allowed: set[str] = set()
    denied: set[str] = set()
    for line in UNIT.read_text().splitlines():
        if line.startswith("SystemCallFilter="):
            value = line.split("=", 1)[1]
            target = denied if value.startswith("~") else allowed
            for item in value.lstrip("~").split():
                target |= expand(item) if item.startswith("@") else {item}
    assert allowed
    return frozenset(allowed - denied)


def allowed_families(*files: Path) -> set[str]:
    out: set[str] = set()
    for path in files:
        for line in path.read_text().splitlines():
            if line.startswith("RestrictAddressFamilies="):
                out |= set(line.split("=", 1)[1].split())
    return out


def traced(trace: Path) -> tuple[set[str], set[str]]:
    """(system calls, socket families) in an ``strace -f`` log."""
    calls, families = set(), set()
    for line in trace.read_text(errors="replace").splitlines():
        match = re.match(r"\d+\s+([a-z0-9_]+)\(", line)
        if match:
            calls.add(match.group(1))
        families |= set(re.findall(r"\bsocket(?:pair)?\((AF_[A-Z0-9]+)", line))
    return calls, families


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def trace_station(station: Station, tmp_path: Path, extra: tuple[str, ...] = ()
                  ) -> tuple[set[str], set[str], str]:
    strace = tool("strace", "strace")
    trace = tmp_path / "trace.txt"
    with serving(station, tmp_path, [strace, "-f", "-qq", "-o", str(trace)],
                 extra) as (url, process):
        exercise(url)
        # Stop the station itself (strace's child), so its shutdown is traced too.
        for child in children(process.pid):
            os.kill(child, signal.SIGTERM)
        process.wait(60)
    calls, families = traced(trace)
    assert {"openat", "pwrite64", "fsync", "accept4", "execve"} <= calls  # it did trace
    if os.geteuid() == 0:
        # SQLite gives a new -wal or -shm file its database's owner only when it
        # runs as root (os_unix.c, robustFchown); the unit runs as `reporter`.
        calls.discard("fchown")
    return calls, families, trace.read_text(errors="replace")


def test_the_station_makes_only_system_calls_the_unit_allows(station: Station,
                                                            tmp_path: Path) -> None:
    calls, families, _text = trace_station(station, tmp_path)
    assert calls - allowed_syscalls() == set()
    assert families - allowed_families(UNIT) == set()


def test_the_onion_station_and_its_tor_make_only_system_calls_the_unit_allows(
        station: Station, tmp_path: Path) -> None:
    tool("tor", "tor")
    calls, families, text = trace_station(station, tmp_path, ("--onion",))
    assert re.search(r'execve\("[^"]*/tor"', text)  # tor was started, and traced
    assert calls - allowed_syscalls() == set()
    assert families - allowed_families(UNIT, DEPLOY / "onion.conf") == set()


def test_the_filter_check_can_fail() -> None:
    """The control: a call the unit forbids is seen as forbidden."""
    assert {"mount", "reboot", "setuid", "init_module"} & allowed_syscalls() == set()
    if not (expand("@system-service") & {"openat"}):
        unavailable("systemd-analyze lists no system calls")
