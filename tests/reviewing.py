"""Shared by the reviewer-side tests: the CLI runner, a reviewer key file,
and a snapshot of everything a review database holds."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from reporter.cli.main import main
from reporter.formats import keyfile
from reporter.formats.crypto import KdfParams
from reporter.review.db import ReviewDB, attachments_path
from tests.conftest import PASSPHRASE, Station

KEY_PASSPHRASE = "reviewer key passphrase"
REVIEW_PASSPHRASE = "a long review passphrase"
TABLES = ("stations", "bundles", "reports", "unreadable", "attachments",
          "bundle_recipients", "recipient_pins")


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path, station: Station) -> Callable[..., tuple[int, str, str]]:
    """``reporter ARGS...`` in-process against ``station`` and ./review.db: (code, out, err)."""
    monkeypatch.setenv("REPORTER_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("REPORTER_KEY_PASSPHRASE", KEY_PASSPHRASE)
    monkeypatch.setenv("REPORTER_REVIEW_PASSPHRASE", REVIEW_PASSPHRASE)
    monkeypatch.setenv("REPORTER_INSTANCE", str(station.path))
    monkeypatch.setenv("REPORTER_REVIEW_DB", str(tmp_path / "review.db"))

    def _run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            code = main(list(args)) or 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out = capsys.readouterr()
        return code, out.out, out.err

    return _run


@pytest.fixture
def key_file(tmp_path: Path, station: Station) -> Path:
    path = tmp_path / "reviewer.key"
    path.write_bytes(keyfile.dump(station.reviewer, KEY_PASSPHRASE, KdfParams.new()))
    return path


def snapshot(db: ReviewDB) -> list[object]:
    """Every row of every table: equal before and after means nothing changed."""
    c = db.connection
    return [c.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()  # noqa: S608
            for t in TABLES]


def stored_blobs(db: ReviewDB) -> int:
    """Uploads in the attachment store beside the database (0 if it was never made)."""
    if not attachments_path(db.path).exists():
        return 0
    return db.attachment_store().upload_count()


def reporter_process(*args: str | bytes, cwd: Path,
                     env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    """``python -m reporter ARGS...`` as a real process in ``cwd`` (review database
    ``cwd/review.db``, every passphrase from the environment): its exit status and
    the exact bytes it wrote."""
    environment = {**os.environ, "REPORTER_PASSPHRASE": PASSPHRASE,
                   "REPORTER_KEY_PASSPHRASE": KEY_PASSPHRASE,
                   "REPORTER_REVIEW_PASSPHRASE": REVIEW_PASSPHRASE,
                   "REPORTER_REVIEW_DB": str(cwd / "review.db"),
                   "PYTHONIOENCODING": "utf-8", **(env or {})}
    return subprocess.run([sys.executable, "-m", "reporter", *args], cwd=cwd,
                          env=environment, capture_output=True, timeout=120, check=False)


def new_review_db(path: Path) -> Path:
    """An empty review database at ``path``, made here with the tests' cheap key
    derivation (a ``reporter`` process would use the real, costly one at every open)."""
    ReviewDB.create(path, REVIEW_PASSPHRASE).close()
    return path
