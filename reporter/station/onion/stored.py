"""What the station database holds for the onion service.

* ``onion_key``: the service's expanded Ed25519 secret key (64 bytes), made
  on first use and replaced by ``reporter onion rotate``. It lives only
  inside the SQLCipher database, beside the station's signing key: a seized
  disk without the passphrase does not give the address away, and the
  address survives restarts (tor is handed the key at each start and never
  writes it down: the service is ephemeral).
* ``onion_client:NAME``: the X25519 **public** key of each client a
  restricted station admits. The private key is printed once, for the
  monitor, and not kept: whoever unlocks the station cannot reach it as
  one of its monitors, and a lost key is replaced by removing the client
  and adding it again.

Settings rows, not a table of their own: no schema migration for two kinds
of value the station reads once at start.
"""

from __future__ import annotations

from dataclasses import dataclass

from reporter.errors import OnionClientError
from reporter.station.onion.keys import ClientPrivateKey, ClientPublicKey, OnionKey
from reporter.station.store import Store, clean_name

SETTING_ONION_KEY = "onion_key"
CLIENT_PREFIX = "onion_client:"
# Each client adds an entry to the service's descriptor, which tor caps at
# 50 KB; a hundred is far below that and above any coalition's need.
MAX_CLIENTS = 100


@dataclass(frozen=True)
class OnionClient:
    name: str
    public_key: ClientPublicKey


def onion_key(store: Store) -> OnionKey | None:
    """The stored key, or None if this station never had an onion address."""
    value = store.get_setting(SETTING_ONION_KEY)
    return None if value is None else OnionKey(value)


def ensure_onion_key(store: Store) -> tuple[OnionKey, bool]:
    """The stored key, made and stored now if there is none; and whether it is new."""
    key = onion_key(store)
    if key is not None:
        return key, False
    key = OnionKey.generate()
    store.set_setting(SETTING_ONION_KEY, key.expanded())
    return key, True


def rotate_onion_key(store: Store) -> tuple[OnionKey | None, OnionKey]:
    """Replace the key (so the address); return the old one (None if there was none) and
    the new one."""
    old = onion_key(store)
    new = OnionKey.generate()
    store.set_setting(SETTING_ONION_KEY, new.expanded())
    return old, new


def clients(store: Store) -> list[OnionClient]:
    """The clients a restricted station admits, by name; empty for an open station."""
    return [OnionClient(name.removeprefix(CLIENT_PREFIX), ClientPublicKey(value))
            for name, value in store.settings_named(CLIENT_PREFIX)]


def add_client(store: Store, name: str) -> tuple[OnionClient, ClientPrivateKey]:
    """Admit a new client: its key pair is made here; only the public half is stored."""
    name = clean_name(name, "client")
    existing = clients(store)
    if any(c.name == name for c in existing):
        raise OnionClientError(
            f"a client named {name!r} already exists; 'reporter onion clients remove "
            f"{name}' first to give them a new key")
    if len(existing) >= MAX_CLIENTS:
        raise OnionClientError(f"a station admits at most {MAX_CLIENTS} clients; remove one "
                               "first with 'reporter onion clients remove NAME'")
    private = ClientPrivateKey.generate()
    client = OnionClient(name, private.public_key)
    store.set_setting(CLIENT_PREFIX + name, client.public_key.raw)
    return client, private


def remove_client(store: Store, name: str) -> None:
    if not store.delete_setting(CLIENT_PREFIX + " ".join(name.split())):
        raise OnionClientError(
            f"no client named {name!r}; 'reporter onion clients list' shows the names")
