"""Format checks a modified station could otherwise slip past the reviewers, end to end.

A station running modified software (the threat model's malicious operator)
holds the signing key, so it can sign whatever it likes; what it cannot do
is make the reviewers' tools accept a report that breaks the envelope
format. Here it hides bytes in an envelope's padding (a covert channel: the
padding must be zero), stores the envelope in its log as any other, and the
real ``reporter export`` signs it into a bundle; the reviewer's real
``review import`` refuses the bundle and imports nothing.

And a courier's change to the length of a bundle is named before anything is
decrypted: ``reporter verify`` says the file has bytes after its end, with
any key, even one the bundle is not addressed to.

And a reviewer's key file whose header was edited (its words, its public
key) does not open, even with the right passphrase.

Fail when ``tests/mutants.py``'s ``envelope-padding``,
``bundle-trailing-bytes`` or ``key-file-aad`` is applied; before, one test
vector caught the first, no test the second and unit tests only the third
(``docs/testing.md``, "Mutation checks").
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import nacl.bindings as sodium
import pytest

from reporter.formats import envelope
from reporter.formats.crypto import RecipientPublicKey, subkey
from reporter.station.intake import build_report
from tests.conftest import Station, valid_report
from tests.e2e.test_recipients import Field, make_field_station, reports_named

pytestmark = pytest.mark.slow


@pytest.fixture
def field_station(tmp_path: Path) -> Field:
    """A station with three reviewers (``test_recipients.ADDED``), made with the CLI."""
    return make_field_station(tmp_path)


def seal_with_hidden_padding(body: bytes, recipients: list[RecipientPublicKey],
                             hidden: bytes) -> bytes:
    """``envelope.seal``, except that ``hidden`` is written into the padding."""
    padded = envelope.padded_size(len(body))
    file_key = envelope.new_file_key()
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    ss_header = sodium.crypto_secretstream_xchacha20poly1305_init_push(
        state, subkey(file_key, envelope.CTX_PAYLOAD))
    header = b"".join([envelope.FIXED_HEADER.pack(envelope.MAGIC, envelope.VERSION,
                                                  len(recipients), padded),
                       *(r.seal(file_key) for r in recipients), ss_header])
    plaintext = struct.pack(">I", len(body)) + body + hidden
    plaintext += bytes(padded - len(plaintext))
    out = [header]
    for index, start in enumerate(range(0, padded, envelope.CHUNK)):
        out.append(sodium.crypto_secretstream_xchacha20poly1305_push(
            state, plaintext[start : start + envelope.CHUNK], header if index == 0 else None,
            envelope.TAG_FINAL if start + envelope.CHUNK >= padded else envelope.TAG_MESSAGE))
    return b"".join(out)


def test_bytes_hidden_in_an_envelopes_padding_are_refused_at_import(
        field_station: Field, tmp_path: Path) -> None:
    station: Station = field_station.station
    cli = field_station.cli
    zawadi = field_station.reviewers[0]
    with station.store() as store:
        recipients = [r.public_key for r in store.recipients()]
        body = build_report(valid_report(description="an ordinary report"), "en").to_body()
        store.append_report(seal_with_hidden_padding(body, recipients, b"CNRY-covert"),
                            station.station_id)

    bundle = tmp_path / "bundle-1.rptr"
    code, out, err = cli("export", "--out", str(bundle))  # signed like any other
    assert code == 0 and reports_named(out) == (1, 1), err
    review = ("review", "--review-db", str(zawadi.review_db))
    code, out, err = cli(*review, "import", str(bundle), "--key", str(zawadi.key_file))
    assert code != 0, out
    assert "padding" in err, err
    code, out, err = cli(*review, "export", "--format", "jsonl")
    assert code == 0, err
    assert [json.loads(line) for line in out.splitlines()] == []


def test_bytes_a_courier_appended_are_named_before_anything_is_decrypted(
        field_station: Field, tmp_path: Path) -> None:
    """With a key the bundle is not addressed to, nothing can be decrypted: that the
    error names the extra bytes shows the length was checked first."""
    station, cli = field_station.station, field_station.cli
    with station.store() as store:
        recipients = [r.public_key for r in store.recipients()]
        body = build_report(valid_report(), "en").to_body()
        store.append_report(envelope.seal(body, recipients), station.station_id)
    bundle = tmp_path / "bundle-1.rptr"
    code, _, err = cli("export", "--out", str(bundle))
    assert code == 0, err
    bundle.write_bytes(bundle.read_bytes() + b"appended by the courier")

    outsider = tmp_path / "outsider.key"
    code, _, err = cli("keygen", "--out", str(outsider), "--kdf", "interactive")
    assert code == 0, err
    for key in (outsider, field_station.reviewers[0].key_file):
        code, out, err = cli("verify", str(bundle), "--key", str(key))
        assert code != 0, out
        assert "after its end" in err, err


def test_a_key_file_with_an_edited_header_does_not_open(
        field_station: Field, tmp_path: Path) -> None:
    """Every header field is bound to the sealed private key: a file whose warning was
    reworded, or which names another public key, is refused by the real CLI."""
    station, cli = field_station.station, field_station.cli
    zawadi, amina = field_station.reviewers[:2]
    with station.store() as store:
        recipients = [r.public_key for r in store.recipients()]
        store.append_report(envelope.seal(build_report(valid_report(), "en").to_body(),
                                          recipients), station.station_id)
    bundle = tmp_path / "bundle-1.rptr"
    code, _, err = cli("export", "--out", str(bundle))
    assert code == 0, err
    code, _, err = cli("verify", str(bundle), "--key", str(zawadi.key_file))
    assert code == 0, err  # control: the file as made opens

    document = json.loads(zawadi.key_file.read_text())
    edits = {"warning": document["warning"].replace("Keep", "You may share"),
             "public_key": amina.public}
    for field_name, value in edits.items():
        edited = tmp_path / f"edited-{field_name}.key"
        edited.write_text(json.dumps({**document, field_name: value}, indent=2))
        code, out, err = cli("verify", str(bundle), "--key", str(edited))
        assert code != 0, f"{field_name}: {out}"
        assert "altered" in err or "does not match" in err, err
