"""The reviewer's checks on the whole journey: monitors send reports to a real
``reporter serve`` over HTTP, the operator runs ``reporter export``, the reviewer
runs ``reporter verify`` and ``reporter review ...``, every command a real process.

Each attack is what the threat model hands an adversary: the station's signing
key (a seized station with its passphrase) to forge bundles that verify, an old
backup of the station to replay bundle numbers with other reports, and the
public form to type terminal controls into a report. Each check named here
(the chain head, the chain across bundles, the replay conflict, terminal
cleaning) also has its own unit test and a Hypothesis property
(``tests/formats/test_bundle_fuzz.py``, properties f, g and h): switching one
off fails all of them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from reporter.formats import bundle
from reporter.formats.chain import chain_link
from reporter.formats.manifest import Manifest
from reporter.station.instance import load_identity
from tests.conftest import Station, start_server, valid_report
from tests.e2e.test_attachments_bundle import bundle_plaintext, frames_of, reseal, resign
from tests.e2e.test_e2e import RECEIPT_RE, submit
from tests.reviewing import new_review_db, reporter_process

pytestmark = pytest.mark.slow

# What must never reach the reviewer's terminal: C0 controls but the line break, DEL,
# C1 controls (U+009B is CSI, U+009D OSC on some terminals), bidi controls.
FORBIDDEN = frozenset(
    [chr(c) for c in range(32) if c != 10] + ["\x7f"] + [chr(c) for c in range(0x80, 0xA0)]
    + list("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u061c\u200e\u200f"))


def send(station: Station, tmp_path: Path, *descriptions: str,
         follows: str | None = None) -> list[str]:
    """Monitors send these reports (or follow-ups) through a real server; their receipts."""
    server = start_server(station, tmp_path)
    receipts = []
    try:
        session = requests.Session()
        for text in descriptions:
            if follows is None:
                response = submit(session, server.url, valid_report(description=text))
            else:
                response = submit(session, server.url, {"receipt": follows,
                                                         "description": text}, "/follow-up")
            assert response.status_code == 200, response.text
            receipts += RECEIPT_RE.findall(response.text)
    finally:
        server.stop()
    return receipts


def run(*args: str, cwd: Path, station: Station | None = None,
        review_db: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {}
    if station is not None:
        env["REPORTER_INSTANCE"] = str(station.path)
    if review_db is not None:
        env["REPORTER_REVIEW_DB"] = str(review_db)
    return reporter_process(*args, cwd=cwd, env=env)


def export(station: Station, out: Path) -> Path:
    done = run("export", "--out", str(out), cwd=out.parent, station=station)
    assert done.returncode == 0, done.stderr
    return out


def text(done: subprocess.CompletedProcess[bytes]) -> str:
    return done.stdout.decode("utf-8") + done.stderr.decode("utf-8")


def forge(station: Station, path: Path, out: Path, edit: object) -> Path:
    """``path`` with its manifest edited and signed again with the station's own key
    (what whoever holds the station and its passphrase can do), sealed to the reviewer."""
    with station.store() as store:
        signer = load_identity(store).signing_key
    frames = frames_of(bundle_plaintext(path.read_bytes(), station.reviewer))
    resign(frames, signer, edit)  # type: ignore[arg-type]
    out.write_bytes(reseal(frames, station.reviewer))
    return out


def envelopes_of(path: Path, station: Station) -> list[bytes]:
    frames = frames_of(bundle_plaintext(path.read_bytes(), station.reviewer))
    return [data for kind, data in frames if kind == bundle.FRAME_ENVELOPE]


def rechained(envelopes: list[bytes], before: bytes):  # type: ignore[no-untyped-def]
    """A manifest edit: the chain starts at ``before`` and runs consistently from it."""
    def edit(m: Manifest) -> Manifest:
        head = before
        for seq, envelope in enumerate(envelopes, m.first_seq):
            head = chain_link(head, seq, envelope)
        return Manifest(**{**m.__dict__, "chain_before": before, "chain_head": head})
    return edit


def imported(tmp_path: Path, review_db: Path) -> str:
    return text(run("review", "gaps", cwd=tmp_path, review_db=review_db))


def test_a_chain_head_the_reports_do_not_rebuild_is_refused(station: Station,
                                                            key_file: Path,
                                                            tmp_path: Path) -> None:
    send(station, tmp_path, "first", "second", "third")
    real = export(station, tmp_path / "1.rptr")
    envelopes = envelopes_of(real, station)

    # The signing key's holder drops report 3 from the chain: chain_head after report 2.
    def drop_the_last(m: Manifest) -> Manifest:
        head = m.chain_before
        for seq, envelope in enumerate(envelopes[:2], m.first_seq):
            head = chain_link(head, seq, envelope)
        return Manifest(**{**m.__dict__, "chain_head": head})

    forged = forge(station, real, tmp_path / "forged.rptr", drop_the_last)
    key = ("--key", str(key_file))
    review_db = new_review_db(tmp_path / "review.db")
    for args in (("verify", str(forged)), ("review", "import", str(forged))):
        done = run(*args, *key, cwd=tmp_path, review_db=review_db)
        assert done.returncode == 1
        assert "the reports do not rebuild the signed hash chain" in text(done)
    assert "No bundle imported yet." in imported(tmp_path, review_db)
    done = run("review", "import", str(real), *key, cwd=tmp_path, review_db=review_db)
    assert done.returncode == 0 and "3 reports added" in text(done)


def test_a_history_that_breaks_the_chain_across_bundles_is_refused(station: Station,
                                                                   key_file: Path,
                                                                   tmp_path: Path) -> None:
    send(station, tmp_path, "one", "two")
    first = export(station, tmp_path / "1.rptr")
    send(station, tmp_path, "three", "four")
    second = export(station, tmp_path / "2.rptr")
    # Forged with the station's key, each consistent within itself (so verify, which
    # sees one bundle, accepts it): bundle 2 with the right previous hash but a chain
    # that does not go on from bundle 1's head; bundle 1 off the genesis value.
    off_chain = forge(station, second, tmp_path / "2-off-chain.rptr",
                      rechained(envelopes_of(second, station), os.urandom(32)))
    off_genesis = forge(station, first, tmp_path / "1-off-genesis.rptr",
                        rechained(envelopes_of(first, station), os.urandom(32)))
    key = ("--key", str(key_file))
    for forged in (off_chain, off_genesis):
        assert run("verify", str(forged), *key, cwd=tmp_path).returncode == 0

    in_order = new_review_db(tmp_path / "in-order.db")
    assert run("review", "import", str(first), *key, cwd=tmp_path,
               review_db=in_order).returncode == 0
    done = run("review", "import", str(off_chain), *key, cwd=tmp_path, review_db=in_order)
    assert done.returncode == 1
    assert "bundle 2 does not continue the hash chain of bundle 1" in text(done)
    assert "reports up to 2" in imported(tmp_path, in_order)

    reversed_ = new_review_db(tmp_path / "reversed.db")
    assert run("review", "import", str(off_chain), *key, cwd=tmp_path,
               review_db=reversed_).returncode == 0  # nothing to compare it with yet
    done = run("review", "import", str(first), *key, cwd=tmp_path, review_db=reversed_)
    assert done.returncode == 1
    assert "bundle 2 does not continue the hash chain of bundle 1" in text(done)

    fresh = new_review_db(tmp_path / "fresh.db")
    done = run("review", "import", str(off_genesis), *key, cwd=tmp_path, review_db=fresh)
    assert done.returncode == 1
    assert "bundle 1 does not start the station's hash chain" in text(done)
    assert "No bundle imported yet." in imported(tmp_path, fresh)


def test_a_station_restored_from_a_backup_cannot_replace_what_was_imported(
        station: Station, key_file: Path, tmp_path: Path) -> None:
    send(station, tmp_path, "before the backup")
    backup = Station(tmp_path / "backup", station.key, station.station_id, station.reviewer)
    shutil.copytree(station.path, backup.path)
    send(station, tmp_path, "after the backup")
    real = export(station, tmp_path / "1.rptr")
    key = ("--key", str(key_file))
    review_db = new_review_db(tmp_path / "review.db")
    assert run("review", "import", str(real), *key, cwd=tmp_path,
               review_db=review_db).returncode == 0

    # The station is restored from the backup; another report arrives; bundle 1 again.
    send(backup, tmp_path, "a different second report")
    replayed = export(backup, tmp_path / "1-replayed.rptr")
    assert run("verify", str(replayed), *key, cwd=tmp_path).returncode == 0  # it is signed
    done = run("review", "import", str(replayed), *key, cwd=tmp_path, review_db=review_db)
    assert done.returncode == 1
    assert re.search(r"bundle 1 of station [0-9a-f]{8} was already imported with different "
                     r"contents: .* Nothing was imported\.", text(done))
    # Its next bundle names the replayed bundle 1 as its previous: refused as well.
    send(backup, tmp_path, "later")
    later = export(backup, tmp_path / "2-replayed.rptr")
    done = run("review", "import", str(later), *key, cwd=tmp_path, review_db=review_db)
    assert done.returncode == 1
    assert "does not follow the bundle 1 already imported (different history)" in text(done)
    summary = imported(tmp_path, review_db)
    assert "1 bundle, reports up to 2" in summary
    listed = text(run("review", "list", cwd=tmp_path, review_db=review_db))
    assert "after the backup" in listed and "different second" not in listed
    # The real bundle again: the same bundle, nothing added.
    done = run("review", "import", str(real), *key, cwd=tmp_path, review_db=review_db)
    assert done.returncode == 0 and "already imported; nothing added" in text(done)


def test_terminal_controls_typed_into_the_form_never_reach_the_reviewers_terminal(
        station: Station, key_file: Path, tmp_path: Path) -> None:
    hostile = ("\x1b]0;PWNED-TITLE\x07 \x1b]52;c;UFdORUQ=\x07 \x1b[2J CSI\x9b31m OSC\x9d0;x\x9c"
               " NEL\x85 RLO\u202e LRM\u200e RLM\u200f ALM\u061c DEL\x7f end")
    [receipt] = send(station, tmp_path, "first: " + hostile)
    send(station, tmp_path, "follow-up: " + hostile, follows=receipt)
    bundle_path = export(station, tmp_path / "1.rptr")
    new_review_db(tmp_path / "review.db")
    key = ("--key", str(key_file))
    assert run("review", "import", str(bundle_path), *key, cwd=tmp_path).returncode == 0
    outputs = [run("review", *args, cwd=tmp_path) for args in (
        ("list",), ("show", "1"), ("show", "2"), ("stats",), ("export", "--format", "jsonl"))]
    for done in outputs:
        assert done.returncode == 0, done.stderr
        shown = text(done)
        assert not FORBIDDEN & set(shown), (sorted(FORBIDDEN & set(shown)), shown)
    shown = text(outputs[1])
    assert "\ufffd]0;PWNED-TITLE\ufffd" in shown and "CSI\ufffd31m" in shown
    assert "follow-up: \ufffd]0;PWNED-TITLE" in shown  # under the first report
    # The export is lossless: the escapes decode to exactly what the monitor typed.
    import json

    lines = outputs[4].stdout.decode("utf-8").splitlines()
    assert json.loads(lines[0])["report"]["fields"]["description"] == "first: " + hostile
