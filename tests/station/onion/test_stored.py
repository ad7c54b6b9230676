"""The onion key and clients inside the encrypted station database."""

from __future__ import annotations

import pytest

from reporter.errors import OnionClientError, StoreError
from reporter.station.onion import stored
from tests.conftest import Station


def test_the_key_is_made_once_and_kept(station: Station) -> None:
    with station.store() as store:
        assert stored.onion_key(store) is None
        key, new = stored.ensure_onion_key(store)
        assert new
    with station.store() as store:
        again, new = stored.ensure_onion_key(store)
        assert not new and again.expanded() == key.expanded()


def test_rotation_replaces_the_key(station: Station) -> None:
    with station.store() as store:
        first, _ = stored.ensure_onion_key(store)
        old, new = stored.rotate_onion_key(store)
    assert old is not None and old.address == first.address
    assert new.address != first.address
    with station.store() as store:
        kept = stored.onion_key(store)
        assert kept is not None and kept.expanded() == new.expanded()


def test_the_key_is_not_in_the_files_in_any_form(station: Station) -> None:
    with station.store() as store:
        key, _ = stored.ensure_onion_key(store)
    forms = [key.expanded(), key.to_tor().encode(), key.service_id.encode(),
             key.service_id.upper().encode(), key.public_key]
    for path in station.path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(form in data for form in forms), path


def test_clients_are_added_listed_and_removed(station: Station) -> None:
    with station.store() as store:
        amina, amina_key = stored.add_client(store, "  Amina   phone ")
        bob, _ = stored.add_client(store, "Bob")
        assert amina.name == "Amina phone"
        assert amina.public_key == amina_key.public_key
        with pytest.raises(OnionClientError, match="already exists"):
            stored.add_client(store, "Bob")
    with station.store() as store:
        assert stored.clients(store) == [amina, bob]
        stored.remove_client(store, "Amina phone")
        assert stored.clients(store) == [bob]
        with pytest.raises(OnionClientError, match="no client named"):
            stored.remove_client(store, "Amina phone")
        # Settings that are not clients are never listed as clients.
        stored.ensure_onion_key(store)
        assert [c.name for c in stored.clients(store)] == ["Bob"]


def test_only_the_public_half_of_a_client_key_is_stored(station: Station) -> None:
    with station.store() as store:
        _, private = stored.add_client(store, "Amina")
        values = [v for _, v in store.settings_named("")]
    secret = private.to_text()
    assert private.public_key.raw in values
    assert not any(secret.encode() in v for v in values)


def test_client_names_follow_the_stations_rules(station: Station) -> None:
    with station.store() as store:
        for bad in ("", "   ", "a\x1bb", "x" * 201):
            with pytest.raises(StoreError):
                stored.add_client(store, bad)


def test_a_station_admits_a_bounded_number_of_clients(station: Station,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stored, "MAX_CLIENTS", 3)
    with station.store() as store:
        for i in range(3):
            stored.add_client(store, f"c{i}")
        with pytest.raises(OnionClientError, match="at most 3"):
            stored.add_client(store, "c3")
