"""Nothing from outside drives the reviewer's terminal: hostile bundle file names,
key file names and report text, through the real ``reporter`` command (a process,
its real standard output and error, and a pseudo-terminal for the progress bar)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reporter.cli.terminal import clean
from tests.conftest import Station, add_reports
from tests.reviewing import KEY_PASSPHRASE, REVIEW_PASSPHRASE, new_review_db, reporter_process

# What a terminal must never receive from reporter: C0 controls but the line
# break (ESC starts every sequence, BEL ends OSC), DEL, C1 controls (U+009B is
# CSI, U+009D OSC on some terminals), bidirectional controls, and lone surrogates.
FORBIDDEN = ([chr(c) for c in range(32) if c != 10] + ["\x7f"]
             + [chr(c) for c in range(0x80, 0xA0)]
             + list("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u061c\u200e\u200f"))

HOSTILE_NAMES = [
    "\x1b]0;PWNED-TITLE\x07.rptr",                     # sets the window title
    "\x1b]52;c;UFdORUQtQ0xJUA==\x07.rptr",             # OSC 52: fills the clipboard
    "\x1b[2J\x1b[HCLEARED.rptr",                       # clears the screen
    "\x9b31mC1-CSI\x9d0;C1-OSC\x9c.rptr",             # 8-bit CSI and OSC
    "\u202egpj.rptr",                                  # right-to-left override
    "\u200fRLM\u200eLRM\u061cALM.rptr",               # bidi marks
    "line\nforged: OK\r.rptr",                        # a forged line of output
]


def forbidden_in(text: str) -> list[str]:
    return sorted({repr(c) for c in text if c in FORBIDDEN or "\ud800" <= c <= "\udfff"})


def reporter(*args: str | bytes, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return reporter_process(*args, cwd=cwd)


def test_clean_replaces_every_terminal_control() -> None:
    text = "".join(FORBIDDEN) + "\udcff" + "ok \u200d\u200c é 中"
    cleaned = clean(text)
    assert forbidden_in(cleaned) == []
    assert cleaned.endswith("ok \u200d\u200c é 中")  # joiners and letters are text
    assert clean("a\nb", multiline=True) == "a\nb" and clean("a\nb") == "a b"


@pytest.fixture
def bundle(station: Station, key_file: Path, tmp_path: Path) -> Path:
    add_reports(station, 2)
    out = tmp_path / "plain.rptr"
    done = reporter("--instance", str(station.path), "export", "--out", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return out


def test_hostile_bundle_names_reach_no_terminal(bundle: Path, key_file: Path,
                                                tmp_path: Path) -> None:
    hostile, damaged, missing = [], [], []
    for i, name in enumerate(HOSTILE_NAMES):
        (tmp_path / str(i)).mkdir()
        hostile.append(tmp_path / str(i) / name)
        hostile[-1].write_bytes(bundle.read_bytes())
        data = bytearray(bundle.read_bytes())
        data[300] ^= 1
        damaged.append(tmp_path / str(i) / ("damaged-" + name))
        damaged[-1].write_bytes(bytes(data))
        missing.append(tmp_path / str(i) / ("missing-" + name))
    key = ("--key", str(key_file))
    new_review_db(tmp_path / "review.db")
    verified = [reporter("verify", str(path), *key, cwd=tmp_path) for path in hostile]
    refused = [reporter("verify", str(path), *key, cwd=tmp_path) for path in damaged[:3]]
    imported = reporter("review", "import", *map(str, hostile), *key, cwd=tmp_path)
    failed = reporter("review", "import", *map(str, damaged + missing), *key, cwd=tmp_path)
    others = [reporter("verify", str(missing[0]), *key, cwd=tmp_path),
              reporter("verify", str(bundle), "--key", str(hostile[0]) + ".key", cwd=tmp_path),
              reporter("review", "--review-db", str(damaged[1]), "gaps", cwd=tmp_path)]
    assert [r.returncode for r in verified] == [0] * len(HOSTILE_NAMES)
    assert [r.returncode for r in (*refused, imported, failed, *others)] == [1, 1, 1, 0, 1,
                                                                           1, 1, 1]
    for done in (*verified, *refused, imported, failed, *others):
        out, err = done.stdout.decode("utf-8"), done.stderr.decode("utf-8")
        assert forbidden_in(out) == [] and forbidden_in(err) == [], (out, err)
        assert "Traceback" not in err and "unexpected" not in err
    # Each name is still shown, marked where something was removed, on one line.
    for name, done in zip(HOSTILE_NAMES, verified, strict=True):
        assert done.stdout.decode().startswith(f"{tmp_path}/")
        assert f"{clean(name)}: OK\n" in done.stdout.decode()
        assert "forged: OK" not in done.stdout.decode().splitlines()
    for name in HOSTILE_NAMES:
        assert clean(name) in imported.stdout.decode()
        assert clean("damaged-" + name) in failed.stderr.decode()
        assert clean("missing-" + name) in failed.stderr.decode()
    assert "altered" in refused[0].stderr.decode()


def test_an_undecodable_file_name_is_shown_not_a_crash(bundle: Path, key_file: Path,
                                                       tmp_path: Path) -> None:
    new_review_db(tmp_path / "review.db")
    raw = os.fsencode(tmp_path) + b"/bundle-\xff\xfe.rptr"
    with open(raw, "wb") as fh:
        fh.write(bundle.read_bytes())
    for args in (("verify",), ("review", "import")):
        done = reporter(*args, raw, "--key", str(key_file), cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        out = done.stdout.decode("utf-8")  # valid UTF-8: the bytes became U+FFFD
        assert "bundle-\ufffd\ufffd.rptr" in out and forbidden_in(out) == []


def _on_a_terminal(args: list[str], cwd: Path, seconds: float = 60) -> bytes:
    """Run reporter with its standard error on a pseudo-terminal (for the progress
    bar, which only shows there); return everything written to it."""
    leader, follower = pty.openpty()
    env = {**os.environ, "REPORTER_KEY_PASSPHRASE": KEY_PASSPHRASE,
           "REPORTER_REVIEW_PASSPHRASE": REVIEW_PASSPHRASE,
           "REPORTER_REVIEW_DB": str(cwd / "review.db"), "PYTHONIOENCODING": "utf-8"}
    process = subprocess.Popen([sys.executable, "-m", "reporter", *args], cwd=cwd, env=env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=follower)
    os.close(follower)
    seen = b""
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # the other side closed
                    break
                if not chunk:
                    break
                seen += chunk
            elif process.poll() is not None:
                break
    finally:
        os.close(leader)
        if process.poll() is None:
            process.kill()
        process.wait(10)
    assert process.returncode == 0, seen
    return seen


def test_the_progress_bar_label_is_clean(bundle: Path, key_file: Path, tmp_path: Path) -> None:
    hostile = tmp_path / HOSTILE_NAMES[0]
    hostile.write_bytes(bundle.read_bytes())
    new_review_db(tmp_path / "review.db")
    seen = _on_a_terminal(["review", "import", str(hostile), "--key", str(key_file)], tmp_path)
    text = seen.decode("utf-8")
    assert "Importing \ufffd]0;PWNED-TITLE\ufffd.rptr" in text
    # click draws the bar with its own CSI sequences (hiding the cursor); the only
    # thing that must not be there is the file name's.
    assert "\x1b]" not in text and "\x07" not in text
