"""The files a reviewer's commands write beside ``review.db``: the README names
them (they are backed up and moved together) and ``.gitignore`` keeps them out of
a checkout where someone tried the README's commands (issue 11, section 4)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import Station, add_report_with_attachments
from tests.reviewing import reporter_process

ROOT = Path(__file__).resolve().parents[2]


def reviewer_section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return readme[readme.index("### Reviewer"):readme.index("### Translator")]


def test_every_file_written_beside_review_db_is_named_and_ignored(
        station: Station, key_file: Path, tmp_path: Path) -> None:
    add_report_with_attachments(station, [("a.pdf", b"%PDF-1.4\n" + bytes(2000))])
    desk = tmp_path / "desk"
    desk.mkdir()
    bundle = desk / "bundle-1.rptr"
    done = reporter_process("--instance", str(station.path), "export", "--out", str(bundle),
                            cwd=desk)
    assert done.returncode == 0, done.stderr
    done = reporter_process("review", "import", bundle.name, "--key", str(key_file), cwd=desk)
    assert done.returncode == 0, done.stderr
    assert reporter_process("review", "list", cwd=desk).returncode == 0

    written = sorted(p.name for p in desk.iterdir() if p != bundle)
    assert written == ["review.db", "review.db.attachments", "review.db.json"]
    section = reviewer_section()
    for name in written:
        assert f"`{name}`" in section or f"`./{name}`" in section, name

    # SQLite's files of the moment: review.db's write-ahead log (and the rollback
    # journal of the write that creates it), the attachment store's rollback journal.
    transient = ["review.db-wal", "review.db-shm", "review.db-journal",
                 "review.db.attachments-journal"]
    for name in [*written, *transient, bundle.name]:
        check = subprocess.run(["git", "check-ignore", "--no-index", "-q", name], cwd=ROOT,
                               check=False, timeout=30)
        assert check.returncode == 0, f"{name} is not in .gitignore"
