"""Shared by the reviewer-side tests: the CLI runner, a reviewer key file,
and a snapshot of everything a review database holds."""

from __future__ import annotations

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
