"""Which translations folder the tests in tests/i18n check.

Normally the project's own, ``reporter/i18n/translations``. The translator's
path test (``test_translator_path.py``) runs these same tests again on a copy
of it, at each step of a translator's work (``init``, ``check``, preview,
``ship``), by naming the copy in ``REPORTER_TEST_TRANSLATIONS``: what
``make test`` asks of the catalogues is then checked on the copy exactly as
on the real folder. The variable is for tests only; the station never reads it.
"""

from __future__ import annotations

import os
from pathlib import Path

from babel import Locale, UnknownLocaleError

from reporter.i18n import languages

ENVIRONMENT = "REPORTER_TEST_TRANSLATIONS"
TRANSLATIONS = Path(os.environ.get(ENVIRONMENT) or languages.TRANSLATIONS_DIR)

# Languages a test may start as "new" in a copy of the translations. A real
# in-progress catalogue (a translator's `reporter i18n init yo`) or a newly
# shipped one takes its code off this list for the tests: they take the next.
NEW_LANGUAGE_CANDIDATES = ("yo", "ha", "ig", "zu", "rw", "so", "am", "ti", "om", "xh")


def unused_language(root: Path) -> str:
    """A language Babel knows that has no catalogue in ``root``."""
    for code in NEW_LANGUAGE_CANDIDATES:
        try:
            Locale.parse(code)
        except (UnknownLocaleError, ValueError):
            continue
        if not (root / code).exists():
            return code
    raise AssertionError(f"every candidate new language has a catalogue in {root}")
