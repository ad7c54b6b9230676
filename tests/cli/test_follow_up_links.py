"""Follow-ups are linked to their own station's first report, through the real
commands: two stations, one of them forged and reusing a monitor's receipt code."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from reporter.station.instance import init_instance, open_store, unlock
from reporter.station.intake import accept, build_report
from tests.conftest import PASSPHRASE, Station


def submit(station: Station, description: str, *, follows: str | None = None,
           receipt: str | None = None) -> str:
    with station.store() as store:
        recipients = [r.public_key for r in store.recipients()]
        report = build_report({"description": description, "incident_types": ["other"],
                               "site": "Marange"} if follows is None
                              else {"description": description}, "en", follows)
        if receipt is not None:
            report = dataclasses.replace(report, receipt=receipt)
        accept(report, recipients, lambda e: store.append_report(e, station.station_id))
    return report.receipt


def report_ids(out: str) -> dict[str, int]:
    """Description -> id, from 'reporter review list'."""
    ids = {}
    for line in out.splitlines()[1:]:
        ids[line.split()[-1]] = int(line.split()[0])
    return ids


def test_a_forged_station_reusing_a_code_does_not_capture_follow_ups(  # type: ignore[no-untyped-def]
        run, station: Station, key_file: Path, tmp_path: Path) -> None:
    forger_path = tmp_path / "forger"
    identity = init_instance(forger_path, PASSPHRASE)
    forger_key = unlock(forger_path, PASSPHRASE)
    with open_store(forger_path, forger_key) as store:
        store.add_recipient("reviewer", station.reviewer.public_key)
    forger = Station(forger_path, forger_key, identity.station_id, station.reviewer)

    code = submit(station, "real-first-report")
    submit(forger, "forged-first-report", receipt=code)  # it learnt the code
    submit(station, "real-follow-up", follows=code)
    assert run("--instance", str(forger_path), "export", "--out",
               str(tmp_path / "forged.rptr"))[0] == 0
    assert run("export", "--out", str(tmp_path / "real.rptr"))[0] == 0

    # The forged bundle is imported first: its report gets the lower id.
    code_, _, err = run("review", "import", str(tmp_path / "forged.rptr"),
                        str(tmp_path / "real.rptr"), "--key", str(key_file))
    assert code_ == 0, err
    ids = report_ids(run("review", "list")[1])
    assert ids["forged-first-report"] < ids["real-first-report"]
    assert re.search(rf"WARNING: report 1 \(id {ids['real-first-report']}\) has the receipt "
                     rf"code of first report id {ids['forged-first-report']}", err)

    _, shown, _ = run("review", "show", str(ids["real-follow-up"]))
    real_station = station.station_id.hex()[:8]
    assert f"Follows report {ids['real-first-report']} (first report, station {real_station}" \
        in shown
    assert "real-first-report" in shown and "forged-first-report" not in shown.split(
        "Follows report")[1]
    assert f"WARNING: 2 first reports carry the receipt code {code}" in shown
    assert f"station {identity.station_id.hex()[:8]} #1" in shown  # the other one, named

    _, shown, _ = run("review", "show", str(ids["real-first-report"]))
    assert "Follow-ups: 1" in shown and "real-follow-up" in shown
    _, shown, _ = run("review", "show", str(ids["forged-first-report"]))
    assert "Follow-ups: 0" in shown and "real-follow-up" not in shown
    assert "WARNING: 2 first reports carry the receipt code" in shown

    listed = {line.split()[-1]: line.split() for line in run("review", "list")[1].splitlines()}
    assert listed["real-first-report"][-3] == "1" and listed["forged-first-report"][-3] == "0"


def test_a_follow_up_through_another_station_says_so(  # type: ignore[no-untyped-def]
        run, station: Station, key_file: Path, tmp_path: Path) -> None:
    other_path = tmp_path / "other"
    identity = init_instance(other_path, PASSPHRASE)
    other_key = unlock(other_path, PASSPHRASE)
    with open_store(other_path, other_key) as store:
        store.add_recipient("reviewer", station.reviewer.public_key)
    other = Station(other_path, other_key, identity.station_id, station.reviewer)
    code = submit(station, "first-report")
    submit(other, "travelled-follow-up", follows=code)
    run("export", "--out", str(tmp_path / "a.rptr"))
    run("--instance", str(other_path), "export", "--out", str(tmp_path / "b.rptr"))
    code_, _, err = run("review", "import", str(tmp_path / "a.rptr"), str(tmp_path / "b.rptr"),
                        "--key", str(key_file))
    assert code_ == 0 and "WARNING" not in err
    ids = report_ids(run("review", "list")[1])
    here, there = station.station_id.hex()[:8], identity.station_id.hex()[:8]
    _, shown, _ = run("review", "show", str(ids["first-report"]))
    assert f"[from another station: {there}, not {here}]" in shown
    _, shown, _ = run("review", "show", str(ids["travelled-follow-up"]))
    assert f"[from another station: {here}, not {there}]" in shown and "WARNING" not in shown


def submit_with_file(station: Station, description: str, follows: str,
                     name: str, data: bytes) -> str:
    """A follow-up with one attachment, sealed as the web form seals it; its own code."""
    from reporter.station.submission import Draft, Limits
    from reporter.storage.blobs import BlobStore

    with station.store() as store, BlobStore.open(station.path, station.key) as blobs:
        recipients = [r.public_key for r in store.recipients()]
        draft = Draft(blobs, Limits(max_bytes=1 << 30, max_count=20))
        assert draft.add(name, data).problem is None
        report = build_report({"description": description}, "en", follows)
        report = dataclasses.replace(report, attachments=draft.attachments())
        store.append_report(draft.seal(report, recipients), station.station_id)
        draft.close()
    return report.receipt


def test_the_monitors_code_is_the_one_identity_everywhere(  # type: ignore[no-untyped-def]
        run, station: Station, key_file: Path, tmp_path: Path) -> None:
    """Issue 11, section 4: ``list``, ``show`` and the exports agree on the receipt code,
    the one the monitor holds; a follow-up's own code (no monitor saw it) is shown
    nowhere; ``show`` of a first report lists its follow-ups' attachments."""
    import csv
    import hashlib
    import io
    import json

    code = submit(station, "first-report")
    photo = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 20
    own = submit_with_file(station, "follow-up-with-photo", code, "photo.jpg", photo)
    assert own != code
    assert run("export", "--out", str(tmp_path / "1.rptr"))[0] == 0
    assert run("review", "import", str(tmp_path / "1.rptr"), "--key", str(key_file))[0] == 0

    _, listed, _ = run("review", "list")
    ids = report_ids(listed)
    receipts = {int(line.split()[0]): line.split()[7] for line in listed.splitlines()[1:]}
    assert receipts == {ids["first-report"]: code, ids["follow-up-with-photo"]: code}

    _, exported, _ = run("review", "export", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(exported, newline="")))
    assert {int(r["id"]): r["receipt"] for r in rows} == receipts
    assert own not in exported
    # JSON Lines keeps the sealed report whole (the follow-up's own code inside it),
    # and names the monitor's code beside it.
    _, exported, _ = run("review", "export", "--format", "jsonl")
    lines = [json.loads(line) for line in exported.splitlines()]
    assert {r["id"]: r["receipt"] for r in lines} == receipts

    _, shown, _ = run("review", "show", str(ids["follow-up-with-photo"]))
    assert re.search(rf"\nReceipt: +{code} \(the code of the report it follows", shown)
    assert own not in shown

    _, shown, _ = run("review", "show", str(ids["first-report"]))
    assert own not in shown
    follow_ups = shown[shown.index("Follow-ups: 1"):]
    assert "follow-up-with-photo" in follow_ups
    assert (f"    Attachments: 1 ('reporter review attachments {ids['follow-up-with-photo']} "
            "--out DIR' writes them)") in follow_ups
    assert (f"      1. photo.jpg  image/jpeg  {len(photo):,} bytes  SHA-256 "
            f"{hashlib.sha256(photo).hexdigest()}") in follow_ups
