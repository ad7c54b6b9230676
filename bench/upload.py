"""Upload of one large attachment through the real server, against the raw floor.

Measures (issue 4), in one run:

* **upload**: a report with one N MB attachment (default 1024) POSTed to a
  real ``reporter serve`` process (its own server, SQLCipher, ``synchronous=FULL``)
  over a local socket, from the first byte sent to the receipt page received
  (so the attachment is durable when the clock stops). The client sends the
  same 1 MiB of random bytes again and again, so it uses almost no CPU or
  memory of its own.
* **the server's peak RSS** (``VmHWM`` from ``/proc``) over its whole life,
  start-up included, and its RSS when idle before the upload.
* **the floor**: libsodium secretstream (XChaCha20-Poly1305, 64 KiB chunks)
  encryption of the same number of bytes from memory to a file in the same
  folder, fsynced at the end. That is the least any sealed, durable upload
  costs on this machine, with no HTTP, no parsing and no database.

Run: ``python -m bench.upload [--size-mb N] [--repeat R] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nacl.bindings as sodium
import requests

from reporter.formats import attachment
from reporter.station.instance import open_store
from reporter.storage.blobs import BlobStore

from .markdown import table, verdict
from .procs import PASSPHRASE, ServerProcess, Station, free_port, make_station

MIB = 1024 * 1024
MP4_MAGIC = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00"
RSS_TARGET_MB = 80
RATIO_TARGET = 0.50
BOUNDARY = "benchboundary7d1f0c"


def floor(size: int, folder: Path, block: bytes) -> float:
    """Seconds to secretstream-encrypt ``size`` bytes from memory into a fsynced file."""
    path = folder / "floor.bin"
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    key = os.urandom(32)
    chunk = attachment.CHUNK
    started = time.perf_counter()
    with open(path, "wb") as out:
        out.write(sodium.crypto_secretstream_xchacha20poly1305_init_push(state, key))
        done = 0
        while done < size:
            for start in range(0, len(block), chunk):
                if done >= size:
                    break
                piece = block[start : start + min(chunk, size - done)]
                out.write(sodium.crypto_secretstream_xchacha20poly1305_push(state, piece))
                done += len(piece)
        out.flush()
        os.fsync(out.fileno())
    elapsed = time.perf_counter() - started
    path.unlink()
    return elapsed


def _form(port: int) -> str:
    page = requests.get(f"http://127.0.0.1:{port}/", timeout=30).text
    return page.split('<input type="hidden" name="form_token" value="', 1)[1].split('"', 1)[0]


def _parts(token: str, size: int) -> tuple[bytes, bytes]:
    fields = {"form_token": token, "incident_types": "shooting", "incident_day": "1",
              "incident_month": "11", "incident_year": "2026",
              "site": "Marange", "description": "A video of the shooting.",
              "source": "witnessed", "contact": "none"}
    head = b"".join(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        .encode() for name, value in fields.items())
    head += (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="attachments"; '
             'filename="shooting.mp4"\r\nContent-Type: video/mp4\r\n\r\n').encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    return head, tail


def upload(port: int, size: int, block: bytes) -> float:
    """Seconds from the first byte sent to the whole receipt page received."""
    token = _form(port)
    head, tail = _parts(token, size)
    length = len(head) + size + len(tail)
    sock = socket.create_connection(("127.0.0.1", port), timeout=600)
    request = (f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
               f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
               f"Content-Length: {length}\r\nConnection: close\r\n\r\n").encode()
    first = MP4_MAGIC + block[len(MP4_MAGIC):]
    started = time.perf_counter()
    sock.sendall(request + head)
    sent = 0
    while sent < size:
        piece = first if sent == 0 else block
        piece = piece[: size - sent]
        sock.sendall(piece)
        sent += len(piece)
    sock.sendall(tail)
    reply = b""
    while data := sock.recv(65536):
        reply += data
    elapsed = time.perf_counter() - started
    sock.close()
    status = reply.split(b"\r\n", 1)[0]
    if b" 200 " not in status or b'class="receipt"' not in reply:
        raise RuntimeError(f"the upload was not accepted: {status!r}")
    return elapsed


def stored_ciphertext(station: Station) -> tuple[int, int]:
    with open_store(station.path, station.key) as store, \
            BlobStore.open(station.path, station.key) as blobs:
        return store.report_count(), blobs.total_bytes()


def run_once(size: int, workdir: Path, block: bytes) -> dict[str, Any]:
    station = make_station(workdir / "instance")
    port = free_port()
    server = ServerProcess(
        "reporter serve",
        [sys.executable, "-m", "reporter", "--instance", str(station.path), "serve",
         "--host", "127.0.0.1", "--port", str(port)],
        port, workdir / "server.log",
        env={"REPORTER_PASSPHRASE": PASSPHRASE,
             "REPORTER_MAX_ATTACHMENT_BYTES": str(size + MIB)},
    )
    try:
        server.wait_ready()
        idle = server.rss_kib()["VmRSS"]
        seconds = upload(port, size, block)
        peak = server.rss_kib()["VmHWM"]
        cpu = server.cpu_seconds()
    finally:
        server.stop()
    reports, ciphertext = stored_ciphertext(station)
    if reports != 1 or ciphertext != attachment.ciphertext_size(size):
        raise RuntimeError(f"stored {reports} reports, {ciphertext} bytes of ciphertext")
    floor_s = floor(size, workdir, block)
    return {"upload_s": seconds, "floor_s": floor_s, "idle_rss_kib": idle,
            "peak_rss_kib": peak, "server_cpu_s": cpu}


def render(size: int, runs: list[dict[str, Any]]) -> str:
    up = statistics.median(r["upload_s"] for r in runs)
    fl = statistics.median(r["floor_s"] for r in runs)
    peak = max(r["peak_rss_kib"] for r in runs) / 1024
    idle = statistics.median(r["idle_rss_kib"] for r in runs) / 1024
    mb = size / 1e6
    ratio = fl / up
    rows = [
        ["upload through the server", f"{mb / up:.0f} MB/s ({up:.1f} s)",
         f"≥ {RATIO_TARGET:.0%} of the floor", f"{ratio:.0%} {verdict(ratio >= RATIO_TARGET)}"],
        ["floor: secretstream to a fsynced file", f"{mb / fl:.0f} MB/s ({fl:.1f} s)", "–", "–"],
        ["server peak RSS (VmHWM)", f"{peak:.1f} MB", f"< {RSS_TARGET_MB} MB",
         verdict(peak < RSS_TARGET_MB)],
        ["server RSS when idle, before", f"{idle:.1f} MB", "–", "–"],
    ]
    return (f"Upload of one {size // MIB} MiB attachment, median of {len(runs)} run(s)\n\n"
            + table(["measure", "result", "target", "verdict"], rows))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="attachment size in MiB")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    args = parser.parse_args(argv)
    size = args.size_mb * MIB
    block = os.urandom(MIB)
    runs = []
    for i in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="reporter-bench-upload-") as tmp:
            print(f"run {i + 1}/{args.repeat}: uploading {args.size_mb} MiB ...",
                  file=sys.stderr, flush=True)
            runs.append(run_once(size, Path(tmp), block))
    print(render(size, runs))
    if args.json:
        args.json.write_text(json.dumps({"size": size, "runs": runs}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
