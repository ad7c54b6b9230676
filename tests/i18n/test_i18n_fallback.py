"""A broken catalogue never breaks the station: that language falls back to English."""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from reporter.i18n import languages as i18n
from reporter.station.app import create_app
from reporter.station.config import load_config
from tests.conftest import Station


@pytest.fixture
def broken_french(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    copy = tmp_path / "translations"
    shutil.copytree(i18n.TRANSLATIONS_DIR, copy)
    (copy / "fr" / "LC_MESSAGES" / "messages.mo").write_bytes(b"\x00 not a catalogue \xff" * 8)
    monkeypatch.setattr(i18n, "TRANSLATIONS_DIR", copy)
    return copy


def test_a_broken_catalogue_falls_back_to_english_and_is_logged_once(
        station: Station, broken_french: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="reporter"):
        app = create_app(load_config(station.path, station.key, testing=True))
    client = app.test_client()
    for path in ("/?lang=fr", "/follow-up?lang=fr", "/nope?lang=fr"):
        response = client.get(path, headers={"Accept-Language": "fr"})
        assert response.status_code in (200, 404), path
        page = response.get_data(as_text=True)
        assert '<html lang="en"' in page and "Français" not in page
    assert client.get("/?lang=pt").get_data(as_text=True).count('<html lang="pt"') == 1
    warnings = [r for r in caplog.records if "'fr' translation cannot be loaded" in r.message]
    assert len(warnings) == 1
    assert "reporter i18n check fr" in warnings[0].message


def test_a_missing_catalogue_is_treated_the_same(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "translations"
    shutil.copytree(i18n.TRANSLATIONS_DIR, copy)
    (copy / "sw" / "LC_MESSAGES" / "messages.mo").unlink()
    usable = i18n.usable_languages(copy)
    assert "sw" not in usable and usable[0] == "en" and "fr" in usable


def test_every_shipped_catalogue_loads() -> None:
    assert i18n.usable_languages(i18n.TRANSLATIONS_DIR) == i18n.shipped_languages(
        i18n.TRANSLATIONS_DIR)


def test_an_in_progress_language_is_served_only_in_preview(station: Station, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "translations"
    shutil.copytree(i18n.TRANSLATIONS_DIR, copy)
    (copy / "LINGUAS").write_text("en\nfr\n", encoding="utf-8")  # sw and the rest in progress
    monkeypatch.setattr(i18n, "TRANSLATIONS_DIR", copy)
    field = create_app(load_config(station.path, station.key, testing=True)).test_client()
    page = field.get("/?lang=sw").get_data(as_text=True)
    assert '<html lang="en"' in page and "Kiswahili" not in page and "Français" in page
    preview = create_app(load_config(station.path, station.key, testing=True,
                                     preview_languages=True)).test_client()
    page = preview.get("/?lang=sw").get_data(as_text=True)
    assert '<html lang="sw"' in page and "Kiswahili" in page


def test_preview_is_a_setting_for_the_environment(station: Station) -> None:
    config = load_config(station.path, station.key,
                         environ={"REPORTER_PREVIEW_LANGUAGES": "1"})
    assert config.preview_languages
    assert not load_config(station.path, station.key, environ={}).preview_languages


def test_the_preview_menu_marks_each_language_in_progress(station: Station, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          ) -> None:
    """A translator previewing must not mistake an unfinished language for a shipped one."""
    copy = tmp_path / "translations"
    shutil.copytree(i18n.TRANSLATIONS_DIR, copy)
    shipped = i18n.shipped_languages(copy)
    (copy / "LINGUAS").write_text("en\nfr\npt\n", encoding="utf-8")  # sw, ln, sn in progress
    monkeypatch.setattr(i18n, "TRANSLATIONS_DIR", copy)
    in_progress = set(i18n.catalogue_languages(copy)) - {"en", "fr", "pt"}
    assert {"sw", "ln", "sn"} <= in_progress
    marker = re.compile(r'<small class="in-progress" lang="([a-z]+)">\(([^<]+)\)</small>')
    preview = create_app(load_config(station.path, station.key, testing=True,
                                     preview_languages=True)).test_client()
    for page_language in shipped:
        page = preview.get(f"/?lang={page_language}").get_data(as_text=True)
        menu = page[page.index('<nav class="languages"'):page.index("</nav>")]
        items = re.findall(r"<li>(.*?)</li>", menu, re.DOTALL)
        marked = {re.search(r'lang="([a-z]+)"', item).group(1)  # type: ignore[union-attr]
                  for item in items if marker.search(item)}
        assert marked == in_progress, (page_language, marked)
        # The mark is in the page's language (and says so), not the language's own.
        translated = {m.group(2) for m in marker.finditer(menu)}
        languages = {m.group(1) for m in marker.finditer(menu)}
        assert languages == {page_language}
        assert translated == {_in_the_catalogue(copy, page_language, "translation not finished")}
    # Monitors never see the mark: without preview there is nothing in progress.
    field = create_app(load_config(station.path, station.key, testing=True)).test_client()
    for path in ("/", "/?lang=fr", "/follow-up?lang=pt"):
        assert 'class="in-progress"' not in field.get(path).get_data(as_text=True)


def _in_the_catalogue(root: Path, language: str, msgid: str) -> str:
    with open(root / language / "LC_MESSAGES" / "messages.po", "rb") as fh:
        message = read_po(fh).get(msgid)
    assert message is not None, msgid
    return str(message.string or msgid)  # English: the msgid itself
