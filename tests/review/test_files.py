"""Attachments on the reviewer's disk are named by what they are, not by what
the phone (or whoever sent them) called them.

A file with JPEG magic bytes and a script after them, sent as
``evidence.html``, is a JPEG to the station; written out as ``.html`` it is a
web page whose script runs when the reviewer opens it. So the extension comes
from the type detected in the bytes (``filetypes.EXTENSIONS``), and the sent
name survives only as the stem, without its dots. Through the real CLI, and
with Chromium opening what was written.
"""

from __future__ import annotations

import io
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image
from PIL.ExifTags import GPS, IFD

from reporter.formats import filetypes
from reporter.formats.report import AttachmentInfo
from reporter.review.db import attachments_path
from reporter.review.files import clean_file_name, file_name, name_disagrees
from reporter.storage.blob_file import blobs_path
from tests.conftest import Station, add_report_with_attachments
from tests.reviewing import REVIEW_PASSPHRASE

Run = Callable[..., tuple[int, str, str]]
MARK = "SCRIPT-RAN"
PAGE = f"<html><body><script>document.title='{MARK}'</script></body></html>".encode()
PDF = b"%PDF-1.7\n1 0 obj << >> endobj\n%%EOF\n"


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (120, 80, 40)).save(out, format="JPEG")
    return out.getvalue()


def polyglot() -> bytes:
    """A JPEG to a magic-byte check, a web page to a browser that is told it is HTML."""
    return jpeg() + PAGE


def import_report(run: Run, station: Station, key_file: Path, tmp_path: Path,
                  files: list[tuple[str, bytes]]) -> None:
    """Send a report with ``files`` (none: the reports already sent) and import it."""
    if files:
        add_report_with_attachments(station, files)
    bundle = tmp_path / "1.rptr"
    code, _, err = run("export", "--out", str(bundle))
    assert code == 0, err
    code, _, err = run("review", "import", str(bundle), "--key", str(key_file))
    assert code == 0, err


def geotagged_photo(size: tuple[int, int] = (64, 48)) -> bytes:
    """A phone photo whose EXIF holds a GPS position, marked with ``GPS_CANARY``."""
    exif = Image.Exif()
    gps = exif.get_ifd(IFD.GPSInfo)
    gps[GPS.GPSLatitudeRef], gps[GPS.GPSLatitude] = "S", (20.0, 19.0, 5.5)
    gps[GPS.GPSMapDatum] = GPS_CANARY
    out = io.BytesIO()
    Image.effect_noise(size, 60).convert("RGB").save(out, format="JPEG", exif=exif,
                                                     quality=92)
    return out.getvalue()


GPS_CANARY = "CNRY-GPS-7741"


def info(name: str, media_type: str = "image/jpeg", index: int = 0) -> AttachmentInfo:
    return AttachmentInfo(index, name, media_type, 1, bytes(32), 1, bytes(32))


# --- through the CLI ------------------------------------------------------------------


def test_the_extension_follows_the_bytes_not_the_sent_name(
        run: Run, station: Station, key_file: Path, tmp_path: Path) -> None:
    sent = [("evidence.html", polyglot()), ("evidence.cmd", polyglot()),
            ("evidence.svg", polyglot()), ("statement.pdf", PDF),
            ("IMG.2026.03.01.JPEG", jpeg())]
    import_report(run, station, key_file, tmp_path, sent)
    out_dir = tmp_path / "out"

    code, out, err = run("review", "attachments", "1", "--out", str(out_dir))

    assert code == 0, err
    expected = ["1-evidence-html.jpg", "2-evidence-cmd.jpg", "3-evidence-svg.jpg",
                "4-statement.pdf", "5-IMG-2026-03-01.jpeg"]
    assert sorted(p.name for p in out_dir.iterdir()) == expected
    for name, (_, data) in zip(expected, sent, strict=True):
        assert (out_dir / name).read_bytes() == data  # the bytes are untouched
    assert 'note: sent as "evidence.html", but it is image/jpeg: written as ' \
           "1-evidence-html.jpg" in out
    assert out.count("note: sent as") == 3  # not for the PDF, nor the .JPEG


def test_stripped_copies_are_named_the_same_way(
        run: Run, station: Station, key_file: Path, tmp_path: Path) -> None:
    import_report(run, station, key_file, tmp_path, [("evidence.html", polyglot())])
    out_dir = tmp_path / "share"

    code, _, err = run("review", "attachments", "1", "--out", str(out_dir), "--stripped")

    assert code == 0, err
    assert [p.name for p in out_dir.iterdir()] == ["1-stripped-evidence-html.jpg"]


def test_show_warns_when_the_name_and_the_type_disagree(
        run: Run, station: Station, key_file: Path, tmp_path: Path) -> None:
    import_report(run, station, key_file, tmp_path,
                  [("evidence.html", polyglot()), ("photo.jpg", jpeg()), ("notes", PDF)])

    code, out, _ = run("review", "show", "1")

    assert code == 0
    lines = out.splitlines()
    first = lines.index(next(line for line in lines if "1. evidence.html  image/jpeg" in line))
    assert lines[first + 1].strip() == (
        "warning: the name says .html, but the file is image/jpeg; 'review attachments' "
        "writes it as 1-evidence-html.jpg")
    assert out.count("warning:") == 1  # photo.jpg agrees; "notes" claims nothing


def test_a_forged_type_is_overruled_by_the_bytes(
        run: Run, station: Station, key_file: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A station that lies (modified code, or a forged bundle under a stolen key) can
    seal a web page as "image/jpeg": the reviewer names it by its bytes anyway."""
    with monkeypatch.context() as lying:
        lying.setattr(filetypes, "detect", lambda head: "image/jpeg")
        add_report_with_attachments(station, [("photo.jpg", PAGE), ("scan.jpg", PDF)])
    import_report(run, station, key_file, tmp_path, [])
    out_dir = tmp_path / "out"

    code, out, err = run("review", "attachments", "1", "--out", str(out_dir))

    assert code == 0, err
    assert sorted(p.name for p in out_dir.iterdir()) == ["1-photo-jpg.bin", "2-scan-jpg.pdf"]
    assert ("warning: the station recorded image/jpeg, but the file's first bytes say "
            "no known type: the bundle may be forged. Written as 1-photo-jpg.bin") in out
    assert "first bytes say application/pdf" in out


def test_a_browser_runs_nothing_that_was_written(
        browser, run: Run, station: Station, key_file: Path,  # type: ignore[no-untyped-def]
        tmp_path: Path) -> None:
    import_report(run, station, key_file, tmp_path, [("evidence.html", polyglot())])
    out_dir = tmp_path / "out"
    assert run("review", "attachments", "1", "--out", str(out_dir))[0] == 0
    [written] = out_dir.iterdir()
    control = tmp_path / "as-sent.html"  # what reporter wrote before: the probe works
    control.write_bytes(polyglot())

    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(control.as_uri())
        assert page.title() == MARK
        page.goto(written.as_uri())
        assert page.title() != MARK
        assert page.evaluate("document.contentType") == "image/jpeg"
    finally:
        context.close()


# --- the sharing folder holds only what may be shared ------------------------------------


def start_cli(tmp_path: Path, *args: str) -> subprocess.Popen[bytes]:
    """``reporter review ARGS`` as its own process, on ``tmp_path``'s review database."""
    env = {**os.environ, "REPORTER_REVIEW_DB": str(tmp_path / "review.db"),
           "REPORTER_REVIEW_PASSPHRASE": REVIEW_PASSPHRASE}
    return subprocess.Popen([sys.executable, "-m", "reporter", "review", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def holding_the_original(folder: Path) -> list[str]:
    """Files in ``folder`` that hold the original's GPS position."""
    found = []
    for path in folder.iterdir() if folder.exists() else ():
        try:
            if GPS_CANARY.encode() in path.read_bytes():
                found.append(path.name)
        except FileNotFoundError:
            pass  # renamed or removed between the listing and the read
    return found


@pytest.mark.parametrize("killed", [False, True])
def test_the_sharing_folder_never_holds_the_original(
        run: Run, station: Station, key_file: Path, tmp_path: Path, killed: bool) -> None:
    """Watched while the stripped copy is made, and after a kill -9 at the moment the
    first bytes are written there: never a file with the original's GPS position."""
    import_report(run, station, key_file, tmp_path, [("pit.jpg", geotagged_photo((3000, 2000)))])
    share = tmp_path / "to-share"
    cli = start_cli(tmp_path, "attachments", "1", "--out", str(share), "--stripped")
    seen: set[str] = set()
    leaked: list[str] = []
    deadline = time.monotonic() + 120
    try:
        while cli.poll() is None and time.monotonic() < deadline:
            leaked += holding_the_original(share)
            written = [p for p in share.iterdir() if p.stat().st_size] if share.exists() else []
            seen |= {p.name for p in written}
            if killed and written:
                cli.send_signal(signal.SIGKILL)
                break
            time.sleep(0.002)
    finally:
        if cli.poll() is None and not killed:
            cli.kill()
        _, err = cli.communicate(timeout=60)
    leaked += holding_the_original(share)
    assert not leaked, f"the original was written into the sharing folder: {leaked}"
    assert seen, "the command wrote nothing: the watch proved nothing"
    if not killed:
        assert cli.returncode == 0, err
        assert [p.name for p in share.iterdir()] == ["1-stripped-pit.jpg"]


def test_stripped_copies_and_both_attachment_stores_are_private(
        run: Run, station: Station, key_file: Path, tmp_path: Path) -> None:
    old = os.umask(0o022)  # the usual umask: new files 0644 unless made otherwise
    try:
        import_report(run, station, key_file, tmp_path, [("pit.jpg", geotagged_photo())])
        code, _, err = run("review", "attachments", "1", "--out", str(tmp_path / "share"),
                           "--stripped")
    finally:
        os.umask(old)
    assert code == 0, err
    paths = (tmp_path / "share" / "1-stripped-pit.jpg", blobs_path(station.path),
             attachments_path(tmp_path / "review.db"))
    modes = {path.name: oct(stat.S_IMODE(path.stat().st_mode)) for path in paths}
    assert modes == {path.name: "0o600" for path in paths}


def test_a_decoder_bomb_and_a_crashing_picture_fail_alone(
        run: Run, station: Station, key_file: Path, tmp_path: Path) -> None:
    """Files from the field built to hurt the decoder: each is a failure of its own,
    named, quickly; the report's other attachments are still written."""
    from tests.review.test_strip import fuzzed_gif, progressive_bomb

    import_report(run, station, key_file, tmp_path, [
        ("bomb.jpg", progressive_bomb(1000)), ("fuzzed.gif", fuzzed_gif()),
        ("pit.jpg", geotagged_photo()), ("statement.pdf", PDF)])
    share = tmp_path / "share"
    started = time.monotonic()

    code, out, err = run("review", "attachments", "1", "--out", str(share), "--stripped")

    assert time.monotonic() - started < 30
    assert code == 1
    assert "error: 1. bomb.jpg: this JPEG has more than 100 scans" in err
    assert "error: 2. fuzzed.gif: this GIF image decodes to pixels that cannot be written " \
           "again (OverflowError)" in err
    assert "error: 4. statement.pdf: PDF document" in err
    assert "3 of 4 attachments of report 1 were not written" in err
    assert "unexpected" not in err and "Traceback" not in err
    assert out.startswith("3-stripped-pit.jpg  image/jpeg")
    assert [p.name for p in share.iterdir()] == ["3-stripped-pit.jpg"]


# --- the names ------------------------------------------------------------------------------


@pytest.mark.parametrize(("sent", "media_type", "written"), [
    ("photo.jpg", "image/jpeg", "1-photo.jpg"),
    ("PHOTO.JPG", "image/jpeg", "1-PHOTO.jpg"),
    ("photo.jpeg", "image/jpeg", "1-photo.jpeg"),
    ("evidence.html", "image/jpeg", "1-evidence-html.jpg"),
    ("evidence.html.jpg", "image/jpeg", "1-evidence-html.jpg"),
    ("photo.jpg.exe", "image/jpeg", "1-photo-jpg-exe.jpg"),
    ("\u202egpj.exe", "image/jpeg", "1-gpj-exe.jpg"),  # shown as "exe.jpg" elsewhere
    ("photo\u200f\u200e\u061c.jpg", "image/jpeg", "1-photo.jpg"),
    ("evidence\uff0ehtml", "image/png", "1-evidence-html.png"),  # a full-width dot
    ("CON", "image/jpeg", "1-CON.jpg"),  # a Windows device name, but not at the start
    ("nul.txt", "application/pdf", "1-nul-txt.pdf"),
    ("photo.jpg. . ", "image/jpeg", "1-photo.jpg"),  # Windows drops trailing dots
    ('a<b>c:d"e|f?g*h.pdf', "application/pdf", "1-a_b_c_d_e_f_g_h.pdf"),
    ("../../etc/passwd", "application/pdf", "1-_--_etc_passwd.pdf"),
    (".bashrc", "audio/mpeg", "1-bashrc.mp3"),
    ("...", "video/mp4", "1-attachment-1.mp4"),
    (".jpg", "image/jpeg", "1-jpg.jpg"),
    ("report.docm", "application/vnd.openxmlformats-officedocument", "1-report-docm.docx"),
    ("budget.xlsx", "application/vnd.openxmlformats-officedocument", "1-budget.xlsx"),
    ("clip.mkv", "video/webm", "1-clip.mkv"),
    ("page.html", None, "1-page-html.bin"),
    ("Mr. Smith's statement", "application/pdf", "1-Mr- Smith's statement.pdf"),
])
def test_file_names(sent: str, media_type: str | None, written: str) -> None:
    assert file_name(info(sent), media_type) == written
    stripped = written.replace("1-", "1-stripped-", 1)
    assert file_name(info(sent), media_type, stripped=True) == stripped


def test_long_names_fit_the_file_system_and_end_in_the_type_s_extension() -> None:
    for sent in ("é" * 250 + ".jpeg", "é" * 250 + ".html", "x" * 300):
        for stripped in (False, True):
            name = file_name(info(sent, index=254), "image/jpeg", stripped=stripped)
            assert len((name + ".partial").encode("utf-8")) <= 255
            assert name.startswith("255-")
            assert name.endswith(".jpeg" if sent.endswith(".jpeg") else ".jpg")


@pytest.mark.parametrize(("sent", "media_type", "claimed"), [
    ("evidence.html", "image/jpeg", ".html"),
    ("evidence.SVG", "image/png", ".svg"),
    ("photo.jpg", "image/jpeg", None),
    ("photo.JFIF", "image/jpeg", None),
    ("statement", "application/pdf", None),
    ("Mr. Smith's statement", "application/pdf", None),
    ("page.htm", None, ".htm"),
])
def test_name_disagrees(sent: str, media_type: str | None, claimed: str | None) -> None:
    assert name_disagrees(info(sent), media_type) == claimed


def test_clean_file_name_keeps_what_is_harmless() -> None:
    assert clean_file_name("Rapport d'incident – Chiadzwa 2026", "x") == \
        "Rapport d'incident – Chiadzwa 2026"
    assert clean_file_name("\u202e\u2066", "fallback") == "fallback"


def test_every_extension_opens_a_viewer_not_a_program() -> None:
    runs_code = {".html", ".htm", ".xhtml", ".svg", ".svgz", ".xml", ".js", ".mjs", ".exe",
                 ".com", ".cmd", ".bat", ".ps1", ".vbs", ".vbe", ".wsf", ".hta", ".lnk",
                 ".scr", ".pif", ".msi", ".jar", ".py", ".sh", ".desktop", ".app", ".docm",
                 ".xlsm", ".pptm", ".dotm", ".xlam", ".url", ".reg", ".chm", ".swf"}
    for media_type, extensions in filetypes.EXTENSIONS.items():
        assert extensions, media_type
        assert runs_code.isdisjoint(extensions), media_type
        assert all(e.startswith(".") and e == e.lower() for e in extensions)
    assert filetypes.extension(None) == filetypes.extension("text/html") == ".bin"
