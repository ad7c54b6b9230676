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
