"""Attachments through bundles, end to end.

A station receives reports with photos, documents and video; ``reporter
export`` seals them into a bundle; ``reporter verify`` and ``reporter review
import`` check every byte against the signed manifest and the sealed report;
``reporter review attachments`` writes them out byte for byte, checked
against the SHA-256 the station computed on arrival, or as stripped copies.
Whatever is altered, cut, dropped, swapped or contradicted on the way is
refused, named, and leaves the review database and its attachment store as
they were. Memory does not grow with the size of an attachment.

Real SQLCipher and libsodium throughout; tampering is done the way a courier
(bytes of the file) or a malicious recipient (decrypt, edit, re-encrypt; with
the station's key for re-signing) could do it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import struct
import subprocess
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import nacl.bindings as sodium
import pytest
from PIL import Image
from PIL.ExifTags import GPS, IFD, Base

from reporter.errors import (
    FormatError,
    Malformed,
    ReporterError,
    StoreUnavailable,
    Tampered,
    Truncated,
)
from reporter.formats import bundle
from reporter.formats.crypto import (
    RecipientPrivateKey,
    StationSigningKey,
    open_stanzas,
    random_bytes,
    subkey,
)
from reporter.formats.manifest import Manifest
from reporter.review.db import ReviewDB
from reporter.review.files import Outcome, Written, clean_file_name, extract
from reporter.review.importer import import_bundle, verify_bundle
from reporter.station.export import ExportResult, export_bundle
from reporter.station.instance import load_identity
from reporter.storage import sqlc
from reporter.storage.blobs import BlobStore
from tests.conftest import Station, add_report_with_attachments, add_reports
from tests.reviewing import REVIEW_PASSPHRASE, TABLES, snapshot, stored_blobs

MP4_MAGIC = b"\x00\x00\x00\x18ftypmp42"
GPS_DATUM = "CNRY-GPS-DATUM"


# --- files a monitor would send -----------------------------------------------------------


def jpeg_with_gps() -> bytes:
    """A phone photo: EXIF with make, model and a GPS position."""
    exif = Image.Exif()
    exif[Base.Make] = "PhoneMaker"
    exif[Base.Model] = "Model X"
    gps = exif.get_ifd(IFD.GPSInfo)
    gps[GPS.GPSLatitudeRef] = "S"
    gps[GPS.GPSLatitude] = (17.0, 49.0, 12.5)
    gps[GPS.GPSLongitudeRef] = "E"
    gps[GPS.GPSLongitude] = (31.0, 2.0, 45.1)
    gps[GPS.GPSMapDatum] = GPS_DATUM
    out = io.BytesIO()
    Image.new("RGB", (96, 64), (120, 80, 40)).save(out, format="JPEG", exif=exif)
    data = out.getvalue()
    assert data.startswith(b"\xff\xd8\xff")
    return data


def pdf(size: int = 3000, seed: bytes = b"pdf") -> bytes:
    return (b"%PDF-1.7\n" + hashlib.shake_256(seed).digest(size))[:size]


def video(size: int) -> bytes:
    return MP4_MAGIC + random_bytes(size - len(MP4_MAGIC))


def gps_of(path: Path) -> dict[int, object]:
    with Image.open(path) as im:
        return dict(im.getexif().get_ifd(IFD.GPSInfo))


# --- the station and the reviewer ---------------------------------------------------------


def export(station: Station, out: Path, **kwargs: object) -> ExportResult:
    with station.store() as store, BlobStore.open(station.path, station.key) as blobs:
        return export_bundle(store, load_identity(store), out, blobs=blobs,
                             **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def db(tmp_path: Path):  # type: ignore[no-untyped-def]
    review = ReviewDB.create(tmp_path / "review.db", REVIEW_PASSPHRASE)
    yield review
    review.close()




# --- the journey ----------------------------------------------------------------------------


def test_attachments_reach_the_reviewer_byte_exact_with_their_chain_of_custody(
        run, station: Station, key_file: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    files = {"photo.jpg": jpeg_with_gps(), "statement.pdf": pdf(),
             "night shift.mp4": video(5_000_000)}
    add_reports(station, 1)
    add_report_with_attachments(station, list(files.items()))
    bundle_path = tmp_path / "1.rptr"

    code, out, err = run("export", "--out", str(bundle_path))
    assert code == 0, err
    assert "reports 1-2 (2), 3 attachments" in out
    code, out, err = run("verify", str(bundle_path), "--key", str(key_file))
    assert code == 0, err
    assert "3 attachments" in out and "each matching its signed size and hash" in out
    code, out, err = run("review", "import", str(bundle_path), "--key", str(key_file))
    assert code == 0, err
    assert "2 reports added (3 attachments)" in out

    code, out, _ = run("review", "list")
    assert code == 0
    header, *lines = out.splitlines()
    files_column = header.index("FILES")
    assert [line[files_column:files_column + 5].strip() for line in lines] == ["3", "0"]

    code, out, _ = run("review", "show", "2")
    assert code == 0
    assert "Attachments: 3" in out
    for i, (name, data) in enumerate(files.items(), 1):
        assert f"{i}. {name}" in out and hashlib.sha256(data).hexdigest() in out
    assert "video/mp4" in out and "application/pdf" in out and "image/jpeg" in out

    out_dir = tmp_path / "evidence" / "report-2"
    code, out, err = run("review", "attachments", "2", "--out", str(out_dir))
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 3
    for i, (name, data) in enumerate(files.items(), 1):
        written = out_dir / f"{i}-{name}"
        assert written.read_bytes() == data  # byte exact, EXIF included
        assert stat.S_IMODE(written.stat().st_mode) == 0o600
        line = lines[i - 1]
        assert line.startswith(f"{i}-{name}  ")
        assert f"{len(data):,} bytes" in line
        assert line.endswith(f"SHA-256 {hashlib.sha256(data).hexdigest()}")
    assert gps_of(out_dir / "1-photo.jpg")[GPS.GPSMapDatum] == GPS_DATUM
    assert stat.S_IMODE(out_dir.stat().st_mode) == 0o700
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "1-photo.jpg", "2-statement.pdf", "3-night shift.mp4"]

    # Never overwritten: a second run refuses each file and says so.
    (out_dir / "2-statement.pdf").write_bytes(b"the reviewer's own notes")
    code, out, err = run("review", "attachments", "2", "--out", str(out_dir))
    assert code == 1
    assert err.count("already exists") == 3 and "3 of 3 attachments" in err
    assert (out_dir / "2-statement.pdf").read_bytes() == b"the reviewer's own notes"

    code, out, _ = run("review", "attachments", "1", "--out", str(tmp_path / "none"))
    assert code == 0 and "has no attachments" in out
    assert not (tmp_path / "none").exists()


def test_stripped_copies_lose_their_metadata_and_other_kinds_are_refused(
        run, station: Station, key_file: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    photo = jpeg_with_gps()
    add_report_with_attachments(station, [("photo.jpg", photo), ("statement.pdf", pdf()),
                                          ("clip.mp4", video(200_000))])
    run("export", "--out", str(tmp_path / "1.rptr"))
    code, _, err = run("review", "import", str(tmp_path / "1.rptr"), "--key", str(key_file))
    assert code == 0, err
    out_dir = tmp_path / "to-publish"

    code, out, err = run("review", "attachments", "1", "--out", str(out_dir), "--stripped")
    assert code == 1  # two kinds could not be stripped; the photo was done all the same
    stripped = out_dir / "1-stripped-photo.jpg"
    with Image.open(stripped) as im:
        assert len(im.getexif()) == 0 and im.size == (96, 64)
    assert GPS_DATUM.encode() not in stripped.read_bytes()
    assert b"PhoneMaker" not in stripped.read_bytes()
    assert out.startswith("1-stripped-photo.jpg  image/jpeg")
    assert f"original's SHA-256 {hashlib.sha256(photo).hexdigest()}" in out
    assert "removed: all metadata: EXIF (including GPS position" in out
    assert "kept: only the pixels" in out
    assert "2. statement.pdf: PDF document: reporter cannot remove metadata" in err
    assert "3. clip.mp4: MP4/MOV/3GP video" in err
    assert "2 of 3 attachments of report 1 were not written" in err
    # Only the stripped copy: the decrypted originals were temporary.
    assert [p.name for p in out_dir.iterdir()] == ["1-stripped-photo.jpg"]

    # The original, extracted as it is, keeps its EXIF and GPS position.
    code, _, err = run("review", "attachments", "1", "--out", str(tmp_path / "originals"))
    assert code == 0, err
    assert gps_of(tmp_path / "originals" / "1-photo.jpg")[GPS.GPSMapDatum] == GPS_DATUM


# --- a malicious recipient's tools (test only) -------------------------------------------


def bundle_plaintext(data: bytes, key: RecipientPrivateKey) -> bytes:
    """The whole decrypted plaintext of a (small) bundle, as any recipient can get it."""
    info = bundle.inspect(data[:bundle.FIXED_HEADER.size], len(data))
    header = data[:info.header_length]
    file_key = open_stanzas(header, bundle.FIXED_HEADER.size, info.recipients, key, "bundle")
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    sodium.crypto_secretstream_xchacha20poly1305_init_pull(
        state, header[-bundle.SS_HEADER_BYTES:], subkey(file_key, bundle.CTX_PAYLOAD))
    out, offset = [], info.header_length
    for i in range(info.padded_length // bundle.CHUNK):
        chunk = data[offset : offset + bundle.CHUNK + bundle.SS_ABYTES]
        out.append(sodium.crypto_secretstream_xchacha20poly1305_pull(
            state, chunk, header if i == 0 else None)[0])
        offset += len(chunk)
    return b"".join(out)


def frames_of(plaintext: bytes) -> list[tuple[int, bytes]]:
    """The frames up to and including END."""
    frames, offset = [], 0
    while True:
        kind, length = bundle.FRAME_HEADER.unpack_from(plaintext, offset)
        offset += bundle.FRAME_HEADER.size
        frames.append((kind, plaintext[offset : offset + length]))
        offset += length
        if kind == bundle.FRAME_END:
            return frames


def reseal(frames: list[tuple[int, bytes]], reader: RecipientPrivateKey,
           version: int | None = None) -> bytes:
    """Frames padded and encrypted again to ``reader``: valid, except for what was edited
    (the header says ``version``, by default the manifest's)."""
    plaintext = b"".join(bundle.FRAME_HEADER.pack(k, len(d)) + d for k, d in frames)
    padded = bundle.padded_size(len(plaintext))
    plaintext += bytes(padded - len(plaintext))
    file_key = random_bytes(32)
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    ss_header = sodium.crypto_secretstream_xchacha20poly1305_init_push(
        state, subkey(file_key, bundle.CTX_PAYLOAD))
    if version is None:
        version = json.loads(frames[0][1])["version"]  # the header's must be the manifest's
    header = (bundle.FIXED_HEADER.pack(bundle.MAGIC, version, 1, padded)
              + reader.public_key.seal(file_key) + ss_header)
    chunks = padded // bundle.CHUNK
    return header + b"".join(sodium.crypto_secretstream_xchacha20poly1305_push(
        state, plaintext[i * bundle.CHUNK : (i + 1) * bundle.CHUNK],
        header if i == 0 else None,
        bundle.TAG_FINAL if i == chunks - 1 else bundle.TAG_MESSAGE) for i in range(chunks))


def attachment_frames(frames: list[tuple[int, bytes]], report: int) -> list[list[int]]:
    """Positions in ``frames`` of the ATTACHMENT frames of the ``report``-th ENVELOPE frame
    (1-based), grouped by attachment using the sizes ``sizes`` of its manifest entry."""
    manifest = Manifest.from_json(frames[0][1])
    sizes = [size for size, _h in manifest.attachments[report - 1]]
    position = [i for i, (k, _d) in enumerate(frames) if k == bundle.FRAME_ENVELOPE][report - 1]
    groups = []
    for size in sizes:
        count = bundle.attachment_frames(size)
        groups.append(list(range(position + 1, position + 1 + count)))
        position += count
    return groups


def resign(frames: list[tuple[int, bytes]], signer: StationSigningKey,
           edit: Callable[[Manifest], Manifest]) -> None:
    manifest = edit(Manifest.from_json(frames[0][1])).to_json()
    frames[0] = (bundle.FRAME_MANIFEST, manifest)
    frames[1] = (bundle.FRAME_SIGNATURE, signer.sign(bundle.CTX_SIGNATURE, manifest))


@pytest.fixture
def sample(station: Station, tmp_path: Path) -> tuple[Path, bytes]:
    """Bundle 1: report 1 (no attachments), report 2 (a photo sealed to 4,147 bytes, a PDF
    sealed to 20,531, a 5 MB video in five frames)."""
    add_reports(station, 1)
    add_report_with_attachments(station, [("photo.jpg", jpeg_with_gps()),
                                          ("statement.pdf", pdf(20_000)),
                                          ("night.mp4", video(5_000_000))])
    path = tmp_path / "1.rptr"
    export(station, path)
    return path, path.read_bytes()


def refused(db: ReviewDB, path: Path, data: bytes, key: RecipientPrivateKey,
            error: type[FormatError], message: str) -> None:
    """``data`` is refused by the reader and the importer, naming what failed, and
    nothing at all is imported."""
    path.write_bytes(data)
    with pytest.raises(error) as raised:
        verify_bundle(path, key)
    assert message in str(raised.value), str(raised.value)
    with pytest.raises(error) as raised:
        import_bundle(db, path, key)
    assert message in str(raised.value), str(raised.value)
    assert snapshot(db) == [[] for _ in TABLES]
    assert stored_blobs(db) == 0


def test_a_flipped_byte_in_an_attachment_chunk_of_the_file_is_named(
        station: Station, db: ReviewDB, sample: tuple[Path, bytes], tmp_path: Path) -> None:
    _path, data = sample
    frames = frames_of(bundle_plaintext(data, station.reviewer))
    video_frames = attachment_frames(frames, 2)[2]
    # Where the third frame of the video starts in the plaintext, and so in the file.
    offset = sum(bundle.FRAME_HEADER.size + len(d) for _k, d in frames[:video_frames[2]])
    chunk, within = divmod(offset + 1000, bundle.CHUNK)
    at = (bundle.FIXED_HEADER.size + bundle.STANZA_BYTES + bundle.SS_HEADER_BYTES
          + chunk * (bundle.CHUNK + bundle.SS_ABYTES) + 1 + within)
    damaged = bytearray(data)
    damaged[at] ^= 0x20
    refused(db, tmp_path / "x.rptr", bytes(damaged), station.reviewer, Tampered,
            "does not authenticate; it was needed to read report 2, attachment 3")


def test_an_altered_attachment_inside_a_valid_bundle_is_named(
        station: Station, db: ReviewDB, sample: tuple[Path, bytes], tmp_path: Path) -> None:
    _path, data = sample
    frames = frames_of(bundle_plaintext(data, station.reviewer))
    [pdf_frame] = attachment_frames(frames, 2)[1]
    kind, sealed = frames[pdf_frame]
    frames[pdf_frame] = (kind, sealed[:2000] + bytes([sealed[2000] ^ 1]) + sealed[2001:])
    refused(db, tmp_path / "x.rptr", reseal(frames, station.reviewer), station.reviewer,
            Tampered, "report 2, attachment 2 does not match its signed hash")


def test_a_missing_attachment_frame_is_named(
        station: Station, db: ReviewDB, sample: tuple[Path, bytes], tmp_path: Path) -> None:
    _path, data = sample
    frames = frames_of(bundle_plaintext(data, station.reviewer))
    video_frames = attachment_frames(frames, 2)[2]
    assert len(video_frames) == 5  # 5 MB of ciphertext in frames of 1 MiB
    del frames[video_frames[1]]  # the second MiB of the video
    refused(db, tmp_path / "x.rptr", reseal(frames, station.reviewer), station.reviewer,
            Truncated, "report 2, attachment 3 is cut short")


def test_a_missing_attachment_is_named(
        station: Station, db: ReviewDB, sample: tuple[Path, bytes], tmp_path: Path) -> None:
    _path, data = sample
    frames = frames_of(bundle_plaintext(data, station.reviewer))
    for position in reversed(attachment_frames(frames, 2)[2]):  # the whole video
        del frames[position]
    refused(db, tmp_path / "x.rptr", reseal(frames, station.reviewer), station.reviewer,
            Malformed, "report 2, attachment 3 is missing: the signed manifest lists it")


def test_a_missing_attachment_followed_by_another_is_named(
        station: Station, db: ReviewDB, sample: tuple[Path, bytes], tmp_path: Path) -> None:
    # Frames carry no index: the video's first frame arrives where the PDF was expected.
    _path, data = sample
    frames = frames_of(bundle_plaintext(data, station.reviewer))
    [pdf_frame] = attachment_frames(frames, 2)[1]
    del frames[pdf_frame]
    refused(db, tmp_path / "x.rptr", reseal(frames, station.reviewer), station.reviewer,
            Malformed, "report 2, attachment 2: a frame holds 1048576 bytes where 20531 were "
                       "expected (attachments missing, out of order")


def test_an_extra_attachment_is_named(
        station: Station, db: ReviewDB, sample: tuple[Path, bytes], tmp_path: Path) -> None:
    _path, data = sample
    frames = frames_of(bundle_plaintext(data, station.reviewer))
    [pdf_frame] = attachment_frames(frames, 2)[1]
    frames.insert(3, frames[pdf_frame])  # after report 1's ENVELOPE frame
    refused(db, tmp_path / "x.rptr", reseal(frames, station.reviewer), station.reviewer,
            Malformed, "report 1 has more attachments than the signed manifest lists")


def test_attachments_of_two_reports_swapped_are_named(
        station: Station, db: ReviewDB, tmp_path: Path) -> None:
    # Two documents of the same size: their sealed forms have the same length too.
    add_report_with_attachments(station, [("a.pdf", pdf(seed=b"a"))])
    add_report_with_attachments(station, [("b.pdf", pdf(seed=b"b"))])
    export(station, tmp_path / "1.rptr")
    frames = frames_of(bundle_plaintext((tmp_path / "1.rptr").read_bytes(), station.reviewer))
    [[first]], [[second]] = attachment_frames(frames, 1), attachment_frames(frames, 2)
    assert len(frames[first][1]) == len(frames[second][1])
    frames[first], frames[second] = frames[second], frames[first]
    refused(db, tmp_path / "x.rptr", reseal(frames, station.reviewer), station.reviewer,
            Tampered, "report 1, attachment 1 does not match its signed hash")


def test_attachments_of_different_sizes_swapped_are_named(
        station: Station, db: ReviewDB, sample: tuple[Path, bytes], tmp_path: Path) -> None:
    _path, data = sample
    frames = frames_of(bundle_plaintext(data, station.reviewer))
    [photo], [document] = attachment_frames(frames, 2)[:2]
    frames[photo], frames[document] = frames[document], frames[photo]
    assert (len(frames[photo][1]), len(frames[document][1])) == (20_531, 4147)
    refused(db, tmp_path / "x.rptr", reseal(frames, station.reviewer), station.reviewer,
            Malformed, "report 2, attachment 1: a frame holds 20531 bytes where 4147 were "
                       "expected")


def test_a_signed_manifest_that_contradicts_the_sealed_report_is_refused_on_import(
        station: Station, db: ReviewDB, sample: tuple[Path, bytes], tmp_path: Path) -> None:
    # Someone holding the station's signing key drops the PDF from the manifest and
    # from the frames: the bundle is consistent (the reader accepts it), but the
    # report sealed on arrival still lists three attachments.
    _path, data = sample
    frames = frames_of(bundle_plaintext(data, station.reviewer))
    [pdf_frame] = attachment_frames(frames, 2)[1]
    del frames[pdf_frame]
    with station.store() as store:
        signer = load_identity(store).signing_key

    def drop_pdf(m: Manifest) -> Manifest:
        listed = list(m.attachments)
        listed[1] = (listed[1][0], listed[1][2])
        return Manifest(**{**m.__dict__, "attachments": tuple(listed)})

    resign(frames, signer, drop_pdf)
    path = tmp_path / "x.rptr"
    path.write_bytes(reseal(frames, station.reviewer))
    assert verify_bundle(path, station.reviewer).attachments == 2
    with pytest.raises(Tampered, match="report 2: the sealed report lists 3 attachments, "
                                       "the signed manifest 2"):
        import_bundle(db, path, station.reviewer)
    assert snapshot(db) == [[] for _ in TABLES]
    assert stored_blobs(db) == 0


# --- export -----------------------------------------------------------------------------------


def test_an_attachment_that_changes_during_the_export_fails_it_cleanly(
        station: Station, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    add_report_with_attachments(station, [("a.pdf", pdf(300_000))])
    real_read = BlobStore.read
    reads: list[int] = []

    def changing(self: BlobStore, upload: int):  # type: ignore[no-untyped-def]
        # Fault injection: the writing pass sees other bytes than were recorded.
        reads.append(upload)
        for i, segment in enumerate(real_read(self, upload)):
            yield segment if i else b"\0" + segment[1:]

    monkeypatch.setattr(BlobStore, "read", changing)
    out = tmp_path / "1.rptr"
    with pytest.raises(ReporterError, match="report 1, attachment 1 changed while the bundle "
                                            "was written; run export again"):
        export(station, out)
    assert not out.exists() and not list(tmp_path.glob("*.partial"))
    monkeypatch.setattr(BlobStore, "read", real_read)
    again = export(station, out)  # nothing was left reserved: the number is used again
    assert (again.number, again.attachments) == (1, 1)


# --- import: idempotent, atomic, crash-safe ---------------------------------------------------


def test_importing_the_same_bundle_again_adds_nothing(
        station: Station, db: ReviewDB, sample: tuple[Path, bytes]) -> None:
    path, _data = sample
    first = import_bundle(db, path, station.reviewer)
    assert (first.added, first.attachments) == (2, 3)
    before, blobs = snapshot(db), stored_blobs(db)
    again = import_bundle(db, path, station.reviewer)
    assert again.already_imported and again.attachments == 0
    assert snapshot(db) == before and stored_blobs(db) == blobs == 3


def test_a_re_export_of_held_reports_stores_no_attachment_twice(
        station: Station, db: ReviewDB, sample: tuple[Path, bytes], tmp_path: Path) -> None:
    path, _data = sample
    import_bundle(db, path, station.reviewer)
    add_report_with_attachments(station, [("later.pdf", pdf(seed=b"later"))])
    again = export(station, tmp_path / "all.rptr", all_held=True)
    assert (again.first_seq, again.last_seq, again.attachments) == (1, 3, 4)
    result = import_bundle(db, again.path, station.reviewer)
    assert (result.added, result.already_present, result.attachments) == (1, 2, 1)
    assert stored_blobs(db) == 4


def test_a_failed_import_leaves_no_attachment_behind(
        station: Station, db: ReviewDB, sample: tuple[Path, bytes],
        monkeypatch: pytest.MonkeyPatch) -> None:
    path, _data = sample

    def disk_full(*_args: object) -> None:  # fault injection: the very last write fails
        raise StoreUnavailable("the disk is full; free space and try again")

    monkeypatch.setattr(ReviewDB, "add_bundle", disk_full)
    with pytest.raises(StoreUnavailable):
        import_bundle(db, path, station.reviewer)
    assert snapshot(db) == [[] for _ in TABLES]
    assert stored_blobs(db) == 0


KILLED_IMPORT = """
import os, sys
from pathlib import Path
from reporter.formats import crypto
from reporter.formats.crypto import RecipientPrivateKey
from reporter.review.importer import import_bundle
from reporter.review.db import ReviewDB

for profile in list(crypto.KDF_PROFILES):
    crypto.KDF_PROFILES[profile] = (crypto.argon2id.OPSLIMIT_MIN, crypto.argon2id.MEMLIMIT_MIN)
db_path, bundle_path, key = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
db = ReviewDB.open(db_path, sys.argv[4])
ReviewDB.add_bundle = lambda *args: os._exit(9)  # killed just before the commit
import_bundle(db, bundle_path, RecipientPrivateKey(bytes.fromhex(key)))
"""


def test_a_killed_import_leaves_orphans_that_the_next_import_sweeps(
        station: Station, db: ReviewDB, sample: tuple[Path, bytes]) -> None:
    path, _data = sample
    db.close()
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_IMPORT, str(db.path), str(path),
         station.reviewer.raw().hex(), REVIEW_PASSPHRASE], check=False)
    assert killed.returncode == 9
    review = ReviewDB.open(db.path, REVIEW_PASSPHRASE)
    try:
        assert snapshot(review) == [[] for _ in TABLES]  # nothing visible
        assert stored_blobs(review) == 3  # but the blobs were written and linked
        result = import_bundle(review, path, station.reviewer)
        assert result.attachments == 3
        assert stored_blobs(review) == 3  # the orphans were swept, the new ones kept
    finally:
        review.close()


def test_a_reviewer_the_reports_are_not_sealed_to_stores_no_attachment(
        station: Station, db: ReviewDB, tmp_path: Path) -> None:
    add_report_with_attachments(station, [("a.pdf", pdf())])
    newcomer = RecipientPrivateKey.generate()
    with station.store() as store:
        store.add_recipient("newcomer", newcomer.public_key)
    result = import_bundle(db, export(station, tmp_path / "1.rptr").path, newcomer)
    assert result.unreadable == [1] and result.attachments == 0  # checked, not kept
    assert stored_blobs(db) == 0


# --- extraction ------------------------------------------------------------------------------


def test_ciphertext_altered_in_the_review_store_is_refused_on_extraction(
        run, station: Station, key_file: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    add_report_with_attachments(station, [("a.pdf", pdf()), ("b.mp4", video(100_000))])
    run("export", "--out", str(tmp_path / "1.rptr"))
    assert run("review", "import", str(tmp_path / "1.rptr"), "--key", str(key_file))[0] == 0
    review = ReviewDB.open(tmp_path / "review.db", REVIEW_PASSPHRASE)
    try:  # fault injection: one byte of the stored video changes on disk
        upload = review.attachment_uploads(1)[1]
        store = review.attachment_store()
        segment = next(store.read(upload))
        with sqlc.Transaction(store._db) as connection:  # reaching in is the point here
            connection.execute(
                "UPDATE segments SET data = ? WHERE upload = ? AND seq = 0",
                (segment[:5000] + bytes([segment[5000] ^ 1]) + segment[5001:], upload))
    finally:
        review.close()
    code, out, err = run("review", "attachments", "1", "--out", str(tmp_path / "out"))
    assert code == 1
    assert "error: 2. b.mp4: report 1, attachment 2 was altered" in err
    assert "nothing was written" in err
    assert out.startswith("1-a.pdf  application/pdf")  # the other one is fine
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["1-a.pdf"]


@pytest.mark.parametrize(("raw", "expected"), [
    ("photo.jpg", "photo.jpg"),
    ("../../etc/passwd", "_.._etc_passwd"),
    ("..\\..\\boot.ini", "_.._boot.ini"),
    (".bashrc", "bashrc"),
    ("...", "attachment-3"),
    ("a\x00b\x1b[31mc.jpg", "ab[31mc.jpg"),
    ("\u202egpj.exe", "gpj.exe"),
    ("  spaced  ", "spaced"),
])
def test_file_names_are_cleaned_again(raw: str, expected: str) -> None:
    # The whole name written is in tests/review/test_files.py.
    assert clean_file_name(raw, "attachment-3") == expected


# --- memory ------------------------------------------------------------------------------------


def add_large_report(station: Station, size: int) -> None:
    """One report with one ``size``-byte video, received in 1 MiB pieces like an upload."""
    from reporter.formats.report import Report
    from reporter.station.intake import build_report
    from reporter.station.submission import Draft, Limits

    with station.store() as store, BlobStore.open(station.path, station.key) as blobs:
        draft = Draft(blobs, Limits(max_bytes=1 << 40, max_count=1))
        incoming = draft.incoming("long.mp4")
        piece = random_bytes(1 << 20)
        for i in range(size >> 20):
            incoming.write(MP4_MAGIC + piece[len(MP4_MAGIC):] if i == 0 else piece)
        incoming.finish()
        report = build_report({"description": "long", "incident_types": ["other"],
                               "site": "Marange"}, "en")
        report = Report(**{**report.__dict__, "attachments": draft.attachments()})
        recipients = [r.public_key for r in store.recipients()]
        store.append_report(draft.seal(report, recipients), station.station_id)
        draft.close()


def peak_traced(action: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_export_and_import_of_a_64_mb_attachment_stay_in_flat_memory(
        station: Station, db: ReviewDB, tmp_path: Path) -> None:
    size = 64 << 20
    add_large_report(station, size)
    path = tmp_path / "1.rptr"
    results: list[object] = []
    peak_export = peak_traced(lambda: results.append(export(station, path)))
    peak_import = peak_traced(
        lambda: results.append(import_bundle(db, path, station.reviewer)))
    exported, imported = results
    assert isinstance(exported, ExportResult) and exported.attachment_bytes > size
    assert getattr(imported, "attachment_bytes", 0) == exported.attachment_bytes
    assert peak_export < 16 << 20, f"export peaked at {peak_export / 2**20:.1f} MiB"
    assert peak_import < 16 << 20, f"import peaked at {peak_import / 2**20:.1f} MiB"
    # And it is all there: the copy in the review store opens to the original's SHA-256.
    outcomes: list[Outcome] = []
    peak_extract = peak_traced(lambda: outcomes.extend(extract(db, 1, tmp_path / "out")))
    [written] = outcomes
    assert isinstance(written, Written) and os.path.getsize(written.path) == size
    assert peak_extract < 16 << 20, f"extraction peaked at {peak_extract / 2**20:.1f} MiB"


def test_nothing_escapes_but_reporter_errors(station: Station, db: ReviewDB,
                                             sample: tuple[Path, bytes],
                                             tmp_path: Path) -> None:
    """Cut the sample bundle at every frame boundary of its plaintext and re-seal it:
    every result is refused with a ``ReporterError`` and imports nothing."""
    _path, data = sample
    frames = frames_of(bundle_plaintext(data, station.reviewer))
    for cut in range(2, len(frames) - 1):
        damaged = reseal(frames[:cut] + frames[cut + 1:], station.reviewer)
        path = tmp_path / f"cut-{cut}.rptr"
        path.write_bytes(damaged)
        with pytest.raises(ReporterError):
            import_bundle(db, path, station.reviewer)
        assert snapshot(db) == [[] for _ in TABLES] and stored_blobs(db) == 0
    assert struct.calcsize(">BI") == bundle.FRAME_HEADER.size


# --- the ciphertext hash recorded at upload -------------------------------------------


def test_the_export_takes_the_recorded_hash_and_reads_each_attachment_once(
        station: Station, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    add_report_with_attachments(station, [("a.pdf", pdf(200_000)), ("v.mp4", video(3 << 20))])
    reads: list[int] = []
    real = BlobStore.read

    def counting(self: BlobStore, upload: int):  # type: ignore[no-untyped-def]
        reads.append(upload)
        return real(self, upload)

    monkeypatch.setattr(BlobStore, "read", counting)
    export(station, tmp_path / "b.rptr")
    assert sorted(reads) == sorted(set(reads)) and len(reads) == 2


def test_an_attachment_damaged_on_the_station_stops_the_export(
        station: Station, tmp_path: Path) -> None:
    add_report_with_attachments(station, [("v.mp4", video(3 << 20))])
    with BlobStore.open(station.path, station.key) as blobs:
        blobs._db.execute("UPDATE segments SET data = zeroblob(length(data)) WHERE seq = 1")
    with pytest.raises(ReporterError, match="changed while the bundle was written"):
        export(station, tmp_path / "b.rptr")
    assert not (tmp_path / "b.rptr").exists()
    assert list(tmp_path.glob("b.rptr*")) == []


def test_an_upload_with_no_recorded_hash_is_measured_first(station: Station,
                                                            tmp_path: Path) -> None:
    """As attachments.db schema 1 left them: the export reads them twice, same bundle."""
    add_report_with_attachments(station, [("v.mp4", video(2 << 20))])
    with BlobStore.open(station.path, station.key) as blobs:
        blobs._db.execute("UPDATE uploads SET hash = NULL")
    result = export(station, tmp_path / "b.rptr")
    assert result.number == 1 and (tmp_path / "b.rptr").is_file()
