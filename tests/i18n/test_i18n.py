"""The shipped catalogues, and the language a monitor sees.

Every shipped language (``translations/LINGUAS``) is covered: English (the
source) and each translation (French, Portuguese, Swahili, Lingala, Shona,
...). The catalogues are checked against the code (no string missing from the
template, none stale), for completeness (every string translated, none fuzzy,
the same placeholders), for a header that says who translated them, and
against their compiled ``.mo`` files (which the wheel ships, so a stale one
would put old text in front of monitors). Then the pages themselves are
rendered in each language, including the error pages and WTForms' own
validation messages, and searched for leftover English.

A catalogue that is not shipped (in progress) is held only to what
``reporter i18n check`` calls an error: it parses, has the template's
strings, keeps placeholders and writes plain text. Its translator may be at
13 of 110 strings; ``make test`` must still pass. The folder checked is the
one of ``tests/i18n/folder.py`` (the project's, or a copy of it).
"""

from __future__ import annotations

import io
import re
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from babel import Locale
from babel.messages import frontend
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po, unescape
from markupsafe import escape

from reporter.formats import envelope
from reporter.formats.report import Report
from reporter.i18n.languages import (
    DEFAULT_LOCALE,
    catalogue_languages,
    shipped_languages,
)
from reporter.i18n.tools import EXAMPLE_RECEIPT
from reporter.station.forms import MAX_DESCRIPTION, MAX_PEOPLE
from tests.conftest import Station, form_token, valid_report
from tests.i18n.folder import TRANSLATIONS

ROOT = Path(__file__).resolve().parents[2]
POT = TRANSLATIONS / "messages.pot"
# The keywords of the Makefile's `translations` target (-k _l -k lazy_gettext)
# on top of pybabel's defaults (_, gettext, ngettext, ...).
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}
# Shorter msgids ("Police", "Send") may legitimately occur inside translated
# text or be identical in both languages; the page checks skip them.
MIN_CHECKED_LENGTH = 12
# Every shipped translation: the generic checks below run for each of them.
LANGUAGES = shipped_languages(TRANSLATIONS)
# Shipped or in progress: every catalogue must compile and keep placeholders.
CATALOGUES = catalogue_languages(TRANSLATIONS)
TRANSLATED = tuple(lang for lang in LANGUAGES if lang != DEFAULT_LOCALE)
# A browser's usual Accept-Language for each, with a region we serve.
BROWSER_LOCALES = {"fr": "fr-CD", "pt": "pt-AO", "sw": "sw-CD", "ln": "ln-CD", "sn": "sn-ZW"}

Key = tuple[Any, str | None]  # (msgid, msgctxt); a plural msgid is a tuple


def _po_path(lang: str) -> Path:
    return TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po"


def _mo_path(lang: str) -> Path:
    return TRANSLATIONS / lang / "LC_MESSAGES" / "messages.mo"


@cache
def _catalog(path: Path) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, abort_invalid=True)


def _forms(value: object) -> tuple[str, ...]:
    """A msgid or msgstr as a tuple of strings (one per plural form)."""
    if isinstance(value, (tuple, list)):
        return tuple(str(form or "") for form in value)
    return (str(value or ""),)


def _keys(catalog: Catalog) -> set[Key]:
    return {(m.id, m.context) for m in catalog if m.id}


@cache
def _fresh_extraction() -> frozenset[Key]:
    """What `pybabel extract -F babel.cfg -k _l -k lazy_gettext .` finds today."""
    parse_cfg = getattr(frontend, "parse_mapping_cfg", None) or frontend.parse_mapping
    with (ROOT / "babel.cfg").open(encoding="utf-8") as f:
        method_map, options_map = parse_cfg(f)
    found = set()
    for _filename, _lineno, message, _comments, context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=KEYWORDS):
        found.add((message, context))
    return frozenset(found)


@cache
def _translations(lang: str) -> dict[str, str]:
    """msgid -> msgstr (first form) of one shipped catalogue."""
    return {m.id: _forms(m.string)[0] for m in _catalog(_po_path(lang))
            if m.id and isinstance(m.id, str)}


def test_french_and_the_newer_translations_are_all_shipped() -> None:
    """Guard: the parametrised checks below must not silently run for nobody."""
    assert {"fr", "pt", "sw", "ln", "sn"} <= set(TRANSLATED)
    assert DEFAULT_LOCALE not in TRANSLATED


# -- placeholders ------------------------------------------------------------

PY_FORMAT = re.compile(
    r"%(?:\((?P<name>[^)]*)\))?[#0 +-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?"
    r"(?P<conv>[diouxXeEfFgGcrsa%])"
)


def _placeholders(text: str) -> tuple[Counter[str], list[str]]:
    """(named placeholders as a multiset, positional ones in order); ``%%`` ignored."""
    named: Counter[str] = Counter()
    positional: list[str] = []
    for match in PY_FORMAT.finditer(text):
        if match.group("conv") == "%":
            continue
        if match.group("name") is not None:
            named[match.group(0)] += 1
        else:
            positional.append(match.group(0))
    return named, positional


def _sample_values(text: str) -> dict[str, int] | tuple[int, ...] | None:
    named, positional = _placeholders(text)
    if named:
        return {PY_FORMAT.match(p).group("name"): 1 for p in named}  # type: ignore[union-attr]
    if positional:
        return tuple(1 for _ in positional)
    return None


def test_placeholder_parser_sees_both_styles() -> None:
    assert _placeholders("at most %(max)d of %(min)s, %s and %5.2f, 100%%") == (
        Counter({"%(max)d": 1, "%(min)s": 1}), ["%s", "%5.2f"])


# -- the template against the code ------------------------------------------

def test_the_template_has_exactly_the_strings_in_the_code() -> None:
    fresh = _fresh_extraction()
    # Guard against an extraction that silently finds nothing (babel.cfg's
    # patterns are relative to the project root).
    assert ("Report an incident", None) in fresh  # a template string
    assert ("Please write a number, for example 3.", None) in fresh  # a lazy_gettext one
    assert ("Please use at most %(max)s characters.", None) in fresh  # a gettext one
    assert ("Not a valid choice.", None) in fresh  # WTForms' own, listed in forms.py
    committed = _keys(_catalog(POT))
    assert not fresh - committed, (
        f"strings missing from messages.pot (run `make translations`): "
        f"{sorted(map(str, fresh - committed))}")
    assert not committed - fresh, (
        f"stale strings in messages.pot (run `make translations`): "
        f"{sorted(map(str, committed - fresh))}")


# -- the catalogues ----------------------------------------------------------

def _raw_header(path: Path) -> dict[str, str]:
    """The header entry as written in the file (babel fills gaps from the locale)."""
    text = path.read_text(encoding="utf-8")
    match = re.search(r'^msgid ""\nmsgstr ""\n((?:".*"\n)+)', text, re.MULTILINE)
    assert match, f"{path} has no header entry"
    body = "".join(unescape(line) for line in match.group(1).splitlines())
    fields = {}
    for line in body.split("\n"):
        if ":" in line:
            name, value = line.split(":", 1)
            fields[name.strip().lower()] = value.strip()
    return fields


def test_every_shipped_language_has_a_catalogue_and_a_compiled_one() -> None:
    catalogues = {p.parent.parent.name for p in TRANSLATIONS.glob("*/LC_MESSAGES/*.po")}
    assert set(LANGUAGES) <= catalogues
    assert set(CATALOGUES) == catalogues
    for lang in LANGUAGES:
        assert _mo_path(lang).is_file(), f"{lang}: messages.mo is not committed"


@pytest.mark.parametrize("lang", CATALOGUES)
def test_each_catalogue_parses_with_a_proper_header(lang: str) -> None:
    catalog = _catalog(_po_path(lang))
    header = _raw_header(_po_path(lang))
    assert header.get("language") == lang
    assert re.fullmatch(r"nplurals=\d+; plural=.+;", header.get("plural-forms", ""))
    assert re.search(r"charset=utf-8\b", header.get("content-type", ""), re.IGNORECASE)
    # pybabel compile skips a catalogue whose header is fuzzy.
    assert not catalog.fuzzy, f"{lang}: the header is marked fuzzy"
    assert str(catalog.locale) == lang
    assert _keys(catalog) == _keys(_catalog(POT)), f"{lang}: run `make translations`"
    if lang != DEFAULT_LOCALE:
        assert re.search(r"^# Review status: .+$", catalog.header_comment, re.MULTILINE), (
            f"{lang}: the header must say who translated it and whether it was reviewed")


@pytest.mark.parametrize("lang", TRANSLATED)
def test_each_translation_is_complete_and_nothing_is_fuzzy(lang: str) -> None:
    catalog = _catalog(_po_path(lang))
    missing, fuzzy = [], []
    for message in catalog:
        if not message.id:
            continue
        if not all(form.strip() for form in _forms(message.string)):
            missing.append(message.id)
        if message.fuzzy:
            fuzzy.append(message.id)
    assert not missing, f"{lang}: untranslated strings: {missing}"
    assert not fuzzy, f"{lang}: fuzzy strings: {fuzzy}"
    assert len(_keys(catalog)) == len(_keys(_catalog(POT)))


@pytest.mark.parametrize("lang", TRANSLATED)
def test_each_translation_keeps_the_example_receipt_code(lang: str) -> None:
    example = EXAMPLE_RECEIPT
    assert any(example in msgid for msgid in _translations(lang))
    for msgid, msgstr in _translations(lang).items():
        if example in msgid:
            assert example in msgstr, (lang, msgid, msgstr)


# What Babel writes in a header field nobody filled in.
HEADER_PLACEHOLDERS = ("FULL NAME", "EMAIL@ADDRESS", "PROJECT VERSION", "YEAR-MO-DA",
                       "LL@li.org")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_each_shipped_header_is_filled_in(lang: str) -> None:
    header = _raw_header(_po_path(lang))
    for name in ("project-id-version", "report-msgid-bugs-to", "po-revision-date",
                 "last-translator", "language-team"):
        value = header.get(name, "")
        assert value, f"{lang}: the header has no {name} line"
        assert not any(p in value for p in HEADER_PLACEHOLDERS), (lang, name, value)


@pytest.mark.parametrize("lang", TRANSLATED)
def test_each_translation_says_who_made_it_and_whether_a_native_speaker_reviewed_it(
        lang: str) -> None:
    comment = _catalog(_po_path(lang)).header_comment
    assert re.search(r"^# Review status: (.+)$", comment, re.MULTILINE), (
        f"{lang}: no review status line")
    # Who translated it (a person, an organisation, or "machine translation"):
    # the header's Last-Translator, which `reporter i18n init --translator` fills.
    translator = _raw_header(_po_path(lang)).get("last-translator", "")
    assert len(translator) >= 3 and "FULL NAME" not in translator, (
        f"{lang}: the header's Last-Translator must say who translated it")


@pytest.mark.parametrize("code", LANGUAGES)
def test_babel_knows_every_language_and_its_own_name(code: str) -> None:
    """The language menu shows each language's name in that language."""
    locale = Locale.parse(code)
    assert str(locale) == code
    name = locale.get_display_name(code)
    assert name and name.lower() != code


@pytest.mark.parametrize("lang", CATALOGUES)
def test_translations_keep_every_placeholder(lang: str) -> None:
    for message in _catalog(_po_path(lang)):
        if not message.id:
            continue
        ids = _forms(message.id)
        for index, string in enumerate(_forms(message.string)):
            if not string:
                continue  # only allowed in the English source catalogue (checked above)
            source = ids[min(index, len(ids) - 1)]
            assert _placeholders(string) == _placeholders(source), (lang, source, string)
            values = _sample_values(source)
            if values is not None:
                string % values  # no stray "%" that would break the formatting


def test_placeholder_check_catches_a_changed_placeholder() -> None:
    source = "Please use at most %(max)d characters."
    assert _placeholders("Au maximum %(max)s caractères.") != _placeholders(source)
    assert _placeholders("Au maximum %(maximum)d caractères.") != _placeholders(source)
    assert _placeholders("Au maximum %d caractères.") != _placeholders(source)


@pytest.mark.parametrize("lang", CATALOGUES)
def test_translations_are_plain_text(lang: str) -> None:
    """Templates insert a translation unescaped: it must not bring markup of its own."""
    for message in _catalog(_po_path(lang)):
        if not message.id:
            continue
        ids = "".join(_forms(message.id))
        for string in _forms(message.string):
            for char in "<>&\"":
                assert string.count(char) <= ids.count(char), (lang, message.id, string)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_committed_mo_matches_a_fresh_compile(lang: str) -> None:
    buffer = io.BytesIO()
    write_mo(buffer, _catalog(_po_path(lang)))  # as `pybabel compile` (no fuzzy)
    buffer.seek(0)
    fresh = read_mo(buffer)
    with _mo_path(lang).open("rb") as f:
        committed = read_mo(f)

    def messages(catalog: Catalog) -> dict[Key, Any]:
        return {(m.id, m.context): m.string for m in catalog if m.id}

    assert messages(committed) == messages(fresh), (
        f"{lang}: messages.mo is stale, run `make translations`")
    assert committed.plural_forms == fresh.plural_forms
    assert str(committed.locale) == str(fresh.locale) == lang
    if lang != DEFAULT_LOCALE:  # a shipped translation is complete
        assert len(messages(committed)) == len(_keys(_catalog(POT)))


# -- choosing the language ---------------------------------------------------

HTML_LANG = re.compile(r'<html lang="([^"]*)"')


def _page_language(response: Any) -> str:
    match = HTML_LANG.search(response.get_data(as_text=True))
    assert match, "no <html lang>"
    return match.group(1)


@pytest.mark.parametrize("lang", TRANSLATED)
@pytest.mark.parametrize("path", ["/", "/follow-up"])
def test_lang_in_the_url_chooses_the_language(client: Any, path: str, lang: str) -> None:
    response = client.get(f"{path}?lang={lang}")
    assert response.status_code == 200
    assert _page_language(response) == lang
    page = response.get_data(as_text=True)
    assert f'aria-label="{_translations(lang)["Language"]}"' in page


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_language_menu_lists_every_language_by_its_own_name(client: Any, lang: str) -> None:
    form = client.get(f"/?lang={lang}").get_data(as_text=True)  # buttons of the form
    other = client.get(f"/no-such-page?lang={lang}").get_data(as_text=True)  # links
    for code in LANGUAGES:
        name = str(escape(Locale.parse(code).get_display_name(code).capitalize()))
        for page in (form, other):
            if code == lang:
                assert f'<strong lang="{code}" aria-current="true">{name}</strong>' in page, code
        if code != lang:
            assert re.search(rf'name="switch_lang" value="{code}" [^>]*lang="{code}">'
                             rf"{re.escape(name)}</button>", form), code
            assert f'lang="{code}" hreflang="{code}">{name}</a>' in other, code


def test_english_is_the_default(client: Any) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert _page_language(response) == "en"
    assert "<title>Report an incident</title>" in response.get_data(as_text=True)


@pytest.mark.parametrize("lang", TRANSLATED)
def test_accept_language_chooses_the_language(client: Any, lang: str) -> None:
    regional = BROWSER_LOCALES.get(lang, lang)
    response = client.get("/", headers={"Accept-Language": f"{regional},{lang};q=0.9"})
    assert response.status_code == 200
    assert _page_language(response) == lang
    page = response.get_data(as_text=True)
    assert f"<title>{_translations(lang)['Report an incident']}</title>" in page


def test_lang_in_the_url_wins_over_the_browser(client: Any) -> None:
    response = client.get("/?lang=en", headers={"Accept-Language": "fr-CD,fr;q=0.9"})
    assert _page_language(response) == "en"


@pytest.mark.parametrize("header", [
    ";;;q=abc",
    "x" * 5000,
    ";" * 5000,
    ",".join(["zz-QQ;q=0.5"] * 400),
    "*;q=xyz,,,;;",
    "fr;q=abc",
    "é",
])
def test_malformed_accept_language_falls_back_to_english(client: Any, header: str) -> None:
    response = client.get("/", headers={"Accept-Language": header})
    assert response.status_code == 200
    assert _page_language(response) == "en"


@pytest.mark.parametrize("value", ["xx", "../../etc", "%00", "fr%00", "", "fr/../en", "%ff"])
def test_unknown_or_malformed_lang_falls_back_to_english(client: Any, value: str) -> None:
    for path in ("/", "/follow-up"):
        response = client.get(f"{path}?lang={value}")
        assert response.status_code == 200, (path, value)
        assert _page_language(response) == "en", (path, value)


def test_an_unknown_lang_still_honours_the_browser(client: Any) -> None:
    response = client.get("/?lang=xx", headers={"Accept-Language": "fr"})
    assert response.status_code == 200
    assert _page_language(response) == "fr"


# -- the language survives a submission --------------------------------------

RECEIPT_RE = re.compile(r'<p class="receipt"[^>]*>([^<]+)</p>')


def _form_post(client: Any, path: str, lang: str, data: dict[str, Any]) -> Any:
    """Post like a browser would: the form's action has no ?lang, only the hidden field."""
    token = form_token(client.get(f"{path}?lang={lang}").get_data(as_text=True))
    return client.post(path, data={"form_token": token, "lang": lang, **data})


def _reports(station: Station) -> list[Report]:
    with station.store() as store:
        return [Report.from_body(envelope.open_envelope(r.envelope, station.reviewer))
                for r in store.reports()]


@pytest.mark.parametrize("lang", TRANSLATED)
def test_the_hidden_lang_field_keeps_the_language_after_a_failed_post(
        client: Any, station: Station, lang: str) -> None:
    response = _form_post(client, "/", lang, valid_report(description=""))
    assert response.status_code == 400
    assert _page_language(response) == lang
    page = response.get_data(as_text=True)
    assert _on_page(_translations(lang)["Your report was not sent yet."], page)
    assert _on_page(_translations(lang)["Please fill in this field."], page)
    assert f'name="lang" value="{lang}"' in page
    with station.store() as store:
        assert store.report_count() == 0


@pytest.mark.parametrize("lang", TRANSLATED)
def test_the_hidden_lang_field_keeps_the_language_after_a_successful_post(
        client: Any, station: Station, lang: str) -> None:
    response = _form_post(client, "/", lang, valid_report())
    assert response.status_code == 200
    assert _page_language(response) == lang
    page = response.get_data(as_text=True)
    assert _on_page(_translations(lang)["Thank you: your report was received"], page)
    [report] = _reports(station)
    assert report.receipt in page
    assert report.locale == lang
    # The links onward keep the language too.
    assert f"/follow-up?lang={lang}" in page


FOLLOW_UPS = {"fr": "Ils sont revenus.", "pt": "Eles voltaram.", "sw": "Walirudi tena.",
              "ln": "Bazongaki lisusu.", "sn": "Vakadzoka zvakare."}


@pytest.mark.parametrize("lang", TRANSLATED)
def test_a_follow_up_stays_in_the_language(client: Any, station: Station, lang: str) -> None:
    _form_post(client, "/", lang, valid_report())
    [first] = _reports(station)
    response = _form_post(client, "/follow-up", lang, {
        "receipt": first.receipt, "description": FOLLOW_UPS.get(lang, "They came back.")})
    assert response.status_code == 200
    assert _page_language(response) == lang
    page = response.get_data(as_text=True)
    assert _on_page(
        _translations(lang)["What you added is locked and kept with your report."], page)
    assert _reports(station)[1].locale == lang


# -- whole pages, in English and in each translation -------------------------

def _render_pages(client: Any, lang: str) -> dict[str, tuple[int, str]]:
    """Every page a monitor can meet, including every kind of validation error."""
    pages: dict[str, tuple[int, str]] = {}

    def keep(name: str, response: Any) -> None:
        pages[name] = (response.status_code, response.get_data(as_text=True))

    keep("form", client.get(f"/?lang={lang}"))
    keep("follow-up form", client.get(f"/follow-up?lang={lang}"))
    # WTForms' built-in messages (through _CatalogueTranslations) and ours.
    keep("invalid values", _form_post(client, "/", lang, {
        "incident_types": ["not-a-type"],
        "incident_day": "not-a-day",
        "incident_month": "4",
        "incident_year": "2026",
        "site": "not-a-site",
        "people_affected": "many",
        "source": "not-a-source",
        "monitor_code": "!!",
        "contact": "contact",
        "description": "x" * (MAX_DESCRIPTION + 1),
    }))
    keep("inconsistent answers", _form_post(client, "/", lang, {
        "incident_day": "1",
        "incident_month": "1",
        "incident_year": "2999",
        "site": "other",
        "people_affected": "2",
        "children_affected": "3",
        "women_affected": str(MAX_PEOPLE + 1),
    }))
    keep("no date", _form_post(client, "/", lang, valid_report(
        incident_day="", incident_month="", incident_year="")))
    keep("part of a date", _form_post(client, "/", lang, valid_report(incident_day="")))
    keep("no such date", _form_post(client, "/", lang, valid_report(
        incident_day="31", incident_month="4")))
    keep("odd year", _form_post(client, "/", lang, valid_report(incident_year="1850")))
    keep("expired form", client.post("/", data={"lang": lang, **valid_report()}))
    keep("cross-site", client.post("/", data={"lang": lang, **valid_report()},
                                   headers={"Sec-Fetch-Site": "cross-site"}))
    keep("busy", _busy_post(client, lang))
    first = _form_post(client, "/", lang, valid_report())
    keep("receipt", first)
    receipt = RECEIPT_RE.search(pages["receipt"][1])
    assert receipt, "no receipt code on the receipt page"
    keep("follow-up errors", _form_post(client, "/follow-up", lang, {"receipt": "AAAA"}))
    keep("follow-up receipt", _form_post(client, "/follow-up", lang, {
        "receipt": receipt.group(1), "description": "x"}))
    keep("language switched", client.post(f"/?lang={lang}", data={
        "switch_lang": lang, "attachments": "IMG_0042.jpg", **valid_report()},
        content_type="application/x-www-form-urlencoded"))
    keep("receipt again", client.post("/receipt", data={
        "receipt": receipt.group(1), "follow_up": "1", "lang": lang}))
    keep("404", client.get(f"/no-such-page?lang={lang}"))
    keep("405", client.put(f"/?lang={lang}"))
    keep("413", client.post(f"/?lang={lang}", data={
        "lang": lang,
        "description": "x" * (client.application.config["MAX_FORM_MEMORY_SIZE"] + 1)}))
    # Attachments: a refused kind of file, and files dropped because the form failed.
    keep("refused file", _form_post(client, "/", lang, {
        **valid_report(), "attachments": (io.BytesIO(b"MZ" + bytes(100)), "tool.exe")}))
    keep("files dropped", _form_post(client, "/", lang, {
        **valid_report(description=""),
        "attachments": (io.BytesIO(b"%PDF-1.7\n" + bytes(100)), "statement.pdf")}))
    # The station busy (the submission limit) or short of disk space (web/admission.py).
    keep("busy station", _shed_post(client, lang))
    keep("no room for files", _short_of_space_post(client, lang, free_mib=32, with_file=True))
    keep("out of space", _short_of_space_post(client, lang, free_mib=8, with_file=False))
    keep("leave quickly", client.get(f"/recipe?lang={lang}"))
    return pages


def _a_file() -> tuple[io.BytesIO, str]:
    return io.BytesIO(b"%PDF-1.7\n" + bytes(100)), "statement.pdf"


def _shed_post(client: Any, lang: str) -> Any:
    """A form sent when the station-wide limit has no token left (its bucket swapped)."""
    from reporter.station.ratelimit import TokenBucket
    from reporter.station.web.context import station

    context = station(client.application)
    empty = TokenBucket(1, 3600.0)
    empty.take()
    saved = context.submissions
    object.__setattr__(context, "submissions", empty)
    try:
        return _form_post(client, "/", lang, {**valid_report(), "attachments": _a_file()})
    finally:
        object.__setattr__(context, "submissions", saved)


def _short_of_space_post(client: Any, lang: str, *, free_mib: int, with_file: bool) -> Any:
    """A form sent to a station whose (simulated) disk has ``free_mib`` MiB left of 64 kept."""
    from reporter.station.diskspace import MIB, DiskSpace
    from reporter.station.web.context import station

    context = station(client.application)
    instance = context.config.instance_path
    size_file = instance.parent / "disk-size"
    used = sum(p.stat().st_size for p in instance.rglob("*") if p.is_file())
    size_file.write_text(str(used + free_mib * MIB))
    saved = context.disk
    object.__setattr__(context, "disk", DiskSpace(instance, 64 * MIB, size_file))
    try:
        data = {**valid_report(), **({"attachments": _a_file()} if with_file else {})}
        return _form_post(client, "/", lang, data)
    finally:
        object.__setattr__(context, "disk", saved)


def _busy_post(client: Any, lang: str) -> Any:
    """A form sent while an earlier send of the same form is still being stored."""
    from reporter.station.web.context import station

    token = form_token(client.get(f"/?lang={lang}").get_data(as_text=True))
    context = station(client.application)
    verified = context.tokens.verify(token, context.config.form_token_lifetime)
    assert verified is not None
    name = context.tokens.ledger_name(verified)
    context.ledger.claim(name, verified.issued)  # the first send, still being sealed
    wait, context.ledger._wait = context.ledger._wait, 0.0
    try:
        return client.post("/", data={"form_token": token, "lang": lang, **valid_report()})
    finally:
        context.ledger._wait = wait
        context.ledger.release(name)


EXPECTED_STATUS = {"form": 200, "follow-up form": 200, "invalid values": 400,
                   "inconsistent answers": 400, "no date": 400, "part of a date": 400,
                   "no such date": 400, "odd year": 400, "expired form": 400,
                   "cross-site": 403, "busy": 503, "language switched": 200,
                   "receipt again": 200,
                   "receipt": 200, "follow-up errors": 400, "follow-up receipt": 200,
                   "404": 404, "405": 405, "413": 413, "refused file": 400,
                   "files dropped": 400, "busy station": 429, "no room for files": 507,
                   "out of space": 507, "leave quickly": 200}


def _patterns(text: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """``text`` as it can appear in HTML, any placeholder standing for any value.

    Jinja's ``_()`` inserts a translation as it is (translations are trusted
    markup), while labels and error messages go through autoescaping
    (``'`` becomes ``&#39;``): look for both forms.
    """
    # PY_FORMAT has two groups: split gives [literal, name, conv, literal, ...].
    literals = PY_FORMAT.split(text)[::3]
    return (re.compile("[^<]+?".join(re.escape(str(escape(part))) for part in literals)),
            re.compile("[^<]+?".join(re.escape(part) for part in literals)))


def _on_page(text: str, page: str) -> bool:
    return any(pattern.search(page) for pattern in _patterns(text))


def _literal_length(text: str) -> int:
    return len(PY_FORMAT.sub("", text))


def _checked(lang: str) -> list[tuple[str, str]]:
    return [(msgid, msgstr) for msgid, msgstr in _translations(lang).items()
            if msgstr != msgid and _literal_length(msgid) > MIN_CHECKED_LENGTH]


def test_the_page_patterns_allow_for_html_escaping_and_placeholders() -> None:
    assert _on_page("the coalition's reviewers", "<p>the coalition&#39;s reviewers</p>")
    assert _on_page("the coalition's reviewers", "<p>the coalition's reviewers</p>")
    assert _on_page("at most %(max)d characters.", "<p>at most 20000 characters.</p>")
    assert not _on_page("at most %(max)d characters.", "<p>at most <b>2</b> characters.</p>")
    assert not _on_page("Send the report", "<p>Envoyer le rapport</p>")


@pytest.mark.parametrize("lang", TRANSLATED)
def test_pages_contain_no_english_from_the_catalogue(client: Any, lang: str) -> None:
    pages = _render_pages(client, lang)
    assert {name: status for name, (status, _page) in pages.items()} == EXPECTED_STATUS
    checked = _checked(lang)
    assert len(checked) > 50
    leftovers = []
    for name, (_status, page) in pages.items():
        assert f'<html lang="{lang}" dir="ltr"' in page, name
        for msgid, _msgstr in checked:
            if _on_page(msgid, page):
                leftovers.append((name, msgid))
    assert not leftovers, f"English left on {lang} pages: {leftovers}"


@pytest.mark.parametrize("lang", TRANSLATED)
def test_pages_show_the_translation_of_every_english_string(client: Any, lang: str) -> None:
    english = _render_pages(client, "en")
    translated = _render_pages(client, lang)
    assert english.keys() == translated.keys()
    seen: set[str] = set()
    untranslated = []
    for name, (_status, en_page) in english.items():
        assert '<html lang="en"' in en_page, name
        page = translated[name][1]
        for msgid, msgstr in _checked(lang):
            if _on_page(msgid, en_page):
                seen.add(msgid)
                if not _on_page(msgstr, page):
                    untranslated.append((name, msgid))
    assert not untranslated, f"{lang} pages lack these translations: {untranslated}"
    # The rendering really reached WTForms' own messages, ours with a
    # placeholder, and every error page.
    for msgid in ("Please write a number, for example 3.",
                  "Please write the day and the year in digits, for example 14 and 2026.",
                  "Please give the day, the month and the year, or leave all three empty "
                  "and say below roughly when.",
                  "This date does not exist: please check the day and the month.",
                  "Date of the incident",
                  "Four answers are needed, marked (required). Everything else is optional.",
                  "A photo or video may record where and when it was taken, and on which "
                  "phone. Only the reviewers can see it; if that could put you in danger, do "
                  "not send the file.",
                  "Thank you: what you added was received",
                  "Not a valid choice.",
                  "Please use at most %(max)s characters.",
                  "Please enter a number between %(min)s and %(max)s.",
                  "Please choose from the list.",
                  "A monitor code has only letters, digits and dashes.",
                  "Please give the date, or say roughly when it happened.",
                  "This is more than the number of people affected.", "This date is in the future.",
                  "Please write the name of the site.", "Please say how we can reach you.",
                  "This receipt code is not right: please check each character.",
                  "This form had expired, or the station was restarted.",
                  "If you already saw a receipt code for this report, it was received: do "
                  "not send it again.",
                  "This form was sent from another website",
                  "The station is still saving what you sent with this form.",
                  "Thank you: your report was received",
                  "What you added is locked and kept with your report.",
                  "This station has no page at that address.",
                  "This page cannot be used that way. Please start again from the form.",
                  "Please send fewer or smaller files, or a shorter report, and send it again.",
                  "Photos, sound or video (optional)",
                  "‘%(name)s’ was not accepted: only photos, sound, video, PDF and documents "
                  "can be sent.",
                  "Your files were not kept because of the problems marked on this page. "
                  "Please choose them again.",
                  "Your files were not kept: please choose them again.",
                  "Files are not kept when the language changes. Please choose them again.",
                  "For your safety, the station only takes what is sent from its own pages. "
                  "Please open the form on this station and send it from there."):
        assert msgid in seen, msgid
