"""Bad input never produces a traceback or a 500, and failures store nothing."""

from __future__ import annotations

import logging

import pytest

from reporter.errors import StoreUnavailable
from reporter.station.web import intake as intake_views
from tests.conftest import Station, csrf_token, valid_report


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
    {"incident_date": "yesterday-ish"},
    {"incident_date": "2999-01-01"},
    {"incident_date": "", "date_approximate": ""},
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
    token = csrf_token(client.get("/").get_data(as_text=True))
    response = client.post("/", data={"csrf_token": token, **valid_report(**overrides)})
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
    token = csrf_token(client.get("/").get_data(as_text=True))
    response = client.post("/", data={"csrf_token": token,
                                      **valid_report(description="please keep me")})
    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert "could not save your report" in page
    assert "please keep me" in page
    assert _count(station) == 0


def test_a_station_with_no_recipient_refuses_politely(client, station: Station) -> None:  # type: ignore[no-untyped-def]
    with station.store() as store:
        store.remove_recipient("reviewer")
    token = csrf_token(client.get("/").get_data(as_text=True))
    response = client.post("/", data={"csrf_token": token, **valid_report()})
    assert response.status_code == 503
    assert _count(station) == 0


def test_an_unexpected_bug_logs_no_report_content(  # type: ignore[no-untyped-def]
        client, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    secret = "CNRYlogleak0123456789"

    def buggy(*_args: object, **_kwargs: object) -> int:
        raise ValueError(f"invalid literal: {secret!r}")

    monkeypatch.setattr(intake_views, "accept", buggy)
    token = csrf_token(client.get("/").get_data(as_text=True))
    with caplog.at_level(logging.DEBUG):
        response = client.post("/", data={"csrf_token": token,
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
    token = csrf_token(client.get("/").get_data(as_text=True))
    assert client.post("/", data={"csrf_token": token, **valid_report()}).status_code == 500
    assert pool.idle_count() == 0, "the connection used by a failed request is closed"
    stores = [pool.take() for _ in range(KEPT_READERS + 2)]
    for store in stores:
        pool.give_back(store)
    assert pool.idle_count() == KEPT_READERS
