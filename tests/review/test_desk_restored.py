"""The chain of custody of a report from a station restored from a backup names the
station history it belongs to and the restores that led to it (``custody.py``), on
the desk's report page too."""

from __future__ import annotations

from pathlib import Path

from reporter.formats.manifest import ROOT_HISTORY
from reporter.review.custody import custody
from reporter.review.db import ReviewDB
from reporter.review.desk.app import create_app
from reporter.review.desk.config import DeskConfig
from reporter.review.desk.vault import Vault
from reporter.review.importer import import_bundle
from reporter.station import backup
from tests.conftest import Station, add_reports
from tests.review.test_desk_views import PORT, get, unlock
from tests.review.test_histories import restore_of
from tests.review.test_review import export
from tests.reviewing import REVIEW_PASSPHRASE


def test_custody_names_the_history_and_its_restores(station: Station, tmp_path: Path) -> None:
    add_reports(station, 2, "before")
    first = export(station, tmp_path / "1.rptr")
    backup.take_backup(station.path, station.key, tmp_path / "b.rbk")
    restored, restore = restore_of(station, tmp_path / "b.rbk", tmp_path / "r")
    add_reports(restored, 1, "after the restore")
    second = export(restored, tmp_path / "2.rptr")
    path = tmp_path / "review.db"
    with ReviewDB.create(path, REVIEW_PASSPHRASE) as db:
        import_bundle(db, first, station.reviewer)
        import_bundle(db, second, station.reviewer)
        ids = {str(d): int(i) for i, d in db.connection.execute(
            "SELECT id, description FROM reports")}
        before, after = ids["before 0"], ids["after the restore 0"]
        assert custody(db, before).restores == () and custody(db, before).history == (
            ROOT_HISTORY.hex())
        shown = custody(db, after)
        assert shown.history == restore.id.hex() and shown.restores == (restore,)
    app = create_app(DeskConfig(review_db=path, port=PORT, idle_seconds=600, testing=True),
                     Vault(path, 600))
    client = app.test_client()
    unlock(client)
    page = get(client, f"/reports/{after}").get_data(as_text=True)
    assert f"Restore {restore.id.hex()[:8]} on {restore.restored}" in page
    assert "never restored from a backup" not in page
    page = get(client, f"/reports/{before}").get_data(as_text=True)
    assert "first history (never restored from a backup)" in page
