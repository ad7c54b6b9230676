"""The bundle commands end to end: export, verify, review import, gaps, purge."""

from __future__ import annotations

from pathlib import Path

from reporter.formats import keyfile
from reporter.formats.crypto import KdfParams, RecipientPrivateKey
from tests.conftest import Station, add_reports
from tests.reviewing import KEY_PASSPHRASE


def test_the_whole_journey(run, station: Station, key_file: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    add_reports(station, 3)
    code, out, _ = run("export", "--out", str(tmp_path / "1.rptr"))
    assert code == 0 and "Bundle 1 written" in out and "reports 1-3 (3)" in out
    code, out, err = run("export", "--out", str(tmp_path / "2.rptr"))
    assert code == 0 and "no new report since bundle 1" in err
    assert not (tmp_path / "2.rptr").exists()

    code, out, _ = run("verify", str(tmp_path / "1.rptr"), "--key", str(key_file))
    assert code == 0 and ": OK" in out and "hash chain verified" in out

    code, out, _ = run("station-key")
    fingerprint = out.split("Fingerprint: ")[1].strip()
    code, out, _ = run("review", "import", str(tmp_path / "1.rptr"), "--key", str(key_file))
    assert code == 0 and "3 reports added" in out and fingerprint in out
    code, out, _ = run("review", "import", str(tmp_path / "1.rptr"), "--key", str(key_file))
    assert code == 0 and "already imported; nothing added" in out
    code, out, _ = run("review", "gaps")
    assert "missing bundles: none" in out and "missing reports: none" in out

    code, out, _ = run("purge", "--through", "1", "--yes")
    assert code == 0 and "Erased 3 reports" in out
    code, out, _ = run("status")
    assert "Reports held:     0" in out and "Reports purged:   3" in out


def test_a_tampered_bundle_is_named_and_refused(run, station: Station, key_file: Path,  # type: ignore[no-untyped-def]
                                                tmp_path: Path) -> None:
    add_reports(station, 1)
    run("export", "--out", str(tmp_path / "1.rptr"))
    path = tmp_path / "1.rptr"
    data = bytearray(path.read_bytes())
    data[300] ^= 0x40
    path.write_bytes(bytes(data))
    code, _, err = run("verify", str(path), "--key", str(key_file))
    assert code == 1 and err.startswith(f"error: {path}: the bundle was altered")
    code, _, err = run("review", "import", str(path), "--key", str(key_file))
    assert code == 1 and str(path) in err and "altered" in err and "1 of 1 bundles" in err


def test_a_key_that_is_not_a_recipient_gets_its_fingerprint(run, station: Station,  # type: ignore[no-untyped-def]
                                                            tmp_path: Path) -> None:
    add_reports(station, 1)
    run("export", "--out", str(tmp_path / "1.rptr"))
    stranger = RecipientPrivateKey.generate()
    other = tmp_path / "stranger.key"
    other.write_bytes(keyfile.dump(stranger, KEY_PASSPHRASE, KdfParams.new()))
    code, _, err = run("verify", str(tmp_path / "1.rptr"), "--key", str(other))
    assert code == 1
    assert "not addressed to this key" in err and stranger.public_key.fingerprint() in err


def test_verify_against_an_expected_station_key(run, station: Station, key_file: Path,  # type: ignore[no-untyped-def]
                                                tmp_path: Path) -> None:
    from reporter.formats.crypto import StationSigningKey

    add_reports(station, 1)
    run("export", "--out", str(tmp_path / "1.rptr"))
    wrong = StationSigningKey.generate().verify_key.to_text()
    code, _, err = run("verify", str(tmp_path / "1.rptr"), "--key", str(key_file),
                       "--station-key", wrong)
    assert code == 1 and "not the expected" in err


def test_a_wrong_review_passphrase_says_so(run, station: Station, key_file: Path,  # type: ignore[no-untyped-def]
                                           tmp_path: Path, monkeypatch) -> None:
    add_reports(station, 1)
    run("export", "--out", str(tmp_path / "1.rptr"))
    run("review", "import", str(tmp_path / "1.rptr"), "--key", str(key_file))
    monkeypatch.setenv("REPORTER_REVIEW_PASSPHRASE", "not the right one at all")
    code, _, err = run("review", "gaps")
    assert code == 1 and err == "error: wrong passphrase for this review database\n"


def test_purge_of_an_unknown_bundle(run, station: Station) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run("purge", "--through", "4", "--yes")
    assert code == 1 and "never exported" in err
