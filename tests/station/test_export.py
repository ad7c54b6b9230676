"""The station side of bundles: numbering, ranges, crashes, files."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from reporter.errors import NothingToExport, ReporterError
from reporter.formats.bundle import BundleReader
from reporter.station.export import export_bundle
from reporter.station.instance import load_identity
from tests.conftest import Station, add_reports


def export(station: Station, out: Path, **kwargs: object):  # type: ignore[no-untyped-def]
    with station.store() as store:
        return export_bundle(store, load_identity(store), out, **kwargs)  # type: ignore[arg-type]


def manifest_of(station: Station, path: Path):  # type: ignore[no-untyped-def]
    with open(path, "rb") as fh:
        return BundleReader(fh, station.reviewer).manifest


def test_bundles_are_numbered_and_chained(station: Station, tmp_path: Path) -> None:
    add_reports(station, 3)
    first = export(station, tmp_path / "1.rptr")
    add_reports(station, 2)
    second = export(station, tmp_path / "2.rptr")
    assert (first.number, first.first_seq, first.last_seq) == (1, 1, 3)
    assert (second.number, second.first_seq, second.last_seq) == (2, 4, 5)
    m1, m2 = manifest_of(station, tmp_path / "1.rptr"), manifest_of(station, tmp_path / "2.rptr")
    assert m1.previous is None
    assert m2.previous == m1.hash()
    assert m2.chain_before == m1.chain_head
    with station.store() as store:
        assert m2.chain_head == store.verify_chain(station.station_id)


def test_nothing_new_writes_nothing(station: Station, tmp_path: Path) -> None:
    with pytest.raises(NothingToExport, match="holds no report"):
        export(station, tmp_path / "empty.rptr")
    add_reports(station, 1)
    export(station, tmp_path / "1.rptr")
    with pytest.raises(NothingToExport, match="since bundle 1"):
        export(station, tmp_path / "again.rptr")
    assert not (tmp_path / "again.rptr").exists()
    assert NothingToExport.exit_code == 0


def test_all_re_exports_everything_held_under_a_new_number(station: Station,
                                                           tmp_path: Path) -> None:
    add_reports(station, 2)
    export(station, tmp_path / "1.rptr")
    again = export(station, tmp_path / "all.rptr", all_held=True)
    assert (again.number, again.first_seq, again.last_seq) == (2, 1, 2)


def test_the_file_is_private_and_never_overwritten(station: Station, tmp_path: Path) -> None:
    add_reports(station, 1)
    out = tmp_path / "b.rptr"
    out.write_text("precious")
    with pytest.raises(ReporterError, match="already exists"):
        export(station, out)
    assert out.read_text() == "precious"
    result = export(station, tmp_path / "new.rptr")
    assert stat.S_IMODE(os.stat(result.path).st_mode) == 0o600
    assert not list(tmp_path.glob("*.partial"))


def test_a_crash_while_writing_reuses_the_number(station: Station, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    add_reports(station, 2)
    from reporter.station import export as export_module

    def disk_full(*_args: object, **_kwargs: object) -> int:
        raise ReporterError("cannot write: No space left on device")

    monkeypatch.setattr(export_module, "write_bundle", disk_full)
    with pytest.raises(ReporterError, match="No space"):
        export(station, tmp_path / "b.rptr")
    monkeypatch.undo()
    assert not list(tmp_path.glob("b.rptr*"))
    result = export(station, tmp_path / "b.rptr")
    assert (result.number, result.first_seq) == (1, 1)


def test_a_reservation_left_by_a_killed_export_is_dropped(station: Station,
                                                          tmp_path: Path) -> None:
    add_reports(station, 2)
    with station.store() as store:
        store.reserve_bundle(1, 1, 2, b"\0" * 32)  # as if killed mid-write
    result = export(station, tmp_path / "b.rptr")
    assert result.number == 1


def test_a_killed_export_with_only_a_partial_file_reuses_the_number(
        station: Station, tmp_path: Path) -> None:
    add_reports(station, 2)
    out = tmp_path / "b.rptr"
    with station.store() as store:
        store.reserve_bundle(1, 1, 2, b"\0" * 32, str(out))
    (tmp_path / "b.rptr.partial").write_bytes(b"half a bundle")  # killed while writing
    result = export(station, tmp_path / "again.rptr")
    assert result.number == 1 and result.first_seq == 1
    assert not (tmp_path / "b.rptr.partial").exists()


def test_a_crash_after_the_rename_keeps_that_bundle(station: Station, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The file was complete and may already have left: its number is never reused."""
    add_reports(station, 2)
    from reporter.station import export as export_module

    def crash(_path: Path) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(export_module, "fsync_dir", crash)
    with pytest.raises(ReporterError, match="run export again"):
        export(station, tmp_path / "1.rptr")
    monkeypatch.undo()
    assert (tmp_path / "1.rptr").exists()
    add_reports(station, 1)
    second = export(station, tmp_path / "2.rptr")
    assert (second.number, second.first_seq, second.last_seq) == (2, 3, 3)
    assert manifest_of(station, tmp_path / "2.rptr").previous == \
        manifest_of(station, tmp_path / "1.rptr").hash()
