"""Whom a bundle is sealed to, through the real commands: the operator's
``recipients add`` on one side, ``verify`` / ``review import`` / ``review
recipients`` on the other (the look-alike-name attack of issue 10, item 10)."""

from __future__ import annotations

from pathlib import Path

from reporter.formats.crypto import RecipientPrivateKey
from tests.conftest import Station, add_reports


def export(run, station: Station, tmp_path: Path, number: int) -> Path:  # type: ignore[no-untyped-def]
    add_reports(station, 1, text=f"bundle {number}")
    out = tmp_path / f"{number}.rptr"
    code, _, err = run("export", "--out", str(out))
    assert code == 0, err
    return out


def test_verify_and_import_name_every_recipient(run, station: Station, key_file: Path,  # type: ignore[no-untyped-def]
                                                tmp_path: Path) -> None:
    zoe = RecipientPrivateKey.generate()
    assert run("recipients", "add", "Zoë Ndlovu\u202e", zoe.public_key.to_text())[0] == 0
    add_reports(station, 1)
    run("export", "--out", str(tmp_path / "1.rptr"))
    mine = station.reviewer.public_key.fingerprint()
    code, out, _ = run("verify", str(tmp_path / "1.rptr"), "--key", str(key_file))
    assert code == 0
    assert "  sealed to 2 recipients (names as the station's list gives them):" in out
    assert f"    reviewer     {mine}  (your key)\n" in out
    assert f"    Zoë Ndlovu\ufffd  {zoe.public_key.fingerprint()}\n" in out  # bidi cleaned
    code, out, err = run("review", "import", str(tmp_path / "1.rptr"), "--key", str(key_file))
    assert code == 0 and "WARNING" not in err
    assert zoe.public_key.fingerprint() in out and f"{mine}  (your key)" in out
    assert "these recipients are now pinned for station" in out


def test_a_look_alike_key_is_shown_loudly_until_accepted(run, station: Station,  # type: ignore[no-untyped-def]
                                                          key_file: Path,
                                                          tmp_path: Path) -> None:
    key = ("--key", str(key_file))
    assert run("review", "import", str(export(run, station, tmp_path, 1)), *key)[0] == 0

    # Whoever holds the station's passphrase adds their own key under a look-alike name.
    mallory = RecipientPrivateKey.generate()
    assert run("recipients", "add", "revlewer", mallory.public_key.to_text())[0] == 0
    second = export(run, station, tmp_path, 2)
    code, out, err = run("verify", str(second), *key)
    assert code == 0 and f"revlewer  {mallory.public_key.fingerprint()}" in out

    code, out, err = run("review", "import", str(second), *key)
    assert code == 3  # imported, but a decision is waiting
    assert "bundle 2 of station" in out and "1 report added" in out
    short = station.station_id.hex()[:8]
    assert (f"SECURITY WARNING: bundle 2 of station {short} is sealed to other keys than the "
            "ones pinned for it (from bundle 1):") in err
    assert f"  added:   revlewer  {mallory.public_key.fingerprint()}" in err
    assert f"reporter review recipients accept {short} --bundle 2" in err
    assert err.rstrip().endswith("nothing is pinned until you accept the change ('reporter "
                                 "review recipients')")

    # Every command reminds the reviewer; the reports are there to read.
    code, out, err = run("review", "list")
    assert code == 0 and "bundle 2" in out
    assert f"WARNING: station {short}: bundle 2 is sealed to other keys than the pinned " \
           "ones, and the change is not accepted" in err
    code, out, _ = run("review", "recipients")
    assert code == 0 and "NOT ACCEPTED: bundle 2" in out and "revlewer" in out

    # The same keys in the next bundle: still a change, still loud.
    code, _, err = run("review", "import", str(export(run, station, tmp_path, 3)), *key)
    assert code == 3 and "SECURITY WARNING: bundle 3" in err

    # Accepting needs a confirmation (or --yes), then pins, and settles bundle 3 too.
    code, _, err = run("review", "recipients", "accept", short)
    assert code == 1 and "needs a confirmation" in err
    code, out, err = run("review", "recipients", "accept", short, "--yes")
    assert code == 0, err
    assert f"Pinned the recipients of bundle 2 for station {short}" in out
    assert "The same set settles bundle 3." in out
    code, out, err = run("review", "import", str(export(run, station, tmp_path, 4)), *key)
    assert code == 0 and "WARNING" not in err
    assert "WARNING" not in run("review", "gaps")[2]

    # A key that disappears is a change as well.
    assert run("recipients", "remove", "reviewer")[0] == 0
    assert run("recipients", "add", "reviewer (new laptop)",
               RecipientPrivateKey.generate().public_key.to_text())[0] == 0
    assert run("recipients", "add", "reviewer", station.reviewer.public_key.to_text())[0] == 0
    assert run("recipients", "remove", "revlewer")[0] == 0
    code, _, err = run("review", "import", str(export(run, station, tmp_path, 5)), *key)
    assert code == 3 and f"  removed: revlewer  {mallory.public_key.fingerprint()}" in err
    assert "  added:   reviewer (new laptop)" in err


def test_a_refused_bundle_and_a_change_together_exit_1(run, station: Station,  # type: ignore[no-untyped-def]
                                                        key_file: Path,
                                                        tmp_path: Path) -> None:
    key = ("--key", str(key_file))
    run("review", "import", str(export(run, station, tmp_path, 1)), *key)
    run("recipients", "add", "other", RecipientPrivateKey.generate().public_key.to_text())
    code, _, err = run("review", "import", str(export(run, station, tmp_path, 2)),
                       str(tmp_path / "missing.rptr"), *key)
    assert code == 1
    assert "1 of 2 bundles was refused (see above); the recipients changed in bundle 2" in err


def test_a_key_added_and_removed_between_two_bundles_still_shows(  # type: ignore[no-untyped-def]
        run, station: Station, key_file: Path, tmp_path: Path) -> None:
    # The manifest lists whom the bundle is sealed to; a key added, used and removed
    # before the export is not on it. The envelopes still say how many keys they are
    # sealed to (the stanza count in their clear header).
    key = ("--key", str(key_file))
    assert run("review", "import", str(export(run, station, tmp_path, 1)), *key)[0] == 0
    mallory = RecipientPrivateKey.generate()
    run("recipients", "add", "reviewer 2", mallory.public_key.to_text())
    add_reports(station, 2, text="read by mallory")
    run("recipients", "remove", "reviewer 2")
    code, _, err = run("review", "import", str(export(run, station, tmp_path, 2)), *key)
    assert code == 0 and "SECURITY WARNING" not in err  # the same keys as bundle 1
    assert ("WARNING: reports 2-3 are sealed to 2 keys, more than the 1 this bundle is "
            "sealed to") in err
    assert "report 4" not in err and "reports 2-4" not in err


def test_a_key_added_late_is_told_what_it_will_not_open(run, station: Station,  # type: ignore[no-untyped-def]
                                                         key_file: Path,
                                                         tmp_path: Path) -> None:
    """Issue 11, section 4: the operator learns at ``recipients add`` how many reports
    the new key will not open, and the reviewer at ``verify``, before any import."""
    from reporter.formats import keyfile
    from reporter.formats.crypto import KdfParams
    from tests.reviewing import KEY_PASSPHRASE

    add_reports(station, 2)
    assert run("export", "--out", str(tmp_path / "1.rptr"))[0] == 0
    add_reports(station, 3)  # held, not exported yet
    late = RecipientPrivateKey.generate()
    code, out, err = run("recipients", "add", "Late reviewer", late.public_key.to_text())
    assert code == 0, err
    assert ("The station holds 5 reports sealed before this key was added: this key will "
            "not open them") in out
    assert "3 of them are not exported yet: the next bundle carries them." in out

    add_reports(station, 1)
    bundle = tmp_path / "2.rptr"
    assert run("export", "--out", str(bundle))[0] == 0  # reports 3-6, sealed to both keys
    late_key = tmp_path / "late.key"
    late_key.write_bytes(keyfile.dump(late, KEY_PASSPHRASE, KdfParams.new()))
    code, out, err = run("verify", str(bundle), "--key", str(late_key))
    assert code == 0, err
    assert ("  1 of 4 reports is sealed to your key; not reports 3-5 (sealed before your "
            "key was on the station's list; the keys on it then open them)") in out
    code, out, _ = run("verify", str(bundle), "--key", str(key_file))
    assert code == 0 and "  all 4 reports are sealed to your key\n" in out

    # Purged reports are no longer held: they are not counted.
    assert run("purge", "--through", "2", "--yes")[0] == 0
    code, out, _ = run("recipients", "add", "Later", RecipientPrivateKey.generate()
                       .public_key.to_text())
    assert "The station holds no report: every report from now on" in out
