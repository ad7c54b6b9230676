"""Translator tools: check a catalogue, count coverage, start and ship a language.

Pure functions over the gettext files in ``reporter/i18n/translations``; the
``reporter i18n`` commands (``reporter/cli/i18n.py``) print what they return.
A translator never needs Python: they edit a ``.po`` file and run
``reporter i18n check LANG``.

Two catalogues per language (``DOMAINS``): ``messages`` (the station's form,
for monitors: shipped through LINGUAS) and ``reviewer`` (the review desk, for
coalition reviewers: offered as soon as it is compiled). Every function takes
the domain; ``ship`` is for monitors' languages only.

``check`` reports as errors everything ``make test`` holds every catalogue
to, and ``ship`` refuses a language that would fail what ``make test`` holds
a shipped one to (100 %, nothing fuzzy, a header naming the translator), so
each step of a translator's path (``init``, ``check``, preview, ``ship``)
leaves ``make test`` green.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import write_mo
from babel.messages.pofile import PoFileError, read_po, write_po

from reporter import __version__
from reporter.i18n.languages import SHIPPED_FILE, TRANSLATIONS_DIR, shipped_languages

# A label, a button or a menu entry much longer than its English original may
# not fit a 360-pixel phone screen; longer texts wrap and are fine.
SHORT = 40
LONG_FACTOR = 2.2
_PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|%[sd]")
_REVIEW = re.compile(r"^#\s*Review status:\s*(.+)$", re.MULTILINE)
_LANG = re.compile(r"^[a-z]{2,3}(_[A-Z]{2})?$")
# What Babel and xgettext write in a header nobody filled in.
_HEADER_PLACEHOLDER = re.compile(
    r"FULL NAME|EMAIL@ADDRESS|PROJECT VERSION|YEAR-MO-DA|LL@li\.org|FIRST AUTHOR")
# The header fields a person fills in (Babel fills the others).
FILLED_HEADERS = ("Project-Id-Version", "Report-Msgid-Bugs-To", "PO-Revision-Date",
                  "Last-Translator", "Language-Team")
# Where problems with the English source text go (the header's
# Report-Msgid-Bugs-To); the project has no list of its own.
MSGID_BUGS_TO = "reporter maintainers (see docs/translators.md)"
# Every page that shows a receipt code as an example uses this one; a
# translation must keep it exactly (a monitor compares it with theirs).
EXAMPLE_RECEIPT = "7KQM-3XHD-9TWA-R2PC"


# The form's catalogue (monitors) and the review desk's (reviewers).
MESSAGES = "messages"
REVIEWER = "reviewer"
DOMAINS = (MESSAGES, REVIEWER)


class I18nError(Exception):
    """A catalogue problem a translator can act on (file, line, reason)."""


@dataclass
class Problem:
    severity: str  # "error" or "warning"
    where: str  # file:line
    text: str
    kind: str = ""  # "unfinished" for an untranslated or fuzzy entry

    def __str__(self) -> str:
        return f"{self.where}: {self.severity}: {self.text}"


@dataclass
class Coverage:
    language: str
    translated: int
    fuzzy: int
    untranslated: int
    review: str
    translator: str = ""  # the header's Last-Translator, "" if not filled in

    @property
    def total(self) -> int:
        return self.translated + self.fuzzy + self.untranslated

    @property
    def percent(self) -> float:
        return 100.0 * self.translated / self.total if self.total else 100.0


@dataclass
class CheckResult:
    path: Path
    coverage: Coverage | None
    problems: list[Problem] = field(default_factory=list)
    compiled: Path | None = None

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)

    @property
    def unfinished(self) -> list[Problem]:
        """The untranslated and fuzzy entries (counted in the summary)."""
        return [p for p in self.problems if p.kind == "unfinished"]

    @property
    def others(self) -> list[Problem]:
        """Every problem but the unfinished entries: errors, and warnings to judge."""
        return [p for p in self.problems if p.kind != "unfinished"]


def _domain(domain: str) -> str:
    if domain not in DOMAINS:
        raise I18nError(f"no catalogue kind {domain!r} (there are {', '.join(DOMAINS)})")
    return domain


def po_path(language: str, root: Path = TRANSLATIONS_DIR, domain: str = MESSAGES) -> Path:
    return root / language / "LC_MESSAGES" / f"{_domain(domain)}.po"


def languages(root: Path = TRANSLATIONS_DIR, domain: str = MESSAGES) -> list[str]:
    """Every language with a catalogue (shipped or in progress), English first."""
    found = sorted(p.parent.parent.name
                   for p in root.glob(f"*/LC_MESSAGES/{_domain(domain)}.po"))
    return sorted(found, key=lambda code: (code != "en", code))


def status(language: str, root: Path = TRANSLATIONS_DIR, domain: str = MESSAGES) -> str:
    """For the form: ``shipped`` (in LINGUAS, held at 100 % by CI) or ``in progress``.
    For the desk, which offers every compiled catalogue: ``offered`` or ``not compiled``."""
    if _domain(domain) == REVIEWER:
        compiled = po_path(language, root, domain).with_suffix(".mo").is_file()
        return "offered" if compiled else "not compiled"
    return "shipped" if language in shipped_languages(root) else "in progress"


def ship(language: str, root: Path = TRANSLATIONS_DIR) -> CheckResult:
    """Add ``language`` to LINGUAS once its catalogue is error-free and complete.

    Refused unless the catalogue passes everything ``make test`` holds a
    shipped language to. Returns the check, whose warnings (labels that may
    be too long, for example) remain for the translator to judge.
    """
    result = check(language, root, compile_mo=True)
    if not result.ok:
        raise I18nError(f"{result.path} has errors: run 'reporter i18n check {language}'")
    c = result.coverage
    if c is None or c.translated != c.total:
        raise I18nError(f"{language} is not complete ({c.translated if c else 0} of "
                        f"{c.total if c else '?'} translated, fuzzy entries count as "
                        "untranslated); a shipped language must be at 100 %")
    if language != "en" and not c.translator:
        raise I18nError(f"{result.path} does not say who translated it: fill in the "
                        "header's Last-Translator line (see docs/translators.md)")
    linguas = root / SHIPPED_FILE
    if language not in shipped_languages(root):
        text = linguas.read_text(encoding="utf-8") if linguas.exists() else ""
        linguas.write_text(text + ("" if text.endswith("\n") or not text else "\n")
                           + language + "\n", encoding="utf-8")
    return result


def _placeholders(text: str) -> list[str]:
    return sorted(_PLACEHOLDER.findall(text) or []) if "%" in text else []


def _strings(message: Message) -> tuple[str, str]:
    msgid = message.id if isinstance(message.id, str) else message.id[0]
    msgstr = message.string if isinstance(message.string, str) else (message.string or [""])[0]
    return str(msgid), str(msgstr or "")


def coverage(catalog: Catalog, language: str, raw: str) -> Coverage:
    translated = fuzzy = untranslated = 0
    for message in catalog:
        if not message.id:
            continue
        _msgid, msgstr = _strings(message)
        if message.fuzzy:
            fuzzy += 1
        elif msgstr:
            translated += 1
        else:
            untranslated += 1
    review = _REVIEW.search(raw)
    status = review.group(1).strip() if review else ("source language" if language == "en"
                                                       else "not stated")
    translator = (catalog.last_translator or "").strip()
    if _HEADER_PLACEHOLDER.search(translator):
        translator = ""
    return Coverage(language, translated, fuzzy, untranslated, status, translator)


def _header_problems(catalog: Catalog, language: str, raw: str, path: Path) -> list[Problem]:
    """Header lines still holding a template's placeholder, and missing credits."""
    problems = []
    headers = dict(catalog.mime_headers)
    for name in FILLED_HEADERS:
        if _HEADER_PLACEHOLDER.search(str(headers.get(name, ""))):
            problems.append(Problem("warning", f"{path}", f"the header's {name} line still "
                                    f"holds a placeholder ({headers[name]!r}): fill it in"))
    if language != "en":
        if not _REVIEW.search(raw):
            problems.append(Problem("warning", f"{path}", "the header has no '# Review status:' "
                                    "line (see docs/translators.md)"))
        if not (catalog.last_translator or "").strip() or _HEADER_PLACEHOLDER.search(
                catalog.last_translator or ""):
            problems.append(Problem("warning", f"{path}", "the header does not say who "
                                    "translated it: fill in its Last-Translator line"))
    return problems


def check(language: str, root: Path = TRANSLATIONS_DIR, *,
          compile_mo: bool = False, domain: str = MESSAGES) -> CheckResult:
    """Everything that can be wrong with one catalogue, with file and line.

    With ``compile_mo``, an error-free catalogue is also written as the ``.mo``
    the station or the desk loads (atomically, so a running one never reads half).
    The length warning is the form's only: it is for a phone's screen, and the
    desk is read on a laptop.
    """
    path = po_path(language, root, domain)
    if not path.is_file():
        desk = " --desk" if domain == REVIEWER else ""
        raise I18nError(f"no catalogue for {language!r} at {path}; start one with "
                        f"'reporter i18n init{desk} {language}'")
    raw = path.read_text(encoding="utf-8", errors="replace")
    try:
        with open(path, "rb") as fh:
            catalog = read_po(fh, locale=language, abort_invalid=True)
    except PoFileError as exc:
        line = getattr(exc, "lineno", None)  # 0-based in Babel's parser
        where = f"{path}:{line + 1}" if isinstance(line, int) else f"{path}"
        return CheckResult(path, None, [Problem("error", where, f"cannot be read: {exc}")])
    except (ValueError, UnknownLocaleError) as exc:
        return CheckResult(path, None, [Problem("error", f"{path}", f"invalid catalogue: {exc}")])
    result = CheckResult(path, coverage(catalog, language, raw))
    result.problems.extend(_header_problems(catalog, language, raw, path))
    compiled = io.BytesIO()
    try:
        write_mo(compiled, catalog)
    except Exception as exc:  # babel raises several kinds here
        result.problems.append(Problem("error", f"{path}", f"does not compile: {exc}"))
    for message in catalog:
        if not message.id:
            continue
        msgid, msgstr = _strings(message)
        where = f"{path}:{message.lineno}"
        if not msgstr or message.fuzzy:
            if language != "en":
                state = "fuzzy (needs review)" if message.fuzzy else "untranslated"
                result.problems.append(Problem("warning", where, f"{state}: {msgid!r}",
                                               "unfinished"))
            continue
        if _placeholders(msgid) != _placeholders(msgstr):
            result.problems.append(Problem(
                "error", where, f"placeholders differ: {msgid!r} has "
                f"{_placeholders(msgid)}, the translation has {_placeholders(msgstr)}"))
        if EXAMPLE_RECEIPT in msgid and EXAMPLE_RECEIPT not in msgstr:
            result.problems.append(Problem(
                "error", where, f"keep the example receipt code {EXAMPLE_RECEIPT} exactly as "
                "it is: monitors compare it with the code they were given"))
        if any(c in msgstr for c in "<>&\""):
            result.problems.append(Problem(
                "error", where, "the translation contains < > & or a double quote; "
                "write plain text (use ' or typographic quotes)"))
        if domain == MESSAGES and len(msgid) <= SHORT and \
                len(msgstr) > LONG_FACTOR * max(len(msgid), 12):
            result.problems.append(Problem(
                "warning", where, f"{len(msgstr)} characters for a {len(msgid)}-character "
                "label: it may not fit on a small phone screen"))
    if compile_mo and result.ok:
        mo = path.with_suffix(".mo")
        partial = mo.with_suffix(".mo.partial")
        partial.write_bytes(compiled.getvalue())
        os.replace(partial, mo)
        result.compiled = mo
    return result


def new_catalogue(language: str, translator: str, root: Path = TRANSLATIONS_DIR,
                  domain: str = MESSAGES) -> Path:
    """Start ``language`` from the template; refuse an unknown or existing one.

    ``translator`` (a name or an organisation, and how the text is made)
    goes in the header's Last-Translator line: with it, the header passes
    every check of a shipped language, so nothing is left to fill in but the
    translations (and the review status, once a native speaker has read
    them). The compiled catalogue is written too, so a station started with
    ``--preview-languages`` lists the language at once (and the desk offers
    it, for a ``reviewer`` catalogue).
    """
    if not _LANG.match(language):
        raise I18nError(f"{language!r} is not a language code (examples: sw, ln, pt_BR)")
    try:
        locale = Locale.parse(language)
    except (UnknownLocaleError, ValueError):
        raise I18nError(f"Babel does not know the language {language!r}") from None
    translator = " ".join(translator.split())
    if not translator or _HEADER_PLACEHOLDER.search(translator):
        raise I18nError("say who translates (a name or an organisation, for example "
                        "--translator 'Ada Obi, Kolwezi monitors network')")
    path = po_path(language, root, domain)
    desk = " --desk" if domain == REVIEWER else ""
    if path.exists():
        raise I18nError(f"{path} already exists; edit it, or run 'reporter i18n check"
                        f"{desk} {language}'")
    with open(root / f"{domain}.pot", "rb") as fh:
        template = read_po(fh)
    now = datetime.now(UTC)
    what = "the review desk" if domain == REVIEWER else "reporter"
    catalog = Catalog(locale=locale, domain=domain, project="reporter",
                      version=__version__, msgid_bugs_address=MSGID_BUGS_TO,
                      creation_date=now, revision_date=now, last_translator=translator,
                      language_team=locale.english_name, fuzzy=False, header_comment=(
                          f"# {locale.english_name} translations for {what}.\n"
                          f"# Copyright (C) {now.year} the reporter authors\n"
                          "# This file is distributed under the same license as the "
                          "reporter package\n# (AGPL-3.0-or-later).\n#\n"
                          "# Review status: not reviewed by a native speaker\n"
                          "# Change the line above once someone who speaks the language "
                          "well, and knows\n# the monitors' situation, has read every "
                          "entry."))
    for message in template:
        if message.id:
            catalog.add(message.id, "", flags=message.flags - {"fuzzy"},
                        auto_comments=message.auto_comments)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        write_po(fh, catalog, width=76, omit_header=False)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    path.with_suffix(".mo").write_bytes(compiled.getvalue())
    return path
