"""``reporter i18n ...``: the translators' commands (see docs/translators.md)."""

from __future__ import annotations

from pathlib import Path

import click
from babel.messages.frontend import CommandLineInterface

from reporter.cli.common import plural
from reporter.cli.terminal import echo
from reporter.errors import ReporterError
from reporter.i18n import languages as i18n_config
from reporter.i18n.languages import SHIPPED_FILE
from reporter.i18n.tools import (
    MESSAGES,
    REVIEWER,
    I18nError,
    check,
    languages,
    new_catalogue,
    ship,
    status,
)


class TranslationError(ReporterError):
    """A catalogue is broken or a translation command could not run."""


def _root() -> Path:
    """Read at call time, so tests can point the commands at a copy."""
    return i18n_config.TRANSLATIONS_DIR


def _domain(desk: bool) -> str:
    return REVIEWER if desk else MESSAGES


def _flag(desk: bool) -> str:
    """The option to repeat in a suggested command."""
    return " --desk" if desk else ""


desk_option = click.option(
    "--desk", is_flag=True,
    help="The review desk's catalogue (reviewer.po, for reviewers) instead of the "
         "form's (messages.po, for monitors).")


@click.group()
def i18n() -> None:
    """Translations: check a catalogue, see coverage, start or refresh languages.

    Each language has the form's catalogue (messages.po, read by monitors) and may
    have the review desk's (reviewer.po, read by reviewers): --desk chooses the
    desk's."""


@i18n.command("check")
@click.argument("language")
@click.option("--verbose", "-v", is_flag=True,
              help="Also list every untranslated and fuzzy entry, with its line.")
@click.option("--quiet", is_flag=True, help="Errors only, no warnings.")
@desk_option
def check_cmd(language: str, verbose: bool, quiet: bool, desk: bool) -> None:
    """Check LANGUAGE's catalogue: it compiles, placeholders match, coverage, length.

    The summary comes first; untranslated and fuzzy entries are counted in it
    (listed with --verbose), then come the errors and the other warnings. An
    error-free catalogue is also compiled (messages.mo, or reviewer.mo with
    --desk), so a restarted station or desk shows the change.
    """
    domain = _domain(desk)
    try:
        result = check(language, _root(), compile_mo=True, domain=domain)
    except I18nError as exc:
        raise TranslationError(str(exc)) from None
    c = result.coverage
    state = status(language, _root(), domain)
    if c is not None:
        click.echo(f"{language} ({state}): {c.translated} of {c.total} translated "
                   f"({c.percent:.0f} %), {c.fuzzy} fuzzy, {c.untranslated} untranslated; "
                   f"review: {c.review}" + (f"; translator: {c.translator}"
                                            if c.translator and language != "en" else ""))
    shown = [p for p in result.others if p.severity == "error" or not quiet]
    if verbose and not quiet:
        shown = result.unfinished + shown
    for problem in shown:
        echo(str(problem))  # it may quote a catalogue's text
    if result.unfinished and not verbose and not quiet:
        click.echo(f"{plural(len(result.unfinished), 'entry', 'entries')} still to "
                   "translate or review: "
                   f"'reporter i18n check{_flag(desk)} {language} --verbose' lists them "
                   "with their lines.")
    if not result.ok:
        who = "desk" if desk else "station"
        raise TranslationError(f"{result.path} has errors (see above); the {who} shows "
                               "English for this language until they are fixed")
    echo(f"{result.path}: OK, compiled to {result.compiled}")
    if desk:
        click.echo("The review desk offers it from its next start ('reporter review "
                   "serve'), in the language menu of its pages.")
    elif state == "in progress":
        click.echo("In progress: see it with 'reporter serve --preview-languages' "
                   f"(or 'make preview'); 'reporter i18n ship {language}' lists it for "
                   "monitors once it is 100 % translated.")


@i18n.command("stats")
@desk_option
def stats_cmd(desk: bool) -> None:
    """A table of every language: translated, fuzzy, untranslated, reviewed or not."""
    domain = _domain(desk)
    rows = []
    for language in languages(_root(), domain):
        result = check(language, _root(), domain=domain)
        c = result.coverage
        state = status(language, _root(), domain)
        if c is None:
            rows.append((language, state, "-", "-", "-",
                         f"unreadable: run 'reporter i18n check{_flag(desk)}'"))
        elif language == "en":
            rows.append((language, state, str(c.total), "-", "-", "source language"))
        else:
            rows.append((language, state, str(c.translated), str(c.fuzzy),
                         str(c.untranslated), c.review))
    header = ("language", "status", "translated", "fuzzy", "untranslated", "review")
    last = len(header) - 1
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(last)]
    for row in (header, *rows):
        click.echo("  ".join(cell.ljust(widths[i]) if i < last else cell
                             for i, cell in enumerate(row)).rstrip())


@i18n.command("init")
@click.argument("language")
@click.option("--translator", prompt="Who translates? (your name or organisation; say "
              "'machine translation' if a tool writes the text)",
              help="Your name or organisation, written in the catalogue's header "
                   "(Last-Translator).")
@desk_option
def init_cmd(language: str, translator: str, desk: bool) -> None:
    """Start a new LANGUAGE catalogue from the template (e.g. 'reporter i18n init yo')."""
    try:
        path = new_catalogue(language, translator, _root(), _domain(desk))
    except I18nError as exc:
        raise TranslationError(str(exc)) from None
    click.echo(f"Created {path}. Translate it (Poedit, Weblate or a text editor), then run "
               f"'reporter i18n check{_flag(desk)} {language}'.")


@i18n.command("ship")
@click.argument("language")
def ship_cmd(language: str) -> None:
    """List LANGUAGE for monitors (translations/LINGUAS); it must be 100 % and error-free."""
    try:
        result = ship(language, _root())
    except I18nError as exc:
        raise TranslationError(str(exc)) from None
    linguas = _root() / SHIPPED_FILE
    click.echo(f"{language} is listed in {linguas}: monitors see it once the station "
               "restarts, and 'make test' now holds it at 100 %.")
    warnings = [p for p in result.others if p.severity == "warning"]
    if warnings:
        remain = "remains" if len(warnings) == 1 else "remain"
        click.echo(f"{plural(len(warnings), 'warning')} {remain} "
                   f"(for you to judge, they do not stop shipping): 'reporter i18n check "
                   f"{language}' lists them.")
    else:
        click.echo("No warnings remain.")
    if result.coverage is not None and result.coverage.review.startswith("not reviewed"):
        click.echo("Review status: not reviewed by a native speaker. Have one read every "
                   "entry before monitors rely on it (docs/translators.md).")


def _project_root() -> Path:
    """The checkout the catalogues are in: the nearest folder above them with babel.cfg
    (``reporter/i18n/translations`` is three levels down)."""
    for folder in _root().parents:
        if (folder / "babel.cfg").is_file():
            return folder
    raise TranslationError("'reporter i18n update' reads the source code: run it from a "
                           "checkout of reporter (where babel.cfg is)")


def _pybabel(*args: str) -> None:
    status = CommandLineInterface().run(["pybabel", "-q", *args])  # type: ignore[no-untyped-call]
    if status:
        raise TranslationError(f"pybabel {args[0]} failed")


@i18n.command("update")
@desk_option
def update_cmd(desk: bool) -> None:
    """Refresh the template from the code, then every catalogue, then compile them."""
    root = _project_root()
    domain = _domain(desk)
    pot = _root() / f"{domain}.pot"
    config = root / ("babel-reviewer.cfg" if desk else "babel.cfg")
    _pybabel("extract", "-F", str(config), "-k", "_l", "-k", "lazy_gettext",
             "-o", str(pot), "--no-location", "--omit-header", "--sort-output", str(root))
    for language in languages(_root(), domain):
        _pybabel("update", "-D", domain, "-i", str(pot), "-d", str(_root()), "-l", language,
                 "--ignore-obsolete", "--ignore-pot-creation-date")
    _pybabel("compile", "-D", domain, "-d", str(_root()))
    count = len(languages(_root(), domain))
    click.echo(f"Updated {pot} and {plural(count, 'catalogue')}; new or changed strings are "
               f"untranslated or fuzzy: 'reporter i18n stats{_flag(desk)}' shows where.")
