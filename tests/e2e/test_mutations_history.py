"""A station's history cannot be rewritten behind the reviewers' backs, end to end.

Real ``reporter serve`` processes take the reports, the real ``reporter``
CLI exports them and the reviewers verify and import them with their own
keys. In between, the station's history is changed the ways it will be: a
disk restored from an old backup (bundle numbers used again), and someone
with the station's passphrase (a coerced operator, or whoever seized the
disk and the passphrase file) who plants a report in the log, with or
without recomputing the hash chain; a reviewer who edits a bundle before
passing it on; a station running modified software. Each time the reviewer
is told, and their review database keeps exactly what it had.

Each test here fails when one check is switched off (``tests/mutants.py``:
``replay-conflict``, ``previous-bundle``, ``chain-head``,
``cross-bundle-chain``, ``report-conflict``, ``signature``,
``chain-genesis``, ``key-pinning``); before these tests, each of those was
caught by at most two unit tests, and three by none (``docs/testing.md``,
"Mutation checks").
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import nacl.bindings as sodium
import pytest

from reporter.formats import bundle, envelope, keyfile
from reporter.formats.chain import chain_link_hashed, envelope_hash, genesis
from reporter.formats.crypto import RecipientPublicKey, random_bytes, subkey
from reporter.formats.manifest import Manifest, NamedRecipient
from reporter.station.instance import (
    SETTING_STATION_ID,
    db_path,
    init_instance,
    load_identity,
    open_store,
    unlock,
)
from reporter.station.intake import build_report
from reporter.storage import sqlc
from tests.conftest import PASSPHRASE, Station, start_server, valid_report
from tests.e2e.test_attachments_bundle import bundle_plaintext, frames_of
from tests.e2e.test_recipients import (
    Cli,
    Field,
    Reviewer,
    Sent,
    export_bundle,
    make_field_station,
    post_over_http,
    read_everything,
    real_cli,
    reports_named,
    send_all,
)
from tests.reviewing import KEY_PASSPHRASE

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

    # The restored station carries on with bundle 2, which follows its own bundle 1, not
    # the one Zawadi holds: its reports (4 on) do not touch hers (1-2), so only the
    # link to the previous bundle shows that it comes from another history.
    more = [Sent("Thursday: a truck ran over a digger", [])]
    serve_and_send(station, tmp_path, more)
    code, out, err = cli("export", "--out", str(tmp_path / "bundle-2.rptr"))
    assert code == 0 and "Bundle 2 " in out and reports_named(out) == (4, 4), out + err
    import_refused(cli, zawadi, tmp_path / "bundle-2.rptr")
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


def seal_frames(frames: list[tuple[int, bytes]], readers: list[RecipientPublicKey]) -> bytes:
    """Frames padded and encrypted again as a bundle to ``readers``: what anyone who can
    open a bundle can make of it (the station's signature is only copied)."""
    plaintext = b"".join(bundle.FRAME_HEADER.pack(k, len(d)) + d for k, d in frames)
    padded = bundle.padded_size(len(plaintext))
    plaintext += bytes(padded - len(plaintext))
    file_key = random_bytes(32)
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    ss_header = sodium.crypto_secretstream_xchacha20poly1305_init_push(
        state, subkey(file_key, bundle.CTX_PAYLOAD))
    header = (bundle.FIXED_HEADER.pack(bundle.MAGIC, 2, len(readers), padded)
              + b"".join(r.seal(file_key) for r in readers) + ss_header)
    chunks = padded // bundle.CHUNK
    return header + b"".join(sodium.crypto_secretstream_xchacha20poly1305_push(
        state, plaintext[i * bundle.CHUNK : (i + 1) * bundle.CHUNK],
        header if i == 0 else None,
        bundle.TAG_FINAL if i == chunks - 1 else bundle.TAG_MESSAGE) for i in range(chunks))


def test_a_bundle_a_reviewer_edited_before_passing_it_on_is_refused(
        field_station: Field, tmp_path: Path) -> None:
    """Amina, a reviewer, opens the bundle, swaps report 2 for one of her own (sealed to
    everyone, listed in the manifest with its hash, the chain recomputed) and passes it
    on to Zawadi. Everything is consistent but the station's signature."""
    station, cli = field_station.station, field_station.cli
    zawadi, amina, _mbuyi = field_station.reviewers
    sent = [Sent("soldiers fired on diggers near the river", []),
            Sent("the pit collapsed after blasting", [])]
    serve_and_send(station, tmp_path, sent)
    original = export_bundle(cli, tmp_path / "bundle-1.rptr", sent)

    amina_key = keyfile.load(amina.key_file.read_bytes(), KEY_PASSPHRASE)
    frames = frames_of(bundle_plaintext(original.read_bytes(), amina_key))
    everyone = [RecipientPublicKey.from_text(r.public) for r in field_station.reviewers]
    planted = envelope.seal(build_report(valid_report(
        description="PLANTED: the monitors made it all up"), "en").to_body(), everyone)
    positions = [i for i, (kind, _) in enumerate(frames) if kind == bundle.FRAME_ENVELOPE]
    frames[positions[1]] = (bundle.FRAME_ENVELOPE, planted)
    manifest = Manifest.from_json(frames[0][1])
    entries = (manifest.envelopes[0], (2, len(planted), envelope_hash(planted)))
    chain = manifest.chain_before
    for seq, _size, hashed in entries:
        chain = chain_link_hashed(chain, seq, hashed)
    edited = replace(manifest, envelopes=entries, chain_head=chain)
    frames[0] = (bundle.FRAME_MANIFEST, edited.to_json())  # frames[1]: the old signature
    forged = tmp_path / "bundle-1-from-amina.rptr"
    forged.write_bytes(seal_frames(frames, [everyone[0]]))

    code, out, err = cli("verify", str(forged), "--key", str(zawadi.key_file))
    assert code != 0, out
    assert "signature" in err, err
    import_refused(cli, zawadi, forged)
    assert reports_held(cli, zawadi) == []
    read_everything(cli, zawadi, original, sent, tmp_path / "out")  # the real one is fine


def test_a_first_bundle_must_start_the_stations_hash_chain(
        field_station: Field, tmp_path: Path) -> None:
    """A station running modified software signs bundle 1 with a chain that starts from
    some other value than its genesis (as if reports came before report 1): consistent
    in itself and signed, it is still refused."""
    station, cli = field_station.station, field_station.cli
    zawadi = field_station.reviewers[0]
    sent = [Sent("soldiers fired on diggers near the river", []),
            Sent("the pit collapsed after blasting", [])]
    serve_and_send(station, tmp_path, sent)
    with station.store() as store:
        identity = load_identity(store)
        rows = [(r.seq, r.envelope) for r in store.reports() if r.envelope is not None]
        listed = store.recipients()
        recipients = [r.public_key for r in listed]
    before = random_bytes(32)
    chain = before
    entries = []
    for seq, sealed in rows:
        chain = chain_link_hashed(chain, seq, envelope_hash(sealed))
        entries.append((seq, len(sealed), envelope_hash(sealed)))
    manifest = Manifest(
        station_id=identity.station_id, station_key=identity.signing_key.verify_key,
        number=1, previous=None, first_seq=1, last_seq=len(rows), chain_before=before,
        chain_head=chain, envelopes=tuple(entries),
        recipients=(), named=tuple(NamedRecipient(r.public_key, r.name) for r in listed),
        created="2026-11-30")
    path = tmp_path / "bundle-1.rptr"
    with open(path, "wb") as out:
        bundle.write_bundle(out, manifest, identity.signing_key,
                            [sealed for _seq, sealed in rows], recipients)

    import_refused(cli, zawadi, path)
    assert reports_held(cli, zawadi) == []


def test_a_report_changed_after_it_was_imported_is_named_when_sent_again(
        field_station: Field, tmp_path: Path) -> None:
    """After bundle 1 went out, report 2 is rewritten (chain recomputed) and the
    operator sends everything held again (``export --all``, as for a new reviewer):
    the new bundle links to bundle 1 and starts at the genesis, so only the report
    that differs from the copy already imported gives it away."""
    station, cli = field_station.station, field_station.cli
    zawadi = field_station.reviewers[0]
    first = [Sent("a digger was beaten at the gate", []),
             Sent("soldiers took phones at the checkpoint", [])]
    serve_and_send(station, tmp_path, first)
    bundle_1 = export_bundle(cli, tmp_path / "bundle-1.rptr", first)
    read_everything(cli, zawadi, bundle_1, first, tmp_path / "out")

    plant(station, 2, "PLANTED: nobody was at the checkpoint", recompute_chain=True)
    code, out, err = cli("export", "--all", "--out", str(tmp_path / "bundle-2.rptr"))
    assert code == 0 and "Bundle 2 " in out and reports_named(out) == (1, 2), out + err
    err = import_refused(cli, zawadi, tmp_path / "bundle-2.rptr")
    assert "report 2" in err, err
    assert reports_held(cli, zawadi) == [s.description for s in first]


def test_another_key_cannot_speak_for_a_pinned_station(
        field_station: Field, tmp_path: Path) -> None:
    """Someone who learnt a station's id sets up a station of their own under that id,
    with the coalition's reviewer keys (they are not secret), and sends its bundle 1.
    Zawadi holds only the real station's bundle 3 (bundles arrive in any order), so
    nothing but the pinned key tells the two apart."""
    station, cli = field_station.station, field_station.cli
    zawadi = field_station.reviewers[0]
    for day in ("Monday", "Tuesday", "Wednesday"):
        sent = [Sent(f"{day}: soldiers at the river", [])]
        serve_and_send(station, tmp_path, sent)
        last = export_bundle(cli, tmp_path / f"{day}.rptr", sent)
    read_everything(cli, zawadi, last, sent, tmp_path / "out")

    path = tmp_path / "impostor"
    init_instance(path, PASSPHRASE)
    key = unlock(path, PASSPHRASE)
    with open_store(path, key) as store:
        store.set_setting(SETTING_STATION_ID, station.station_id)
        store.add_site("Marange")
    fake_cli = real_cli(path)
    for reviewer in field_station.reviewers:
        code, _, err = fake_cli("recipients", "add", reviewer.name, reviewer.public)
        assert code == 0, err
    fake = [Sent("IMPOSTOR: all is calm at the river", [])]
    serve_and_send(Station(path, key, station.station_id, station.reviewer), tmp_path, fake)
    forged = export_bundle(fake_cli, tmp_path / "impostor-1.rptr", fake)

    err = import_refused(cli, zawadi, forged)
    assert "SECURITY WARNING" in err, err
    assert reports_held(cli, zawadi) == [s.description for s in sent]
