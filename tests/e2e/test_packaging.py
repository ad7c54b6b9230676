"""A non-editable install (a wheel) carries templates, styles and translations."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_the_wheel_is_complete_and_serves_french(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )
    assert build.returncode == 0, build.stderr
    [wheel] = dist.glob("reporter-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in ("reporter/station/templates/report.html", "reporter/station/static/style.css",
                     "reporter/i18n/translations/fr/LC_MESSAGES/messages.mo",
                     "reporter/i18n/translations/messages.pot", "reporter/py.typed",
                     "reporter/review/desk/templates/report.html",
                     "reporter/review/desk/static/desk.css",
                     "reporter/i18n/translations/fr/LC_MESSAGES/reviewer.mo",
                     "reporter/i18n/translations/reviewer.pot"):
        assert required in names, required
    assert not any(n.startswith("tests/") for n in names)

    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet",
                    "--target", str(site), str(wheel)], check=True, timeout=300)
    # Run from an unrelated folder so the checkout cannot be imported by accident.
    probe = (
        "import reporter, sys\n"
        f"assert reporter.__file__.startswith({str(site)!r}), reporter.__file__\n"
        "from reporter.formats import crypto\n"
        "crypto.KDF_PROFILES['moderate'] = (1, 8192)\n"
        "from reporter.station.instance import init_instance, unlock\n"
        "from reporter.station.config import load_config\n"
        "from reporter.station.app import create_app\n"
        "from reporter.formats.crypto import RecipientPrivateKey\n"
        "from reporter.station.instance import open_store\n"
        "p = __import__('pathlib').Path('inst')\n"
        "init_instance(p, 'a long enough passphrase')\n"
        "k = unlock(p, 'a long enough passphrase')\n"
        "s = open_store(p, k); s.add_recipient('r', RecipientPrivateKey.generate().public_key)\n"
        "page = create_app(load_config(p.absolute(), k)).test_client().get('/?lang=fr')\n"
        "text = page.get_data(as_text=True)\n"
        "assert page.status_code == 200, page.status_code\n"
        "assert '<html lang=\"fr\"' in text and 'Envoyer' in text, text[:500]\n"
        "from reporter.review.db import ReviewDB\n"
        "from reporter.review.desk.app import create_app as desk_app\n"
        "from reporter.review.desk.config import DeskConfig\n"
        "ReviewDB.create(p.absolute() / 'review.db', 'a long enough passphrase').close()\n"
        "desk = desk_app(DeskConfig(review_db=p.absolute() / 'review.db', port=8765))\n"
        "page = desk.test_client().get('/unlock', base_url='http://127.0.0.1:8765',\n"
        "                              headers={'Accept-Language': 'fr'})\n"
        "text = page.get_data(as_text=True)\n"
        "assert page.status_code == 200, page.status_code\n"
        "assert 'Déverrouiller le bureau de lecture' in text, text[:500]\n"
        "assert desk.test_client().get('/static/desk.css', base_url='http://127.0.0.1:8765'"
        ").status_code == 200\n"
        "print('ok')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    result = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
