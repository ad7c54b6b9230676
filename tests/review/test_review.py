"""Reviewer import: verified, idempotent, order-tolerant, pinned, one transaction."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from reporter.errors import BundleConflict, ForeignStation, FormatError
from reporter.formats.crypto import RecipientPrivateKey
from reporter.review.db import ReviewDB
from reporter.review.importer import compress, gaps, import_bundle, verify_bundle
from reporter.station.export import export_bundle
from reporter.station.instance import init_instance, load_identity, open_store, unlock
from reporter.storage.blobs import BlobStore
from tests.conftest import PASSPHRASE, Station, add_reports
from tests.reviewing import TABLES


@pytest.fixture
def db(tmp_path: Path):  # type: ignore[no-untyped-def]
    review = ReviewDB.create(tmp_path / "review.db", "a long review passphrase")
    yield review
    review.close()


def export(station: Station, out: Path, **kwargs: object) -> Path:
    with station.store() as store, BlobStore.open(station.path, station.key) as blobs:
        export_bundle(store, load_identity(store), out, blobs=blobs,
                      **kwargs)  # type: ignore[arg-type]
    return out


def snapshot(db: ReviewDB) -> list[object]:
    c = db.connection
    return [c.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()  # noqa: S608
            for t in TABLES]


def test_round_trip_with_canaries(station: Station, db: ReviewDB, tmp_path: Path) -> None:
    receipts = add_reports(station, 3, text="CNRYreview")
    result = import_bundle(db, export(station, tmp_path / "1.rptr"), station.reviewer)
    assert (result.added, result.new_station, result.number) == (3, True, 1)
    bodies = [row[0] for row in db.connection.execute("SELECT body FROM reports ORDER BY seq")]
    for i, (body, receipt) in enumerate(zip(bodies, receipts, strict=True)):
        assert f"CNRYreview {i}" in body and receipt in body


def test_the_same_bundle_twice_adds_nothing(station: Station, db: ReviewDB,
                                            tmp_path: Path) -> None:
    add_reports(station, 2)
    path = export(station, tmp_path / "1.rptr")
    import_bundle(db, path, station.reviewer)
    before = snapshot(db)
    again = import_bundle(db, path, station.reviewer)
    assert again.already_imported and again.added == 0
    assert snapshot(db) == before


def test_order_does_not_matter_and_gaps_are_reported(station: Station, db: ReviewDB,
                                                     tmp_path: Path) -> None:
    paths = []
    for n in range(1, 4):
        add_reports(station, 2)
        paths.append(export(station, tmp_path / f"{n}.rptr"))
    import_bundle(db, paths[2], station.reviewer)
    [g] = gaps(db)
    assert g.missing_bundles == [(1, 2)] and g.missing_reports == [(1, 4)]
    import_bundle(db, paths[0], station.reviewer)
    [g] = gaps(db)
    assert g.missing_bundles == [(2, 2)] and g.missing_reports == [(3, 4)]
    import_bundle(db, paths[1], station.reviewer)
    [g] = gaps(db)
    assert g.missing_bundles == [] and g.missing_reports == [] and g.last_seq == 6


def test_a_foreign_key_for_a_known_station_is_refused_loudly(station: Station, db: ReviewDB,
                                                              tmp_path: Path) -> None:
    add_reports(station, 1)
    import_bundle(db, export(station, tmp_path / "1.rptr"), station.reviewer)
    # An impostor station with the same id but its own signing key.
    impostor = tmp_path / "impostor"
    shutil.copytree(station.path, impostor)
    with open_store(impostor, unlock(impostor, PASSPHRASE)) as store:
        from reporter.formats.crypto import StationSigningKey
        store.set_setting("signing_key", StationSigningKey.generate().seed())
    add_reports(Station(impostor, station.key, station.station_id, station.reviewer), 1)
    forged = export(Station(impostor, station.key, station.station_id, station.reviewer),
                    tmp_path / "2.rptr")
    before = snapshot(db)
    with pytest.raises(ForeignStation, match="SECURITY WARNING"):
        import_bundle(db, forged, station.reviewer)
    assert snapshot(db) == before


def test_a_replayed_number_with_other_contents_is_a_conflict(station: Station, db: ReviewDB,
                                                             tmp_path: Path) -> None:
    add_reports(station, 1)
    backup = tmp_path / "backup"
    shutil.copytree(station.path, backup)
    import_bundle(db, export(station, tmp_path / "1.rptr"), station.reviewer)
    # The station is restored from an older backup and exports a different bundle 1.
    restored = Station(backup, station.key, station.station_id, station.reviewer)
    add_reports(restored, 1, text="different")
    other = export(restored, tmp_path / "other-1.rptr")
    before = snapshot(db)
    with pytest.raises(BundleConflict, match="already imported with different contents"):
        import_bundle(db, other, station.reviewer)
    assert snapshot(db) == before


def test_two_stations_feed_one_review_database(station: Station, db: ReviewDB,
                                               tmp_path: Path) -> None:
    second_path = tmp_path / "second"
    identity = init_instance(second_path, PASSPHRASE)
    key = unlock(second_path, PASSPHRASE)
    with open_store(second_path, key) as store:
        store.add_recipient("reviewer", station.reviewer.public_key)
    second = Station(second_path, key, identity.station_id, station.reviewer)
    add_reports(station, 2)
    add_reports(second, 3)
    import_bundle(db, export(station, tmp_path / "a1.rptr"), station.reviewer)
    import_bundle(db, export(second, tmp_path / "b1.rptr"), station.reviewer)
    found = {g.station_id: g for g in gaps(db)}
    assert found[station.station_id].last_seq == 2
    assert found[second.station_id].last_seq == 3
    assert db.report_count() == 5


def test_a_damaged_bundle_leaves_the_database_unchanged(station: Station, db: ReviewDB,
                                                        tmp_path: Path) -> None:
    add_reports(station, 2)
    path = export(station, tmp_path / "1.rptr")
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF  # in the last chunk: found only after the reports were read
    path.write_bytes(bytes(data))
    with pytest.raises(FormatError):
        import_bundle(db, path, station.reviewer)
    assert snapshot(db) == [[] for _ in TABLES]


def test_a_reviewer_added_later_sees_what_is_not_sealed_to_them(station: Station,
                                                                 db: ReviewDB,
                                                                 tmp_path: Path) -> None:
    add_reports(station, 2)
    newcomer = RecipientPrivateKey.generate()
    with station.store() as store:
        store.add_recipient("newcomer", newcomer.public_key)
    add_reports(station, 1)
    result = import_bundle(db, export(station, tmp_path / "1.rptr"), newcomer)
    assert result.added == 1 and result.unreadable == [1, 2]
    [g] = gaps(db)
    assert g.missing_reports == [] and g.unreadable_reports == [1, 2]


def test_a_later_bundle_carrying_unreadable_reports_fills_them_in(station: Station,
                                                                  db: ReviewDB,
                                                                  tmp_path: Path) -> None:
    """A report that no key imported with could open, carried again by a later bundle
    (``export --all``), is added when the key of that import opens it."""
    add_reports(station, 2)
    newcomer = RecipientPrivateKey.generate()
    with station.store() as store:
        store.add_recipient("newcomer", newcomer.public_key)
    add_reports(station, 1)
    first = import_bundle(db, export(station, tmp_path / "1.rptr"), newcomer)
    assert (first.added, first.unreadable) == (1, [1, 2])
    add_reports(station, 1)
    second = import_bundle(db, export(station, tmp_path / "2.rptr", all_held=True),
                           station.reviewer)
    assert (second.added, second.filled, second.already_present) == (3, [1, 2], 1)
    assert second.unreadable == [] and not second.already_imported
    assert db.unreadable_seqs(station.station_id) == []
    assert list(db.seqs(station.station_id)) == [1, 2, 3, 4]
    [g] = gaps(db)
    assert g.missing_reports == [] and g.unreadable_reports == []


def test_a_reimport_with_another_key_is_one_transaction(station: Station, db: ReviewDB,
                                                        tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """If filling in fails half way, nothing of it stays: the reports are still
    known as not readable, and the next try adds them."""
    from reporter.review import importer

    add_reports(station, 2)
    newcomer = RecipientPrivateKey.generate()
    with station.store() as store:
        store.add_recipient("newcomer", newcomer.public_key)
    add_reports(station, 1)
    path = export(station, tmp_path / "1.rptr")
    import_bundle(db, path, newcomer)
    before = snapshot(db)
    real = importer.Report.from_body
    calls = []

    def fail_on_second(body: bytes) -> object:
        calls.append(1)
        if len(calls) == 2:
            raise FormatError("injected")
        return real(body)

    monkeypatch.setattr(importer.Report, "from_body", staticmethod(fail_on_second))
    with pytest.raises(FormatError, match="injected"):
        import_bundle(db, path, station.reviewer)
    assert snapshot(db) == before
    monkeypatch.undo()
    again = import_bundle(db, path, station.reviewer)
    assert again.filled == [1, 2] and again.added == 2


def test_verify_checks_everything_without_a_database(station: Station,
                                                     tmp_path: Path) -> None:
    add_reports(station, 2)
    path = export(station, tmp_path / "1.rptr")
    result = verify_bundle(path, station.reviewer)
    assert result.reports == 2 and result.manifest.number == 1


def test_missing_ranges_cost_nothing_for_huge_numbers() -> None:
    from reporter.review.importer import format_ranges, missing_ranges

    assert missing_ranges([], 0) == []
    assert missing_ranges([1, 2, 5, 9], 10) == [(3, 4), (6, 8), (10, 10)]
    assert missing_ranges([2**62], 2**62) == [(1, 2**62 - 1)]  # a forged bundle's claim
    assert format_ranges([(1, 3), (7, 7)]) == "1-3, 7"


def test_compress() -> None:
    assert compress([]) == ""
    assert compress([1, 2, 3, 7, 9, 10]) == "1-3, 7, 9-10"


def test_every_field_comes_back_byte_exact_through_a_bundle(
        station: Station, db: ReviewDB, tmp_path: Path, client) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import form_token, valid_report

    canaries = {name: f"CNRY{name.replace('_', '')}é漢字🙂" for name in (
        "date_approximate", "site_other", "location", "perpetrator_other",
        "description", "contact_details")}
    canaries["monitor_code"] = "CNRY-monitor-7"
    token = form_token(client.get("/?lang=fr").get_data(as_text=True))
    response = client.post("/", data={
        "form_token": token, "lang": "fr",
        **valid_report(site="other", contact="contact", perpetrators=["police", "other"],
                       people_affected="12", children_affected="3", women_affected="5",
                       incident_types=["forced-labour", "child-labour"], **canaries)})
    assert response.status_code == 200
    with station.store() as store:
        [stored] = list(store.reports())
    import_bundle(db, export(station, tmp_path / "1.rptr"), station.reviewer)
    body = db.connection.execute("SELECT body FROM reports").fetchone()[0]
    from reporter.formats.envelope import open_envelope
    from reporter.formats.report import Report

    assert stored.envelope is not None
    original = Report.from_body(open_envelope(stored.envelope, station.reviewer))
    imported = Report.from_body(body.encode("utf-8"))
    assert imported == original
    for name, value in canaries.items():
        assert imported.fields[name] == value
    assert imported.fields["incident_types"] == ["forced-labour", "child-labour"]
    assert imported.fields["perpetrators"] == ["police", "other"]
    assert (imported.fields["people_affected"], imported.fields["children_affected"],
            imported.fields["women_affected"]) == (12, 3, 5)
    assert imported.locale == "fr"


def test_a_signed_bundle_that_breaks_the_hash_chain_is_refused(station: Station, db: ReviewDB,
                                                                tmp_path: Path) -> None:
    import io

    from reporter.formats.bundle import BundleReader, write_bundle
    from reporter.formats.chain import chain_link, envelope_hash
    from reporter.formats.crypto import random_bytes
    from reporter.formats.manifest import Manifest, NamedRecipient

    add_reports(station, 2)
    first = export(station, tmp_path / "1.rptr")
    import_bundle(db, first, station.reviewer)
    with open(first, "rb") as fh:
        m1 = BundleReader(fh, station.reviewer).manifest
    with station.store() as store:
        identity = load_identity(store)
    envelope = random_bytes(300)
    wrong_start = random_bytes(32)  # not bundle 1's chain head
    manifest = Manifest(
        station_id=station.station_id, station_key=identity.signing_key.verify_key, number=2,
        previous=m1.hash(), first_seq=3, last_seq=3, chain_before=wrong_start,
        chain_head=chain_link(wrong_start, 3, envelope),
        envelopes=((3, len(envelope), envelope_hash(envelope)),),
        recipients=(), named=(NamedRecipient(station.reviewer.public_key, "reviewer"),),
        created="2026-11-28")
    out = io.BytesIO()
    write_bundle(out, manifest, identity.signing_key, [envelope], [station.reviewer.public_key])
    forged = tmp_path / "2.rptr"
    forged.write_bytes(out.getvalue())
    before = snapshot(db)
    with pytest.raises(BundleConflict, match="does not continue the hash chain"):
        import_bundle(db, forged, station.reviewer)
    assert snapshot(db) == before


def test_a_first_bundle_off_the_genesis_value_is_refused(station: Station, db: ReviewDB,
                                                          tmp_path: Path) -> None:
    import io

    from reporter.formats.bundle import write_bundle
    from reporter.formats.chain import chain_link, envelope_hash
    from reporter.formats.crypto import random_bytes
    from reporter.formats.manifest import Manifest, NamedRecipient

    with station.store() as store:
        identity = load_identity(store)
    envelope, start = random_bytes(300), random_bytes(32)  # signed, but not from genesis
    manifest = Manifest(
        station_id=station.station_id, station_key=identity.signing_key.verify_key, number=1,
        previous=None, first_seq=1, last_seq=1, chain_before=start,
        chain_head=chain_link(start, 1, envelope),
        envelopes=((1, len(envelope), envelope_hash(envelope)),),
        recipients=(), named=(NamedRecipient(station.reviewer.public_key, "reviewer"),),
        created="2026-11-28")
    out = io.BytesIO()
    write_bundle(out, manifest, identity.signing_key, [envelope], [station.reviewer.public_key])
    forged = tmp_path / "1.rptr"
    forged.write_bytes(out.getvalue())
    with pytest.raises(BundleConflict, match="does not start the station's hash chain"):
        import_bundle(db, forged, station.reviewer)
    assert snapshot(db) == [[] for _ in TABLES]


def test_a_review_database_from_before_attachments_is_migrated(
        station: Station, tmp_path: Path) -> None:
    from reporter.formats.crypto import KdfParams, derive_key
    from reporter.review import db as reviewdb
    from reporter.review import schema
    from reporter.storage import passfile, sqlc
    from tests.conftest import add_report_with_attachments

    # A review database as the previous release made it: schema 1, one report imported.
    path = tmp_path / "old-review.db"
    params = KdfParams.new()
    key = derive_key("a long review passphrase", params)
    reviewdb.sidecar(path).write_bytes(passfile.render(reviewdb.FORMAT, params, key))
    old = sqlc.connect(path, key, create=True, owner="review database")
    sqlc.migrate(old, schema.MIGRATIONS[:1])
    old.close()
    db = ReviewDB.open(path, "a long review passphrase")
    try:
        assert sqlc.schema_version(db.connection) == len(schema.MIGRATIONS)
        add_reports(station, 1)
        add_report_with_attachments(station, [("a.pdf", b"%PDF-1.7\n" + bytes(5000))])
        result = import_bundle(db, export(station, tmp_path / "1.rptr"), station.reviewer)
        assert (result.added, result.attachments) == (2, 1)
        keys = [row[0] for row in db.connection.execute(
            "SELECT file_key FROM reports ORDER BY seq")]
        assert keys[0] is None and len(keys[1]) == 32  # only reports with attachments
    finally:
        db.close()
