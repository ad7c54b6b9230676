"""Language selection and Babel wiring.

The monitor's language comes from, in order: a ``lang`` value in the URL or
the submitted form (the language menu and a hidden field carry it, so it
needs neither JavaScript nor a cookie), then the browser's
``Accept-Language``, then English. Anything malformed or unknown is ignored,
never an error.

Which languages exist is read from the catalogues themselves, so a new
language needs no code change:

* **shipped**: listed in ``translations/LINGUAS`` (the gettext convention).
  Monitors see these; ``make test`` holds each at 100 % of the strings.
* **in progress**: any other catalogue. Shown only when the station runs
  with ``--preview-languages`` (``REPORTER_PREVIEW_LANGUAGES``), so a
  translator can look at unfinished work without monitors meeting it.

A language whose compiled catalogue cannot be loaded (a broken ``.mo``) is
left out when the app starts, with one log line: the station then serves
English to those monitors instead of failing every page in that language.
"""

from __future__ import annotations

import functools
import gettext
import logging
import re
from pathlib import Path

from babel import Locale
from flask import Flask, current_app, request
from flask_babel import Babel, format_number, get_locale
from werkzeug.exceptions import HTTPException

TRANSLATIONS_DIR = Path(__file__).parent / "translations"
DEFAULT_LOCALE = "en"
SHIPPED_FILE = "LINGUAS"
EXTENSION = "reporter_languages"
EXTENSION_IN_PROGRESS = "reporter_languages_in_progress"
_CODE = re.compile(r"^[a-z]{2,3}(_[A-Z]{2}|_[A-Z][a-z]{3})?$")
log = logging.getLogger("reporter")


def shipped_languages(directory: Path = TRANSLATIONS_DIR) -> tuple[str, ...]:
    """The codes in ``LINGUAS``, English first; malformed lines are logged and skipped."""
    codes = [DEFAULT_LOCALE]
    try:
        text = (directory / SHIPPED_FILE).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        log.warning("cannot read %s (%s): only English is served",
                    directory / SHIPPED_FILE, type(exc).__name__)
        return tuple(codes)
    for number, line in enumerate(text.splitlines(), 1):
        for code in line.split("#", 1)[0].split():
            if not _CODE.match(code):
                log.warning("%s line %d: %r is not a language code; skipped",
                            SHIPPED_FILE, number, code[:20])
            elif code not in codes:
                codes.append(code)
    return tuple(codes)


def catalogue_languages(directory: Path = TRANSLATIONS_DIR) -> tuple[str, ...]:
    """Every language with a catalogue folder (shipped or in progress), sorted."""
    found = {p.parent.parent.name for p in directory.glob("*/LC_MESSAGES/messages.*")
             if p.suffix in (".po", ".mo")}
    return tuple(sorted(code for code in found if _CODE.match(code)))


def in_progress_languages(directory: Path = TRANSLATIONS_DIR) -> tuple[str, ...]:
    shipped = shipped_languages(directory)
    return tuple(code for code in catalogue_languages(directory) if code not in shipped)


def usable_languages(directory: Path = TRANSLATIONS_DIR, *,
                     preview: bool = False) -> tuple[str, ...]:
    """Languages to serve whose compiled catalogue loads; each broken one is logged once.

    ``preview`` adds the in-progress catalogues, for translators.
    """
    usable = [DEFAULT_LOCALE]
    wanted = shipped_languages(directory)
    if preview:
        wanted += in_progress_languages(directory)
    for code in wanted:
        if code == DEFAULT_LOCALE:
            continue
        path = directory / code / "LC_MESSAGES" / "messages.mo"
        try:
            with open(path, "rb") as fh:
                gettext.GNUTranslations(fh)
        except Exception as exc:  # gettext raises several kinds on a damaged file
            log.warning("the %r translation cannot be loaded (%s); its monitors get English "
                        "until it is fixed: run 'reporter i18n check %s'",
                        code, type(exc).__name__, code)
            continue
        usable.append(code)
    return tuple(usable)


def active_languages() -> tuple[str, ...]:
    languages: tuple[str, ...] = current_app.extensions.get(EXTENSION, (DEFAULT_LOCALE,))
    return languages


def language_in_progress(code: str) -> bool:
    """True for a language served only because of ``--preview-languages``.

    The language menu marks it, so a translator looking at a preview never
    mistakes an unfinished language for one monitors see.
    """
    return code in current_app.extensions.get(EXTENSION_IN_PROGRESS, frozenset())


@functools.cache
def _names(languages: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(code, (Locale.parse(code).get_display_name(code) or code).capitalize())
            for code in languages]


def language_names() -> list[tuple[str, str]]:
    """(code, name in that language) for the language menu."""
    return _names(active_languages())


def _requested_language() -> str:
    requested = request.args.get("lang", "", type=str)
    if not requested and request.method == "POST":
        try:
            requested = request.form.get("lang", "", type=str)
        except HTTPException:
            # The body could not be parsed (too large): the error page must
            # still render, so ignore the form's choice. The station's request
            # class raises the same error again to the view, which answers it.
            requested = ""
    return requested


def _normalise(code: str) -> str:
    """``fr``, ``FR``, ``fr-CD`` and ``fr_CD`` all mean ``fr``."""
    return code.strip().replace("_", "-").split("-", 1)[0].lower()[:8]


def select_locale() -> str:
    languages = active_languages()
    requested = _normalise(_requested_language())
    if requested in languages:
        return requested
    try:
        best = request.accept_languages.best_match(languages)
    except (ValueError, TypeError):
        best = None
    return best or DEFAULT_LOCALE


def current_language() -> str:
    locale = get_locale()
    return str(locale) if locale is not None else DEFAULT_LOCALE


def text_direction() -> str:
    locale = get_locale()
    return "rtl" if locale is not None and locale.character_order == "right-to-left" else "ltr"


def init_app(app: Flask, directory: Path | None = None, *, preview: bool = False) -> None:
    directory = directory or TRANSLATIONS_DIR
    app.extensions[EXTENSION] = usable_languages(directory, preview=preview)
    app.extensions[EXTENSION_IN_PROGRESS] = frozenset(
        app.extensions[EXTENSION]) - frozenset(shipped_languages(directory))
    app.config["BABEL_DEFAULT_LOCALE"] = DEFAULT_LOCALE
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(directory)
    Babel(app, locale_selector=select_locale)
    app.jinja_env.globals.update(
        current_language=current_language,
        text_direction=text_direction,
        language_names=language_names,
        language_in_progress=language_in_progress,
        format_number=format_number,
    )
