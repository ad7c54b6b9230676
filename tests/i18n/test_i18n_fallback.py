"""A broken catalogue never breaks the station: that language falls back to English."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

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
