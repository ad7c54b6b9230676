"""A station's history cannot be rewritten behind the reviewers' backs, end to end.

Real ``reporter serve`` processes take the reports, the real ``reporter``
CLI exports them and the reviewers verify and import them with their own
keys. In between, the station's history is changed the ways it will be: a
disk restored from an old backup (bundle numbers used again), and someone
with the station's passphrase (a coerced operator, or whoever seized the
disk and the passphrase file) who plants a report in the log, with or
without recomputing the hash chain. Each time the reviewer is told, and
their review database keeps exactly what it had.

Each test here fails when one check is switched off (``tests/mutants.py``:
``replay-conflict``, ``chain-head``, ``cross-bundle-chain``); before these
tests, each of those was caught by a single unit test and by no test from
the outside (``docs/testing.md``, "Mutation checks").
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from reporter.formats import envelope
from reporter.formats.chain import chain_link_hashed, envelope_hash, genesis
from reporter.formats.crypto import RecipientPublicKey
from reporter.station.instance import db_path
from reporter.station.intake import build_report
from reporter.storage import sqlc
from tests.conftest import Station, start_server, valid_report
from tests.e2e.test_recipients import (
    Cli,
    Field,
    Reviewer,
    Sent,
    export_bundle,
    make_field_station,
    post_over_http,
    read_everything,
    send_all,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def field_station(tmp_path: Path) -> Field:
    """A station with three reviewers (``test_recipients.ADDED``), made with the CLI."""
    return make_field_station(tmp_path)


def serve_and_send(station: Station, tmp_path: Path, sent: list[Sent]) -> None:
    """Start the station, let monitors send ``sent``, stop it (as at the end of a day)."""
    server = start_server(station, tmp_path)
    try:
        send_all(sent, lambda item, receipt: post_over_http(server.url, item, receipt))
    finally:
        server.stop()
    assert "Traceback" not in server.log.read_text()


def reports_held(cli: Cli, reviewer: Reviewer) -> list[str]:
    """The descriptions in ``reviewer``'s review database, oldest first."""
    code, out, err = cli("review", "--review-db", str(reviewer.review_db), "export",
                         "--format", "jsonl")
    assert code == 0, err
    return [json.loads(line)["report"]["fields"]["description"] for line in out.splitlines()]


def import_refused(cli: Cli, reviewer: Reviewer, bundle: Path) -> str:
    """``review import`` refuses ``bundle`` (exit status 1, the file named); its error."""
    code, out, err = cli("review", "--review-db", str(reviewer.review_db), "import",
                         str(bundle), "--key", str(reviewer.key_file))
    assert code != 0, f"{reviewer.name} imported {bundle.name}: {out}"
    assert str(bundle) in err, err
    return err


def plant(station: Station, seq: int, text: str, *, recompute_chain: bool) -> None:
    """Someone with the passphrase swaps report ``seq`` for one of their own, sealed to
    the station's reviewers so it opens like any other, straight in ``station.db``;
    with ``recompute_chain`` they also rewrite the chain values from there on, so the
    station's own log is consistent again (``reporter status`` verifies it)."""
    db = sqlc.connect(db_path(station.path), station.key, create=False, owner="station")
    try:
        keys = [RecipientPublicKey(bytes(row[0]))
                for row in db.execute("SELECT public_key FROM recipients")]
        fake = envelope.seal(build_report(valid_report(description=text), "en").to_body(),
                             keys)
        with sqlc.Transaction(db):
            db.execute("UPDATE reports SET envelope = ?, size = ?, hash = ? WHERE seq = ?",
                       (fake, len(fake), envelope_hash(fake), seq))
            if recompute_chain:
                row = db.execute("SELECT chain FROM reports WHERE seq = ?", (seq - 1,)).fetchone()
                chain = genesis(station.station_id) if row is None else bytes(row[0])
                for number, hashed in db.execute(
                        "SELECT seq, hash FROM reports WHERE seq >= ? ORDER BY seq",
                        (seq,)).fetchall():
                    chain = chain_link_hashed(chain, int(number), bytes(hashed))
                    db.execute("UPDATE reports SET chain = ? WHERE seq = ?", (chain, number))
    finally:
        db.close()


def test_a_station_restored_from_a_backup_cannot_replace_an_imported_bundle(
        field_station: Field, tmp_path: Path) -> None:
    station, cli = field_station.station, field_station.cli
    zawadi = field_station.reviewers[0]
    first = [Sent("Monday: a digger was beaten at the gate", []),
             Sent("Monday: soldiers took phones", [])]
    serve_and_send(station, tmp_path, first)
    backup = tmp_path / "backup"
    shutil.copytree(station.path, backup)  # the nightly backup, before Tuesday's export

    bundle = export_bundle(cli, tmp_path / "bundle-1.rptr", first)
    read_everything(cli, zawadi, bundle, first, tmp_path / "out")

    # The disk dies; the operator restores the backup and the station carries on. It no
    # longer knows bundle 1 went out, so its next bundle is number 1 again.
    shutil.rmtree(station.path)
    shutil.copytree(backup, station.path)
    later = [Sent("Wednesday: the river is red downstream", [])]
    serve_and_send(station, tmp_path, later)
    again = export_bundle(cli, tmp_path / "bundle-1-again.rptr", first + later)
    code, out, _ = cli("verify", str(again), "--key", str(zawadi.key_file))
    assert code == 0 and "bundle 1," in out, out  # a good bundle in itself

    import_refused(cli, zawadi, again)
    assert reports_held(cli, zawadi) == [s.description for s in first]


def test_a_report_planted_in_the_station_log_is_refused(
        field_station: Field, tmp_path: Path) -> None:
    """The chain values are left as they were: the bundle's reports do not rebuild the
    hash chain the station signed."""
    station, cli = field_station.station, field_station.cli
    sent = [Sent("soldiers fired on diggers near the river", []),
            Sent("the pit collapsed after blasting", []),
            Sent("trucks left at night", [])]
    serve_and_send(station, tmp_path, sent)
    plant(station, 2, "PLANTED: the monitors made it all up", recompute_chain=False)

    bundle = export_bundle(cli, tmp_path / "bundle-1.rptr", sent)
    for reviewer in field_station.reviewers:
        code, out, err = cli("verify", str(bundle), "--key", str(reviewer.key_file))
        assert code != 0, f"{reviewer.name}: {out}"
        assert "hash chain" in err, err
        import_refused(cli, reviewer, bundle)
        assert reports_held(cli, reviewer) == []


def test_a_log_rewritten_after_an_export_does_not_continue_the_imported_chain(
        field_station: Field, tmp_path: Path) -> None:
    """The chain is recomputed, so the station's log and each new bundle are consistent
    in themselves; only the link to the bundle the reviewers already hold gives it away,
    whichever of the two bundles a reviewer imports first."""
    station, cli = field_station.station, field_station.cli
    zawadi, amina = field_station.reviewers[:2]
    first = [Sent("a digger was beaten at the gate", []),
             Sent("soldiers took phones at the checkpoint", [])]
    serve_and_send(station, tmp_path, first)
    bundle_1 = export_bundle(cli, tmp_path / "bundle-1.rptr", first)
    read_everything(cli, zawadi, bundle_1, first, tmp_path / "out")

    plant(station, 2, "PLANTED: nobody was at the checkpoint", recompute_chain=True)
    code, _, err = cli("status")
    assert code == 0, err  # the station cannot tell: its own log is consistent again
    later = [Sent("the river is red downstream", [])]
    serve_and_send(station, tmp_path, later)
    bundle_2 = export_bundle(cli, tmp_path / "bundle-2.rptr", later)

    import_refused(cli, zawadi, bundle_2)
    assert reports_held(cli, zawadi) == [s.description for s in first]

    # Amina gets the bundles in the other order: the second is fine alone, the first
    # (the true one) then shows the break.
    code, _, err = cli("review", "--review-db", str(amina.review_db), "import",
                       str(bundle_2), "--key", str(amina.key_file))
    assert code == 0, err
    import_refused(cli, amina, bundle_1)
    assert reports_held(cli, amina) == [s.description for s in later]
