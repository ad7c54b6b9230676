"""Translator tools: ``reporter i18n check / stats / init`` on real catalogues."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from reporter.i18n import languages as i18n
from reporter.i18n.languages import TRANSLATIONS_DIR, shipped_languages, usable_languages
from reporter.i18n.tools import (
    I18nError,
    check,
    languages,
    new_catalogue,
    po_path,
    ship,
    status,
)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    copy = tmp_path / "translations"
    shutil.copytree(TRANSLATIONS_DIR, copy)
    return copy


def replace_translation(root: Path, msgid_start: str, new_msgstr: str) -> int:
    """Edit the French msgstr of the entry whose msgid starts with ``msgid_start``."""
    path = po_path("fr", root)
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
    path = new_catalogue("sw", root) if not po_path("sw", root).exists() else None
    if path is None:  # already shipped: start another one
        path = new_catalogue("yo", root)
    language = path.parent.parent.name
    text = path.read_text(encoding="utf-8")
    assert "# Review status: not reviewed by a native speaker" in text
    result = check(language, root)
    assert result.coverage is not None
    assert result.coverage.translated == 0
    assert result.coverage.untranslated == check("fr", root).coverage.total  # type: ignore[union-attr]
    assert language in languages(root)
    with pytest.raises(I18nError, match="already exists"):
        new_catalogue(language, root)


@pytest.mark.parametrize("bad", ["xx_bogus", "../fr", "english", ""])
def test_init_refuses_what_is_not_a_language(root: Path, bad: str) -> None:
    with pytest.raises(I18nError):
        new_catalogue(bad, root)


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


def test_the_shipped_languages_are_read_from_linguas() -> None:
    assert shipped_languages() == ("en", "fr", "pt", "sw", "ln", "sn")


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
    assert (main(["i18n", "init", "yo"]) or 0) == 0
    assert status("yo", root) == "in progress"
    assert (main(["i18n", "check", "yo"]) or 0) == 0
    out = capsys.readouterr().out
    assert "yo (in progress): 0 of" in out and "--preview-languages" in out
    # Monitors do not meet it; a translator previewing does.
    assert "yo" not in usable_languages(root)
    assert usable_languages(root, preview=True)[-1] == "yo"
    main(["i18n", "stats"])
    assert any(line.split()[:3] == ["yo", "in", "progress"]
               for line in capsys.readouterr().out.splitlines())


def test_ship_refuses_an_incomplete_language_and_lists_a_complete_one(root: Path) -> None:
    new_catalogue("yo", root)
    with pytest.raises(I18nError, match="not complete"):
        ship("yo", root)
    assert "yo" not in shipped_languages(root)
    # A complete catalogue (here the French texts under another code) ships.
    french = po_path("fr", root).read_text(encoding="utf-8")
    po_path("yo", root).write_text(french.replace("Language: fr", "Language: yo"),
                                   encoding="utf-8")
    ship("yo", root)
    assert shipped_languages(root)[-1] == "yo"
    assert (root / "yo" / "LC_MESSAGES" / "messages.mo").is_file()
    assert "yo" in usable_languages(root)
    ship("yo", root)  # again: nothing changes
    assert shipped_languages(root).count("yo") == 1


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
