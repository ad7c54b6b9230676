"""Languages of the review desk: the ``reviewer`` gettext domain.

The desk's words live in their own catalogue, ``reviewer.po``, beside each
language's ``messages.po`` in ``translations/<lang>/LC_MESSAGES/``, and not
in the monitors' one. Why a domain of its own:

* the two audiences need different languages: monitors read Lingala,
  Shona or Swahili on their phones; coalition reviewers work in English,
  French and Portuguese (Kinshasa, Luanda). A shipped monitor language is
  held at 100 % of its catalogue, and hundreds of desk strings would hold
  every monitor translator to work no monitor sees;
* a monitor's page never carries a reviewer's word, and a station, which
  never runs the desk, needs none of them.

Which languages the desk offers is read from the catalogues themselves:
English, and every language whose compiled ``reviewer.mo`` loads. Each
shipped desk catalogue is held at 100 % by ``tests/i18n/test_reviewer_i18n.py``
(``make translations`` extracts, updates and compiles both domains).

The language is the one the reviewer chose on the desk (kept with their
session in the server's memory, passed in as ``chosen``), else the best
match of the browser's ``Accept-Language``, else English.
"""

from __future__ import annotations

import functools
import gettext
import logging
from collections.abc import Callable
from pathlib import Path

from babel import Locale
from flask import Flask, current_app, request
from flask_babel import Babel, format_number

from reporter.i18n.languages import (
    DEFAULT_LOCALE,
    TRANSLATIONS_DIR,
    catalogue_languages,
    current_language,
    text_direction,
)

DOMAIN = "reviewer"
EXTENSION = "reporter_reviewer_languages"
log = logging.getLogger("reporter")


def reviewer_languages(directory: Path = TRANSLATIONS_DIR) -> tuple[str, ...]:
    """English, then every language whose compiled desk catalogue loads, sorted."""
    usable = [DEFAULT_LOCALE]
    for code in catalogue_languages(directory):
        path = directory / code / "LC_MESSAGES" / f"{DOMAIN}.mo"
        if code == DEFAULT_LOCALE or not path.is_file():
            continue
        try:
            with open(path, "rb") as fh:
                gettext.GNUTranslations(fh)
        except Exception as exc:  # gettext raises several kinds on a damaged file
            log.warning("the %r desk translation cannot be loaded (%s); the desk shows "
                        "English instead", code, type(exc).__name__)
            continue
        usable.append(code)
    return tuple(usable)


def desk_languages() -> tuple[str, ...]:
    languages: tuple[str, ...] = current_app.extensions.get(EXTENSION, (DEFAULT_LOCALE,))
    return languages


@functools.cache
def _names(languages: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    return tuple((code, (Locale.parse(code).get_display_name(code) or code).capitalize())
                 for code in languages)


def desk_language_names() -> tuple[tuple[str, str], ...]:
    """(code, name in that language) for the desk's language menu."""
    return _names(desk_languages())


def normalise(code: str | None) -> str | None:
    """``fr``, ``FR``, ``fr-CD`` and ``fr_CD`` are ``fr``; a language the desk does
    not offer is ``None``."""
    if not code:
        return None
    short = code.strip().replace("_", "-").split("-", 1)[0].lower()[:8]
    return short if short in desk_languages() else None


def init_app(app: Flask, chosen: Callable[[], str | None],
             directory: Path | None = None) -> None:
    """Babel for the desk: the ``reviewer`` domain, ``chosen()`` first (the session's
    choice, or ``None``), then ``Accept-Language``, then English."""
    directory = directory or TRANSLATIONS_DIR
    app.extensions[EXTENSION] = reviewer_languages(directory)
    app.config["BABEL_DEFAULT_LOCALE"] = DEFAULT_LOCALE
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(directory)
    app.config["BABEL_DOMAIN"] = DOMAIN

    def select() -> str:
        picked = normalise(chosen())
        if picked is not None:
            return picked
        try:
            best = request.accept_languages.best_match(desk_languages())
        except (ValueError, TypeError):
            best = None
        return best or DEFAULT_LOCALE

    Babel(app, locale_selector=select)
    app.jinja_env.globals.update(
        current_language=current_language,
        text_direction=text_direction,
        language_names=desk_language_names,
        format_number=format_number,
    )
