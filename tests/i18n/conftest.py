"""The tests here check the translations folder of ``tests/i18n/folder.py``."""

from __future__ import annotations

import pytest

from reporter.i18n import languages
from tests.i18n.folder import TRANSLATIONS


@pytest.fixture(autouse=True)
def translations_under_test(monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the app and the translator commands at the folder under test."""
    if TRANSLATIONS != languages.TRANSLATIONS_DIR:
        monkeypatch.setattr(languages, "TRANSLATIONS_DIR", TRANSLATIONS)
