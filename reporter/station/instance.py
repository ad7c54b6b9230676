"""The instance folder: creating a station and unlocking it.

Layout (format ``reporter-station`` v1, see ``docs/instance-format.md``)::

    instance/            mode 0700
      station.json       Argon2id salt and cost, a key check; nothing secret
      station.db         SQLCipher database (+ -wal, -shm while open)

The database key is Argon2id(passphrase, salt), derived once per process and
handed to SQLCipher in raw form. ``station.json`` also keeps a 128-bit check
value of that key, so a wrong passphrase is reported as exactly that, before
SQLCipher is asked to read anything. The check lets an attacker test a guess no
faster than the database's own page MAC already does: each guess still costs
one Argon2id run.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from reporter.errors import InstanceError, InstanceExists
from reporter.formats.crypto import (
    KdfParams,
    StationSigningKey,
    check_new_passphrase,
    derive_key,
    random_bytes,
)
from reporter.station.store import Store
from reporter.storage import passfile
from reporter.storage.durable import fsync_dir, write_atomic

STATION_FILE = "station.json"
DB_FILE = "station.db"
FORMAT = "reporter-station"

SETTING_STATION_ID = "station_id"
SETTING_SIGNING_KEY = "signing_key"
# Stations made before the form tokens (formtoken.py) also hold a
# ``session_secret`` setting, the key of a session cookie the station no
# longer sets: it is never read, and new stations do not have it.


@dataclass(frozen=True)
class StationIdentity:
    """Secrets and names of one station, read from its encrypted database."""

    station_id: bytes
    signing_key: StationSigningKey

    @property
    def station_id_text(self) -> str:
        return self.station_id.hex()


def db_path(instance: Path) -> Path:
    return instance / DB_FILE


def init_instance(instance: Path, passphrase: str, *, kdf_profile: str = "moderate") -> (
        StationIdentity):
    """Create a new station in ``instance``; refuse to touch an existing one.

    The station is built in a staging folder beside ``instance`` and renamed
    into place at the end, so an interrupted ``init`` leaves no half-made
    station behind (only a ``.reporter-init-*`` folder, removed on failure).
    """
    check_new_passphrase(passphrase)
    if (instance / STATION_FILE).exists() or db_path(instance).exists():
        raise InstanceExists(
            f"{instance} already holds a station; use another --instance folder "
            "(reporter never overwrites a station)"
        )
    if instance.exists() and (not instance.is_dir() or any(instance.iterdir())):
        raise InstanceError(f"{instance} exists and is not an empty folder; choose another")
    try:
        instance.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".reporter-init-", dir=instance.parent))
    except OSError as exc:
        raise InstanceError(f"cannot create {instance}: {exc.strerror}") from None
    try:
        identity = _build_station(staging, passphrase, kdf_profile)
        if instance.exists():
            instance.rmdir()  # empty, checked above
        os.rename(staging, instance)
        fsync_dir(instance.parent)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise InstanceError(f"cannot create {instance}: {exc.strerror}") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return identity


def _build_station(folder: Path, passphrase: str, kdf_profile: str) -> StationIdentity:
    os.chmod(folder, 0o700)
    params = KdfParams.new(kdf_profile)
    key = derive_key(passphrase, params)
    identity = StationIdentity(
        station_id=random_bytes(16),
        signing_key=StationSigningKey.generate(),
    )
    old_umask = os.umask(0o077)
    try:
        with Store.open(db_path(folder), key, create=True) as store:
            store.set_setting(SETTING_STATION_ID, identity.station_id)
            store.set_setting(SETTING_SIGNING_KEY, identity.signing_key.seed())
        write_atomic(folder / STATION_FILE, passfile.render(FORMAT, params, key))
    finally:
        os.umask(old_umask)
    return identity


def read_instance_file(instance: Path) -> passfile.PassFile:
    path = instance / STATION_FILE
    if not instance.is_dir():
        raise InstanceError(
            f"no instance folder at {instance}; run 'reporter init' or pass --instance"
        )
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        if db_path(instance).exists():
            raise InstanceError(
                f"{path} is missing but a database is there: the instance is incomplete "
                "(an interrupted 'reporter init'?). Restore it from a backup."
            ) from None
        raise InstanceError(f"{instance} holds no station; run 'reporter init' first") from None
    except OSError as exc:
        raise InstanceError(f"cannot read {path}: {exc.strerror}") from None
    return passfile.parse(path, data, FORMAT, InstanceError)


def unlock(instance: Path, passphrase: str) -> bytes:
    """Derive the database key; ``WrongPassphrase`` if it is not this station's."""
    key = read_instance_file(instance).unlock(passphrase, "this station")
    if not db_path(instance).is_file():
        raise InstanceError(f"the station database {db_path(instance)} is missing")
    return key


def open_store(instance: Path, key: bytes) -> Store:
    return Store.open(db_path(instance), key)


def load_identity(store: Store) -> StationIdentity:
    return StationIdentity(
        station_id=store.require_setting(SETTING_STATION_ID),
        signing_key=StationSigningKey(store.require_setting(SETTING_SIGNING_KEY)),
    )
