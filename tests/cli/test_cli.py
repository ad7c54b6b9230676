"""The ``reporter`` command, as an operator and a reviewer use it."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from reporter.cli.main import main
from reporter.formats import keyfile
from reporter.formats.crypto import RecipientPrivateKey
from reporter.station.instance import open_store, unlock
from tests.conftest import PASSPHRASE, Station

KEY_PASSPHRASE = "reviewer key passphrase"


class Result:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("REPORTER_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("REPORTER_KEY_PASSPHRASE", KEY_PASSPHRASE)
    monkeypatch.setenv("REPORTER_INSTANCE", str(tmp_path / "instance"))

    def _run(*args: str) -> Result:
        capsys.readouterr()
        try:
            code = main(list(args)) or 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return _run


def test_init_keygen_add_and_status(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run("init")
    assert result.code == 0, result.err
    assert "Station signing key: reporterstation1" in result.out

    keygen = run("keygen", "--out", str(tmp_path / "alice.key"))
    assert keygen.code == 0, keygen.err
    public = keygen.out.strip()
    assert public.startswith("reporter1") and "\n" not in public
    assert "Fingerprint" in keygen.err
    assert stat.S_IMODE(os.stat(tmp_path / "alice.key").st_mode) == 0o600
    private = keyfile.load((tmp_path / "alice.key").read_bytes(), KEY_PASSPHRASE)
    assert private.public_key.to_text() == public

    added = run("recipients", "add", "Alice (coalition)", public)
    assert added.code == 0
    assert private.public_key.fingerprint() in added.out
    listed = run("recipients", "list")
    assert "Alice (coalition)" in listed.out and public in listed.out

    assert run("sites", "add", "Marange").code == 0
    assert run("sites", "list").out.strip() == "Marange"

    status = run("status")
    assert status.code == 0
    assert "Reports held:     0" in status.out
    assert "Recipients:       1" in status.out
    assert "Hash chain:       verified" in status.out


def test_a_mistyped_public_key_is_refused(run) -> None:  # type: ignore[no-untyped-def]
    run("init")
    good = RecipientPrivateKey.generate().public_key.to_text()
    typo = good[:20] + ("q" if good[20] != "q" else "p") + good[21:]
    result = run("recipients", "add", "Bob", typo)
    assert result.code == 1
    assert result.err.startswith("error: not a valid reviewer public key")
    assert "checksum" in result.err
    assert run("recipients", "list").out.startswith("No recipients yet")


def test_a_wrong_passphrase_exits_1_and_says_so(run, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    run("init")
    monkeypatch.setenv("REPORTER_PASSPHRASE", "not the right passphrase")
    result = run("status")
    assert result.code == 1
    assert result.err == "error: wrong passphrase for this station\n"


def test_no_passphrase_and_no_terminal_says_where_to_put_one(run, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("REPORTER_PASSPHRASE")
    result = run("init")
    assert result.code == 1
    assert "REPORTER_PASSPHRASE" in result.err and "--passphrase-file" in result.err


def test_passphrase_file(run, monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("REPORTER_PASSPHRASE")
    secret = tmp_path / "passphrase"
    secret.write_text(PASSPHRASE + "\n")
    assert run("--passphrase-file", str(secret), "init").code == 0
    assert run("--passphrase-file", str(secret), "status").code == 0
    assert unlock(tmp_path / "instance", PASSPHRASE)


def test_serve_refuses_without_a_recipient(run) -> None:  # type: ignore[no-untyped-def]
    run("init")
    result = run("serve", "--port", "1")
    assert result.code == 1
    assert "reporter recipients add" in result.err


def test_init_refuses_an_existing_station(run) -> None:  # type: ignore[no-untyped-def]
    assert run("init").code == 0
    result = run("init")
    assert result.code == 1 and "already holds a station" in result.err


def test_keygen_never_overwrites(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "k.key"
    out.write_text("precious")
    result = run("keygen", "--out", str(out))
    assert result.code == 1 and "already exists" in result.err
    assert out.read_text() == "precious"


def test_missing_instance(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run("--instance", str(tmp_path / "none"), "status")
    assert result.code == 1 and "reporter init" in result.err


def test_removing_a_recipient(run, station: Station) -> None:  # type: ignore[no-untyped-def]
    assert run("--instance", str(station.path), "recipients", "remove", "reviewer").code == 0
    with open_store(station.path, station.key) as store:
        assert store.recipients() == []
    result = run("--instance", str(station.path), "recipients", "remove", "reviewer")
    assert result.code == 1 and "recipients list" in result.err


def test_usage_errors_exit_2(run) -> None:  # type: ignore[no-untyped-def]
    assert run("recipients", "add", "only-a-name").code == 2
    assert run("no-such-command").code == 2


@pytest.mark.parametrize("args", [
    ["status"],
    ["recipients", "add", "x", "garbage"],
    ["keygen", "--out", "/nonexistent-dir/k.key"],
    ["init"],
])
def test_the_real_command_never_prints_a_traceback(tmp_path: Path, args: list[str]) -> None:
    env = {**os.environ, "REPORTER_INSTANCE": str(tmp_path / "instance"),
           "REPORTER_PASSPHRASE": "short", "REPORTER_KEY_PASSPHRASE": KEY_PASSPHRASE}
    result = subprocess.run([sys.executable, "-m", "reporter", *args], capture_output=True,
                            text=True, env=env, timeout=60)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stderr.startswith("error: ")


def test_output_piped_into_head_is_not_an_error(tmp_path: Path) -> None:
    env = {**os.environ, "REPORTER_INSTANCE": str(tmp_path / "none")}
    # `reporter --help | head -1`: the reader goes away before the writer is done.
    writer = subprocess.Popen([sys.executable, "-m", "reporter", "recipients", "--help"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert writer.stdout is not None
    writer.stdout.read(5)
    writer.stdout.close()
    _, err = writer.communicate(timeout=60)
    assert b"Traceback" not in err and b"BrokenPipe" not in err


def test_status_counts_attachments_never_shows_them(run, station: Station,  # type: ignore[no-untyped-def]
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import add_report_with_attachments

    monkeypatch.setenv("REPORTER_INSTANCE", str(station.path))
    assert "Attachments" not in run("status").out
    add_report_with_attachments(station, [("a.pdf", b"%PDF-1.7\n" + b"x" * 5000),
                                          ("b.pdf", b"%PDF-1.7\n" + b"y" * 50)])
    out = run("status").out
    # 5120 + 4096 bytes once padded, plus headers and tags
    assert "Attachments:      2 (9318 bytes of ciphertext)" in out
    assert "a.pdf" not in out


def test_status_does_not_count_follow_ups_as_reports(run, station: Station,  # type: ignore[no-untyped-def]
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 11, section 4: status said "Reports held: 2" for a report and its follow-up.
    It says both kinds are counted together, and why it cannot count them apart: a
    follow-up leaves nothing in the station database but its row, same as a first
    report (a per-kind counter would mark each row's kind; SECURITY.md)."""
    from reporter.station.intake import accept, build_report

    monkeypatch.setenv("REPORTER_INSTANCE", str(station.path))

    def tables() -> dict[str, list[object]]:
        with station.store() as store:
            db = store._db
            names = [r[0] for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
            return {n: db.execute(f"SELECT * FROM {n}").fetchall()  # noqa: S608
                    for n in names if n != "reports"}

    def send(report):  # type: ignore[no-untyped-def]
        with station.store() as store:
            accept(report, [r.public_key for r in store.recipients()],
                   lambda e: store.append_report(e, station.station_id))

    first = build_report({"description": "first", "incident_types": ["other"]}, "en")
    send(first)
    before = tables()
    send(build_report({"description": "more"}, "en", follows=first.receipt))
    assert tables() == before
    out = run("status").out
    assert ("Reports held:     2 (first reports and follow-ups together: the station cannot "
            "tell them apart; reviewers' 'review stats' counts them apart)") in out


def _fill_recipients(station: Station, total: int) -> None:
    with station.store() as store:
        for i in range(len(store.recipients()), total):
            store.add_recipient(f"reviewer {i}", RecipientPrivateKey.generate().public_key)


def test_the_65th_recipient_is_refused(run, station: Station) -> None:  # type: ignore[no-untyped-def]
    """An envelope is sealed to at most 64 keys: a 65th would make every submission fail."""
    _fill_recipients(station, 64)
    extra = RecipientPrivateKey.generate().public_key.to_text()
    result = run("--instance", str(station.path), "recipients", "add", "one too many", extra)
    assert result.code == 1
    assert "64" in result.err and "recipients remove" in result.err
    assert "Traceback" not in result.err
    with station.store() as store:
        assert len(store.recipients()) == 64


def test_serve_refuses_a_station_with_more_than_64_recipients(run, station: Station) -> None:  # type: ignore[no-untyped-def]
    """A list grown past 64 by an older version is caught when the station starts."""
    _fill_recipients(station, 64)
    with station.store() as store, store._write() as db:
        db.execute("INSERT INTO recipients (name, public_key) VALUES (?, ?)",
                   ("added by an older version", RecipientPrivateKey.generate().public_key.raw))
    with socket.socket() as taken:  # were the check missing, serve would fail here, not hang
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = run("--instance", str(station.path), "serve", "--port", port)
    assert result.code == 1
    assert "65 reviewer keys" in result.err and "recipients remove" in result.err


def test_a_flipped_byte_in_station_db_says_damaged_not_unexpected(  # type: ignore[no-untyped-def]
        run, station: Station) -> None:
    from tests.conftest import add_reports
    from tests.storage.test_sqlc import flip_every_page_but_the_first

    add_reports(station, 50, text="x" * 400)
    with station.store() as store:
        store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    flip_every_page_but_the_first(station.path / "station.db")
    for args in (["status"], ["export", "--out", str(station.path.parent / "b.rptr")]):
        result = run("--instance", str(station.path), *args)
        assert result.code == 1, (args, result.err)
        assert "damaged or was altered" in result.err and "backup" in result.err
        assert "unexpected" not in result.err
