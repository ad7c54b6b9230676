"""The verification workflow in the review database itself (``review/workflow.py``:
statuses, tags, notes, the sensitive mark; ``incidents.py``: incidents and their
counting; ``review_history.py``: the append-only, hash-chained history), over a real
SQLCipher review database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reporter.review import incidents as ri
from reporter.review import listing, records
from reporter.review import review_history as rh
from reporter.review import workflow as wf
from reporter.review.db import ReviewDB
from reporter.review.filters import Filters
from reporter.review.schema import MIGRATIONS
from reporter.storage import sqlc
from tests.review.test_reviewquery import REVIEW_PASSPHRASE, Sample, populate

ME = "Amani K."
HOSTILE = ["<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>",
           "=HYPERLINK(\"http://x\")", "+1+1", "-2", "@SUM(A1)", "x" * 10_000,
           "a\x00b", "evil\u202egpj.exe", "\x1b[31mred"]


@pytest.fixture
def sample(tmp_path: Path) -> Sample:
    return populate(tmp_path / "review.db")


@pytest.fixture
def db(sample: Sample) -> Iterator[ReviewDB]:
    with ReviewDB.open(sample.path, REVIEW_PASSPHRASE) as opened:
        yield opened


def test_the_migration_adds_the_workflow_and_every_report_starts_new(db: ReviewDB,
                                                                      sample: Sample) -> None:
    assert sqlc.schema_version(db.connection) == len(MIGRATIONS)
    for report_id in sample.ids.values():
        got = wf.state(db, report_id)
        assert (got.status, got.sensitive, got.incident, got.tags) == ("new", False, None, ())
    assert rh.history(db) == []
    with pytest.raises(records.UnknownReport):
        wf.state(db, 9999)


def test_statuses_change_and_each_change_is_recorded(db: ReviewDB, sample: Sample) -> None:
    shooting = sample.ids["shooting"]
    assert wf.set_status(db, shooting, "under-review", ME)
    assert not wf.set_status(db, shooting, "under-review", ME)  # no change, no entry
    assert wf.set_status(db, shooting, "verified", "Beatriz")
    assert wf.state(db, shooting).status == "verified"
    entries = rh.history(db, report=shooting)
    assert [(e.action, e.detail, e.reviewer) for e in entries] == [
        ("status", {"from": "new", "to": "under-review"}, ME),
        ("status", {"from": "under-review", "to": "verified"}, "Beatriz")]
    assert all(e.at.endswith("Z") and len(e.at) == 20 for e in entries)
    with pytest.raises(wf.WorkflowError) as refused:
        wf.set_status(db, shooting, "closed", ME)
    assert refused.value.problem == wf.UNKNOWN_STATUS
    with pytest.raises(records.UnknownReport):
        wf.set_status(db, 9999, "verified", ME)
    # The database refuses a status it does not know, whoever writes it.
    with pytest.raises(sqlc.sqlcipher.IntegrityError):
        db.connection.execute("UPDATE reports SET status = 'closed' WHERE id = ?", (shooting,))
    assert listing.count_reports(db, Filters(status="verified")) == 1
    assert [s.status for s in listing.list_reports(db, Filters(status="verified"))] == [
        "verified"]


def test_tags_are_normalised_and_matched_without_case(db: ReviewDB, sample: Sample) -> None:
    shooting, beating = sample.ids["shooting"], sample.ids["beating"]
    assert wf.add_tag(db, shooting, "  Water   Pollution ", ME)
    assert not wf.add_tag(db, shooting, "WATER POLLUTION", ME)  # the same tag
    # NFC: "é" typed as e + combining accent is the same tag as the precomposed one.
    assert wf.add_tag(db, shooting, "Expulsé", ME)
    assert not wf.add_tag(db, shooting, "expulse\u0301", ME)
    assert wf.add_tag(db, beating, "water pollution", ME)
    assert [t.label for t in wf.state(db, shooting).tags] == ["Expulsé", "Water Pollution"]
    # Another report carrying a known tag shows it as first typed.
    assert [t.label for t in wf.state(db, beating).tags] == ["Water Pollution"]
    assert wf.all_tags(db) == [("Expulsé", 1), ("Water Pollution", 2)]
    assert listing.count_reports(db, Filters(tag="water POLLUTION")) == 2
    assert listing.count_reports(db, Filters(tag="EXPULSE\u0301")) == 1
    assert wf.remove_tag(db, shooting, "water pollution", ME)
    assert not wf.remove_tag(db, shooting, "water pollution", ME)
    assert [(e.action, e.detail) for e in rh.history(db, report=shooting)] == [
        ("tag-added", {"tag": "Water Pollution"}), ("tag-added", {"tag": "Expulsé"}),
        ("tag-removed", {"tag": "Water Pollution"})]
    for bad, problem in (("", wf.EMPTY), ("   ", wf.EMPTY), ("x" * 51, wf.TOO_LONG),
                         ("a\x00b", wf.CONTROL), ("evil\u202e", wf.CONTROL)):
        with pytest.raises(wf.WorkflowError) as refused:
            wf.add_tag(db, shooting, bad, ME)
        assert refused.value.problem == problem, bad


def test_notes_are_history_entries_kept_as_typed(db: ReviewDB, sample: Sample) -> None:
    report = sample.ids["children"]
    wf.add_note(db, report, "Called the monitor.\r\nThey confirm: 12 children.", ME)
    wf.add_note(db, report, "<script>alert(1)</script> =1+1", "Beatriz")
    assert [(n.detail["text"], n.reviewer) for n in rh.notes(db, report)] == [
        ("Called the monitor.\nThey confirm: 12 children.", ME),
        ("<script>alert(1)</script> =1+1", "Beatriz")]
    with pytest.raises(wf.WorkflowError):
        wf.add_note(db, report, "x" * (wf.MAX_NOTE + 1), ME)
    with pytest.raises(wf.WorkflowError):
        wf.add_note(db, report, " \n ", ME)


def test_the_sensitive_mark(db: ReviewDB, sample: Sample) -> None:
    report = sample.ids["beating"]
    assert not wf.is_sensitive(db, report)
    assert wf.set_sensitive(db, report, True, ME)
    assert not wf.set_sensitive(db, report, True, ME)
    assert wf.is_sensitive(db, report)
    assert wf.sensitive_ids(db, sample.ids.values()) == {report}
    assert wf.count_sensitive(db, Filters()) == 1
    assert wf.count_sensitive(db, Filters(site="marange")) == 1
    assert wf.count_sensitive(db, Filters(kind="follow-up")) == 0
    assert listing.count_reports(db, Filters(sensitive=False)) == len(sample.ids) - 1
    assert wf.set_sensitive(db, report, False, ME)
    assert [e.action for e in rh.history(db, report=report)] == ["sensitive", "not-sensitive"]


def test_reviewer_names_are_checked(db: ReviewDB, sample: Sample) -> None:
    report = sample.ids["shooting"]
    for bad in ("", "   ", "x" * (wf.MAX_NAME + 1), "a\x00b", "\u202eevil", "\x1b[31m"):
        with pytest.raises(wf.WorkflowError):
            wf.set_status(db, report, "verified", bad)
    assert wf.state(db, report).status == "new"
    assert wf.clean_name("  Ana\t Maria ") == "Ana Maria"
    assert wf.remembered_reviewer(db) is None
    wf.remember_reviewer(db, "<b>Ana</b>")
    wf.remember_reviewer(db, " Zé ")
    assert wf.remembered_reviewer(db) == "Zé"


def test_hostile_strings_are_stored_as_text_or_refused(db: ReviewDB, sample: Sample) -> None:
    report = sample.ids["shooting"]
    stored = []
    for text in HOSTILE:
        for action in (lambda t: wf.add_tag(db, report, t, ME),
                       lambda t: wf.add_note(db, report, t, ME),
                       lambda t: wf.set_status(db, report, "verified", t)):
            try:
                action(text)
                stored.append(text)
            except wf.WorkflowError as exc:
                assert exc.problem in (wf.TOO_LONG, wf.CONTROL), text
    assert "<script>alert(1)</script>" in stored and "=HYPERLINK(\"http://x\")" in stored
    assert rh.verify_history(db).intact
    texts = {e.detail.get("text") for e in rh.notes(db, report)}
    assert "\"><img src=x onerror=alert(1)>" in texts
    assert not any("\x00" in str(e.detail) or "\u202e" in str(e.detail)
                   for e in rh.history(db))


# --- the history: append-only, chained --------------------------------------------------


def _some_history(db: ReviewDB, sample: Sample) -> None:
    wf.set_status(db, sample.ids["shooting"], "verified", ME)
    wf.add_tag(db, sample.ids["shooting"], "army", ME)
    wf.add_note(db, sample.ids["children"], "a note", ME)


def test_the_database_refuses_to_update_or_delete_the_history(db: ReviewDB,
                                                              sample: Sample) -> None:
    _some_history(db, sample)
    conn = db.connection
    for statement in ("UPDATE review_history SET reviewer = 'someone else'",
                      "UPDATE review_history SET detail = '{}' WHERE id = 2",
                      "DELETE FROM review_history WHERE id = 3",
                      "DELETE FROM review_history"):
        with pytest.raises(sqlc.sqlcipher.IntegrityError, match="append-only"):
            conn.execute(statement)
    # An entry that does not continue the chain is refused too.
    with pytest.raises(sqlc.sqlcipher.IntegrityError, match="append-only"):
        conn.execute("INSERT INTO review_history (id, at, reviewer, action, detail, previous, "
                     "hash) VALUES (4, '2026-01-01T00:00:00Z', 'x', 'note', '{}', ?, ?)",
                     (bytes(32), bytes(32)))
    with pytest.raises(sqlc.sqlcipher.IntegrityError, match="append-only"):
        conn.execute("INSERT INTO review_history (id, at, reviewer, action, detail, previous, "
                     "hash) VALUES (9, '2026-01-01T00:00:00Z', 'x', 'note', '{}', ?, ?)",
                     (rh.history(db)[-1].hash, bytes(32)))
    assert len(rh.history(db)) == 3 and rh.verify_history(db).intact


def test_an_entry_rewritten_outside_reporter_breaks_the_chain(db: ReviewDB,
                                                              sample: Sample) -> None:
    _some_history(db, sample)
    check = rh.verify_history(db)
    assert check.intact and check.entries == 3 and check.head == rh.history(db)[-1].hash
    # Whoever holds the passphrase can drop the trigger and rewrite an entry...
    conn = db.connection
    conn.execute("DROP TRIGGER review_history_no_update")
    conn.execute("UPDATE review_history SET reviewer = 'someone else' WHERE id = 2")
    # ... and the chain says where.
    assert rh.verify_history(db).broken == 2


def test_a_new_entry_continues_the_chain(db: ReviewDB, sample: Sample) -> None:
    _some_history(db, sample)
    entries = rh.history(db)
    assert entries[0].previous == rh.ZERO_HASH
    assert [e.previous for e in entries[1:]] == [e.hash for e in entries[:-1]]
    assert [e.id for e in entries] == [1, 2, 3]


# --- incidents ----------------------------------------------------------------------


def test_incidents_are_counted_not_reports(db: ReviewDB, sample: Sample) -> None:
    ids = sample.ids
    everything = Filters()
    # No links: shooting with its two follow-ups is one, children, beating, and the
    # orphan follow-up (its first report is not imported) count one each.
    assert listing.count_reports(db, everything) == 6
    assert ri.count_incidents(db, everything) == 4
    # Beating and shooting are one incident, seen by two stations.
    incident = ri.create_incident(db, ri.IncidentFields(
        title="Checkpoint shooting", date_from="2026-02-20", date_to="2026-03-30",
        site="Marange", types=("shooting",), people_affected=7), ME,
        link=[ids["shooting"], ids["beating"]])
    assert ri.count_incidents(db, everything) == 3
    # A follow-up linked elsewhere counts there; its first report's incident stays.
    assert ri.count_incidents(db, Filters(kind="follow-up")) == 2  # shooting's, orphan
    assert ri.count_incidents(db, Filters(site="marange")) == 1
    assert ri.count_incidents(db, Filters(incident=incident)) == 1
    got = ri.get_incident(db, incident)
    assert got.reports == 2 and got.fields.people_affected == 7
    assert [(e.action, e.report) for e in rh.history(db, incident=incident)] == [
        ("incident-created", None), ("linked", ids["shooting"]), ("linked", ids["beating"])]
    assert ri.unlink(db, ids["beating"], ME)
    assert ri.count_incidents(db, everything) == 4
    assert not ri.unlink(db, ids["beating"], ME)


def test_marking_a_duplicate_links_both_to_one_incident(db: ReviewDB, sample: Sample) -> None:
    ids = sample.ids
    incident = ri.mark_duplicate(db, ids["beating"], ids["shooting"], ME)
    assert wf.state(db, ids["beating"]).status == "duplicate"
    assert wf.state(db, ids["beating"]).duplicate_of == ids["shooting"]
    assert wf.state(db, ids["shooting"]).incident == incident
    assert wf.state(db, ids["beating"]).incident == incident
    assert ri.get_incident(db, incident).fields.title == f"Report {ids['shooting']}"
    assert ri.count_incidents(db, Filters()) == 3
    assert ri.mark_duplicate(db, ids["beating"], ids["shooting"], ME) == incident
    # A third report marked a duplicate of one already linked joins that incident.
    assert ri.mark_duplicate(db, ids["children"], ids["beating"], ME) == incident
    assert ri.count_incidents(db, Filters()) == 2
    with pytest.raises(wf.WorkflowError) as refused:
        ri.mark_duplicate(db, ids["children"], ids["children"], ME)
    assert refused.value.problem == wf.SAME_REPORT
    # Leaving "duplicate" forgets which report it duplicated, and says so.
    wf.set_status(db, ids["children"], "verified", ME)
    assert wf.state(db, ids["children"]).duplicate_of is None
    assert rh.history(db, report=ids["children"])[-1].detail == {
        "from": "duplicate", "to": "verified", "duplicate_of": ids["beating"]}


def test_incident_fields_are_checked_and_edits_recorded(db: ReviewDB, sample: Sample) -> None:
    incident = ri.create_incident(db, ri.IncidentFields(title="  Spill  "), ME)
    assert ri.get_incident(db, incident).fields.title == "Spill"
    for fields, problem in (
            (ri.IncidentFields(title=""), wf.EMPTY),
            (ri.IncidentFields(title="x", date_from="2026-02-30"), wf.BAD_DATE),
            (ri.IncidentFields(title="x", date_from="2026-03-02", date_to="2026-03-01"),
             wf.BAD_DATE),
            (ri.IncidentFields(title="x", types=("fire",)), wf.UNKNOWN_TYPE),
            (ri.IncidentFields(title="x", people_affected=-1), wf.BAD_NUMBER),
            (ri.IncidentFields(title="x" * 201), wf.TOO_LONG)):
        with pytest.raises(wf.WorkflowError) as refused:
            ri.update_incident(db, incident, fields, ME)
        assert refused.value.problem == problem
    assert ri.update_incident(db, incident, ri.IncidentFields(
        title="Spill", date_from="2026-03-01", types=("environmental-harm",),
        people_affected=40, note="=cmd|' /C calc'!A0"), ME)
    assert not ri.update_incident(db, incident, ri.get_incident(db, incident).fields, ME)
    [created, edited] = rh.history(db, incident=incident)
    assert created.action == "incident-created" and edited.action == "incident-edited"
    assert edited.detail["people_affected"] == {"from": None, "to": 40}
    assert "title" not in edited.detail
    with pytest.raises(wf.WorkflowError) as refused:
        ri.link(db, sample.ids["shooting"], 999, ME)
    assert refused.value.problem == wf.UNKNOWN_INCIDENT
    assert [i.id for i in ri.list_incidents(db)] == [incident]


def test_incidents_grouped_for_charts(db: ReviewDB, sample: Sample) -> None:
    ids = sample.ids
    month = "substr(coalesce(r.incident_date, r.submitted), 1, 7)"
    # Unlinked: shooting (Feb) with its follow-ups (Mar, Apr) is one incident, but counts
    # in each month one of its reports falls in.
    assert ri.count_incidents_by(db, Filters(), month) == [
        ("2026-02", 1), ("2026-03", 3), ("2026-04", 2)]
    ri.mark_duplicate(db, ids["beating"], ids["shooting"], ME)
    by_type = ri.count_incidents_by(db, Filters(), "t.value",
                                    "reports AS r, json_each(r.types) AS t")
    assert dict(by_type) == {"shooting": 1, "killing": 1, "beating-torture": 1,
                             "child-labour": 1}
    assert sum(n for _k, n in ri.count_incidents_by(db, Filters(kind="incident"),
                                                    "r.kind")) == 2
