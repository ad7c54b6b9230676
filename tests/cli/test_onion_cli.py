"""``reporter onion ...`` and ``reporter serve --onion``, through the real command.

``serve --onion`` runs as a real process with a real tor, offline
(``--tor-config`` with ``DisableNetwork 1``): the address it prints, that it
stays across restarts and changes with ``onion rotate``, what happens to
its tor when it dies, and one clear line for every way tor can be missing
or refuse. Reaching the station through the onion is tested on a private
Tor network (tests/e2e/test_onion.py).
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import nacl.bindings as sodium
import pytest

from reporter.station.onion import stored
from tests.browser import _unavailable, artifact
from tests.conftest import PASSPHRASE, Station, free_port
from tests.reviewing import run  # noqa: F401  (the CLI runner fixture)
from tests.tornet import require

Run = Callable[..., tuple[int, str, str]]
URL = re.compile(r"http://([a-z2-7]{56})\.onion/")


@pytest.fixture
def offline(tmp_path: Path) -> Path:
    path = tmp_path / "offline.torrc"
    path.write_text("DisableNetwork 1\n")
    return path


@dataclass
class Serving:
    process: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def serve(station: Station, tmp_path: Path, *args: str,
          env: dict[str, str] | None = None) -> Serving:
    log = tmp_path / f"serve-{time.monotonic_ns()}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "reporter", "--instance", str(station.path), "serve",
             "--port", str(free_port()), "--threads", "4", *args],
            stdout=out, stderr=subprocess.STDOUT,
            env={**os.environ, "REPORTER_PASSPHRASE": PASSPHRASE, **(env or {})})
    return Serving(process, log)


def published_address(serving: Serving, timeout: float = 30) -> str:
    """The service id the running station printed (it keeps running)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = serving.text()
        if "Onion address" in text and (match := URL.search(text.split("Onion address")[1])):
            return match.group(1)
        if serving.process.poll() is not None:
            raise AssertionError(f"serve exited: {text}")
        time.sleep(0.05)
    raise AssertionError(f"no onion address printed: {serving.text()}")


def failure(serving: Serving) -> str:
    """What a serve that must fail printed; it exits 1 with one line and no traceback."""
    assert serving.process.wait(30) == 1, serving.text()
    text = serving.text()
    assert "Traceback" not in text and "unexpected" not in text, text
    errors = [line for line in text.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, text
    return errors[0]


# --- the address, rotation, the card --------------------------------------------------


def test_the_address_is_made_once_and_printed(run: Run, station: Station) -> None:  # noqa: F811
    code, out, err = run("onion", "address")
    assert code == 0 and "one was made now" in err
    with station.store() as store:
        key = stored.onion_key(store)
    assert key is not None and out == key.url + "\n"
    code, again, err = run("onion", "address")
    assert code == 0 and again == out and "made now" not in err


def test_rotation_asks_first_and_says_the_old_address_stops(
        run: Run, station: Station) -> None:  # noqa: F811
    _, old, _ = run("onion", "address")
    code, _, err = run("onion", "rotate")
    assert code == 1 and "add --yes" in err  # no terminal to confirm in
    assert run("onion", "address")[1] == old
    code, new, err = run("onion", "rotate", "--yes")
    assert code == 0 and URL.fullmatch(new.strip()) and new != old
    assert f"The old address {URL.search(old).group(1)}.onion stops working" in err  # type: ignore[union-attr]
    assert run("onion", "address")[1] == new


def test_clients_get_a_key_only_they_hold(run: Run, station: Station) -> None:  # noqa: F811
    code, out, err = run("onion", "clients", "add", "Amina")
    assert code == 0 and "now restricted" in err
    key = re.search(r"Key for Tor Browser: ([A-Z2-7]{52})$", out, re.M)
    assert key is not None
    _, address, _ = run("onion", "address")
    service_id = URL.search(address).group(1)  # type: ignore[union-attr]
    assert f"{service_id}:descriptor:x25519:{key.group(1)}" in out
    code, listed, _ = run("onion", "clients", "list")
    name, public = listed.strip().split("\t")
    assert name == "Amina"
    # The station lists the public half of the key it printed, and nothing more.
    private = base64.b32decode(key.group(1) + "====")
    assert base64.b32decode(public + "====") == sodium.crypto_scalarmult_base(private)
    assert key.group(1) not in listed
    assert run("onion", "clients", "add", "Amina")[0] == 1
    code, out, _ = run("onion", "clients", "remove", "Amina")
    assert code == 0 and "open again" in out
    code, _, err = run("onion", "clients", "remove", "Amina")
    assert code == 1 and "no client named 'Amina'" in err
    assert "No clients" in run("onion", "clients", "list")[1]


def test_the_card_holds_the_address_and_a_warning(run: Run, tmp_path: Path) -> None:  # noqa: F811
    card = tmp_path / "card.svg"
    code, out, _ = run("onion", "card", "--out", str(card))
    assert code == 0 and "Card written" in out
    svg = card.read_text()
    _, address, _ = run("onion", "address")
    service_id = URL.search(address).group(1)  # type: ignore[union-attr]
    assert f"http://{service_id}.onion/" in svg
    shown = "".join(re.findall(r">([a-z2-7 .]+)</text>", svg)).replace(" ", "")
    assert service_id + ".onion" in shown
    assert "Warning" in svg and "destroy it" in svg
    # Nothing to load from anywhere: no script, link, image or external reference.
    for absent in ("<script", "href", "<image", "url(", "@import"):
        assert absent not in svg
    assert run("onion", "card", "--out", str(card))[0] == 1  # never overwritten
    code, _, err = run("onion", "card", "--out", str(tmp_path / "c2.svg"), "--title", "x" * 41)
    assert code == 1 and "--title" in err


def test_the_printed_card_scans_to_the_address(run: Run, tmp_path: Path,  # noqa: F811
                                               browser: object) -> None:
    zbarimg = shutil.which("zbarimg")
    if zbarimg is None:
        _unavailable("zbarimg is not installed (apt-get install zbar-tools)")
    card = tmp_path / "card.svg"
    assert run("onion", "card", "--out", str(card), "--title", "Agriculture notes")[0] == 0
    page = browser.new_page(viewport={"width": 397, "height": 560})  # type: ignore[attr-defined]
    page.goto(card.resolve().as_uri())
    picture = artifact("onion-card.png")
    page.screenshot(path=str(picture))
    page.close()
    scanned = subprocess.run([str(zbarimg), "-q", "--raw", str(picture)], capture_output=True,
                             timeout=60, check=False).stdout.decode().strip()
    assert scanned == run("onion", "address")[1].strip()


# --- serve --onion, offline -------------------------------------------------------------


@pytest.fixture
def tor_binary() -> str:
    return require("tor")["tor"]


@pytest.mark.slow
def test_serve_prints_the_stored_address_every_time(
        run: Run, station: Station, tmp_path: Path, offline: Path,  # noqa: F811
        tor_binary: str) -> None:
    seen = []
    for rotate in (False, False, True):
        if rotate:
            assert run("onion", "rotate", "--yes")[0] == 0
        serving = serve(station, tmp_path, "--onion", "--tor-config", str(offline))
        try:
            seen.append(published_address(serving))
            assert "proof of work on" in serving.text()
        finally:
            serving.stop()
    assert seen[0] == seen[1] != seen[2]
    assert URL.search(run("onion", "address")[1]).group(1) == seen[2]  # type: ignore[union-attr]


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(p) for p in (task / "children").read_text().split()]
    return found


@pytest.mark.slow
def test_a_killed_station_leaves_no_tor_behind(station: Station, tmp_path: Path,
                                               offline: Path, tor_binary: str) -> None:
    serving = serve(station, tmp_path, "--onion", "--tor-config", str(offline))
    try:
        published_address(serving)
        [tor] = _children(serving.process.pid)
        assert Path(f"/proc/{tor}/exe").resolve() == Path(tor_binary).resolve()
        os.kill(serving.process.pid, signal.SIGKILL)
        serving.process.wait()
        deadline = time.monotonic() + 20
        while Path(f"/proc/{tor}").exists() and time.monotonic() < deadline:
            with open(f"/proc/{tor}/stat") as stat:
                if stat.read().split(")")[1].split()[0] == "Z":
                    break  # exited; our test process is not its parent, init reaps it
            time.sleep(0.1)
        else:
            assert not Path(f"/proc/{tor}").exists(), "tor outlived a kill -9 of its station"
    finally:
        serving.stop()
    # The next start takes the data directory over at once.
    again = serve(station, tmp_path, "--onion", "--tor-config", str(offline))
    try:
        published_address(again)
    finally:
        again.stop()


@pytest.mark.slow
def test_the_operator_is_told_when_tor_dies(station: Station, tmp_path: Path,
                                            offline: Path, tor_binary: str) -> None:
    serving = serve(station, tmp_path, "--onion", "--tor-config", str(offline))
    try:
        published_address(serving)
        [tor] = _children(serving.process.pid)
        os.kill(tor, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while "warning: tor stopped" not in serving.text() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "warning: tor stopped (exit status -9): the onion service is gone" in \
            serving.text()
        assert serving.process.poll() is None  # the station still serves on loopback
    finally:
        serving.stop()
    assert "warning: tor stopped" not in serving.text().split("exit status -9")[1]


@pytest.mark.slow
def test_no_tor_installed_is_one_line_with_the_fix(station: Station, tmp_path: Path) -> None:
    serving = serve(station, tmp_path, "--onion", "--tor-binary", str(tmp_path / "tor"))
    line = failure(serving)
    assert "sudo apt-get install tor" in line and "--tor-binary" in line
    serving = serve(station, tmp_path, "--onion", "--tor-binary", "tor-is-not-here",
                    env={"PATH": str(tmp_path)})
    assert "tor is not installed" in failure(serving)


@pytest.mark.slow
def test_missing_bridge_transport_is_one_line(station: Station, tmp_path: Path) -> None:
    bridges = tmp_path / "bridges.txt"
    bridges.write_text("obfs4 192.0.2.10:443 0123456789ABCDEF0123456789ABCDEF01234567 "
                       "cert=abc iat-mode=0\n")
    serving = serve(station, tmp_path, "--onion", "--bridges", str(bridges),
                    env={"PATH": str(tmp_path)})
    assert "sudo apt-get install obfs4proxy" in failure(serving)


@pytest.mark.slow
def test_tor_accepts_the_bridge_configuration(station: Station, tmp_path: Path,
                                              offline: Path, tor_binary: str) -> None:
    folder = tmp_path / "bin"
    folder.mkdir()
    fake = folder / "obfs4proxy"  # never run: tor starts transports only when online
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    bridges = tmp_path / "bridges.txt"
    bridges.write_text("Bridge obfs4 192.0.2.10:443 0123456789ABCDEF0123456789ABCDEF01234567 "
                       "cert=abc iat-mode=0\n198.51.100.7:9001\n")
    serving = serve(station, tmp_path, "--bridges", str(bridges), "--tor-config", str(offline),
                    env={"PATH": f"{folder}:{os.environ['PATH']}"})
    try:
        published_address(serving)
    finally:
        serving.stop()


@pytest.mark.slow
def test_tor_control_options_cannot_mix_with_launch_options(station: Station,
                                                            tmp_path: Path) -> None:
    serving = serve(station, tmp_path, "--tor-control", "9051", "--tor-binary", "tor")
    assert "--tor-binary configures the tor reporter starts" in failure(serving)


# --- serve --tor-control: attaching to a running tor -------------------------------------


@pytest.fixture
def system_tor(tmp_path: Path, tor_binary: str) -> Iterator[Callable[..., int]]:
    """Start a separate tor, as Debian's service would run, and give its control port."""
    started: list[subprocess.Popen[bytes]] = []

    def launch(*options: str) -> int:
        folder = tmp_path / f"system-tor-{len(started)}"
        folder.mkdir(mode=0o700)
        port = free_port()
        started.append(subprocess.Popen(
            [tor_binary, "--defaults-torrc", os.devnull, "-f", os.devnull,
             "--ignore-missing-torrc", "DataDirectory", str(folder), "DisableNetwork", "1",
             "SocksPort", "0", "ControlPort", f"127.0.0.1:{port}", *options],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return port
            except OSError:
                time.sleep(0.05)
        raise AssertionError("the test's tor did not open its control port")

    yield launch
    for process in started:
        process.terminate()
        process.wait(15)


def hashed(tor_binary: str, password: str) -> str:
    out = subprocess.run([tor_binary, "--quiet", "--hash-password", password],
                         capture_output=True, timeout=30, check=True).stdout.decode()
    return out.strip().splitlines()[-1]


@pytest.mark.slow
def test_attach_with_the_cookie(station: Station, tmp_path: Path,
                                system_tor: Callable[..., int]) -> None:
    port = system_tor("CookieAuthentication", "1")
    serving = serve(station, tmp_path, "--tor-control", str(port))
    try:
        address = published_address(serving)
        assert "Attached to tor" in serving.text()
    finally:
        serving.stop()
    with station.store() as store:
        key = stored.onion_key(store)
    assert key is not None and key.service_id == address


@pytest.mark.slow
def test_attach_with_a_password(station: Station, tmp_path: Path, tor_binary: str,
                                system_tor: Callable[..., int]) -> None:
    port = system_tor("HashedControlPassword", hashed(tor_binary, "tor control secret"))
    asked = serve(station, tmp_path, "--tor-control", str(port))
    assert "asks for a password" in failure(asked) and "--tor-password-file" in asked.text()
    wrong = serve(station, tmp_path, "--tor-control", str(port),
                  env={"REPORTER_TOR_PASSWORD": "not it"})
    assert "refused the password" in failure(wrong)
    secret = tmp_path / "tor-password"
    secret.write_text("tor control secret\n")
    serving = serve(station, tmp_path, "--tor-control", str(port), "--tor-password-file",
                    str(secret))
    try:
        published_address(serving)
    finally:
        serving.stop()


@pytest.mark.slow
def test_nothing_listening_on_the_control_port(station: Station, tmp_path: Path) -> None:
    port = free_port()
    line = failure(serve(station, tmp_path, "--tor-control", str(port)))
    assert f"cannot reach tor's control port {port}" in line
    assert f"'ControlPort {port}' in its torrc" in line
    line = failure(serve(station, tmp_path, "--tor-control", str(tmp_path / "no-socket")))
    assert "cannot reach tor's control socket" in line


@pytest.mark.slow
def test_something_that_is_not_tor_on_the_port(station: Station, tmp_path: Path) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    port = listener.getsockname()[1]

    def answer() -> None:  # an HTTP server, or tor's SOCKS port, say something else
        for _ in range(4):
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.recv(1024)
            conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")
            conn.close()

    threading.Thread(target=answer, daemon=True).start()
    try:
        line = failure(serve(station, tmp_path, "--tor-control", str(port)))
    finally:
        listener.close()
    assert f"tor's control port {port}" in line and "not its SOCKS port" in line
