"""Changing the language never loses what was typed, nor a receipt.

On the two forms the language menu is made of buttons of the form itself
(``switch_lang``): the page comes back in the chosen language with every
answer, unchecked and unsent. On the receipt page it is a small form that
carries the code (never in a URL).
"""

from __future__ import annotations

import re
from typing import Any

from reporter.formats.receipt import new_receipt
from tests.conftest import Station, form_token, valid_report

RECEIPT_RE = re.compile(r'class="receipt"[^>]*>([0-9A-Z-]{19})<')


def stored(station: Station) -> int:
    with station.store() as store:
        return store.report_count()


def switch(client: Any, path: str, to: str, data: dict[str, Any]) -> Any:
    """What the browser sends when a language button of the form is pressed."""
    return client.post(f"{path}?lang={to}", data={**data, "switch_lang": to},
                       content_type="application/x-www-form-urlencoded")


def test_the_form_menu_is_buttons_of_the_form(client: Any) -> None:
    for path, form_id in (("/?lang=fr", "report"), ("/follow-up?lang=fr", "follow-up")):
        page = client.get(path).get_data(as_text=True)
        nav = page[page.index('<nav class="languages"'):page.index("</nav>")]
        buttons = re.findall(r"<button [^>]*>", nav)
        assert len(buttons) == 5 and "<a " not in nav  # every language but the page's own
        for button in buttons:
            assert f'form="{form_id}"' in button and 'name="switch_lang"' in button
            assert 'formenctype="application/x-www-form-urlencoded"' in button
        assert f'<form id="{form_id}" method="post"' in page
        # The form's first button (its default: Enter in a field) sends it.
        first = re.search(rf'<button type="submit" form="{form_id}"[^>]*>', page)
        assert first and "hidden" in first.group(0) and "switch_lang" not in first.group(0)


def test_switching_keeps_every_answer_and_checks_nothing(client: Any, station: Station) -> None:
    token = form_token(client.get("/?lang=fr").get_data(as_text=True))
    answers = valid_report(incident_types=["shooting", "child-labour"], location="pit 4",
                           people_affected="7", description="Écrit avant de changer",
                           perpetrators=["police"], monitor_code="M-12", contact="contact",
                           contact_details="+243 000", source="heard")
    response = switch(client, "/", "sw", {"form_token": token, "lang": "fr", **answers})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert '<html lang="sw"' in page
    assert "Écrit avant de changer" in page and "pit 4" in page
    for value in ("shooting", "child-labour", "police", "heard", "contact"):
        assert re.search(rf'value="{value}" checked', page), value
    assert 'value="7"' in page and 'value="M-12"' in page and 'value="+243 000"' in page
    assert '<option value="Marange" selected>' in page
    assert form_token(page) == token  # the same form: a later send is still one report
    assert 'class="error"' not in page and 'role="alert"' not in page
    assert stored(station) == 0
    # Even an incomplete form is not checked.
    response = switch(client, "/", "pt", {"form_token": token, "description": "só isto"})
    assert response.status_code == 200 and 'class="error"' not in response.get_data(as_text=True)
    # Sent afterwards, in the new language, it is stored once.
    sent = client.post("/", data={"form_token": token, "lang": "sw", **answers})
    assert sent.status_code == 200 and stored(station) == 1


def test_switching_with_an_old_form_gives_a_new_token_quietly(client: Any) -> None:
    response = switch(client, "/follow-up", "ln", {"form_token": "expired", "receipt": "7KQM",
                                                   "description": "Nakomi"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and '<html lang="ln"' in page
    assert "Nakomi" in page and 'value="7KQM"' in page
    assert form_token(page) != "expired" and 'role="alert"' not in page
    assert "<h1>" + "Kobakisa na rapport" in page  # still the follow-up form


def test_files_chosen_are_named_as_left_behind(client: Any) -> None:
    token = form_token(client.get("/").get_data(as_text=True))
    page = switch(client, "/", "en", {"form_token": token, "attachments": "IMG_0042.jpg",
                                      **valid_report()}).get_data(as_text=True)
    note = "Files are not kept when the language changes. Please choose them again."
    assert page.count(note) == 2  # at the top and beside the file field
    assert re.search(r'<div class="note" role="status"><p>' + re.escape(note), page)
    assert 'id="attachments-error"' in page
    without = switch(client, "/", "en", {"form_token": token, "attachments": "",
                                         **valid_report()}).get_data(as_text=True)
    assert note not in without


def test_the_receipt_page_menu_carries_the_code_in_a_form(client: Any) -> None:
    token = form_token(client.get("/?lang=pt").get_data(as_text=True))
    page = client.post("/", data={"form_token": token, "lang": "pt", **valid_report()}
                       ).get_data(as_text=True)
    [code] = RECEIPT_RE.findall(page)
    nav = page[page.index('<nav class="languages"'):page.index("</nav>")]
    assert '<form method="post" action="/receipt">' in nav
    assert f'<input type="hidden" name="receipt" value="{code}">' in nav
    assert '<input type="hidden" name="follow_up" value="0">' in nav
    assert len(re.findall(r'<button type="submit" name="lang" value="[a-z]+"', nav)) == 5
    # No URL anywhere on the page holds the code (it would stay in the history).
    assert not [u for u in re.findall(r'(?:href|action)="([^"]*)"', page) if code in u]
    again = client.post("/receipt", data={"receipt": code, "follow_up": "0", "lang": "sn"})
    assert again.status_code == 200
    text = again.get_data(as_text=True)
    assert '<html lang="sn"' in text and RECEIPT_RE.findall(text) == [code]
    assert "Tatenda" in text


def test_a_follow_up_receipt_stays_a_follow_up_receipt(client: Any) -> None:
    code = new_receipt()
    page = client.post("/receipt", data={"receipt": code.lower(), "follow_up": "1",
                                         "lang": "fr"}).get_data(as_text=True)
    assert RECEIPT_RE.findall(page) == [code]
    assert '<input type="hidden" name="follow_up" value="1">' in page
    assert "Ce que vous avez ajouté" in page


def test_the_receipt_page_takes_only_a_receipt_code(client: Any) -> None:
    for bad in ("", "7KQM-3XHD-9TWA-R2PX", "<script>", "x" * 10_000):
        response = client.post("/receipt", data={"receipt": bad, "lang": "fr"})
        assert response.status_code == 400 and "<script>" not in response.get_data(as_text=True)
    assert client.get("/receipt").status_code == 405


def test_other_pages_link_to_the_form(client: Any) -> None:
    page = client.get("/no-such-page?lang=fr").get_data(as_text=True)
    nav = page[page.index('<nav class="languages"'):page.index("</nav>")]
    assert '<a href="/?lang=sw"' in nav and "<button" not in nav
