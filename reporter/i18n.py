"""Language selection and Babel wiring.

The monitor's language comes from, in order: a ``lang`` value in the URL or
the submitted form (the language menu and a hidden field carry it, so it
needs neither JavaScript nor a cookie), then the browser's
``Accept-Language``, then English. Anything malformed or unknown is ignored,
never an error.
"""

from __future__ import annotations

import functools
from pathlib import Path

from babel import Locale
from flask import Flask, request
from flask_babel import Babel, format_number, get_locale
from werkzeug.exceptions import HTTPException

TRANSLATIONS_DIR = Path(__file__).parent / "translations"
DEFAULT_LOCALE = "en"
# Languages whose catalogues are complete for every monitor-facing string.
LANGUAGES: tuple[str, ...] = ("en", "fr", "pt", "sw", "ln", "sn")


@functools.cache
def language_names() -> list[tuple[str, str]]:
    """(code, name in that language) for the language menu."""
    return [(code, (Locale.parse(code).get_display_name(code) or code).capitalize())
            for code in LANGUAGES]


def _requested_language() -> str:
    requested = request.args.get("lang", "", type=str)
    if not requested and request.method == "POST":
        try:
            requested = request.form.get("lang", "", type=str)
        except HTTPException:
            # The body could not be parsed (too large, malformed): the error
            # page must still render, so ignore the form's choice.
            requested = ""
    return requested


def _normalise(code: str) -> str:
    """``fr``, ``FR``, ``fr-CD`` and ``fr_CD`` all mean ``fr``."""
    return code.strip().replace("_", "-").split("-", 1)[0].lower()[:8]


def select_locale() -> str:
    requested = _normalise(_requested_language())
    if requested in LANGUAGES:
        return requested
    try:
        best = request.accept_languages.best_match(LANGUAGES)
    except (ValueError, TypeError):
        best = None
    return best or DEFAULT_LOCALE


def current_language() -> str:
    locale = get_locale()
    return str(locale) if locale is not None else DEFAULT_LOCALE


def text_direction() -> str:
    locale = get_locale()
    return "rtl" if locale is not None and locale.character_order == "right-to-left" else "ltr"


def init_app(app: Flask) -> None:
    app.config["BABEL_DEFAULT_LOCALE"] = DEFAULT_LOCALE
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS_DIR)
    Babel(app, locale_selector=select_locale)
    app.jinja_env.globals.update(
        current_language=current_language,
        text_direction=text_direction,
        language_names=language_names,
        format_number=format_number,
    )
