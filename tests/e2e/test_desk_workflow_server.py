"""The verification workflow through a real ``reporter review serve``: each form is a
POST with the session's CSRF token, answered by a redirect (POST-redirect-GET); a
form without the token changes nothing; what reviewers type is shown as text; the
changes and the reviewer's name land in the review database's append-only history."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from reporter.review import review_history as rh
from reporter.review import workflow as wf
from reporter.review.db import ReviewDB
from tests.conftest import Station
from tests.desk import Desk, Sample, csrf, make_sample, start_desk
from tests.reviewing import REVIEW_PASSPHRASE

pytestmark = pytest.mark.slow
NAME = "Amina <b>K</b>"
HOSTILE_TAG = "\"><img src=x onerror=alert(1)>"
HOSTILE_NOTE = "<script>document.title='pwned'</script>\n=cmd|' /C calc'!A0"


@pytest.fixture
def sample(station: Station, tmp_path: Path) -> Sample:
    return make_sample(station, tmp_path)


@pytest.fixture
def desk(sample: Sample, tmp_path: Path) -> Iterator[Desk]:
    running = start_desk(sample.path, tmp_path)
    yield running
    running.stop()


def unlock(desk: Desk, name: str | None = NAME) -> requests.Session:
    session = requests.Session()
    token = csrf(session.get(desk.url + "/unlock", timeout=30).text)
    data = {"csrf_token": token, "passphrase": REVIEW_PASSPHRASE}
    if name is not None:
        data["reviewer"] = name
    answer = session.post(desk.url + "/unlock", data=data, timeout=60, allow_redirects=False)
    assert answer.status_code == 303, answer.text
    return session


def post(session: requests.Session, desk: Desk, path: str, **data: str) -> requests.Response:
    token = csrf(session.get(desk.url + "/", timeout=30).text)
    return session.post(desk.url + path, data={"csrf_token": token, **data}, timeout=30,
                        allow_redirects=False)


def test_changes_are_post_redirect_get_and_recorded_with_the_name(
        desk: Desk, sample: Sample) -> None:
    session = unlock(desk)
    photo = sample.ids["photo"]
    for path, data in ((f"/reports/{photo}/status", {"status": "verified"}),
                       (f"/reports/{photo}/tags", {"tag": HOSTILE_TAG}),
                       (f"/reports/{photo}/tags", {"tag": "Army"}),
                       (f"/reports/{photo}/notes", {"note": HOSTILE_NOTE}),
                       (f"/reports/{photo}/sensitive", {"sensitive": "1"})):
        answer = post(session, desk, path, **data)
        assert answer.status_code == 303, (path, answer.status_code)
        assert answer.headers["Location"] == f"/reports/{photo}?done=saved#verification"
    # The same status again: nothing to change, nothing recorded.
    answer = post(session, desk, f"/reports/{photo}/status", status="verified")
    assert answer.headers["Location"] == f"/reports/{photo}?done=same#verification"
    page = session.get(f"{desk.url}/reports/{photo}?done=saved", timeout=30).text
    assert 'role="status">Saved.' in page
    assert "Verified" in page and "exports ask before including it" in page
    assert HOSTILE_TAG not in page and "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<script>document.title" not in page and "&lt;script&gt;document.title" in page
    assert NAME not in page and "Amina &lt;b&gt;K&lt;/b&gt;" in page
    assert page.count("Amina &lt;b&gt;K&lt;/b&gt;") >= 5  # the header and each entry
    # The inbox filters on what reviewers marked, and shows the status of each row.
    inbox = session.get(desk.url + "/?status=verified", timeout=30).text
    assert "1 report matches these filters" in inbox and "Verified" in inbox
    assert "1 report matches" in session.get(desk.url + "/?tag=ARMY", timeout=30).text
    assert "1 report matches" in session.get(desk.url + "/?sensitive=1", timeout=30).text
    assert "3 reports match" in session.get(desk.url + "/?sensitive=0", timeout=30).text
    assert session.get(desk.url + "/?status=closed", timeout=30).status_code == 400
    # Removing a tag, and what the history says.
    answer = post(session, desk, f"/reports/{photo}/tags/remove", tag="army")
    assert answer.status_code == 303
    desk.stop()
    with ReviewDB.open(sample.path, REVIEW_PASSPHRASE) as db:
        entries = rh.history(db, report=photo)
        assert [e.action for e in entries] == ["status", "tag-added", "tag-added", "note",
                                               "sensitive", "tag-removed"]
        assert {e.reviewer for e in entries} == {NAME}
        assert rh.notes(db, photo)[0].detail["text"] == HOSTILE_NOTE
        assert rh.verify_history(db).intact
        assert wf.remembered_reviewer(db) == NAME


def test_a_form_without_the_token_changes_nothing(desk: Desk, sample: Sample) -> None:
    session = unlock(desk)
    photo = sample.ids["photo"]
    forms = [(f"/reports/{photo}/status", {"status": "verified"}),
             (f"/reports/{photo}/tags", {"tag": "x"}),
             (f"/reports/{photo}/notes", {"note": "x"}),
             (f"/reports/{photo}/sensitive", {"sensitive": "1"}),
             (f"/reports/{photo}/incident", {"incident": "new", "title": "x"}),
             (f"/reports/{photo}/duplicate", {"of": str(sample.ids["heard"])}),
             ("/reviewer", {"reviewer": "Mallory"})]
    for path, data in forms:
        for token in (None, "0" * 64):
            sent = data if token is None else {**data, "csrf_token": token}
            answer = session.post(desk.url + path, data=sent, timeout=30,
                                  allow_redirects=False)
            assert answer.status_code == 403 and "This form has expired" in answer.text, path
        # Another site's page, even with the right token, is refused before it runs.
        token = csrf(session.get(desk.url + "/", timeout=30).text)
        answer = session.post(desk.url + path, data={**data, "csrf_token": token},
                              headers={"Sec-Fetch-Site": "cross-site"}, timeout=30,
                              allow_redirects=False)
        assert answer.status_code == 403, path
    page = session.get(f"{desk.url}/reports/{photo}", timeout=30).text
    assert "No change recorded yet." in page and "Mallory" not in page
    desk.stop()
    with ReviewDB.open(sample.path, REVIEW_PASSPHRASE) as db:
        assert rh.history(db) == [] and wf.state(db, photo).status == "new"


def test_incidents_link_reports_and_count_once(desk: Desk, sample: Sample) -> None:
    session = unlock(desk)
    photo, heard, hostile = sample.ids["photo"], sample.ids["heard"], sample.ids["hostile"]
    answer = post(session, desk, f"/reports/{photo}/incident", incident="new",
                  title="<i>Shooting</i> at the river")
    assert answer.status_code == 303
    page = session.get(f"{desk.url}/reports/{photo}", timeout=30).text
    [incident] = re.findall(r'href="/incidents/(\d+)"', page)[:1]
    # Another report joins it, a third is marked a duplicate of the first.
    assert post(session, desk, f"/reports/{heard}/incident", incident=incident
                ).status_code == 303
    answer = post(session, desk, f"/reports/{hostile}/duplicate", of=str(photo))
    assert answer.headers["Location"] == f"/reports/{hostile}?done=saved#verification"
    listing = session.get(desk.url + "/incidents", timeout=30).text
    # 4 reports (one a follow-up of the photo report), all of one incident now.
    assert "The 4 reports in this database describe 1 incident:" in listing
    assert "&lt;i&gt;Shooting&lt;/i&gt;" in listing and "<i>Shooting" not in listing
    answer = post(session, desk, f"/incidents/{incident}", title="River shooting",
                  date_from="2026-03-01", date_to="2026-03-02", site="Marange",
                  types="shooting", people_affected="12", note="=1+1")
    assert answer.headers["Location"] == f"/incidents/{incident}?done=saved"
    page = session.get(f"{desk.url}/incidents/{incident}", timeout=30).text
    assert "3 reports describe it" in page and "River shooting" in page
    assert "Dismissed as a duplicate" in page and "2026-03-01 – 2026-03-02" in page
    assert "Incident " + incident + " changed:" in page
    # Wrong values come back as a message, never a 500; nothing is saved.
    for data, message in (({"people_affected": "-3"}, "whole number"),
                          ({"date_from": "2026-02-30"}, "YYYY-MM-DD"),
                          ({"title": ""}, "the field was empty")):
        answer = post(session, desk, f"/incidents/{incident}",
                      **{"title": "River shooting", **data})
        assert answer.status_code == 303 and "problem=" in answer.headers["Location"]
        assert message in session.get(desk.url + answer.headers["Location"], timeout=30).text
    answer = post(session, desk, f"/reports/{photo}/duplicate", of=str(photo))
    assert answer.headers["Location"] == (f"/reports/{photo}?problem=same-report"
                                          "#verification")
    for of in ("99999", "abc", "9" * 30):
        answer = post(session, desk, f"/reports/{photo}/duplicate", of=of)
        assert "problem=no-report" in answer.headers["Location"]
    assert post(session, desk, "/reports/99999/status", status="verified").status_code == 404
    assert session.get(desk.url + "/incidents/99999", timeout=30).status_code == 404
    assert post(session, desk, f"/reports/{photo}/incident", incident="99999"
                ).headers["Location"].endswith("problem=unknown-incident#verification")


def test_without_a_name_the_desk_asks_for_one_first(desk: Desk, sample: Sample) -> None:
    session = unlock(desk, name=None)
    photo = sample.ids["photo"]
    answer = post(session, desk, f"/reports/{photo}/status", status="verified")
    assert answer.status_code == 303
    assert answer.headers["Location"] == f"/reviewer?next=/reports/{photo}"
    page = session.get(desk.url + answer.headers["Location"], timeout=30).text
    token = csrf(page)
    refused = session.post(desk.url + "/reviewer", data={
        "csrf_token": token, "reviewer": "x\u202eevil", "next": f"/reports/{photo}"},
        timeout=30, allow_redirects=False)
    assert refused.status_code == 400 and "\u202e" not in refused.text
    answer = session.post(desk.url + "/reviewer", data={
        "csrf_token": token, "reviewer": " Beatriz ", "next": f"/reports/{photo}"},
        timeout=30, allow_redirects=False)
    assert answer.headers["Location"] == f"/reports/{photo}"
    assert post(session, desk, f"/reports/{photo}/status", status="verified"
                ).headers["Location"].endswith("done=saved#verification")
    # A later unlock without a name uses the one remembered in the database.
    session.post(desk.url + "/lock", data={"csrf_token": token}, timeout=30)
    again = unlock(desk, name=None)
    assert "Reviewer: <bdi>Beatriz</bdi>" in again.get(desk.url + "/", timeout=30).text
    # A name that cannot be recorded is refused before the key is derived.
    page = requests.Session()
    token = csrf(page.get(desk.url + "/unlock", timeout=30).text)
    answer = page.post(desk.url + "/unlock", data={
        "csrf_token": token, "passphrase": REVIEW_PASSPHRASE, "reviewer": "x" * 10_000},
        timeout=30, allow_redirects=False)
    assert answer.status_code == 400 and "at most 80 characters" in answer.text


def test_the_history_page_checks_the_chain(desk: Desk, sample: Sample) -> None:
    session = unlock(desk)
    photo = sample.ids["photo"]
    for status in ("under-review", "verified"):
        assert post(session, desk, f"/reports/{photo}/status", status=status
                    ).status_code == 303
    page = session.get(desk.url + "/history", timeout=30).text
    assert "2 changes recorded. Every entry matches its hash" in page
    with ReviewDB.open(sample.path, REVIEW_PASSPHRASE) as db:
        head = rh.verify_history(db).head.hex()
        assert head in page and f'href="/reports/{photo}"' in page
        first = rh.history(db)[0].hash.hex()
    found = session.get(desk.url + "/history", params={"hash": first.upper()}, timeout=30)
    assert "Found: entry 1 has this hash" in found.text
    assert "No entry has this hash" in session.get(
        desk.url + "/history", params={"hash": "ab" * 32}, timeout=30).text
    assert "64 hexadecimal digits" in session.get(
        desk.url + "/history", params={"hash": "<script>"}, timeout=30).text
    with ReviewDB.open(sample.path, REVIEW_PASSPHRASE) as db:
        # Someone with the passphrase edits an entry with other tools.
        db.connection.execute("DROP TRIGGER review_history_no_update")
        db.connection.execute("UPDATE review_history SET reviewer = 'Mallory' WHERE id = 1")
    page = session.get(desk.url + "/history", timeout=30).text
    assert "Warning: entry 1 of the history does not match its hash" in page
    assert "Entry 1 has this hash, but the history does not match" in session.get(
        desk.url + "/history", params={"hash": first}, timeout=30).text
