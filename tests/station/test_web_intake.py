"""The monitor-facing pages, through Flask's test client with a real store."""

from __future__ import annotations

from reporter.formats import envelope
from reporter.formats.report import Report
from tests.conftest import Station, form_token, valid_report


def _post(client, data: dict, path: str = "/", lang: str = "en"):  # type: ignore[no-untyped-def]
    token = form_token(client.get(f"{path}?lang={lang}").get_data(as_text=True))
    return client.post(path, data={"form_token": token, "lang": lang, **data})


def _reports(station: Station) -> list[Report]:
    with station.store() as store:
        return [Report.from_body(envelope.open_envelope(r.envelope, station.reviewer))
                for r in store.reports()]


def test_form_page_renders_every_field(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/").get_data(as_text=True)
    for name in ("incident_types", "incident_day", "incident_month", "incident_year",
                 "date_approximate", "site", "site_other",
                 "location", "people_affected", "children_affected", "women_affected",
                 "perpetrators", "perpetrator_other", "description", "source", "monitor_code",
                 "contact", "contact_details"):
        assert f'name="{name}"' in page, name
    assert "<script" not in page


def test_a_valid_report_is_sealed_and_gets_a_receipt(client, station: Station) -> None:  # type: ignore[no-untyped-def]
    response = _post(client, valid_report(people_affected="4", children_affected="1"))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    [report] = _reports(station)
    assert report.receipt in page
    assert report.kind == "incident"
    assert report.fields["description"] == "Soldiers fired on diggers near the river."
    assert report.fields["site"] == "Marange"
    assert report.fields["people_affected"] == 4
    assert report.locale == "en"


def test_errors_are_shown_beside_fields_and_input_is_kept(client, station: Station) -> None:  # type: ignore[no-untyped-def]
    response = _post(client, valid_report(people_affected="2", children_affected="9",
                                          description="kept text 123"))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'id="children_affected-error"' in page
    assert "kept text 123" in page
    with station.store() as store:
        assert store.report_count() == 0


def test_a_missing_form_token_keeps_the_answers(client, station: Station) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/", data=valid_report(description="typed before expiry"))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "This form had expired, or the station was restarted." in page
    assert "typed before expiry" in page
    assert form_token(page)  # a new one, to send the form again
    with station.store() as store:
        assert store.report_count() == 0


def test_follow_up_links_inside_the_envelope(client, station: Station) -> None:  # type: ignore[no-untyped-def]
    _post(client, valid_report())
    [first] = _reports(station)
    response = _post(client, {"receipt": first.receipt.lower().replace("-", " "),
                              "description": "They came back."}, path="/follow-up")
    assert response.status_code == 200
    _, follow_up = _reports(station)
    assert follow_up.kind == "follow-up"
    assert follow_up.follows == first.receipt


def test_a_mistyped_receipt_is_refused(client, station: Station) -> None:  # type: ignore[no-untyped-def]
    _post(client, valid_report())
    [first] = _reports(station)
    wrong = ("Z" if first.receipt[0] != "Z" else "Y") + first.receipt[1:]
    response = _post(client, {"receipt": wrong, "description": "x"}, path="/follow-up")
    assert response.status_code == 400
    assert "receipt code is not right" in response.get_data(as_text=True)
