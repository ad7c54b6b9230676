"""Bridge lines from a file, and the transport programs they need."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from reporter.errors import ConfigError, TorNotFound
from reporter.station.onion.bridges import parse_line, read_bridges

FP = "0123456789ABCDEF0123456789ABCDEF01234567"
OBFS4 = f"obfs4 192.0.2.10:443 {FP} cert=AbCd+/eF0123== iat-mode=0"
SNOWFLAKE = (f"snowflake 192.0.2.3:80 {FP} fingerprint={FP} "
             "url=https://snowflake-broker.torproject.net/ "
             "fronts=foursquare.com,github.githubassets.com "
             "ice=stun:stun.l.google.com:19302,stun:stun.antisip.com:3478 "
             "utls-imitate=hellorandomizedalpn")
PLAIN = f"198.51.100.7:9001 {FP}"


def programs(tmp_path: Path, *names: str) -> Path:
    """A folder of stand-in transport programs, to be the whole PATH."""
    folder = tmp_path / "bin"
    folder.mkdir(exist_ok=True)
    for name in names:
        path = folder / name
        path.write_text("#!/bin/sh\nexit 0\n")
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return folder


def test_lines_as_tor_browser_and_bridgedb_give_them(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(programs(tmp_path, "obfs4proxy", "snowflake-client")))
    file = tmp_path / "bridges.txt"
    file.write_text(f"# from bridges.torproject.org\n\nBridge {OBFS4}\n  {SNOWFLAKE}\n{PLAIN}\n"
                    f"bridge obfs4 [2001:db8::1]:443 {FP} cert=x iat-mode=1\n")
    bridges = read_bridges(file)
    assert bridges.lines == (OBFS4, SNOWFLAKE, PLAIN,
                             f"obfs4 [2001:db8::1]:443 {FP} cert=x iat-mode=1")
    torrc = bridges.torrc()
    assert torrc["UseBridges"] == ["1"]
    assert torrc["Bridge"] == list(bridges.lines)
    assert torrc["ClientTransportPlugin"] == [
        f"obfs4 exec {tmp_path}/bin/obfs4proxy", f"snowflake exec {tmp_path}/bin/snowflake-client"]


def test_lyrebird_serves_obfs4_when_obfs4proxy_is_absent(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(programs(tmp_path, "lyrebird")))
    file = tmp_path / "bridges.txt"
    file.write_text(OBFS4 + "\n")
    assert read_bridges(file).torrc()["ClientTransportPlugin"] == [
        f"obfs4 exec {tmp_path}/bin/lyrebird"]


@pytest.mark.parametrize(("line", "package"), [(OBFS4, "obfs4proxy"),
                                               (SNOWFLAKE, "snowflake-client")])
def test_a_missing_transport_names_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               line: str, package: str) -> None:
    monkeypatch.setenv("PATH", str(programs(tmp_path)))
    file = tmp_path / "bridges.txt"
    file.write_text(line + "\n")
    with pytest.raises(TorNotFound, match=f"sudo apt-get install {package}"):
        read_bridges(file)


def test_plain_bridges_need_no_program(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(programs(tmp_path)))
    file = tmp_path / "bridges.txt"
    file.write_text(PLAIN + "\n")
    assert "ClientTransportPlugin" not in read_bridges(file).torrc()


@pytest.mark.parametrize(("line", "message"), [
    ("meek 192.0.2.1:443 " + FP, "unknown transport 'meek'"),
    ("obfs4 example.org:443 " + FP, "needs an ADDRESS:PORT"),
    ("obfs4", "needs an ADDRESS:PORT"),
    (f"obfs4 192.0.2.1:443 {FP} cert=x\x1b]0;title\x07", "not a bridge line"),
    (f"obfs4 192.0.2.1:443 {FP} ExitNodes {{us}}", "only KEY=VALUE arguments"),
    ("obfs4 192.0.2.1:443 " + "x" * 3000, "not a bridge line"),
])
def test_what_is_not_a_bridge_line_is_named(line: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("{", r"\{").replace("(", r"\(")):
        parse_line(line, "bridges.txt, line 1")


def test_an_empty_or_unreadable_file_is_named(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing yet\n\n")
    with pytest.raises(ConfigError, match="holds no bridge line"):
        read_bridges(empty)
    with pytest.raises(ConfigError, match="cannot read the bridges file"):
        read_bridges(tmp_path / "missing.txt")
    if os.geteuid() != 0:
        locked = tmp_path / "locked.txt"
        locked.write_text(PLAIN)
        locked.chmod(0)
        with pytest.raises(ConfigError, match="cannot read the bridges file"):
            read_bridges(locked)
