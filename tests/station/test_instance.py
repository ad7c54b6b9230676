"""Creating and unlocking a station's instance folder."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from reporter.errors import (
    DatabaseUnreadable,
    InstanceError,
    InstanceExists,
    PassphraseError,
    WrongPassphrase,
)
from reporter.station.instance import (
    DB_FILE,
    STATION_FILE,
    init_instance,
    load_identity,
    open_store,
    read_instance_file,
    unlock,
)
from tests.conftest import PASSPHRASE


def test_init_creates_a_private_folder_with_only_the_expected_files(tmp_path: Path) -> None:
    path = tmp_path / "instance"
    init_instance(path, PASSPHRASE)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
    assert {STATION_FILE, DB_FILE} <= set(os.listdir(path))
    for name in os.listdir(path):
        assert stat.S_IMODE(os.stat(path / name).st_mode) & 0o077 == 0, name


def test_the_station_file_holds_nothing_secret(tmp_path: Path) -> None:
    path = tmp_path / "instance"
    identity = init_instance(path, PASSPHRASE)
    text = (path / STATION_FILE).read_text()
    document = json.loads(text)
    assert set(document) == {"format", "version", "kdf", "key_check"}
    assert identity.station_id.hex() not in text
    assert PASSPHRASE not in text


def test_unlock_and_read_the_identity_back(tmp_path: Path) -> None:
    path = tmp_path / "instance"
    identity = init_instance(path, PASSPHRASE)
    with open_store(path, unlock(path, PASSPHRASE)) as store:
        again = load_identity(store)
    assert again.station_id == identity.station_id
    assert again.signing_key.seed() == identity.signing_key.seed()
    # No session secret: the station sets no cookie (SECURITY.md, "The web pages").
    with open_store(path, unlock(path, PASSPHRASE)) as store:
        assert store.get_setting("session_secret") is None


def test_a_wrong_passphrase_is_named_exactly(tmp_path: Path) -> None:
    path = tmp_path / "instance"
    init_instance(path, PASSPHRASE)
    with pytest.raises(WrongPassphrase, match="wrong passphrase for this station"):
        unlock(path, PASSPHRASE + "!")


def test_init_never_overwrites_a_station(tmp_path: Path) -> None:
    path = tmp_path / "instance"
    init_instance(path, PASSPHRASE)
    before = (path / DB_FILE).read_bytes()
    with pytest.raises(InstanceExists):
        init_instance(path, "another long passphrase")
    assert (path / DB_FILE).read_bytes() == before


def test_a_short_passphrase_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PassphraseError, match="at least 12"):
        init_instance(tmp_path / "instance", "short")
    assert not (tmp_path / "instance").exists()


def test_a_missing_instance_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(InstanceError, match="reporter init"):
        unlock(tmp_path / "nowhere", PASSPHRASE)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InstanceError, match="reporter init"):
        unlock(tmp_path / "empty", PASSPHRASE)


def test_an_instance_missing_its_station_file_is_called_incomplete(tmp_path: Path) -> None:
    path = tmp_path / "instance"
    init_instance(path, PASSPHRASE)
    (path / STATION_FILE).unlink()
    with pytest.raises(InstanceError, match="incomplete"):
        unlock(path, PASSPHRASE)


@pytest.mark.parametrize("damage", [
    lambda d: "not json at all",
    lambda d: json.dumps({**d, "format": "something-else"}),
    lambda d: json.dumps({**d, "version": 99}),
    lambda d: json.dumps({**d, "key_check": "@@@"}),
    lambda d: json.dumps({**d, "kdf": {**d["kdf"], "memlimit": 2**60}}),
    lambda d: json.dumps({**d, "kdf": {**d["kdf"], "salt": "c2hvcnQ="}}),
    lambda d: json.dumps({**d, "kdf": {**d["kdf"], "comment": "an unknown fifth key"}}),
])
def test_a_damaged_station_file_is_refused_clearly(tmp_path: Path, damage) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "instance"
    init_instance(path, PASSPHRASE)
    document = json.loads((path / STATION_FILE).read_text())
    (path / STATION_FILE).write_text(damage(document))
    with pytest.raises(InstanceError):
        read_instance_file(path)


def test_a_damaged_database_is_not_called_a_wrong_passphrase(tmp_path: Path) -> None:
    path = tmp_path / "instance"
    init_instance(path, PASSPHRASE)
    key = unlock(path, PASSPHRASE)
    for suffix in ("-wal", "-shm"):
        (path / (DB_FILE + suffix)).unlink(missing_ok=True)
    (path / DB_FILE).write_bytes(os.urandom(8192))
    with pytest.raises(DatabaseUnreadable, match="damaged"):
        open_store(path, key)


def test_an_interrupted_init_leaves_nothing_behind(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from reporter.station import instance as instance_module

    def power_cut(*_args: object, **_kwargs: object) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(instance_module, "write_atomic", power_cut)
    with pytest.raises(InstanceError, match="Input/output error"):
        init_instance(tmp_path / "instance", PASSPHRASE)
    assert os.listdir(tmp_path) == []
    monkeypatch.undo()
    init_instance(tmp_path / "instance", PASSPHRASE)  # and it can be run again
    assert unlock(tmp_path / "instance", PASSPHRASE)


def test_init_into_an_existing_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "instance").mkdir()
    init_instance(tmp_path / "instance", PASSPHRASE)
    assert (tmp_path / "instance" / STATION_FILE).exists()


def test_init_refuses_a_folder_with_other_files(tmp_path: Path) -> None:
    (tmp_path / "instance").mkdir()
    (tmp_path / "instance" / "notes.txt").write_text("mine")
    with pytest.raises(InstanceError, match="not an empty folder"):
        init_instance(tmp_path / "instance", PASSPHRASE)
