"""The hotspot example files in deploy/hotspot/ parse, and agree with each other.

dnsmasq checks its file itself (``--test``); hostapd has no such switch, but
it reads and checks the whole file before it touches the Wi-Fi driver, and
says "N errors found in configuration file" when a line is wrong; nft checks
a rule set with ``-c``. Each check has a control (a broken copy fails), and
the files must name one interface, one station address and one port.
"""

from __future__ import annotations

import ipaddress
import re
import subprocess
from pathlib import Path

import pytest

from tests.deploy.tools import DEPLOY, tool

HOTSPOT = DEPLOY / "hotspot"
STATION = "10.42.0.1"


def settings(path: Path) -> list[tuple[str, str]]:
    """``key=value`` lines (comments and blank lines left out), in order."""
    out = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            out.append((key.strip(), value.strip()))
    return out


def dnsmasq_test(conf: Path) -> subprocess.CompletedProcess[str]:
    dnsmasq = tool("dnsmasq", "dnsmasq-base")
    return subprocess.run([dnsmasq, "--test", f"--conf-file={conf}"], capture_output=True,
                          text=True, timeout=30, check=False)


def test_dnsmasq_accepts_its_file_and_refuses_a_broken_one(tmp_path: Path) -> None:
    done = dnsmasq_test(HOTSPOT / "dnsmasq.conf")
    assert done.returncode == 0 and "syntax check OK" in done.stdout + done.stderr, done.stderr
    broken = tmp_path / "broken.conf"
    broken.write_text((HOTSPOT / "dnsmasq.conf").read_text().replace(
        "dhcp-range=10.42.0.10,", "dhcp-range=10.42.0.10-"))
    assert dnsmasq_test(broken).returncode != 0


def test_every_name_is_the_station_and_phones_leave_little_behind() -> None:
    found = settings(HOTSPOT / "dnsmasq.conf")
    values = dict(found)
    lines = {line.strip() for line in (HOTSPOT / "dnsmasq.conf").read_text().splitlines()}
    assert ("address", f"/#/{STATION}") in found
    assert values["interface"] == "wlan0" and {"no-resolv", "bind-dynamic"} <= lines
    first, last, mask, _lease = values["dhcp-range"].split(",")
    network = ipaddress.ip_network(f"{STATION}/{mask}", strict=False)
    assert ipaddress.ip_address(first) in network and ipaddress.ip_address(last) in network
    assert ipaddress.ip_address(STATION) not in range_of(first, last)
    assert ("dhcp-option", f"option:router,{STATION}") in found
    assert ("dhcp-option", f"option:dns-server,{STATION}") in found
    # No per-phone log line, no phone names, leases in memory only.
    assert {"quiet-dhcp", "dhcp-ignore-names"} <= lines and "log-queries" not in lines
    assert values["dhcp-leasefile"].startswith("/run/")


def range_of(first: str, last: str) -> range:
    return range(int(ipaddress.ip_address(first)), int(ipaddress.ip_address(last)) + 1)


def hostapd_check(conf: Path) -> str:
    """What hostapd says about ``conf``: it parses it whole, then fails on the missing
    Wi-Fi interface (or driver); the words before that are what matters."""
    hostapd = tool("hostapd", "hostapd")
    try:
        done = subprocess.run([hostapd, str(conf)], capture_output=True, text=True,
                              timeout=20, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail("hostapd started an access point: this test must not run where wlan0 "
                    "exists")
    return done.stdout + done.stderr


def test_hostapd_reads_its_file_without_an_error_and_refuses_a_broken_one(
        tmp_path: Path) -> None:
    said = hostapd_check(HOTSPOT / "hostapd.conf")
    assert "errors found in configuration file" not in said, said
    assert not re.search(r"^Line \d+:", said, re.MULTILINE), said
    assert "Configuration file" in said or "nl80211" in said or "wlan0" in said, said
    broken = tmp_path / "broken.conf"
    broken.write_text((HOTSPOT / "hostapd.conf").read_text().replace(
        "wpa_key_mgmt=SAE\n", "wpa_key_mgmt=SAE-AND-MORE\n"))
    said = hostapd_check(broken)
    assert "errors found in configuration file" in said, said
    # The fallback block, uncommented, is valid too.
    fallback = tmp_path / "fallback.conf"
    text = (HOTSPOT / "hostapd.conf").read_text()
    for key in ("wpa_key_mgmt=SAE\n", "ieee80211w=2\n", "sae_require_mfp=1\n"):
        text = text.replace(key, "#" + key)
    text = re.sub(r"^#(wpa_key_mgmt=SAE WPA-PSK|ieee80211w=1|transition_disable=0x01|"
                  r"wpa_passphrase=.*)$", r"\1", text, flags=re.MULTILINE)
    fallback.write_text(text)
    said = hostapd_check(fallback)
    assert "errors found in configuration file" not in said, said


def test_the_wifi_is_wpa3_with_protected_frames_and_isolated_phones() -> None:
    values = dict(settings(HOTSPOT / "hostapd.conf"))
    assert values["wpa"] == "2" and values["wpa_key_mgmt"] == "SAE"
    assert values["ieee80211w"] == "2" and values["rsn_pairwise"] == "CCMP"
    assert values["ap_isolate"] == "1"
    assert "wpa_passphrase" not in values  # no WPA2 unless the fallback is chosen
    assert values["sae_password"].startswith("CHANGE-ME")  # nobody ships a real one
    assert values["interface"] == "wlan0"


def test_port_80_on_the_hotspot_goes_to_the_station(tmp_path: Path) -> None:
    rules = (HOTSPOT / "nftables.conf").read_text()
    unit = (DEPLOY / "reporter-station.service").read_text()
    port = re.search(r"serve --host 0\.0\.0\.0 --port (\d+)", unit)
    assert port is not None
    assert f'iifname "wlan0" tcp dport 80 redirect to :{port.group(1)}' in rules
    assert f"tcp dport {port.group(1)} accept" in rules
    address = (HOTSPOT / "reporter-hotspot-address.service").read_text()
    assert f"ip address replace {STATION}/24 dev wlan0" in address
    assert "interface-name:wlan0" in (HOTSPOT / "NetworkManager.conf").read_text()
    nft = tool("nft", "nftables")
    done = subprocess.run([nft, "-c", "-f", str(HOTSPOT / "nftables.conf")],
                          capture_output=True, text=True, timeout=30, check=False)
    if "Operation not permitted" in done.stderr:
        pytest.skip("nft -c needs CAP_NET_ADMIN here")
    assert done.returncode == 0, done.stderr
    broken = tmp_path / "broken.nft"
    broken.write_text(rules.replace("redirect to :", "redirect too :"))
    assert subprocess.run([nft, "-c", "-f", str(broken)], capture_output=True, text=True,
                          timeout=30, check=False).returncode != 0
