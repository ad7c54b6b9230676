"""``python -m bench.memory``: what a station needs in memory (issue 12: a Raspberry Pi
Zero 2 W has 512 MB, shared with the system and with tor).

Measured, each in a fresh process so that its peak is its own:

* **unlock peak**: ``reporter status`` on a station made with each Argon2id
  cost (``init --kdf interactive`` / ``moderate``): the passphrase is turned into
  the database key with that much memory, so the peak (``ru_maxrss`` of the
  child) is the most the station ever needs at once.
* **serving, idle**: ``reporter serve`` (8 threads, the default) once it answers,
  then after 20 monitors each sent a report with a 5 MiB photo: ``VmRSS`` and
  ``VmHWM`` from ``/proc``.

The onion service's own tor is measured by ``python -m bench.onion`` (its
process is a child of the station's). Run: ``python -m bench.memory [--json F]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from reporter.formats.crypto import RecipientPrivateKey
from reporter.station.instance import init_instance, open_store, unlock

from .load import Connection, form_token, get_request
from .markdown import table
from .payload import SITE, report_fields
from .procs import PASSPHRASE, REPO, ServerProcess, free_port

MIB = 1024 * 1024


def proc_memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a live process, in KiB."""
    out = {"VmRSS": 0, "VmHWM": 0}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in out:
            out[name] = int(value.split()[0])
    return out


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def new_station(path: Path, profile: str) -> None:
    init_instance(path, PASSPHRASE, kdf_profile=profile)
    with open_store(path, unlock(path, PASSPHRASE)) as store:
        store.add_recipient("reviewer", RecipientPrivateKey.generate().public_key)
        store.add_site(SITE)


def unlock_peak(path: Path) -> int:
    """Peak RSS (KiB) of ``reporter status`` on the station at ``path``."""
    child = subprocess.Popen(
        [sys.executable, "-m", "reporter", "--instance", str(path), "status"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env={**os.environ, "REPORTER_PASSPHRASE": PASSPHRASE})
    _, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"reporter status failed: {child.stderr.read() if child.stderr else ''}")
    return int(usage.ru_maxrss)


def post_report(port: int, photo: bytes, n: int) -> None:
    conn = Connection("127.0.0.1", port, timeout=120)
    try:
        page = conn.request(get_request("127.0.0.1", port, "/"))
        token = form_token(page.body)
        boundary = f"bench-memory-{n}"
        parts = [f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                 .encode() for k, v in [("form_token", token), *report_fields(random.Random(n))]]
        parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"attachments\"; "
                     f"filename=\"photo-{n}.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n".encode()
                     + photo + b"\r\n")
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        head = (f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {len(body)}\r\n"
                f"Content-Type: multipart/form-data; boundary={boundary}\r\n\r\n").encode()
        answer = conn.request(head + body)
        if answer.status != 200:
            raise RuntimeError(f"report {n}: HTTP {answer.status}")
    finally:
        conn.close()


def run(workdir: Path) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for profile in ("interactive", "moderate"):
        path = workdir / profile
        new_station(path, profile)
        result[f"unlock_{profile}_kib"] = unlock_peak(path)
    port = free_port()
    server = ServerProcess(
        "reporter serve", [sys.executable, "-m", "reporter", "--instance",
                           str(workdir / "interactive"), "serve", "--port", str(port)],
        port, workdir / "serve.log", env={"REPORTER_PASSPHRASE": PASSPHRASE})
    try:
        server.wait_ready(timeout=120)
        result["serve_idle"] = proc_memory(server.pid)
        photo = b"\xff\xd8\xff\xe0" + os.urandom(5 * MIB)
        for n in range(20):
            post_report(port, photo, n)
        result["serve_after_20_reports"] = proc_memory(server.pid)
    finally:
        server.stop()
    return result


def render(result: dict[str, Any]) -> str:
    def mib(kib: int) -> str:
        return f"{kib / 1024:.0f} MiB"
    rows = [
        ["unlock (`reporter status`), `--kdf interactive` (Argon2id 64 MiB), peak",
         mib(result["unlock_interactive_kib"])],
        ["unlock (`reporter status`), `--kdf moderate` (Argon2id 256 MiB), peak",
         mib(result["unlock_moderate_kib"])],
        ["`reporter serve` (8 threads), answering, idle: RSS",
         mib(result["serve_idle"]["VmRSS"])],
        ["after 20 reports with a 5 MiB photo each: RSS / peak",
         f"{mib(result['serve_after_20_reports']['VmRSS'])} / "
         f"{mib(result['serve_after_20_reports']['VmHWM'])}"],
    ]
    return table(["station process", "memory"], rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="reporter-bench-memory-") as tmp:
        result = run(Path(tmp))
    print(render(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
