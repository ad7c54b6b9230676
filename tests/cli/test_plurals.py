"""English plurals in what the commands print: one report is "1 report", never
"1 reports" (issue 11, section 4). Every command an operator or a reviewer
runs, on a station where everything comes one at a time."""

from __future__ import annotations

import re
from pathlib import Path

from reporter.cli.common import noun, plural
from reporter.formats import keyfile
from reporter.formats.crypto import KdfParams, RecipientPrivateKey
from tests.conftest import Station, add_report_with_attachments, add_reports
from tests.reviewing import KEY_PASSPHRASE

NOUNS = ("reports", "bundles", "attachments", "keys", "recipients", "follow-ups", "files",
         "uploads", "unfinished uploads", "bytes", "entries", "catalogues", "warnings",
         "stations", "sites", "changes")
# "1 reports", "1 of 1 bundles", "bundles 3." for one bundle, "upload(s)".
ONE_AND_PLURAL = re.compile(r"(?<![\w.,-])1 (?:of 1 )?(?:" + "|".join(NOUNS) + r")\b")
PLURAL_OF_ONE = re.compile(r"\b(?:bundles|reports) \d+(?:[.;:)]| is\b| was\b|$)", re.M)


def test_the_helper() -> None:
    assert plural(1, "report") == "1 report"
    assert plural(0, "report") == "0 reports"
    assert plural(2, "entry", "entries") == "2 entries"
    assert plural(1024, "byte", grouped=True) == "1,024 bytes"
    assert noun(1, "bundle") == "bundle" and noun(3, "bundle") == "bundles"


def test_one_of_everything_is_said_in_the_singular(run, station: Station, key_file: Path,  # type: ignore[no-untyped-def]
                                                   tmp_path: Path) -> None:
    printed: list[str] = []

    def said(*args: str, expect: int = 0) -> str:
        code, out, err = run(*args)
        assert code == expect, (args, out, err)
        printed.append(out + err)
        return out + err

    # A reviewer whose key was added after report 1: report 1 is not sealed to it.
    add_reports(station, 1)
    newcomer = RecipientPrivateKey.generate()
    newcomer_key = tmp_path / "newcomer.key"
    newcomer_key.write_bytes(keyfile.dump(newcomer, KEY_PASSPHRASE, KdfParams.new()))
    said("recipients", "add", "newcomer", newcomer.public_key.to_text())
    add_report_with_attachments(station, [("a.pdf", b"%PDF-1.4\n" + bytes(300))])
    first = tmp_path / "1.rptr"
    out = said("export", "--out", str(first))
    assert "reports 1-2 (2), 1 attachment (" in out
    out = said("verify", str(first), "--key", str(newcomer_key))
    assert "\n  1 attachment (" in out
    out = said("review", "import", str(first), "--key", str(newcomer_key))
    assert "1 report added (1 attachment), 0 already present" in out
    assert "  1 report is not sealed to this key" in out
    out = said("review", "gaps")
    assert "1 bundle, reports up to 2" in out

    # One bundle refused of one.
    broken = tmp_path / "broken.rptr"
    broken.write_bytes(first.read_bytes()[:-100])
    out = said("review", "import", str(broken), "--key", str(newcomer_key), expect=1)
    assert "1 of 1 bundle was refused" in out

    # Bundles 2 and 3 sealed to a key added since: one change, settled by one accept.
    said("recipients", "add", "third", RecipientPrivateKey.generate().public_key.to_text())
    for number in (2, 3):
        add_reports(station, 1)
        bundle = tmp_path / f"{number}.rptr"
        out = said("export", "--out", str(bundle))
        assert f"report {number + 1} (1)" not in out and f": report {number + 1}," in out
        said("review", "import", str(bundle), "--key", str(newcomer_key), expect=3)
    out = said("review", "recipients", "accept", station.station_id.hex()[:8], "--bundle", "2",
               "--yes")
    assert "The same set settles bundle 3." in out

    said("review", "list")
    said("review", "show", "1")
    said("review", "stats")
    said("review", "export", "--format", "csv", "--kind", "incident", "--search", "attachments")
    out_dir = tmp_path / "out"
    said("review", "attachments", "1", "--out", str(out_dir))
    out = said("review", "attachments", "1", "--out", str(out_dir), expect=1)
    assert "1 of 1 attachment of report 1 was not written" in out

    said("status")
    out = said("purge", "--through", "1", "--yes")
    assert "Erased 2 reports (up to report 2, bundle 1) and 1 attachment;" in out

    for text in printed:
        assert not ONE_AND_PLURAL.search(text), ONE_AND_PLURAL.search(text)
        assert not PLURAL_OF_ONE.search(text), PLURAL_OF_ONE.search(text)
        assert "(s)" not in text
