"""The onion key and its address, and client keys: what tor computes, computed here.

The vectors were made by tor 0.4.9.11 itself (``ADD_ONION NEW:ED25519-V3``
answered ``ServiceID`` and ``PrivateKey``): the station, which makes its own
keys and shows the address without asking tor, must agree with tor on them.
tests/station/onion/test_tor.py checks the same against a live tor for
keys made here.
"""

from __future__ import annotations

import base64
import re

import nacl.bindings as sodium
import pytest

from reporter.errors import ConfigError, OnionClientError
from reporter.station.onion.keys import (
    ClientPrivateKey,
    ClientPublicKey,
    OnionKey,
    public_key_of,
    service_id_for,
)

# (PrivateKey, ServiceID) pairs from tor 0.4.9.11.
TOR_MADE = [
    ("ED25519-V3:sL8lo1WwfB6u+G4JLWq3kdF3fGhRs7MvQ3jbFIc4KUEEUAuW+5XeHHnn4DEIIozrsp+C66ctDefj"
     "scyJS6qSJw==", "hbgygb7kvylafmhuryuaf33qw7rplqr3vq2mcbqpzh2j44wwpnc773ad"),
    ("ED25519-V3:QN2AVxn8GJduMxJbz/veKRPTEowdfLwVzjjmZpg7YnV3oSt921LIiZyczvUs17+7ytbRfQN4SoJN"
     "bvfAeIj1NA==", "rfuapo4mhmqrtm3vh47n2yuj6zehppl2gua7tiligl2rlutppbize7qd"),
    ("ED25519-V3:EBrFbYK2D26fH7JgPiD8h0OA8upbAhBUcCO46jBJZWGw++0x0PB++6en6GVcJmCVZTzRG3amfz81"
     "npDlW/AQOw==", "pw33m37mzvyuzwjjrpn4q6bxiiquv6vysngmhxc2z2hll66xxvlltyqd"),
]


@pytest.mark.parametrize(("blob", "service_id"), TOR_MADE)
def test_tors_keys_give_tors_addresses(blob: str, service_id: str) -> None:
    key = OnionKey.from_tor(blob)
    assert key.service_id == service_id
    assert key.address == service_id + ".onion"
    assert key.url == f"http://{service_id}.onion/"
    assert key.to_tor() == blob
    assert public_key_of(key.address) == key.public_key


def test_a_new_key_is_expanded_and_clamped_as_tors_own() -> None:
    key = OnionKey.generate()
    raw = key.expanded()
    assert len(raw) == 64 and raw[0] & 7 == 0 and raw[31] & 0xC0 == 0x40
    # The address is the public key of the scalar, as Ed25519 signing would use it.
    assert key.public_key == sodium.crypto_scalarmult_ed25519_base_noclamp(raw[:32])
    assert len(key.service_id) == 56 and key.service_id.endswith("d")  # version 3
    assert OnionKey.generate().service_id != key.service_id


def test_the_address_checksum_catches_a_mistyped_character() -> None:
    service_id = TOR_MADE[0][1]
    public_key_of(service_id)
    public_key_of(f"http://{service_id.upper()}.onion/")
    for wrong in (service_id[:10] + ("a" if service_id[10] != "a" else "b") + service_id[11:],
                  service_id[:-1] + "c", service_id[:55], service_id + "a"):
        with pytest.raises(ConfigError, match="not a v3 onion address"):
            public_key_of(wrong)


@pytest.mark.parametrize("raw", [b"\x00" * 63, b"\x01" + b"\x00" * 30 + b"\x40" + b"\x00" * 32,
                                 b"\x00" * 31 + b"\x80" + b"\x00" * 32])
def test_a_key_that_is_not_tors_form_is_refused(raw: bytes) -> None:
    with pytest.raises(ValueError):
        OnionKey(raw)
    with pytest.raises(ValueError):
        OnionKey.from_tor("ED25519-V3:" + base64.b64encode(raw).decode())
    with pytest.raises(ValueError):
        OnionKey.from_tor("RSA1024:" + TOR_MADE[0][0].split(":")[1])


def test_the_secret_is_never_in_a_repr() -> None:
    key = OnionKey.from_tor(TOR_MADE[0][0])
    assert repr(key) == f"OnionKey({TOR_MADE[0][1]}.onion)"
    assert TOR_MADE[0][0].split(":")[1][:20] not in repr(key)
    client = ClientPrivateKey.generate()
    assert client.to_text() not in repr(client)


def test_client_keys_round_trip_between_their_text_forms() -> None:
    private = ClientPrivateKey.generate()
    text = private.to_text()
    assert re.fullmatch(r"[A-Z2-7]{52}", text)
    public = private.public_key
    # The public half tor is given is X25519 of the private half the monitor holds.
    assert public.raw == sodium.crypto_scalarmult_base(base64.b32decode(text + "===="))
    assert ClientPublicKey.from_text(public.to_tor()) == public
    assert ClientPublicKey.from_text("descriptor:x25519:" + public.to_tor().lower()) == public
    assert ClientPrivateKey(base64.b32decode(text + "====")).public_key == public
    service_id = TOR_MADE[0][1]
    assert private.auth_line(service_id) == f"{service_id}:descriptor:x25519:{text}"


@pytest.mark.parametrize("text", ["", "A" * 51, "A" * 53, "1" * 52, "A" * 51 + "="])
def test_a_malformed_client_key_is_refused(text: str) -> None:
    with pytest.raises(OnionClientError, match="52 characters of base32"):
        ClientPublicKey.from_text(text)


def test_service_ids_need_32_byte_keys() -> None:
    with pytest.raises(ValueError):
        service_id_for(b"\x00" * 31)
