"""The review desk's parts, one by one: where it may listen, the vault and its idle
lock, the session and CSRF secret, the inbox's form, how report text is shown, and
the metadata-free previews made in memory."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from reporter.errors import ConfigError, WrongPassphrase
from reporter.formats.report import AttachmentInfo, Report
from reporter.review import strip
from reporter.review.db import ReviewDB
from reporter.review.desk import config, inbox, present, text
from reporter.review.desk.sessions import Sessions
from reporter.review.desk.vault import BUTTON, IDLE, MEMO, Busy, Locked, Vault
from tests.desk import COMMENT_CANARY, EXIF_CANARY, POLYGLOT, jpeg_with_metadata
from tests.reviewing import REVIEW_PASSPHRASE

# --- where the desk listens -----------------------------------------------------------------


@pytest.mark.parametrize(("given", "bound"), [
    ("127.0.0.1", "127.0.0.1"), ("localhost", "127.0.0.1"), ("LOCALHOST", "127.0.0.1"),
    ("127.0.0.2", "127.0.0.2"), ("::1", "::1"), ("[::1]", "::1")])
def test_loopback_addresses_need_no_flag(given: str, bound: str) -> None:
    assert config.check_host(given, allow_remote=False) == bound


@pytest.mark.parametrize("host", ["192.168.1.20", "10.0.0.5", "fe80::1", "8.8.8.8"])
def test_other_addresses_are_refused_unless_forced_and_the_reason_is_given(host: str) -> None:
    with pytest.raises(config.HostRefused) as refused:
        config.check_host(host, allow_remote=False)
    assert "decrypted reports" in str(refused.value)
    assert "--allow-remote-host" in str(refused.value) and "SSH" in str(refused.value)
    assert config.check_host(host, allow_remote=True) == host


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "[::]"])  # noqa: S104
def test_wildcards_are_refused_even_when_forced(host: str) -> None:
    for forced in (False, True):
        with pytest.raises(config.HostRefused, match="every address"):
            config.check_host(host, allow_remote=forced)


@pytest.mark.parametrize("host", ["evil.example", "my-laptop.lan", "127.0.0.1.nip.io", ""])
def test_names_are_refused(host: str) -> None:
    with pytest.raises(config.HostRefused, match="not an IP address"):
        config.check_host(host, allow_remote=True)


def test_the_host_header_must_name_the_bound_address() -> None:
    assert config.allowed_hosts("127.0.0.1", 8765) == {"127.0.0.1:8765", "localhost:8765"}
    assert config.allowed_hosts("::1", 8765) == {"[::1]:8765", "localhost:8765"}
    assert config.allowed_hosts("127.0.0.2", 8765) == {"127.0.0.2:8765"}
    assert config.allowed_hosts("10.0.0.5", 80) == {"10.0.0.5:80", "10.0.0.5"}


@pytest.mark.parametrize("minutes", [0, -1, 24 * 60 + 1])
def test_idle_lock_bounds(minutes: float) -> None:
    with pytest.raises(ConfigError):
        config.idle_seconds(minutes)
    assert config.idle_seconds(0.5) == 30.0


# --- the vault ----------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def review_db(tmp_path: Path) -> Path:
    path = tmp_path / "review.db"
    ReviewDB.create(path, REVIEW_PASSPHRASE).close()
    return path


def test_the_vault_starts_locked_and_opens_only_for_the_session_that_unlocked(
        review_db: Path) -> None:
    vault = Vault(review_db, 60)
    assert not vault.unlocked and not vault.authorised("a" * 43)
    with pytest.raises(Locked):
        vault.open()
    vault.unlock(REVIEW_PASSPHRASE, "a" * 43)
    assert vault.unlocked and vault.authorised("a" * 43)
    assert not vault.authorised("b" * 43) and not vault.authorised(None)
    with vault.open() as db:
        assert db.report_count() == 0


def test_a_wrong_passphrase_unlocks_nothing(review_db: Path) -> None:
    vault = Vault(review_db, 60)
    with pytest.raises(WrongPassphrase):
        vault.unlock("not the passphrase at all", "a" * 43)
    assert not vault.unlocked and not vault.authorised("a" * 43)


def test_unlocking_elsewhere_ends_the_first_session(review_db: Path) -> None:
    vault = Vault(review_db, 60)
    vault.unlock(REVIEW_PASSPHRASE, "a" * 43)
    vault.unlock(REVIEW_PASSPHRASE, "b" * 43)
    assert vault.authorised("b" * 43) and not vault.authorised("a" * 43)


def test_lock_drops_the_key(review_db: Path) -> None:
    vault = Vault(review_db, 60)
    vault.unlock(REVIEW_PASSPHRASE, "a" * 43)
    generation = vault.generation
    vault.lock(BUTTON)
    assert not vault.unlocked and vault.reason == BUTTON and vault._key is None
    assert not vault.authorised("a" * 43) and not vault.current(generation)
    with pytest.raises(Locked):
        vault.open()


def test_what_is_remembered_lasts_while_unlocked_and_no_longer(review_db: Path) -> None:
    """Counts per filter are kept while unlocked (paging asks again), never past a lock:
    a key can hold a search the reviewer typed."""
    vault = Vault(review_db, 60)
    made: list[str] = []

    def make(value: str) -> str:
        made.append(value)
        return value

    assert vault.remembered(("facets", "locked"), lambda: make("a")) == "a"
    assert vault.remembered(("facets", "locked"), lambda: make("b")) == "b"  # not kept
    vault.unlock(REVIEW_PASSPHRASE, "a" * 43)
    assert vault.remembered(("facets", "cyanide"), lambda: make("c")) == "c"
    assert vault.remembered(("facets", "cyanide"), lambda: make("d")) == "c"
    for n in range(MEMO):  # the oldest goes first
        vault.remembered(("facets", n), lambda: make("e"))
    assert vault.remembered(("facets", "cyanide"), lambda: make("f")) == "f"
    vault.lock(BUTTON)
    assert vault._memo == {}
    vault.unlock(REVIEW_PASSPHRASE, "a" * 43)
    assert vault.remembered(("facets", "cyanide"), lambda: make("g")) == "g"
    assert made == ["a", "b", "c", *["e"] * MEMO, "f", "g"]


def test_the_idle_period_locks_and_each_request_starts_it_again(review_db: Path) -> None:
    clock = Clock()
    vault = Vault(review_db, 60, clock=clock)
    vault.unlock(REVIEW_PASSPHRASE, "a" * 43)
    clock.now += 59
    assert vault.authorised("a" * 43)  # a request: the period starts again
    clock.now += 59
    assert vault.authorised("a" * 43) and vault.seconds_left() == 60
    clock.now += 60
    assert not vault.authorised("a" * 43)
    assert not vault.unlocked and vault.reason == IDLE


def test_requests_of_another_session_do_not_keep_it_open(review_db: Path) -> None:
    clock = Clock()
    vault = Vault(review_db, 60, clock=clock)
    vault.unlock(REVIEW_PASSPHRASE, "a" * 43)
    for _ in range(3):
        clock.now += 30
        assert not vault.authorised("b" * 43)
    assert not vault.unlocked


def test_the_watch_thread_locks_without_any_request(review_db: Path) -> None:
    vault = Vault(review_db, 0.5)
    vault.unlock(REVIEW_PASSPHRASE, "a" * 43)
    vault.start_watch()
    try:
        deadline = time.monotonic() + 10
        while vault.unlocked and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not vault.unlocked and vault.reason == IDLE
    finally:
        vault.stop_watch()


def test_key_derivations_run_one_at_a_time(review_db: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import reporter.review.desk.vault as vault_module

    vault = Vault(review_db, 60)
    monkeypatch.setattr(vault_module, "UNLOCK_WAIT", 0.2)
    entered, release = threading.Event(), threading.Event()
    derive = ReviewDB.derive_key

    def slow(path: Path, passphrase: str) -> bytes:
        entered.set()
        release.wait(10)
        return derive(path, passphrase)

    monkeypatch.setattr(ReviewDB, "derive_key", staticmethod(slow))
    first = threading.Thread(target=vault.unlock, args=(REVIEW_PASSPHRASE, "a" * 43))
    first.start()
    assert entered.wait(10)
    with pytest.raises(Busy):
        vault.unlock(REVIEW_PASSPHRASE, "b" * 43)
    release.set()
    first.join(10)
    assert vault.authorised("a" * 43)


# --- sessions and CSRF ------------------------------------------------------------------


def test_csrf_tokens_are_bound_to_the_session_and_the_process() -> None:
    sessions, other = Sessions(), Sessions()
    a, b = sessions.new_id(), sessions.new_id()
    assert a != b and Sessions.well_formed(a) == a
    token = sessions.csrf_token(a)
    assert sessions.csrf_ok(a, token)
    assert not sessions.csrf_ok(b, token)  # another session's
    assert not other.csrf_ok(a, token)  # another run of the desk's
    for bad in (None, "", token[:-1], token.upper(), token + "0", "é" * 64):
        assert not sessions.csrf_ok(a, bad)
    assert not sessions.csrf_ok(None, token)


@pytest.mark.parametrize("value", [None, "", "short", "a" * 44, "a" * 42 + "!", "a" * 42 + "\n"])
def test_only_a_well_formed_cookie_is_a_session(value: str | None) -> None:
    assert Sessions.well_formed(value) is None


def test_rotation_keeps_the_language() -> None:
    sessions = Sessions()
    old = sessions.new_id()
    sessions.set_language(old, "fr")
    new = sessions.rotate(old)
    assert new != old and sessions.language(new) == "fr"


# --- the inbox's form ----------------------------------------------------------------------


def test_every_filter_is_read() -> None:
    asked = inbox.parse({"q": " soldiers ", "site": "marange", "type": "shooting",
                         "perpetrator": "police", "source": "heard", "kind": "incident",
                         "station": "AA11", "from": "2026-01-01", "to": "2026-03-31",
                         "files": "1"})
    assert asked.errors == {}
    assert asked.filters is not None and asked.filters.active
    f = asked.filters
    assert (f.search, f.site, f.incident_type, f.perpetrator, f.source, f.kind, f.station,
            f.date_from, f.date_to, f.with_attachments) == (
        "soldiers", "marange", "shooting", "police", "heard", "incident", "aa11",
        "2026-01-01", "2026-03-31", True)


@pytest.mark.parametrize(("args", "field"), [
    ({"type": "fire"}, "type"), ({"perpetrator": "x"}, "perpetrator"),
    ({"source": "rumour"}, "source"), ({"kind": "report"}, "kind"),
    ({"station": "zz"}, "station"), ({"station": "a" * 33}, "station"),
    ({"from": "2026-02-30"}, "from"), ({"to": "14/03/2026"}, "to"),
    ({"from": "2026-04-01", "to": "2026-03-01"}, "to"), ({"q": "x" * 201}, "q"),
    ({"site": "x" * 201}, "site")])
def test_a_wrong_value_is_named_beside_its_field(args: dict[str, str], field: str) -> None:
    asked = inbox.parse(args)
    assert asked.filters is None and list(asked.errors) == [field]


def test_paging_links_keep_the_filter_and_a_bad_position_is_ignored() -> None:
    asked = inbox.parse({"site": "a&b=c", "after": "2026-01-01." + "ab" * 16 + ".3.9"})
    assert asked.after is not None and (asked.after.seq, asked.after.id) == (3, 9)
    assert asked.link(after="X") == "site=a%26b%3Dc&after=X"
    assert inbox.parse({"after": "1' OR '1"}).after is None
    assert inbox.parse({"files": "yes"}).values["files"] == ""


# --- report text on a page -------------------------------------------------------------------


def test_controls_and_bidi_overrides_are_made_visible() -> None:
    assert text.shown("a\x1b[31mb\x07c\x9bd") == "a\ufffd[31mb\ufffdc\ufffdd"
    assert text.shown("\u202eexe.jpg \u2066x\u2069 \u200f") == "\ufffdexe.jpg \ufffdx\ufffd \ufffd"
    assert text.shown("line\r\nnext\rthird\ttab") == "line\nnext\nthird\ttab"
    assert text.shown("العربية and 中文") == "العربية and 中文"
    assert text.one_line("a\n b\t c") == "a b c"
    assert text.shown(None) == ""


def test_fields_are_listed_as_the_cli_lists_them() -> None:
    report = Report(kind="incident", receipt="R1TH-HHFX-SX48-HVHV", locale="en",
                    submitted="2026-01-01", fields={
                        "incident_types": ["shooting", "made-up"], "source": "heard",
                        "people_affected": 0, "description": "d", "zz<b>": "v"})
    views = present.field_views(report)
    names = [v.name for v in views]
    assert names[:3] == ["incident_types", "incident_date", "date_approximate"]
    assert names[-1] == "zz<b>" and "description" not in names
    by_name = {v.name: v for v in views}
    assert [(c.code, c.label) for c in by_name["incident_types"].codes] == [
        ("shooting", "Shooting or other violence"), ("made-up", None)]
    assert by_name["people_affected"].text == "0" and by_name["people_affected"].given
    assert not by_name["location"].given
    assert not by_name["zz<b>"].known and by_name["zz<b>"].label == "zz<b>"


def test_attachments_are_named_by_what_they_are() -> None:
    def info(index: int, name: str, kind: str) -> AttachmentInfo:
        return AttachmentInfo(index, name, kind, 10, bytes(32), 10, bytes(32))

    report = Report(kind="incident", receipt="R1TH-HHFX-SX48-HVHV", locale="en",
                    submitted="2026-01-01", attachments=(
                        info(0, "evidence.html", "image/jpeg"), info(1, "a.wav", "audio/wav"),
                        info(2, "v.mp4", "video/mp4"), info(3, "s.pdf", "application/pdf"),
                        info(4, "x.heic", "image/heic")))
    views = present.attachment_views(report)
    assert [(v.number, v.preview, v.player) for v in views] == [
        (1, True, None), (2, False, "audio"), (3, False, "video"), (4, False, None),
        (5, False, None)]
    assert views[0].download_name == "1-evidence-html.jpg" and views[0].claimed == ".html"
    assert views[0].stripped_name == "1-stripped-evidence-html.jpg"
    assert present.media_type("text/html") == "application/octet-stream"
    assert present.media_type(None) == "application/octet-stream"
    assert present.media_type("image/png") == "image/png"


# --- previews made in memory ------------------------------------------------------------------


def test_a_preview_keeps_the_pixels_and_nothing_else() -> None:
    original = jpeg_with_metadata(size=(2400, 1200))
    assert EXIF_CANARY.encode() in original and COMMENT_CANARY in original
    made = strip.preview(original, "image/jpeg")
    assert made.media_type == "image/jpeg"
    assert EXIF_CANARY.encode() not in made.data and COMMENT_CANARY not in made.data
    with Image.open(io.BytesIO(made.data)) as im:
        assert im.size == (1600, 800) and not im.getexif() and "comment" not in im.info
        assert im.getpixel((10, 10))[0] > 150  # still red


def test_a_polyglot_preview_is_only_its_picture() -> None:
    made = strip.preview(POLYGLOT, "image/jpeg")
    assert b"<script" not in made.data and b"<html" not in made.data
    assert made.data.startswith(b"\xff\xd8\xff")


@pytest.mark.parametrize(("fmt", "mode"), [("PNG", "RGBA"), ("GIF", "P"), ("WEBP", "RGB")])
def test_other_pictures_are_previewed_as_png(fmt: str, mode: str) -> None:
    picture = Image.new(mode, (50, 40))
    out = io.BytesIO()
    picture.save(out, format=fmt)
    made = strip.preview(out.getvalue())
    assert made.media_type == "image/png" and made.data.startswith(b"\x89PNG")


def test_the_full_size_copy_is_made_in_memory_too(tmp_path: Path) -> None:
    made = strip.stripped_bytes(jpeg_with_metadata(size=(2000, 100)), "image/jpeg")
    assert made.media_type == "image/jpeg" and EXIF_CANARY.encode() not in made.data
    with Image.open(io.BytesIO(made.data)) as im:
        assert im.size == (2000, 100)
    assert list(tmp_path.iterdir()) == []


def test_what_cannot_be_previewed_is_refused_before_decoding() -> None:
    with pytest.raises(strip.StripError, match="PDF"):
        strip.preview(b"%PDF-1.7\n" + bytes(100), "application/pdf")
    with pytest.raises(strip.StripError, match="damaged"):
        strip.preview(b"\xff\xd8\xff\xe0" + bytes(100), "image/jpeg")
