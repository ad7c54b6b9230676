"""The CLI over what reviewers marked on the desk: ``review show`` prints a report's
status, tags, incident and history, ``list`` / ``export`` / ``stats`` filter on them,
and the exports carry them (formula-guarded in the CSV)."""

from __future__ import annotations

import csv
import io
import json

from reporter.review import incidents as ri
from reporter.review import workflow as wf
from reporter.review.db import ReviewDB
from tests.cli.test_review_cli import Result, run, sample
from tests.review.test_reviewquery import REVIEW_PASSPHRASE, Sample

FIXTURES = (run, sample)  # test_review_cli's: the CLI over its sample review database


def _mark(sample: Sample) -> int:
    with ReviewDB.open(sample.path, REVIEW_PASSPHRASE) as db:
        shooting, beating = sample.ids["shooting"], sample.ids["beating"]
        wf.set_status(db, shooting, "verified", "Amina")
        wf.add_tag(db, shooting, "=HYPERLINK(\"http://x\")", "Amina")
        wf.add_tag(db, shooting, "Army", "Amina")
        wf.set_sensitive(db, shooting, True, "Amina")
        wf.add_note(db, shooting, "Called back.\nConfirmed.", "Beatriz")
        return ri.mark_duplicate(db, beating, shooting, "Beatriz")


def test_show_prints_the_verification(run, sample: Sample) -> None:  # type: ignore[no-untyped-def]
    incident = _mark(sample)
    shown: Result = run("show", str(sample.ids["shooting"]))
    assert shown.code == 0, shown.err
    out = shown.out
    assert "Status:    Verified" in out and "Sensitive: yes" in out
    assert "Tags:      =HYPERLINK(\"http://x\"), Army" in out
    assert f"Incident:  {incident}, Report {sample.ids['shooting']} (2 reports)" in out
    assert "History:   6 changes" in out  # linked to the incident made for the duplicate
    assert "Amina: status New -> Verified" in out and "      Confirmed." in out
    beating = run("show", str(sample.ids["beating"])).out
    assert f"Dismissed as a duplicate (of report {sample.ids['shooting']})" in beating
    assert "not linked" in run("show", str(sample.ids["children"])).out


def test_list_export_and_stats_filter_on_the_marks(run, sample: Sample) -> None:  # type: ignore[no-untyped-def]
    incident = _mark(sample)
    listed = run("list", "--status", "verified").out.splitlines()
    assert len(listed) == 2 and listed[1].split()[0] == str(sample.ids["shooting"])
    assert len(run("list", "--tag", "ARMY").out.splitlines()) == 2
    assert len(run("list", "--sensitive").out.splitlines()) == 2
    assert len(run("list", "--not-sensitive").out.splitlines()) == 6
    assert len(run("list", "--incident", str(incident)).out.splitlines()) == 3
    assert run("list", "--status", "closed").code == 2
    exported = run("export", "--format", "csv", "--status", "verified")
    [row] = list(csv.DictReader(io.StringIO(exported.out)))
    assert row["status"] == "verified" and row["sensitive"] == "true"
    assert row["incident"] == str(incident) and row["history"] == "0" * 32
    assert row["tags"] == "'=HYPERLINK(\"http://x\");Army"  # guarded
    line = json.loads(run("export", "--format", "jsonl", "--tag", "army").out)
    assert line["tags"] == ["=HYPERLINK(\"http://x\")", "Army"] and line["sensitive"] is True
    stats = run("stats").out.splitlines()
    assert stats[0] == "Reports: 6" and stats[1].startswith("Incidents: 3 ")
