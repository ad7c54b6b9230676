"""Bad input never produces a traceback or a 500, and failures store nothing."""

from __future__ import annotations

import io
import logging

import pytest

from reporter.errors import StoreUnavailable, TooManyRecipients
from reporter.formats import envelope
from reporter.formats.crypto import RecipientPrivateKey
from reporter.formats.receipt import new_receipt
from reporter.formats.report import Report
from reporter.station.web import intake as intake_views
from reporter.storage.blobs import BlobStore
from tests.conftest import Station, form_token, valid_report


def stored_attachments(station: Station) -> int:
    if not (station.path / "attachments.db").exists():
        return 0
    with BlobStore.open(station.path, station.key) as blobs:
        return blobs.upload_count()


def _count(station: Station) -> int:
    with station.store() as store:
        return store.report_count()


@pytest.mark.parametrize(("method", "path", "status"), [
    ("get", "/nope", 404),
    ("delete", "/", 405),
    ("put", "/follow-up", 405),
])
def test_http_errors_are_translated_pages(client, method: str, path: str, status: int) -> None:  # type: ignore[no-untyped-def]
    response = getattr(client, method)(path + "?lang=fr")
    assert response.status_code == status
    page = response.get_data(as_text=True)
    assert '<html lang="fr"' in page
    assert "Traceback" not in page


def test_a_too_large_body_gets_a_page_not_a_crash(client, station: Station) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/", data={"description": "x" * (2 * 1024 * 1024)})
    assert response.status_code == 413
    assert "too large" in response.get_data(as_text=True)
    assert _count(station) == 0


@pytest.mark.parametrize("overrides", [
    {"incident_types": ["not-a-type"]},
    {"incident_types": []},
    {"incident_day": "yesterday-ish"},
    {"incident_day": "31", "incident_month": "2"},
    {"incident_year": "26"},
    {"incident_month": "13"},
    {"incident_month": ""},
    {"incident_year": "2999"},
    {"incident_day": "", "incident_month": "", "incident_year": "", "date_approximate": ""},
    {"site": "a site the operator never added"},
    {"site": "other", "site_other": ""},
    {"people_affected": "-3"},
    {"people_affected": "lots"},
    {"people_affected": "10000000000000000000000"},
    {"description": ""},
    {"description": "x" * 20_001},
    {"source": ""},
    {"monitor_code": "<script>"},
    {"contact": "contact", "contact_details": ""},
    {"contact": "carrier pigeon"},
    {"location": "y" * 501},
])
def test_invalid_answers_are_refused_beside_the_field(client, station: Station, overrides) -> None:  # type: ignore[no-untyped-def]
    token = form_token(client.get("/").get_data(as_text=True))
    response = client.post("/", data={"form_token": token, **valid_report(**overrides)})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'class="error"' in page
    assert 'aria-invalid="true"' in page or "<fieldset" in page
    assert _count(station) == 0


def test_garbage_bytes_and_odd_encodings_do_not_crash(client, station: Station) -> None:  # type: ignore[no-untyped-def]
    for body, content_type in [
        (b"\xff\xfe\x00garbage=\x80\x81", "application/x-www-form-urlencoded"),
        (b"--x\r\nbroken multipart", "multipart/form-data; boundary=x"),
        (b"{}", "application/json"),
    ]:
        response = client.post("/", data=body, content_type=content_type)
        assert response.status_code == 400
    assert _count(station) == 0


def test_a_locked_store_keeps_the_answers_and_stores_nothing(  # type: ignore[no-untyped-def]
        client, station: Station, monkeypatch: pytest.MonkeyPatch) -> None:
    def locked(*_args: object, **_kwargs: object) -> int:
        raise StoreUnavailable("the database is locked by another process")

    monkeypatch.setattr(intake_views, "accept", locked)
    token = form_token(client.get("/").get_data(as_text=True))
    response = client.post("/", data={"form_token": token,
                                      **valid_report(description="please keep me")})
    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert "could not save your report" in page
    assert "please keep me" in page
    assert _count(station) == 0


def test_a_station_with_no_recipient_refuses_politely(client, station: Station) -> None:  # type: ignore[no-untyped-def]
    with station.store() as store:
        store.remove_recipient("reviewer")
    token = form_token(client.get("/").get_data(as_text=True))
    response = client.post("/", data={"form_token": token, **valid_report()})
    assert response.status_code == 503
    assert _count(station) == 0


def test_an_unexpected_bug_logs_no_report_content(  # type: ignore[no-untyped-def]
        client, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    secret = "CNRYlogleak0123456789"

    def buggy(*_args: object, **_kwargs: object) -> int:
        raise ValueError(f"invalid literal: {secret!r}")

    monkeypatch.setattr(intake_views, "accept", buggy)
    token = form_token(client.get("/").get_data(as_text=True))
    with caplog.at_level(logging.DEBUG):
        response = client.post("/", data={"form_token": token,
                                          **valid_report(description=secret)})
    assert response.status_code == 500
    assert "Traceback" not in response.get_data(as_text=True)
    assert "ValueError" in caplog.text
    assert secret not in caplog.text


def test_a_bug_in_an_error_page_still_ends_in_the_fixed_page(  # type: ignore[no-untyped-def]
        app, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from reporter.station.web import errors as error_pages

    def broken(_code: int) -> tuple[str, int]:
        raise RuntimeError("CNRYhandler")

    monkeypatch.setattr(error_pages, "_page", broken)
    response = app.test_client().get("/nope")
    assert response.status_code == 500
    assert b"Nothing was saved" in response.data
    assert "CNRYhandler" not in caplog.text
    # The fixed page is as guarded as every other page.
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "no-store" in response.headers["Cache-Control"]
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert b'<a href="/recipe">Leave quickly' in response.data  # web/neutral.py
    from tests.e2e.test_observatory import Answer, observatory

    score = observatory(Answer("fixed page", 500, list(response.headers.items()),
                               response.get_data(as_text=True)))
    assert (score.grade, score.score) == ("A+", 130), score.results


def test_reader_connections_are_pooled_and_a_broken_one_is_dropped(  # type: ignore[no-untyped-def]
        app, client, monkeypatch: pytest.MonkeyPatch) -> None:
    from reporter.station.connections import KEPT_READERS
    from reporter.station.web.db import connections

    for _ in range(3):
        assert client.get("/").status_code == 200
    pool = connections(app)
    assert pool.idle_count() == 1, "one connection, taken and given back each time"

    def buggy(*_args: object, **_kwargs: object) -> int:
        raise ValueError("a bug")

    monkeypatch.setattr(intake_views, "accept", buggy)
    token = form_token(client.get("/").get_data(as_text=True))
    assert client.post("/", data={"form_token": token, **valid_report()}).status_code == 500
    assert pool.idle_count() == 0, "the connection used by a failed request is closed"
    stores = [pool.take() for _ in range(KEPT_READERS + 2)]
    for store in stores:
        pool.give_back(store)
    assert pool.idle_count() == KEPT_READERS


# --- crafted requests (issue 10, item 3) ---------------------------------------

JSON_BODIES = ['{"description": 5}', '{"description": ["a", "b"]}', '[1, 2]', '"text"',
               'null', '{"incident_types": {"a": 1}, "people_affected": [3]}', '{']


@pytest.mark.parametrize("body", JSON_BODIES)
def test_a_json_body_is_an_empty_form_not_a_crash(client, station: Station, body: str) -> None:  # type: ignore[no-untyped-def]
    token = form_token(client.get("/").get_data(as_text=True))
    for path in ("/", "/follow-up"):
        response = client.post(path, data=body, content_type="application/json")
        assert response.status_code == 400, (path, body)
    # Even with a valid CSRF token inside it, a JSON body is not a form.
    response = client.post("/", json={"form_token": token, **valid_report(description=7)})
    assert response.status_code == 400
    assert _count(station) == 0


INCIDENT_FIELDS = ["form_token", "lang", "incident_types", "incident_day", "incident_month",
                   "incident_year", "date_approximate",
                   "site", "site_other", "location", "people_affected", "children_affected",
                   "women_affected", "perpetrators", "perpetrator_other", "description",
                   "source", "monitor_code", "contact", "contact_details"]


def _as_file(data: dict[str, object], name: str) -> dict[str, object]:
    return {**data, name: (io.BytesIO(b"%PDF-1.7\n" + b"x" * 2000), "field.pdf")}


@pytest.mark.parametrize("name", INCIDENT_FIELDS)
def test_a_text_field_sent_as_a_file_is_missing_not_a_crash(client, station: Station,  # type: ignore[no-untyped-def]
                                                          name: str) -> None:
    token = form_token(client.get("/").get_data(as_text=True))
    data = _as_file({"form_token": token, **valid_report(monitor_code="M-1")}, name)
    response = client.post("/", data=data, content_type="multipart/form-data")
    assert response.status_code in (200, 400), response.status_code
    assert "Traceback" not in response.get_data(as_text=True)
    # Whatever the answer, the file was never taken for an attachment.
    assert stored_attachments(station) == 0


@pytest.mark.parametrize("name", ["form_token", "lang", "receipt", "description"])
def test_a_follow_up_field_sent_as_a_file_is_missing_not_a_crash(  # type: ignore[no-untyped-def]
        client, station: Station, name: str) -> None:
    token = form_token(client.get("/follow-up").get_data(as_text=True))
    data = _as_file({"form_token": token, "receipt": new_receipt(), "description": "more"},
                    name)
    response = client.post("/follow-up", data=data, content_type="multipart/form-data")
    assert response.status_code == (200 if name == "lang" else 400)
    assert stored_attachments(station) == 0


@pytest.mark.parametrize("name", ["lang", "unknown_field", "attachment", "Attachments",
                                  "attachments[]"])
def test_only_parts_named_attachments_are_attachments(client, station: Station,  # type: ignore[no-untyped-def]
                                                      name: str) -> None:
    token = form_token(client.get("/").get_data(as_text=True))
    data = _as_file({"form_token": token, **valid_report()}, name)
    response = client.post("/", data=data, content_type="multipart/form-data")
    assert response.status_code == 200
    with station.store() as store:
        [row] = store.reports()
    report = Report.from_body(envelope.open_envelope(row.envelope, station.reviewer))
    assert report.attachments == ()
    assert stored_attachments(station) == 0


@pytest.mark.parametrize("path", ["/static/missing", "/static/style.css/x", "/static/style.css",
                                  "/static/", "/static/../reporter/app.py"])
def test_no_static_route_and_its_404_is_a_translated_page(client, path: str) -> None:  # type: ignore[no-untyped-def]
    """The style sheet is inline: the app serves no file, so no mtime leaves the install."""
    response = client.get(path + "?lang=fr")
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert '<html lang="fr"' in page and "Page introuvable" in page
    assert 'href="/?lang=en"' in page, "the language menu points at the form"
    assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("path", ["/", "/follow-up", "/nope", "/static/style.css"])
def test_no_page_carries_a_validator_from_the_install(client, path: str) -> None:  # type: ignore[no-untyped-def]
    response = client.get(path)
    assert "ETag" not in response.headers and "Last-Modified" not in response.headers


def test_65_recipients_are_refused_at_intake_not_a_crash(client, station: Station) -> None:  # type: ignore[no-untyped-def]
    """A list grown past 64 (by an older version): every submission is refused with
    "not saved", the answers kept, never a 500."""
    with station.store() as store, store._write() as db:
        for i in range(64):
            db.execute("INSERT INTO recipients (name, public_key) VALUES (?, ?)",
                       (f"extra {i}", RecipientPrivateKey.generate().public_key.raw))
    token = form_token(client.get("/").get_data(as_text=True))
    response = client.post("/", data={"form_token": token,
                                      **valid_report(description="keep me please")})
    assert response.status_code == 503
    assert "keep me please" in response.get_data(as_text=True)
    assert _count(station) == 0


def test_the_store_refuses_a_65th_recipient(station: Station) -> None:
    with station.store() as store:
        for i in range(63):
            store.add_recipient(f"r{i}", RecipientPrivateKey.generate().public_key)
        with pytest.raises(TooManyRecipients, match="64"):
            store.add_recipient("one too many", RecipientPrivateKey.generate().public_key)
        assert len(store.recipients()) == 64


def test_a_damaged_station_db_is_a_503_and_a_log_line_not_a_500(  # type: ignore[no-untyped-def]
        app, station: Station, caplog: pytest.LogCaptureFixture) -> None:
    from tests.storage.test_sqlc import flip_every_page_but_the_first

    with station.store() as store:
        for i in range(30):
            store.add_site(f"site {i} " + "x" * 150)
        store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    flip_every_page_but_the_first(station.path / "station.db")
    with caplog.at_level(logging.ERROR):
        response = app.test_client().get("/")
    assert response.status_code == 503
    assert "Traceback" not in response.get_data(as_text=True)
    assert "damaged or was altered" in caplog.text and "unhandled" not in caplog.text
