"""A translator's whole path (init, check, preview, ship) keeps ``make test`` green.

It really happens, in a copy of the project's translations (a temporary
folder): a new language is started with the real ``reporter i18n`` commands,
13 strings are translated, then all of them, and it is shipped. After each
step that changes the folder, the catalogue tests of ``make test`` (every test
in tests/i18n but this one and the browser test) run again in a separate
pytest process against the copy (``REPORTER_TEST_TRANSLATIONS``, see
``folder.py``) and must pass, with the new language among those checked.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po, write_po

from reporter.cli.main import main
from reporter.i18n import languages as i18n
from reporter.i18n.tools import po_path
from reporter.station.app import create_app
from reporter.station.config import load_config
from tests.conftest import Station
from tests.i18n.folder import ENVIRONMENT, TRANSLATIONS, unused_language

ROOT = Path(__file__).resolve().parents[2]
PARTIAL = 13  # strings translated at the first check, as in the field trial


def run_the_catalogue_tests(translations: Path) -> str:
    """``make test``'s tests/i18n (bar this file and the browser test) on ``translations``."""
    process = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/i18n", "-p", "no:cacheprovider", "-q", "-rA",
         "-m", "not slow", f"--ignore={Path(__file__).relative_to(ROOT)}"],
        cwd=ROOT, env={**os.environ, ENVIRONMENT: str(translations)},
        capture_output=True, text=True, timeout=600, check=False)
    output = process.stdout + process.stderr
    assert process.returncode == 0, output[-6000:]
    return output


def passed(output: str, test: str, language: str) -> bool:
    return f"PASSED tests/i18n/{test}[{language}]" in output


def translate(translations: Path, language: str, count: int | None) -> None:
    """Fill ``count`` entries (all if None) as a translator's editor would (French texts here)."""
    with open(po_path("fr", translations), "rb") as fh:
        french = {m.id: m.string for m in read_po(fh) if m.id}
    path = po_path(language, translations)
    with open(path, "rb") as fh:
        catalog = read_po(fh, locale=language)
    done = 0
    for message in catalog:
        if message.id and (count is None or done < count):
            message.string = french[message.id]
            done += 1
    with open(path, "wb") as fh:
        write_po(fh, catalog, width=76)


@pytest.mark.slow
def test_each_step_of_a_new_language_passes_the_catalogue_tests(
        tmp_path: Path, station: Station, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / "translations"
    shutil.copytree(TRANSLATIONS, copy)
    monkeypatch.setattr(i18n, "TRANSLATIONS_DIR", copy)
    code = unused_language(copy)

    # 1. init: nothing translated yet.
    assert (main(["i18n", "init", code, "--translator", "Ada Obi (test)"]) or 0) == 0
    output = run_the_catalogue_tests(copy)
    assert passed(output, "test_i18n.py::test_each_catalogue_parses_with_a_proper_header", code)
    assert not passed(output, "test_i18n.py::test_each_translation_is_complete_and_nothing_"
                      "is_fuzzy", code)

    # 2. check, part-way: 13 strings translated.
    translate(copy, code, PARTIAL)
    capsys.readouterr()
    assert (main(["i18n", "check", code]) or 0) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{code} (in progress): {PARTIAL} of ")
    assert "OK, compiled" in out
    output = run_the_catalogue_tests(copy)
    assert passed(output, "test_i18n.py::test_translations_keep_every_placeholder", code)

    # 3. preview: a translator sees it, marked as unfinished; monitors do not.
    preview = create_app(load_config(station.path, station.key, testing=True,
                                     preview_languages=True)).test_client()
    page = preview.get(f"/?lang={code}").get_data(as_text=True)
    assert f'<html lang="{code}"' in page
    assert re.search(rf'<strong lang="{code}" aria-current="true">[^<]+</strong>\s*'
                     r'<small class="in-progress"', page)
    field = create_app(load_config(station.path, station.key, testing=True)).test_client()
    assert f'hreflang="{code}"' not in field.get("/").get_data(as_text=True)

    # 4. ship, once every string is translated.
    translate(copy, code, None)
    assert (main(["i18n", "ship", code]) or 0) == 0
    assert f"{code} is listed in" in capsys.readouterr().out
    output = run_the_catalogue_tests(copy)
    for test in ("test_i18n.py::test_each_translation_is_complete_and_nothing_is_fuzzy",
                 "test_i18n.py::test_each_translation_says_who_made_it_and_whether_a_native_"
                 "speaker_reviewed_it",
                 "test_i18n.py::test_each_shipped_header_is_filled_in",
                 "test_i18n.py::test_committed_mo_matches_a_fresh_compile",
                 "test_i18n.py::test_pages_show_the_translation_of_every_english_string"):
        assert passed(output, test, code), test
    page = create_app(load_config(station.path, station.key, testing=True)).test_client().get(
        f"/?lang={code}").get_data(as_text=True)
    assert f'<html lang="{code}"' in page and 'class="in-progress"' not in page
