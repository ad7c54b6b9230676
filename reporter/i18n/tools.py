"""Translator tools: check a catalogue, count coverage, start a language.

Pure functions over the gettext files in ``reporter/translations``; the
``reporter i18n`` commands (``i18n_cli.py``) print what they return. A
translator never needs Python: they edit a ``.po`` file and run
``reporter i18n check LANG``.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import write_mo
from babel.messages.pofile import PoFileError, read_po, write_po

from reporter.i18n.languages import SHIPPED_FILE, TRANSLATIONS_DIR, shipped_languages

# A label, a button or a menu entry much longer than its English original may
# not fit a 360-pixel phone screen; longer texts wrap and are fine.
SHORT = 40
LONG_FACTOR = 2.2
_PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|%[sd]")
_REVIEW = re.compile(r"^#\s*Review status:\s*(.+)$", re.MULTILINE)
_LANG = re.compile(r"^[a-z]{2,3}(_[A-Z]{2})?$")


class I18nError(Exception):
    """A catalogue problem a translator can act on (file, line, reason)."""


@dataclass
class Problem:
    severity: str  # "error" or "warning"
    where: str  # file:line
    text: str

    def __str__(self) -> str:
        return f"{self.where}: {self.severity}: {self.text}"


@dataclass
class Coverage:
    language: str
    translated: int
    fuzzy: int
    untranslated: int
    review: str

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


def po_path(language: str, root: Path = TRANSLATIONS_DIR) -> Path:
    return root / language / "LC_MESSAGES" / "messages.po"


def languages(root: Path = TRANSLATIONS_DIR) -> list[str]:
    """Every language with a catalogue (shipped or in progress), English first."""
    found = sorted(p.parent.parent.name for p in root.glob("*/LC_MESSAGES/messages.po"))
    return sorted(found, key=lambda code: (code != "en", code))


def status(language: str, root: Path = TRANSLATIONS_DIR) -> str:
    """``shipped`` (in LINGUAS, held at 100 % by CI) or ``in progress``."""
    return "shipped" if language in shipped_languages(root) else "in progress"


def ship(language: str, root: Path = TRANSLATIONS_DIR) -> Path:
    """Add ``language`` to LINGUAS once its catalogue is error-free and complete."""
    result = check(language, root, compile_mo=True)
    if not result.ok:
        raise I18nError(f"{result.path} has errors: run 'reporter i18n check {language}'")
    c = result.coverage
    if c is None or c.translated != c.total:
        raise I18nError(f"{language} is not complete ({c.translated if c else 0} of "
                        f"{c.total if c else '?'} translated, fuzzy entries count as "
                        "untranslated); a shipped language must be at 100 %")
    linguas = root / SHIPPED_FILE
    if language not in shipped_languages(root):
        text = linguas.read_text(encoding="utf-8") if linguas.exists() else ""
        linguas.write_text(text + ("" if text.endswith("\n") or not text else "\n")
                           + language + "\n", encoding="utf-8")
    return linguas


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
    return Coverage(language, translated, fuzzy, untranslated, status)


def check(language: str, root: Path = TRANSLATIONS_DIR, *,
          compile_mo: bool = False) -> CheckResult:
    """Everything that can be wrong with one catalogue, with file and line.

    With ``compile_mo``, an error-free catalogue is also written as the ``.mo``
    the station loads (atomically, so a running station never reads half).
    """
    path = po_path(language, root)
    if not path.is_file():
        raise I18nError(f"no catalogue for {language!r} at {path}; start one with "
                        f"'reporter i18n init {language}'")
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
                result.problems.append(Problem("warning", where, f"{state}: {msgid!r}"))
            continue
        if _placeholders(msgid) != _placeholders(msgstr):
            result.problems.append(Problem(
                "error", where, f"placeholders differ: {msgid!r} has "
                f"{_placeholders(msgid)}, the translation has {_placeholders(msgstr)}"))
        if any(c in msgstr for c in "<>&\""):
            result.problems.append(Problem(
                "error", where, "the translation contains < > & or a double quote; "
                "write plain text (use ' or typographic quotes)"))
        if len(msgid) <= SHORT and len(msgstr) > LONG_FACTOR * max(len(msgid), 12):
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


def new_catalogue(language: str, root: Path = TRANSLATIONS_DIR) -> Path:
    """Start ``language`` from the template; refuse an unknown or existing one."""
    if not _LANG.match(language):
        raise I18nError(f"{language!r} is not a language code (examples: sw, ln, pt_BR)")
    try:
        locale = Locale.parse(language)
    except (UnknownLocaleError, ValueError):
        raise I18nError(f"Babel does not know the language {language!r}") from None
    path = po_path(language, root)
    if path.exists():
        raise I18nError(f"{path} already exists; edit it, or run 'reporter i18n check "
                        f"{language}'")
    with open(root / "messages.pot", "rb") as fh:
        template = read_po(fh)
    catalog = Catalog(locale=locale, domain="messages", project="reporter",
                      fuzzy=False, header_comment=(
                          f"# {locale.english_name} translations for reporter.\n"
                          "# Review status: not reviewed by a native speaker\n"
                          "# Change the line above once someone who speaks the language "
                          "well has\n# read every entry."))
    for message in template:
        if message.id:
            catalog.add(message.id, "", flags=message.flags - {"fuzzy"},
                        auto_comments=message.auto_comments)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        write_po(fh, catalog, width=76, omit_header=False)
    return path
