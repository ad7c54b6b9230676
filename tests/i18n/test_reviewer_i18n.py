"""The review desk's catalogue (domain ``reviewer``, ``reporter/i18n/reviewer.py``):
extracted from the desk's code and templates only, kept apart from the monitors'
``messages`` domain, English, French and Portuguese complete and compiled, and the
desk's pages really shown in each."""

from __future__ import annotations

import io
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from babel.messages import frontend
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient

from reporter.i18n.languages import TRANSLATIONS_DIR
from reporter.i18n.reviewer import DOMAIN, reviewer_languages
from reporter.review.desk.app import create_app
from reporter.review.desk.config import DeskConfig
from tests.conftest import Station
from tests.desk import make_sample
from tests.reviewing import REVIEW_PASSPHRASE

ROOT = Path(__file__).resolve().parents[2]
POT = TRANSLATIONS_DIR / f"{DOMAIN}.pot"
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}
SHIPPED = ("en", "fr", "pt")
TRANSLATED = ("fr", "pt")
_PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|%[sd]")


def po(lang: str) -> Path:
    return TRANSLATIONS_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def catalog(path: Path) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, abort_invalid=True)


def keys(cat: Catalog) -> set[Any]:
    return {(m.id, m.context) for m in cat if m.id}


def extracted(config: str) -> frozenset[Any]:
    parse_cfg = getattr(frontend, "parse_mapping_cfg", None) or frontend.parse_mapping
    with (ROOT / config).open(encoding="utf-8") as f:
        method_map, options_map = parse_cfg(f)
    return frozenset((message, context) for _f, _l, message, _c, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS))


def test_the_template_has_exactly_the_desks_strings() -> None:
    fresh = extracted("babel-reviewer.cfg")
    assert ("Unlock the review desk", None) in fresh  # a template
    assert ("Wrong address", None) in fresh  # a lazy_gettext in a view module
    assert ("Who did it", None) in fresh  # an N_ in review/labels.py
    committed = keys(catalog(POT))
    assert fresh == committed, (
        f"run `make translations`: missing {sorted(map(str, fresh - committed))}, "
        f"stale {sorted(map(str, committed - fresh))}")


def test_the_two_domains_do_not_mix() -> None:
    monitors = extracted("babel.cfg")
    desk = extracted("babel-reviewer.cfg")
    assert ("Unlock the review desk", None) not in monitors
    assert ("Who did it", None) not in monitors
    assert ("Report an incident", None) not in desk


def test_the_desk_offers_english_french_and_portuguese() -> None:
    assert reviewer_languages() == SHIPPED


@pytest.mark.parametrize("lang", SHIPPED)
def test_each_catalogue_has_a_proper_header_and_every_string(lang: str) -> None:
    cat = catalog(po(lang))
    assert str(cat.locale) == lang and not cat.fuzzy
    assert keys(cat) == keys(catalog(POT)), f"{lang}: run `make translations`"
    if lang != "en":
        assert re.search(r"^# Review status: .+$", cat.header_comment, re.MULTILINE)


def forms(value: object) -> tuple[str, ...]:
    if isinstance(value, (tuple, list)):
        return tuple(str(v or "") for v in value)
    return (str(value or ""),)


@pytest.mark.parametrize("lang", TRANSLATED)
def test_each_translation_is_complete_plain_and_keeps_its_placeholders(lang: str) -> None:
    for message in catalog(po(lang)):
        if not message.id:
            continue
        assert not message.fuzzy, (lang, message.id)
        ids = forms(message.id)
        for index, string in enumerate(forms(message.string)):
            assert string.strip(), (lang, message.id)
            source = ids[min(index, len(ids) - 1)]
            assert sorted(_PLACEHOLDER.findall(string)) == sorted(
                _PLACEHOLDER.findall(source)), (lang, source, string)
            for char in "<>&\"":
                assert string.count(char) <= "".join(ids).count(char), (lang, string)


@pytest.mark.parametrize("lang", SHIPPED)
def test_the_compiled_catalogue_is_fresh(lang: str) -> None:
    buffer = io.BytesIO()
    write_mo(buffer, catalog(po(lang)))
    buffer.seek(0)
    fresh = read_mo(buffer)
    with po(lang).with_suffix(".mo").open("rb") as f:
        committed = read_mo(f)
    def messages(cat: Catalog) -> dict[Any, Any]:
        return {(forms(m.id), m.context): forms(m.string) for m in cat if m.id}

    assert messages(committed) == messages(fresh), f"{lang}: run `make translations`"
    if lang != "en":
        assert len(messages(committed)) == len(keys(catalog(POT)))


# --- the pages in each language ---------------------------------------------------------

BASE = "http://127.0.0.1:8765"
TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


@pytest.fixture
def app(station: Station, tmp_path: Path) -> Flask:
    sample = make_sample(station, tmp_path)
    app = create_app(DeskConfig(review_db=sample.path, port=8765, testing=True))
    app.config["SAMPLE"] = sample
    return app


def unlock(client: FlaskClient, **headers: str) -> None:
    page = client.get("/unlock", base_url=BASE, headers=headers).get_data(as_text=True)
    match = TOKEN.search(page)
    assert match
    answer = client.post("/unlock", base_url=BASE, headers=headers, data={
        "csrf_token": match.group(1), "passphrase": REVIEW_PASSPHRASE})
    assert answer.status_code == 303


def pages(client: FlaskClient, app: Flask, **headers: str) -> list[str]:
    ids = app.config["SAMPLE"].ids
    paths = ["/", "/?from=2026-13-01", f"/reports/{ids['photo']}",
             f"/reports/{ids['follow-up']}", "/reports/99999"]
    return [client.get(p, base_url=BASE, headers=headers).get_data(as_text=True)
            for p in paths]


def translations(lang: str) -> dict[str, str]:
    return {m.id: forms(m.string)[0] for m in catalog(po(lang))
            if m.id and isinstance(m.id, str)}


@pytest.mark.parametrize("lang", TRANSLATED)
def test_the_browsers_language_is_the_desks(app: Flask, lang: str) -> None:
    client = app.test_client()
    header = {"Accept-Language": f"{lang}-CD,{lang};q=0.9"}
    unlock(client, **header)
    shown = "\n".join(pages(client, app, **header))
    assert f'<html lang="{lang}"' in shown
    english = [msgid for msgid in translations(lang) if len(msgid) >= 14 and "%" not in msgid
               and "'" not in msgid and msgid in shown and translations(lang)[msgid] != msgid]
    assert english == [], f"{lang}: English left on the pages: {english}"
    assert translations(lang)["Chain of custody"] in shown
    assert translations(lang)["What the monitor sent"] in shown


def test_a_language_button_changes_the_language_and_unlocking_keeps_it(app: Flask) -> None:
    client = app.test_client()
    page = client.get("/unlock", base_url=BASE).get_data(as_text=True)
    assert '<html lang="en"' in page and 'value="pt" lang="pt">Português</button>' in page
    match = TOKEN.search(page)
    assert match
    answer = client.post("/language", base_url=BASE, data={
        "csrf_token": match.group(1), "lang": "pt", "next": "/unlock"})
    assert answer.status_code == 303 and answer.headers["Location"] == "/unlock"
    assert "Desbloquear a mesa de leitura" in client.get("/unlock", base_url=BASE).get_data(
        as_text=True)
    unlock(client)
    assert "Caixa de entrada" in client.get("/", base_url=BASE).get_data(as_text=True)
    answer = client.post("/language", base_url=BASE, data={"lang": "fr", "next": "/"})
    assert answer.status_code == 403  # no token: nothing changes
    assert "Caixa de entrada" in client.get("/", base_url=BASE).get_data(as_text=True)


@pytest.mark.parametrize("value", ["xx", "fr-FR", "sw", "", "<b>"])
def test_a_language_the_desk_does_not_offer_changes_nothing(app: Flask, value: str) -> None:
    client = app.test_client()
    page = client.get("/unlock", base_url=BASE).get_data(as_text=True)
    match = TOKEN.search(page)
    assert match
    client.post("/language", base_url=BASE, data={"csrf_token": match.group(1),
                                                  "lang": value})
    html = client.get("/unlock", base_url=BASE).get_data(as_text=True)
    expected = "fr" if value == "fr-FR" else "en"
    assert f'<html lang="{expected}"' in html
