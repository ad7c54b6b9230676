"""End to end: a backup taken while the station serves, a restore, and the reviewers.

Everything runs as real processes: ``reporter serve`` with monitors posting over
HTTP, ``reporter export``, ``reporter backup`` and ``reporter restore``,
``reporter review import``. The story of the issue: the station exports,
is backed up, goes on (exports again, takes reports it never exports), is
lost, and comes back from the backup. Its next bundle must import with a
clear notice that says what was lost, beside everything the lost station
exported, and a station copied back by hand (not restored) or a forged
restore must still be refused.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import threading
from pathlib import Path

import pytest
import requests

from reporter.formats.manifest import Restore
from reporter.review.db import ReviewDB
from tests.conftest import Station, start_server, valid_report
from tests.e2e.test_e2e import RECEIPT_RE, submit
from tests.reviewing import REVIEW_PASSPHRASE, new_review_db, reporter_process

pytestmark = pytest.mark.slow


def run(*args: str, cwd: Path, instance: Path | None = None,
        review_db: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {}
    if instance is not None:
        env["REPORTER_INSTANCE"] = str(instance)
    if review_db is not None:
        env["REPORTER_REVIEW_DB"] = str(review_db)
    return reporter_process(*args, cwd=cwd, env=env)


def text(done: subprocess.CompletedProcess[bytes]) -> str:
    return done.stdout.decode("utf-8") + done.stderr.decode("utf-8")


def ok(done: subprocess.CompletedProcess[bytes]) -> str:
    assert done.returncode == 0, text(done)
    return text(done)


def send(url: str, *descriptions: str) -> list[str]:
    session = requests.Session()
    receipts = []
    for description in descriptions:
        response = submit(session, url, valid_report(description=description))
        assert response.status_code == 200, response.text
        receipts += RECEIPT_RE.findall(response.text)
    return receipts


def descriptions(review_db: Path) -> dict[tuple[bytes, int], str]:
    """(history, seq) -> description of every report in the review database."""
    with ReviewDB.open(review_db, REVIEW_PASSPHRASE) as db:
        return {(bytes(h), int(s)): str(d) for h, s, d in db.connection.execute(
            "SELECT history, seq, description FROM reports")}


def test_a_restored_station_goes_on_and_reviewers_see_what_was_lost(
        station: Station, key_file: Path, tmp_path: Path) -> None:
    key = ("--key", str(key_file))
    server = start_server(station, tmp_path)
    try:
        send(server.url, "first", "second", "third")
        ok(run("export", "--out", str(tmp_path / "1.rptr"), cwd=tmp_path,
               instance=station.path))
        # The backup is taken while monitors go on sending: nobody waits, nothing is lost.
        during: list[str] = []
        sender = threading.Thread(target=lambda: during.extend(
            send(server.url, *(f"during the backup {i}" for i in range(6)))))
        sender.start()
        made = ok(run("backup", "--out", str(tmp_path / "station.rbk"), cwd=tmp_path,
                      instance=station.path))
        sender.join(60)
        assert len(during) == 6
        assert "Backup written to" in made
        # The station goes on: it exports once more, then takes a report it never exports.
        send(server.url, "after the backup, exported")
        ok(run("export", "--out", str(tmp_path / "2.rptr"), cwd=tmp_path,
               instance=station.path))
        send(server.url, "after the backup, never exported")
    finally:
        server.stop()
    with station.store() as store:
        lost_last = store.last_seq()

    # The station's disk dies. The operator restores the backup over what is left.
    done = run("restore", str(tmp_path / "station.rbk"), cwd=tmp_path, instance=station.path)
    assert done.returncode == 1 and "already holds a station" in text(done)
    restored = ok(run("restore", str(tmp_path / "station.rbk"), "--replace", cwd=tmp_path,
                      instance=station.path))
    assert "restored into" in restored and "New history" in restored
    assert (tmp_path / "instance.replaced-1" / "station.db").exists()
    status = ok(run("status", cwd=tmp_path, instance=station.path))
    assert "Hash chain:       verified" in status and "Restored:" in status
    with station.store() as store:
        [restore] = store.restores()
        assert restore.bundle == 1 and 3 <= restore.seq < lost_last

    server = start_server(station, tmp_path)
    try:
        send(server.url, "after the restore")
        ok(run("export", "--out", str(tmp_path / "3.rptr"), cwd=tmp_path,
               instance=station.path))
        send(server.url, "after the restore, later")
        ok(run("export", "--out", str(tmp_path / "4.rptr"), cwd=tmp_path,
               instance=station.path))
    finally:
        server.stop()

    # The reviewers import everything, the lost station's bundle 2 last.
    review_db = new_review_db(tmp_path / "review.db")
    bundles = [str(tmp_path / f"{n}.rptr") for n in (1, 3, 4, 2)]
    imported = ok(run("review", "import", *bundles, *key, cwd=tmp_path, review_db=review_db))
    assert "NOTICE: station" in imported
    assert f"was restored on {restore.restored} from a backup of {restore.backup}" in imported
    assert f"reports from {restore.seq + 1} on that it had not exported are lost" in imported
    history = restore.id.hex()[:8]
    assert f"bundle 2 of history {history}" in imported
    assert "bundle 2 was made before the station was restored" in imported
    held = descriptions(review_db)
    root, new = bytes(16), restore.id
    assert [held[(root, s)] for s in (1, 2, 3)] == ["first", "second", "third"]
    # What the backup held but had not exported travels in the restored station's
    # first bundle: recognised as the first history's reports, stored once.
    assert sorted(d for (h, _s), d in held.items() if d.startswith("during")) == [
        f"during the backup {i}" for i in range(6)]
    assert "after the backup, exported" in held.values()
    assert "after the backup, never exported" not in held.values()  # lost with the disk
    assert held[(new, restore.seq + 1)] == "after the restore"
    assert held[(new, restore.seq + 2)] == "after the restore, later"
    # The same sequence numbers in both histories, told apart.
    assert (root, restore.seq + 1) in held
    gaps = ok(run("review", "gaps", cwd=tmp_path, review_db=review_db))
    assert f"history {history}, restored on {restore.restored}" in gaps
    assert "missing bundles: none" in gaps and "missing reports: none" in gaps
    assert f"replaced by history {history}" in gaps

    with ReviewDB.open(review_db, REVIEW_PASSPHRASE) as db:
        [(report_id,)] = db.connection.execute(
            "SELECT id FROM reports WHERE history = ? AND seq = ?",
            (new, restore.seq + 1)).fetchall()
    shown = ok(run("review", "show", str(report_id), cwd=tmp_path, review_db=review_db))
    assert "History:" in shown and history in shown and "after the restore" in shown

    # A bundle imported again is the same bundle: nothing added.
    again = ok(run("review", "import", bundles[1], *key, cwd=tmp_path, review_db=review_db))
    assert "already imported; nothing added" in again


def test_a_backup_copied_back_by_hand_or_a_forged_restore_is_refused(
        station: Station, key_file: Path, tmp_path: Path) -> None:
    key = ("--key", str(key_file))
    server = start_server(station, tmp_path)
    try:
        send(server.url, "first")
        ok(run("export", "--out", str(tmp_path / "1.rptr"), cwd=tmp_path,
               instance=station.path))
        ok(run("backup", "--out", str(tmp_path / "station.rbk"), cwd=tmp_path,
               instance=station.path))
        send(server.url, "second")
        ok(run("export", "--out", str(tmp_path / "2.rptr"), cwd=tmp_path,
               instance=station.path))
    finally:
        server.stop()
    review_db = new_review_db(tmp_path / "review.db")
    ok(run("review", "import", str(tmp_path / "1.rptr"), str(tmp_path / "2.rptr"), *key,
           cwd=tmp_path, review_db=review_db))

    # The backup's files unpacked by hand, not restored: the same history, numbers reused.
    by_hand = tmp_path / "by-hand"
    by_hand.mkdir(mode=0o700)
    with tarfile.open(tmp_path / "station.rbk") as tar:
        for name in ("station.json", "station.db"):
            member = tar.extractfile(f"reporter-backup/{name}")
            assert member is not None
            (by_hand / name).write_bytes(member.read())
    forged = tmp_path / "forged"
    shutil.copytree(by_hand, forged)
    for instance, text_sent in ((by_hand, "a different second report"),
                                (forged, "a forged second report")):
        copy = Station(instance, station.key, station.station_id, station.reviewer)
        if instance == forged:
            # Whoever holds the station's key and passphrase forges a restore from a
            # bundle 1 of their own (signed, self-consistent, not the reviewers' bundle 1).
            with copy.store() as store:
                store._db.execute("UPDATE bundles SET hash = ? WHERE number = 1", (bytes(32),))
                store.add_restore(Restore(
                    id=bytes(range(1, 17)), bundle=1, bundle_hash=bytes(32), seq=1,
                    chain=store.chain_at(1, station.station_id), backup="2026-11-01",
                    restored="2026-11-02"))
        server = start_server(copy, tmp_path)
        try:
            send(server.url, text_sent)
        finally:
            server.stop()
        ok(run("export", "--out", str(tmp_path / f"{instance.name}.rptr"), cwd=tmp_path,
               instance=instance))

    done = run("review", "import", str(tmp_path / "by-hand.rptr"), *key, cwd=tmp_path,
               review_db=review_db)
    assert done.returncode == 1
    assert ("was already imported with different contents" in text(done)
            and "copied back by hand instead of with 'reporter restore'" in text(done))
    done = run("review", "import", str(tmp_path / "forged.rptr"), *key, cwd=tmp_path,
               review_db=review_db)
    assert done.returncode == 1
    assert ("says it was restored from a backup holding bundle 1, but the bundle 1 you "
            "imported is another") in text(done)
    held = descriptions(review_db).values()
    assert "different second report" not in held and "forged second report" not in held
    gaps = ok(run("review", "gaps", cwd=tmp_path, review_db=review_db))
    assert "history" not in gaps and "2 bundles, reports up to 2" in gaps


def test_a_damaged_or_cut_backup_restores_nothing(station: Station, tmp_path: Path) -> None:
    ok(run("backup", "--out", str(tmp_path / "station.rbk"), cwd=tmp_path,
           instance=station.path))
    data = (tmp_path / "station.rbk").read_bytes()
    target = tmp_path / "restored"
    for name, damaged in (("cut", data[: len(data) // 2]), ("cut-end", data[:-1]),
                          ("flipped", data[:3000] + bytes([data[3000] ^ 1]) + data[3001:])):
        path = tmp_path / f"{name}.rbk"
        path.write_bytes(damaged)
        done = run("restore", str(path), cwd=tmp_path, instance=target)
        assert done.returncode == 1, name
        assert "error:" in text(done) and "Traceback" not in text(done)
        assert not target.exists(), name
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".reporter-restore")]
    assert "cut short" in text(run("restore", str(tmp_path / "cut.rbk"), cwd=tmp_path,
                                   instance=target))
    wrong = reporter_process(
        "restore", str(tmp_path / "station.rbk"), cwd=tmp_path,
        env={"REPORTER_INSTANCE": str(target), "REPORTER_PASSPHRASE": "not the passphrase"})
    assert wrong.returncode == 1 and "wrong passphrase" in text(wrong)
    assert not target.exists()
