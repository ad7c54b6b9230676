"""The station's own tor, launched for real and offline (``DisableNetwork 1``).

With no network tor still starts, answers on its control port and accepts
onion services; nothing can be fetched through them (no circuits), so
requests through an onion are tested on a private Tor network instead
(tests/e2e/test_onion.py). Each test here starts one tor (about 0.3 s).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import stem
import stem.control

from reporter.errors import ConfigError, TorError, TorNotFound
from reporter.station.onion import stored
from reporter.station.onion.keys import OnionKey
from reporter.station.onion.run import OnionOptions, Running, start
from reporter.station.onion.service import add_onion_command, loopback_target, publish
from reporter.station.onion.tor import (
    CONTROL_PORT_FILE,
    find_tor,
    launch,
    read_extra_config,
    tor_data_dir,
)
from tests.conftest import Station
from tests.tornet import require


@pytest.fixture
def tor_binary() -> str:
    return require("tor")["tor"]


@pytest.fixture
def offline(tmp_path: Path) -> Path:
    path = tmp_path / "offline.torrc"
    path.write_text("# no network here: tor starts, circuits never do\nDisableNetwork 1\n")
    return path


@pytest.fixture
def started(station: Station, offline: Path, tor_binary: str) -> Iterator[
        tuple[Running, list[str]]]:
    said: list[str] = []
    running = start(station.path, station.key, "127.0.0.1", 8080,
                    OnionOptions(tor_config=offline, tor_binary=tor_binary), said.append)
    yield running, said
    running.close()


def current_onions(running: Running) -> list[str]:
    return [line for line in running.tor.controller.get_info("onions/current").split("\n")
            if line]


def test_the_service_is_made_at_once_with_the_stored_address(
        station: Station, started: tuple[Running, list[str]]) -> None:
    running, said = started
    with station.store() as store:
        key = stored.onion_key(store)
    assert key is not None and running.new_key
    assert running.published.address == key.address
    # tor serves exactly the address the station computed from its key.
    assert current_onions(running) == [key.service_id]
    phase = running.tor.controller.get_info("status/bootstrap-phase")
    assert "PROGRESS=0" in phase, "offline: created without waiting for publication"
    assert any("Bootstrapped 0%" in line for line in said)
    assert running.published.pow and running.published.clients == 0


def test_the_address_survives_a_restart_and_rotation_changes_it(
        station: Station, offline: Path, tor_binary: str) -> None:
    options = OnionOptions(tor_config=offline, tor_binary=tor_binary)
    addresses = []
    for rotate in (False, False, True):
        if rotate:
            with station.store() as store:
                stored.rotate_onion_key(store)
        running = start(station.path, station.key, "127.0.0.1", 8080, options, lambda _: None)
        try:
            addresses.append(current_onions(running))
        finally:
            running.close()
    assert addresses[0] == addresses[1] != addresses[2]
    with station.store() as store:
        key = stored.onion_key(store)
    assert key is not None and addresses[2] == [key.service_id]


def test_tor_takes_the_client_keys_of_a_restricted_station(
        station: Station, offline: Path, tor_binary: str) -> None:
    with station.store() as store:
        _, first = stored.add_client(store, "Amina")
        _, second = stored.add_client(store, "Bob")
    running = start(station.path, station.key, "127.0.0.1", 8080,
                    OnionOptions(tor_config=offline, tor_binary=tor_binary), lambda _: None)
    try:
        assert running.published.clients == 2
        # A second service for the same clients, to read tor's answer: it echoes every
        # client key it took, which are the public halves of the keys monitors hold.
        key = OnionKey.generate()
        reply = running.tor.controller.msg(add_onion_command(
            key, "127.0.0.1:8080", [first.public_key, second.public_key], pow_defence=True))
        echoed = {line.split("=", 1)[1] for line in str(reply).splitlines()
                  if line.startswith("ClientAuthV3=")}
        assert echoed == {first.public_key.to_tor(), second.public_key.to_tor()}
        # And tor checks what it is given: a key that is not one is refused.
        with pytest.raises(TorError, match="refused the onion service: Cannot decode v3"):
            publish(running.tor.controller, running.tor.version, OnionKey.generate(),
                    "127.0.0.1:8080", [_BadKey()])  # type: ignore[list-item]
    finally:
        running.close()


class _BadKey:
    """Not a key: base32 of the wrong length, as a damaged database might give."""

    def to_tor(self) -> str:
        return "AAAA"


def test_the_key_and_address_are_never_written_by_tor(
        station: Station, started: tuple[Running, list[str]]) -> None:
    running, _ = started
    key = running.published.key
    forms = [key.expanded(), key.to_tor().encode(), key.to_tor().split(":")[1].encode(),
             key.service_id.encode(), key.service_id.upper().encode(), key.public_key]
    time.sleep(0.5)
    running.close()
    for path in station.path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(form in data for form in forms), path


def test_tors_folder_is_private(station: Station, started: tuple[Running, list[str]]) -> None:
    folder = station.path / "tor"
    assert folder.stat().st_mode & 0o777 == 0o700
    written = (folder / CONTROL_PORT_FILE).read_text()
    assert written.startswith("PORT=127.0.0.1:")
    assert (folder / "control_auth_cookie").stat().st_mode & 0o077 == 0


def test_tor_stops_with_the_controller(station: Station, offline: Path, tor_binary: str) -> None:
    tor = launch(station.path, binary=tor_binary, bridges=None,
                 extra=read_extra_config(offline), say=lambda _: None)
    assert tor.process is not None and tor.process.poll() is None
    tor.controller.close()
    deadline = time.monotonic() + 10
    while tor.process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert tor.process.poll() is not None, "tor outlived the station's controller"


def test_a_path_with_spaces_is_quoted_for_tor(tmp_path: Path, offline: Path,
                                              tor_binary: str) -> None:
    instance = tmp_path / "a folder with spaces"
    instance.mkdir()
    tor = launch(instance, binary=tor_binary, bridges=None, extra=read_extra_config(offline),
                 say=lambda _: None)
    try:
        assert tor.controller.get_conf("DataDirectory") == str(instance / "tor")
        assert tor.controller.get_conf("SafeLogging") == "1"
        assert tor.controller.get_conf("SocksPort") in ("0", None)
    finally:
        tor.close()


def test_no_tor_program_says_what_to_install(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(TorNotFound, match="sudo apt-get install tor"):
        find_tor(str(tmp_path / "bin" / "tor"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(TorNotFound, match=r"tor is not installed .*sudo apt-get install tor"):
        find_tor("tor-that-is-not-installed")


def test_tor_is_found_outside_an_ordinary_users_path(tor_binary: str, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # Debian installs tor in /usr/sbin, which is not on an ordinary user's PATH.
    if not tor_binary.startswith(("/usr/sbin/", "/usr/local/sbin/", "/usr/bin/")):
        pytest.skip(f"tor is at {tor_binary}, outside the usual folders")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_tor() == tor_binary


def test_options_reporter_manages_cannot_be_overridden(tmp_path: Path) -> None:
    for line in ("ControlPort 9051", "controlport 9051", "SafeLogging 0", "Log debug stdout",
                 "DataDirectory /tmp/x", "HiddenServiceDir /tmp/hs", "CookieAuthentication 0",
                 "__OwningControllerProcess 1", "HashedControlPassword 16:AB"):
        path = tmp_path / "extra.torrc"
        path.write_text(f"DisableNetwork 1\n{line}\n")
        with pytest.raises(ConfigError, match=r"line 2: .* is set by reporter itself"):
            read_extra_config(path)
    path = tmp_path / "extra.torrc"
    path.write_text("DisableNetwork\n")
    with pytest.raises(ConfigError, match="line 1: a tor option line is 'Name value'"):
        read_extra_config(path)


def test_an_option_tor_does_not_know_stops_it_with_tors_reason(
        station: Station, tmp_path: Path, tor_binary: str) -> None:
    path = tmp_path / "extra.torrc"
    path.write_text("DisableNetwork 1\nNoSuchOption 1\n")
    with pytest.raises(TorError, match=r"tor did not start: .*NoSuchOption.*--tor-config"):
        launch(station.path, binary=tor_binary, bridges=None, extra=read_extra_config(path),
               say=lambda _: None)


def test_a_second_station_on_the_same_folder_is_told(
        station: Station, started: tuple[Running, list[str]], offline: Path,
        tor_binary: str) -> None:
    with pytest.raises(TorError, match=r"tor did not start: .*another Tor process"):
        launch(station.path, binary=tor_binary, bridges=None,
               extra=read_extra_config(offline), say=lambda _: None)


def test_the_service_only_points_at_loopback() -> None:
    assert loopback_target("0.0.0.0", 80)  # noqa: S104 == "127.0.0.1:80"
    assert loopback_target("127.0.0.1", 81) == "127.0.0.1:81"
    assert loopback_target("::", 82) == "[::1]:82"
    with pytest.raises(TorError, match=r"--host 127\.0\.0\.1"):
        loopback_target("192.168.4.1", 80)
    with pytest.raises(ValueError):
        add_onion_command(OnionKey.generate(), "192.0.2.1:80", [], pow_defence=True)


def test_the_command_carries_the_dos_defences() -> None:
    key = OnionKey.generate()
    command = add_onion_command(key, "127.0.0.1:8080", [], pow_defence=True)
    assert command == (f"ADD_ONION {key.to_tor()} Flags=MaxStreamsCloseCircuit MaxStreams=20 "
                       "PoWDefensesEnabled=1 Port=80,127.0.0.1:8080")
    assert "PoW" not in add_onion_command(key, "127.0.0.1:8080", [], pow_defence=False)


def test_data_dir_is_made_private_even_if_it_was_not(tmp_path: Path) -> None:
    (tmp_path / "tor").mkdir()
    os.chmod(tmp_path / "tor", 0o755)  # noqa: S103 (what the station must repair)
    assert tor_data_dir(tmp_path).stat().st_mode & 0o777 == 0o700


def test_stem_is_the_controller(started: tuple[Running, list[str]]) -> None:
    running, _ = started
    assert isinstance(running.tor.controller, stem.control.Controller)
    assert running.tor.version >= stem.version.Version("0.4.5")
