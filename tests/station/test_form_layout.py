"""The form as a monitor on a cheap phone sees it (issue 11, section 2), in every language:
required answers marked before sending, a date control that does not depend on
the browser's locale, a word about photos' metadata, room to say where, and a
follow-up page that says the addition was received."""

from __future__ import annotations

import re
from typing import Any

import pytest
from babel.dates import get_month_names

from reporter.formats import envelope
from reporter.formats.report import Report
from reporter.i18n.languages import shipped_languages
from tests.conftest import Station, form_token, valid_report

REQUIRED_WORD = {"en": "required", "fr": "obligatoire", "pt": "obrigatório", "sw": "lazima",
                 "ln": "esengeli", "sn": "zvinodiwa"}


def sealed(station: Station) -> list[Report]:
    with station.store() as store:
        return [Report.from_body(envelope.open_envelope(r.envelope, station.reviewer))
                for r in store.reports()]


def post(client: Any, data: dict[str, Any], path: str = "/", lang: str = "en") -> Any:
    token = form_token(client.get(f"{path}?lang={lang}").get_data(as_text=True))
    return client.post(path, data={"form_token": token, "lang": lang, **data})


@pytest.mark.parametrize("lang", shipped_languages())
def test_the_four_required_answers_are_marked_before_sending(client: Any, lang: str) -> None:
    page = client.get(f"/?lang={lang}").get_data(as_text=True)
    mark = f'<span class="required">({REQUIRED_WORD[lang]})</span>'
    marked = re.findall(r"<(?:legend|label)[^>]*>([^<]*) " + re.escape(mark), page)
    assert len(marked) == 4, marked  # what happened, when, the description, how they know
    assert page.count(mark) == 4
    assert f"({REQUIRED_WORD[lang]})" in page.split("<form", 1)[0]  # said at the top too
    # Assistive technology is told too, where ARIA allows it.
    assert re.search(r'<textarea id="description"[^>]*aria-required="true"', page)
    assert re.search(r'<fieldset class="field" role="radiogroup" aria-required="true"'
                     r'[^>]*>\s*<legend>[^<]*<span class="required">', page)
    assert page.count('aria-required="true"') == 2
    follow_up = client.get(f"/follow-up?lang={lang}").get_data(as_text=True)
    assert follow_up.count(mark) == 2
    assert re.search(r'<input type="text" id="receipt"[^>]*aria-required="true"', follow_up)


@pytest.mark.parametrize("lang", shipped_languages())
def test_the_date_is_day_month_year_with_month_names_in_the_page_language(
        client: Any, lang: str) -> None:
    page = client.get(f"/?lang={lang}").get_data(as_text=True)
    assert 'type="date"' not in page  # a phone shows its own format there
    assert "year-month-day" not in page and "2026-03-14" not in page
    assert re.search(r'<input type="text" id="incident_day" [^>]*inputmode="numeric" '
                     r'maxlength="2"', page)
    assert re.search(r'<input type="text" id="incident_year" [^>]*inputmode="numeric" '
                     r'maxlength="4"', page)
    options = re.findall(r'<option value="(\d*)">([^<]*)</option>',
                         page[page.index('id="incident_month"'):].split("</select>", 1)[0])
    names = get_month_names("wide", context="stand-alone", locale=lang)
    assert options == [("", "–"), *[(str(n), str(names[n])) for n in range(1, 13)]]


def test_the_date_typed_is_sealed_as_a_calendar_date(client: Any, station: Station) -> None:
    response = post(client, valid_report(incident_day=" 7 ", incident_month="3",
                                         incident_year="2026"), lang="sw")
    assert response.status_code == 200
    [report] = sealed(station)
    assert report.fields["incident_date"] == "2026-03-07"
    post(client, valid_report(incident_day="", incident_month="", incident_year="",
                              date_approximate="early March"))
    assert sealed(station)[1].fields["incident_date"] is None


@pytest.mark.parametrize(("day", "month", "year", "message"), [
    ("14", "", "2026", "Please give the day, the month and the year"),
    ("", "3", "", "Please give the day, the month and the year"),
    ("31", "4", "2026", "This date does not exist"),
    ("29", "2", "2025", "This date does not exist"),
    ("0", "1", "2026", "This date does not exist"),
    ("١٤", "3", "2026", "Please write the day and the year in digits"),
    ("14", "3", "26", "Please write the day and the year in digits"),
    ("14", "3", "1850", "Please check the year."),
    ("1", "1", "2999", "This date is in the future."),
    ("1", "13", "2026", "Not a valid choice."),
])
def test_a_date_that_is_not_one_is_said_at_the_date_and_kept(
        client: Any, station: Station, day: str, month: str, year: str, message: str) -> None:
    response = post(client, valid_report(incident_day=day, incident_month=month,
                                         incident_year=year, description="kept"))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    error = re.search(r'<p class="error" id="incident_date-error">([^<]*)</p>', page)
    assert error and message in error.group(1), page[page.find("Date of the incident"):][:900]
    for control in ("incident_day", "incident_month", "incident_year"):
        assert re.search(rf'id="{control}"[^>]*aria-describedby="incident_date-error" '
                         r'aria-invalid="true"', page), control
    assert f'id="incident_day" name="incident_day" value="{day}"' in page
    assert 'role="alert"' in page and sealed(station) == []


def test_a_photo_may_carry_place_and_time_said_beside_the_field(client: Any) -> None:
    for path in ("/", "/follow-up"):
        page = client.get(path).get_data(as_text=True)
        note = re.search(r'<p class="hint warning" id="attachments-note">([^<]*)</p>', page)
        assert note and "where and when it was taken" in note.group(1)
        assert re.search(r'<input type="file" id="attachments"[^>]*'
                         r'aria-describedby="attachments-hint attachments-note"', page)


def test_where_exactly_has_room_to_write(client: Any, station: Station) -> None:
    page = client.get("/").get_data(as_text=True)
    assert re.search(r'<textarea id="location" name="location" rows="3" class="short"', page)
    where = "Behind the school,\non the road to pit 7, near the big baobab by the river crossing"
    assert post(client, valid_report(location=where)).status_code == 200
    assert sealed(station)[0].fields["location"] == where


@pytest.mark.parametrize("lang", shipped_languages())
def test_after_a_follow_up_the_page_says_the_addition_was_received(
        client: Any, station: Station, lang: str) -> None:
    from tests.i18n.test_i18n import _translations

    first = re.search(r'class="receipt"[^>]*>([0-9A-Z-]{19})<',
                      post(client, valid_report(), lang=lang).get_data(as_text=True))
    assert first
    page = post(client, {"receipt": first.group(1), "description": "more"}, "/follow-up",
                lang).get_data(as_text=True)
    added = "Thank you: what you added was received"
    title = _translations(lang).get(added) or added
    assert f"<h1>{title}</h1>" in page and f"<title>{title}</title>" in page
    report = "Thank you: your report was received"
    assert (_translations(lang).get(report) or report) not in page


def test_the_receipt_page_links_are_a_list_of_tap_targets(client: Any) -> None:
    page = post(client, valid_report()).get_data(as_text=True)
    actions = re.search(r'<ul class="actions">(.*?)</ul>', page, re.S)
    assert actions and actions.group(1).count("<li><a href=") == 2
