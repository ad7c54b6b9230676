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
    assert code == 1 and str(path) in err and "altered" in err
    assert "1 of 1 bundle was refused" in err


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


def _flip(path: Path, offset: int) -> bytes:
    data = path.read_bytes()
    path.write_bytes(data[:offset] + bytes([data[offset] ^ 0x01]) + data[offset + 1:])
    return data


def test_a_damaged_review_database_says_so_never_unexpected(run, station: Station,  # type: ignore[no-untyped-def]
                                                            key_file: Path,
                                                            tmp_path: Path) -> None:
    # A flipped bit in review.db used to end in "unexpected DatabaseError ... report the
    # traceback" (or OperationalError "malformed JSON"), whichever command read the page.
    add_reports(station, 40, text="x" * 2000)  # about 50 pages of 4 KiB
    bundle = tmp_path / "1.rptr"
    run("export", "--out", str(bundle))
    assert run("review", "import", str(bundle), "--key", str(key_file))[0] == 0
    review_db = tmp_path / "review.db"
    commands = [("review", "list"), ("review", "show", "3"), ("review", "gaps"),
                ("review", "export", "--format", "jsonl"),
                ("review", "import", str(bundle), "--key", str(key_file))]
    clean = {c: run(*c) for c in commands}
    size = review_db.stat().st_size
    said_damaged = set()
    for offset in [100, *range(4096 + 700, size, 4096 * 7)]:
        original = _flip(review_db, offset)
        try:
            for command in commands:
                code, out, err = run(*command)
                assert "unexpected" not in err and "Traceback" not in err, (offset, command, err)
                if code != 0:
                    assert err.startswith(f"error: {review_db}"), (offset, command, err)
                    assert "is damaged or was altered" in err, (offset, command, err)
                    assert "from a backup" in err
                    said_damaged.add(command[1])
                else:
                    assert (code, out) == clean[command][:2], (offset, command)
        finally:
            review_db.write_bytes(original)
    assert said_damaged >= {"list", "show", "gaps", "export", "import"}


def test_a_damaged_attachment_store_is_named(run, station: Station, key_file: Path,  # type: ignore[no-untyped-def]
                                             tmp_path: Path) -> None:
    from tests.conftest import add_report_with_attachments

    add_report_with_attachments(station, [("a.pdf", b"%PDF-1.4\n" + bytes(range(256)) * 800)])
    bundle = tmp_path / "1.rptr"
    run("export", "--out", str(bundle))
    assert run("review", "import", str(bundle), "--key", str(key_file))[0] == 0
    store = tmp_path / "review.db.attachments"
    _flip(store, store.stat().st_size - 70_000)  # inside the attachment's segment
    code, _, err = run("review", "attachments", "1", "--out", str(tmp_path / "out"))
    assert code == 1 and "unexpected" not in err
    assert str(store) in err and "is damaged or was altered" in err


def test_a_damaged_last_page_of_an_attachment_is_named_damage_not_alteration(  # type: ignore[no-untyped-def]
        run, station: Station, key_file: Path, tmp_path: Path) -> None:
    """SQLCipher answers a page that fails its HMAC with zeros, and fails only the next
    page the statement asks for: the last page of an attachment's segment is the last
    one its statement reads, so its zeros reached the reader, which called the
    attachment altered. The store's own check now tells damage first."""
    from tests.conftest import add_report_with_attachments

    add_report_with_attachments(station, [("a.pdf", b"%PDF-1.4\n" + bytes(range(256)) * 3000)])
    bundle = tmp_path / "1.rptr"
    run("export", "--out", str(bundle))
    assert run("review", "import", str(bundle), "--key", str(key_file))[0] == 0
    store = tmp_path / "review.db.attachments"
    _flip(store, store.stat().st_size - 30_000)  # the last page: the segment's tail
    code, _, err = run("review", "attachments", "1", "--out", str(tmp_path / "out"))
    assert code == 1 and "unexpected" not in err
    assert str(store) in err and "is damaged or was altered" in err, err
    assert "attachment 1 was altered" not in err
    assert not (tmp_path / "out" / "1-a.pdf").exists()


def test_a_second_reviewer_key_fills_in_what_the_first_could_not_read(  # type: ignore[no-untyped-def]
        run, station: Station, key_file: Path, tmp_path: Path) -> None:
    """Issue 11, section 4: one review database, two reviewer keys. Importing a bundle
    again with another key adds the reports that key opens, every check made again."""
    from tests.conftest import add_report_with_attachments
    from tests.reviewing import snapshot

    pdf = b"%PDF-1.4\n" + bytes(range(256)) * 40
    add_report_with_attachments(station, [("statement.pdf", pdf)], text="first, sealed to A")
    add_reports(station, 1, text="second, sealed to A")
    late = RecipientPrivateKey.generate()
    late_key = tmp_path / "late.key"
    late_key.write_bytes(keyfile.dump(late, KEY_PASSPHRASE, KdfParams.new()))
    assert run("recipients", "add", "late", late.public_key.to_text())[0] == 0
    add_reports(station, 1, text="third, sealed to A and late")
    bundle = tmp_path / "1.rptr"
    assert run("export", "--out", str(bundle))[0] == 0

    code, out, err = run("review", "import", str(bundle), "--key", str(late_key))
    assert code == 0, err
    assert "1 report added, 0 already present" in out
    assert "2 reports are not sealed to this key (sealed before it was added): 1-2" in out
    assert "not readable (no key imported with opens them): 1-2" in run("review", "gaps")[1]

    # An altered copy of the same bundle is refused, and changes nothing.
    altered = tmp_path / "altered.rptr"
    data = bytearray(bundle.read_bytes())
    data[len(data) // 2] ^= 0x01
    altered.write_bytes(bytes(data))
    from reporter.review.db import ReviewDB
    from tests.reviewing import REVIEW_PASSPHRASE

    with ReviewDB.open(tmp_path / "review.db", REVIEW_PASSPHRASE) as db:
        before = snapshot(db)
    code, _, err = run("review", "import", str(altered), "--key", str(key_file))
    assert code == 1 and "altered" in err
    with ReviewDB.open(tmp_path / "review.db", REVIEW_PASSPHRASE) as db:
        assert snapshot(db) == before

    code, out, err = run("review", "import", str(bundle), "--key", str(key_file))
    assert code == 0, err
    assert ("bundle 1 of station " in out and "was already imported; this key opens 2 reports "
            "that no key imported with before could: 1-2, added (1 attachment)") in out
    code, out, _ = run("review", "gaps")
    assert "not readable" not in out and "missing reports: none" in out
    code, out, _ = run("review", "list")
    assert "first, sealed to A" in out and "second, sealed to A" in out and "third" in out
    first_id = next(line.split()[0] for line in out.splitlines() if "first, sealed" in line)
    code, out, err = run("review", "attachments", first_id, "--out", str(tmp_path / "files"))
    assert code == 0, err
    assert (tmp_path / "files" / "1-statement.pdf").read_bytes() == pdf

    code, out, _ = run("review", "import", str(bundle), "--key", str(key_file))
    assert code == 0 and "already imported; nothing added" in out
