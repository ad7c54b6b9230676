"""Translator tools: ``reporter i18n check / stats / init / ship`` on copies of the catalogues.

Each test works in a copy of the translations folder (``root``); a test that
needs a "new" language takes one that has no catalogue there
(``unused_language``), so a translator's own ``reporter i18n init yo`` in the
real folder never collides with it.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from reporter.i18n import languages as i18n
from reporter.i18n.languages import shipped_languages, usable_languages
from reporter.i18n.tools import (
    I18nError,
    check,
    languages,
    new_catalogue,
    po_path,
    ship,
    status,
)
from tests.i18n.folder import TRANSLATIONS, unused_language

TRANSLATOR = "Ada Obi, Kolwezi monitors network"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    copy = tmp_path / "translations"
    shutil.copytree(TRANSLATIONS, copy)
    return copy


def replace_translation(root: Path, msgid_start: str, new_msgstr: str) -> int:
    """Edit the French msgstr of the entry whose msgid starts with ``msgid_start``."""
    return replace_translation_in(root, "fr", msgid_start, new_msgstr)


def replace_translation_in(root: Path, language: str, msgid_start: str, new_msgstr: str) -> int:
    """Edit ``language``'s msgstr of the entry whose msgid starts with ``msgid_start``."""
    path = po_path(language, root)
    lines = path.read_text(encoding="utf-8").split("\n")
    for i, line in enumerate(lines):
        if line.startswith(f'msgid "{msgid_start}'):
            j = i + 1
            while not lines[j].startswith("msgstr"):
                j += 1
            k = j + 1
            while k < len(lines) and lines[k].startswith('"'):
                k += 1
            lines[j:k] = [f'msgstr "{new_msgstr}"']
            path.write_text("\n".join(lines), encoding="utf-8")
            return i + 1  # the msgid's line, 1-based, as editors count
    raise AssertionError(f"no msgid starting with {msgid_start!r}")


def test_the_shipped_french_catalogue_is_complete_and_clean(root: Path) -> None:
    result = check("fr", root)
    assert result.ok, [str(p) for p in result.problems]
    assert result.coverage is not None
    assert result.coverage.percent == 100.0 and result.coverage.fuzzy == 0
    assert result.coverage.review == "not reviewed by a native speaker"


def test_a_placeholder_mismatch_is_an_error_with_file_and_line(root: Path) -> None:
    line = replace_translation(root, "Please use at most", "Au maximum %(mx)s caractères.")
    result = check("fr", root)
    assert not result.ok
    [problem] = [p for p in result.problems if p.severity == "error"]
    assert problem.where.endswith(f"messages.po:{line}"), problem.where
    assert "placeholders differ" in problem.text and "max" in problem.text


def test_html_in_a_translation_is_an_error(root: Path) -> None:
    replace_translation(root, "Send the report", "<b>Envoyer</b>")
    assert any("plain text" in p.text for p in check("fr", root).problems)


def test_an_untranslated_entry_is_a_warning_and_lowers_coverage(root: Path) -> None:
    replace_translation(root, "Send the report", "")
    result = check("fr", root)
    assert result.ok
    assert result.coverage is not None and result.coverage.untranslated == 1
    assert any(p.severity == "warning" and "untranslated" in p.text for p in result.problems)


def test_a_label_far_longer_than_english_is_flagged(root: Path) -> None:
    replace_translation(root, "Police", "Les agents de la police nationale et communale")
    assert any("may not fit" in p.text for p in check("fr", root).problems)


def test_a_syntax_error_is_reported_not_raised(root: Path) -> None:
    path = po_path("fr", root)
    path.write_text(path.read_text(encoding="utf-8") + '\nmsgid "dangling\n', encoding="utf-8")
    result = check("fr", root)
    assert not result.ok and "cannot be read" in result.problems[0].text
    lines = path.read_text(encoding="utf-8").count("\n")
    assert result.problems[0].where.endswith(f"messages.po:{lines}"), result.problems[0].where


def test_init_starts_a_language_from_the_template(root: Path) -> None:
    language = unused_language(root)
    path = new_catalogue(language, TRANSLATOR, root)
    text = path.read_text(encoding="utf-8")
    assert "# Review status: not reviewed by a native speaker" in text
    # A header with nothing left to fill in: no template placeholder.
    for placeholder in ("FULL NAME", "EMAIL@ADDRESS", "VERSION", "YEAR", "LL@li.org",
                        "PROJECT", "FIRST AUTHOR"):
        assert placeholder not in text, placeholder
    assert f'"Last-Translator: {TRANSLATOR}\\n"' in text
    assert '"Project-Id-Version: reporter ' in text
    result = check(language, root)
    assert result.ok and result.others == [], [str(p) for p in result.others]
    assert result.coverage is not None
    assert result.coverage.translated == 0
    assert result.coverage.translator == TRANSLATOR
    assert result.coverage.untranslated == check("fr", root).coverage.total  # type: ignore[union-attr]
    assert len(result.unfinished) == result.coverage.untranslated
    assert language in languages(root)
    # Compiled at once, so a preview lists it before the first check.
    assert path.with_suffix(".mo").is_file()
    assert language in usable_languages(root, preview=True)
    with pytest.raises(I18nError, match="already exists"):
        new_catalogue(language, TRANSLATOR, root)


@pytest.mark.parametrize("translator", ["", "   ", "FULL NAME <EMAIL@ADDRESS>"])
def test_init_wants_to_know_who_translates(root: Path, translator: str) -> None:
    with pytest.raises(I18nError, match="who translates"):
        new_catalogue(unused_language(root), translator, root)


def test_check_warns_about_a_header_left_unfilled(root: Path) -> None:
    path = po_path("fr", root)
    text = path.read_text(encoding="utf-8")
    start = text.index('"Last-Translator:')
    end = text.index('"Language:', start)
    path.write_text(text[:start] + '"Last-Translator: FULL NAME <EMAIL@ADDRESS>\\n"\n'
                    + text[end:], encoding="utf-8")
    result = check("fr", root)
    assert result.ok
    assert any("Last-Translator line still holds a placeholder" in p.text
               for p in result.problems)
    assert any("does not say who translated it" in p.text for p in result.problems)
    (root / "LINGUAS").write_text("en\n", encoding="utf-8")
    with pytest.raises(I18nError, match="who translated it"):
        ship("fr", root)


def test_a_changed_example_receipt_code_is_an_error(root: Path) -> None:
    replace_translation(root, "16 letters and digits", "16 lettres, par exemple 7KQM-3XHD.")
    result = check("fr", root)
    assert not result.ok
    assert any("example receipt code" in p.text for p in result.problems)


@pytest.mark.parametrize("bad", ["xx_bogus", "../fr", "english", ""])
def test_init_refuses_what_is_not_a_language(root: Path, bad: str) -> None:
    with pytest.raises(I18nError):
        new_catalogue(bad, TRANSLATOR, root)


def test_the_commands(root: Path, monkeypatch: pytest.MonkeyPatch,
                      capsys: pytest.CaptureFixture[str]) -> None:
    from reporter.cli.main import main

    monkeypatch.setattr(i18n, "TRANSLATIONS_DIR", root)
    (root / "fr" / "LC_MESSAGES" / "messages.mo").unlink()
    assert (main(["i18n", "check", "fr"]) or 0) == 0
    out = capsys.readouterr().out
    total = check("fr", root).coverage.total  # type: ignore[union-attr]
    assert f"fr (shipped): {total} of {total} translated (100 %)" in out
    assert (root / "fr" / "LC_MESSAGES" / "messages.mo").is_file(), "check compiles"
    main(["i18n", "stats"])
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["language", "status", "translated", "fuzzy",
                                           "untranslated", "review"]
    assert any(line.split()[:2] == ["fr", "shipped"] for line in out.splitlines())
    with pytest.raises(SystemExit) as exited:
        main(["i18n", "check", "zz"])
    assert exited.value.code == 1


# --- shipped and in-progress languages ------------------------------------------


def test_the_shipped_languages_are_read_from_linguas(root: Path) -> None:
    (root / "LINGUAS").write_text("fr\nsn\npt\n", encoding="utf-8")
    assert shipped_languages(root) == ("en", "fr", "sn", "pt")
    assert status("sn", root) == "shipped" and status("sw", root) == "in progress"


def test_linguas_tolerates_comments_and_refuses_nonsense(root: Path,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    (root / "LINGUAS").write_text("# a comment\nfr sw  # two on a line\n../etc\nfr\n\n",
                                  encoding="utf-8")
    assert shipped_languages(root) == ("en", "fr", "sw")
    assert any("'../etc' is not a language code" in r.message for r in caplog.records)
    (root / "LINGUAS").unlink()
    assert shipped_languages(root) == ("en",)


def test_a_new_language_needs_no_code_to_reach_the_translator(root: Path,
                                                              capsys: pytest.CaptureFixture[str],
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              ) -> None:
    from reporter.cli.main import main

    monkeypatch.setattr(i18n, "TRANSLATIONS_DIR", root)
    code = unused_language(root)
    assert (main(["i18n", "init", code, "--translator", TRANSLATOR]) or 0) == 0
    assert status(code, root) == "in progress"
    assert (main(["i18n", "check", code]) or 0) == 0
    out = capsys.readouterr().out
    assert f"{code} (in progress): 0 of" in out and "--preview-languages" in out
    # Monitors do not meet it; a translator previewing does.
    assert code not in usable_languages(root)
    assert code in usable_languages(root, preview=True)
    main(["i18n", "stats"])
    assert any(line.split()[:3] == [code, "in", "progress"]
               for line in capsys.readouterr().out.splitlines())


def test_check_summarises_first_and_lists_untranslated_entries_only_when_asked(
        root: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    from reporter.cli.main import main

    monkeypatch.setattr(i18n, "TRANSLATIONS_DIR", root)
    code = unused_language(root)
    new_catalogue(code, TRANSLATOR, root)
    total = check("fr", root).coverage.total  # type: ignore[union-attr]
    assert (main(["i18n", "check", code]) or 0) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{code} (in progress): 0 of {total} translated (0 %), "
                               f"0 fuzzy, {total} untranslated")
    assert not any("untranslated: " in line for line in lines), "listed without --verbose"
    assert any(f"{total} entries still to translate or review" in line
               and "--verbose" in line for line in lines)
    assert len(lines) <= 5
    assert (main(["i18n", "check", code, "--verbose"]) or 0) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{code} (in progress): 0 of {total}")
    listed = [line for line in lines if ": warning: untranslated: " in line]
    assert len(listed) == total
    assert all(re.search(r"messages\.po:\d+: warning", line) for line in listed)


def test_ship_refuses_an_incomplete_language_and_lists_a_complete_one(
        root: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    from reporter.cli.main import main

    monkeypatch.setattr(i18n, "TRANSLATIONS_DIR", root)
    code = unused_language(root)
    new_catalogue(code, TRANSLATOR, root)
    with pytest.raises(I18nError, match="not complete"):
        ship(code, root)
    assert code not in shipped_languages(root)
    # A complete catalogue (here the French texts under another code) ships.
    french = po_path("fr", root).read_text(encoding="utf-8")
    po_path(code, root).write_text(french.replace("Language: fr", f"Language: {code}"),
                                   encoding="utf-8")
    replace_translation_in(root, code, "Police", "Les agents de la police nationale et communale")
    assert (main(["i18n", "ship", code]) or 0) == 0
    out = capsys.readouterr().out
    assert f"{code} is listed in" in out
    assert "1 warning remains" in out and f"'reporter i18n check {code}' lists them" in out
    assert shipped_languages(root)[-1] == code
    assert (root / code / "LC_MESSAGES" / "messages.mo").is_file()
    assert code in usable_languages(root)
    ship(code, root)  # again: nothing changes
    assert shipped_languages(root).count(code) == 1


def test_ship_refuses_a_catalogue_with_errors(root: Path) -> None:
    replace_translation(root, "Please use at most", "Au maximum %(mx)s caractères.")
    (root / "LINGUAS").write_text("en\n", encoding="utf-8")
    with pytest.raises(I18nError, match="has errors"):
        ship("fr", root)
    assert shipped_languages(root) == ("en",)


def test_check_does_not_compile_a_broken_catalogue(root: Path) -> None:
    mo = root / "fr" / "LC_MESSAGES" / "messages.mo"
    before = mo.read_bytes()
    replace_translation(root, "Please use at most", "Au maximum %(mx)s caractères.")
    result = check("fr", root, compile_mo=True)
    assert not result.ok and result.compiled is None
    assert mo.read_bytes() == before


def test_init_asks_who_translates_when_not_told(root: Path, monkeypatch: pytest.MonkeyPatch,
                                                ) -> None:
    """The documented ``reporter i18n init yo`` works as written: it asks for the name."""
    from click.testing import CliRunner

    from reporter.cli.main import cli

    monkeypatch.setattr(i18n, "TRANSLATIONS_DIR", root)
    code = unused_language(root)
    result = CliRunner().invoke(cli, ["i18n", "init", code], input=f"{TRANSLATOR}\n")
    assert result.exit_code == 0, result.output
    assert "Who translates?" in result.output
    assert check(code, root).coverage.translator == TRANSLATOR  # type: ignore[union-attr]


# --- the review desk's catalogue (reviewer.po) ------------------------------------


def test_the_desk_catalogues_are_checked_like_the_forms(root: Path) -> None:
    for language in ("fr", "pt"):
        result = check(language, root, domain="reviewer")
        assert result.ok and result.coverage is not None
        assert result.coverage.translated == result.coverage.total > 300
        assert result.path.name == "reviewer.po"
    assert languages(root, "reviewer") == ["en", "fr", "pt"]
    assert status("fr", root, "reviewer") == "offered"


def test_a_broken_desk_translation_is_an_error_with_its_line(root: Path) -> None:
    path = po_path("fr", root, "reviewer")
    text = path.read_text(encoding="utf-8")
    start = text.index('msgid "%(first)s to %(last)s"')
    line = text.count("\n", 0, start) + 1
    msgstr = text.index("msgstr", start)
    end = text.index("\n\n", msgstr)
    path.write_text(text[:msgstr] + 'msgstr "rapports"' + text[end:], encoding="utf-8")
    result = check("fr", root, domain="reviewer")
    assert not result.ok
    [problem] = [p for p in result.others if p.severity == "error"]
    assert problem.where == f"{path}:{line}" and "placeholders differ" in problem.text
    assert check("fr", root).ok  # the form's catalogue is another file


def test_init_starts_a_desk_language_from_the_desks_template(root: Path) -> None:
    language = unused_language(root)
    path = new_catalogue(language, TRANSLATOR, root, "reviewer")
    assert path == root / language / "LC_MESSAGES" / "reviewer.po"
    assert "translations for the review desk" in path.read_text(encoding="utf-8")
    result = check(language, root, domain="reviewer")
    assert result.ok and result.coverage is not None
    assert result.coverage.untranslated == check(
        "fr", root, domain="reviewer").coverage.total  # type: ignore[union-attr]
    assert path.with_suffix(".mo").is_file()
    assert not po_path(language, root).exists()  # no form catalogue made on the way
    with pytest.raises(I18nError, match=r"already exists.*--desk"):
        new_catalogue(language, TRANSLATOR, root, "reviewer")
    with pytest.raises(I18nError, match="no catalogue kind"):
        po_path("fr", root, "../messages")


def test_the_desk_commands(root: Path, monkeypatch: pytest.MonkeyPatch,
                           capsys: pytest.CaptureFixture[str]) -> None:
    from reporter.cli.main import main

    monkeypatch.setattr(i18n, "TRANSLATIONS_DIR", root)
    (root / "pt" / "LC_MESSAGES" / "reviewer.mo").unlink()
    assert status("pt", root, "reviewer") == "not compiled"
    assert (main(["i18n", "check", "--desk", "pt"]) or 0) == 0
    out = capsys.readouterr().out
    total = check("pt", root, domain="reviewer").coverage.total  # type: ignore[union-attr]
    assert f"pt (offered): {total} of {total} translated (100 %)" in out  # compiled now
    assert "review desk offers it" in out
    assert (root / "pt" / "LC_MESSAGES" / "reviewer.mo").is_file(), "check compiles"
    main(["i18n", "stats", "--desk"])
    rows = [line.split()[:3] for line in capsys.readouterr().out.splitlines()[1:]]
    assert rows == [["en", "offered", str(total)], ["fr", "offered", str(total)],
                    ["pt", "offered", str(total)]]
    with pytest.raises(SystemExit) as exited:
        main(["i18n", "check", "--desk", "sw"])  # a monitor language: no desk catalogue
    assert exited.value.code == 1
    assert "reporter i18n init --desk sw" in capsys.readouterr().err


@pytest.mark.parametrize("desk", [False, True], ids=["form", "desk"])
def test_update_finds_a_new_string_in_the_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str],
                                               desk: bool) -> None:
    """``reporter i18n update`` in a copy of the checkout: a string added to the code
    reaches the template and every catalogue of its kind, untranslated."""
    from reporter.cli.main import main

    project = Path(__file__).resolve().parents[2]
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    for name in ("babel.cfg", "babel-reviewer.cfg"):
        shutil.copy(project / name, checkout / name)
    shutil.copytree(project / "reporter", checkout / "reporter",
                    ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    module = checkout / "reporter" / ("review/desk/web/errors.py" if desk
                                      else "station/forms.py")
    new = "A sentence added for this test"
    module.write_text(module.read_text(encoding="utf-8")
                      + f'\n_NEW = _l("{new}")\n', encoding="utf-8")
    translations = checkout / "reporter" / "i18n" / "translations"
    monkeypatch.setattr(i18n, "TRANSLATIONS_DIR", translations)
    assert (main(["i18n", "update", *(["--desk"] if desk else [])]) or 0) == 0
    domain = "reviewer" if desk else "messages"
    assert f'msgid "{new}"' in (translations / f"{domain}.pot").read_text(encoding="utf-8")
    assert f'msgid "{new}"\nmsgstr ""' in po_path("fr", translations, domain).read_text(
        encoding="utf-8")
    other = "messages" if desk else "reviewer"
    assert new not in (translations / f"{other}.pot").read_text(encoding="utf-8")
    assert po_path("fr", translations, domain).with_suffix(".mo").is_file()
    assert f"stats{' --desk' if desk else ''}' shows where" in capsys.readouterr().out
    assert new not in (project / "reporter/i18n/translations/messages.pot").read_text(
        encoding="utf-8")
