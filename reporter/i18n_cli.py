"""``reporter i18n ...``: the translators' commands (see docs/translators.md)."""

from __future__ import annotations

from pathlib import Path

import click
from babel.messages.frontend import CommandLineInterface

from .errors import ReporterError
from .i18n import TRANSLATIONS_DIR
from .i18n_tools import I18nError, check, languages, new_catalogue


class TranslationError(ReporterError):
    """A catalogue is broken or a translation command could not run."""


@click.group()
def i18n() -> None:
    """Translations: check a catalogue, see coverage, start or refresh languages."""


@i18n.command("check")
@click.argument("language")
@click.option("--quiet", is_flag=True, help="Errors only, no warnings.")
def check_cmd(language: str, quiet: bool) -> None:
    """Check LANGUAGE's catalogue: it compiles, placeholders match, coverage, length."""
    try:
        result = check(language)
    except I18nError as exc:
        raise TranslationError(str(exc)) from None
    for problem in result.problems:
        if problem.severity == "error" or not quiet:
            click.echo(str(problem))
    if result.coverage is not None:
        c = result.coverage
        click.echo(f"{language}: {c.translated} of {c.total} translated ({c.percent:.0f} %), "
                   f"{c.fuzzy} fuzzy, {c.untranslated} untranslated; review: {c.review}")
    if not result.ok:
        raise TranslationError(f"{result.path} has errors (see above); the station shows "
                               "English for this language until they are fixed")
    click.echo(f"{result.path}: OK")


@i18n.command("stats")
def stats_cmd() -> None:
    """A table of every language: translated, fuzzy, untranslated, reviewed or not."""
    rows = []
    for language in languages():
        result = check(language)
        c = result.coverage
        if c is None:
            rows.append((language, "-", "-", "-", "unreadable: run 'reporter i18n check'"))
        elif language == "en":
            rows.append((language, str(c.total), "-", "-", "source language"))
        else:
            rows.append((language, str(c.translated), str(c.fuzzy), str(c.untranslated),
                         c.review))
    header = ("language", "translated", "fuzzy", "untranslated", "review")
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(4)]
    for row in (header, *rows):
        click.echo("  ".join(cell.ljust(widths[i]) if i < 4 else cell
                             for i, cell in enumerate(row)).rstrip())


@i18n.command("init")
@click.argument("language")
def init_cmd(language: str) -> None:
    """Start a new LANGUAGE catalogue from the template (e.g. 'reporter i18n init ln')."""
    try:
        path = new_catalogue(language)
    except I18nError as exc:
        raise TranslationError(str(exc)) from None
    click.echo(f"Created {path}. Translate it (Poedit, Weblate or a text editor), then run "
               f"'reporter i18n check {language}'.")


def _project_root() -> Path:
    root = TRANSLATIONS_DIR.parent.parent
    if not (root / "babel.cfg").is_file():
        raise TranslationError("'reporter i18n update' reads the source code: run it from a "
                               "checkout of reporter (where babel.cfg is)")
    return root


def _pybabel(*args: str) -> None:
    status = CommandLineInterface().run(["pybabel", "-q", *args])  # type: ignore[no-untyped-call]
    if status:
        raise TranslationError(f"pybabel {args[0]} failed")


@i18n.command("update")
def update_cmd() -> None:
    """Refresh the template from the code, then every catalogue, then compile them."""
    root = _project_root()
    pot = TRANSLATIONS_DIR / "messages.pot"
    _pybabel("extract", "-F", str(root / "babel.cfg"), "-k", "_l", "-k", "lazy_gettext",
             "-o", str(pot), "--no-location", "--omit-header", "--sort-output", str(root))
    for language in languages():
        _pybabel("update", "-i", str(pot), "-d", str(TRANSLATIONS_DIR), "-l", language,
                 "--ignore-obsolete", "--ignore-pot-creation-date")
    _pybabel("compile", "-d", str(TRANSLATIONS_DIR))
    click.echo(f"Updated {pot} and {len(languages())} catalogues; new or changed strings are "
               "untranslated or fuzzy: 'reporter i18n stats' shows where.")
