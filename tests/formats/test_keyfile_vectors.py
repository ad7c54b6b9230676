"""Every file in tests/vectors/keyfile/ opens (or fails) exactly as it says.

The vectors are written by an independent writer (``generate.py`` in that
folder), so they check ``reporter.formats.keyfile`` against
docs/key-file-format.md, not against itself. See that folder's README.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reporter.errors import KeyFileError, ReporterError, WrongPassphrase
from reporter.formats import keyfile
from tests.vectorfile import load, vector_files

VECTORS = Path(__file__).parents[1] / "vectors" / "keyfile"

EXPECTED_ERRORS: dict[str, type[ReporterError]] = {
    "key-file-error": KeyFileError,
    "wrong-passphrase": WrongPassphrase,
}

# The cases the spec names; the folder may hold more, never fewer.
REQUIRED = {
    "ok", "ok-reindented", "ok-passphrase-nfd", "wrong-passphrase", "extra-field",
    "kdf-extra-key", "kdf-extra-key-in-aad", "version-true", "version-float",
    "version-exponent", "version-string", "public-key-not-the-private-key",
    "warning-missing", "too-large",
}


def test_the_required_cases_are_all_there() -> None:
    names = {p.name for p in vector_files(VECTORS)}
    assert REQUIRED <= names, sorted(REQUIRED - names)


@pytest.mark.parametrize("path", vector_files(VECTORS), ids=lambda p: p.name)
def test_vector(path: Path) -> None:
    vector = load(path)
    allowed = {"expect", "passphrase", "comment"} | ({"identity"} if vector.expect == "ok"
                                                      else set())
    assert set(vector.header) <= allowed, f"unknown header keys {set(vector.header) - allowed}"
    assert {"expect", "passphrase", "comment"} <= set(vector.header)
    passphrase = vector.header["passphrase"]

    if vector.expect == "ok":
        private_key = keyfile.load(vector.data, passphrase)
        assert private_key.raw() == vector.identity.raw()
        assert keyfile.public_key_of(vector.data) == vector.identity.public_key
    else:
        error = EXPECTED_ERRORS[vector.expect]
        with pytest.raises(ReporterError) as raised:
            keyfile.load(vector.data, passphrase)
        assert type(raised.value) is error, (
            f"{vector.name}: expected {error.__name__}, got "
            f"{type(raised.value).__name__}: {raised.value}")


def test_a_reader_that_rebuilds_the_aad_from_the_documented_fields_would_open_kdf_extra_key(
) -> None:
    """Why the vector matters: only the rule, not the AEAD, stops that reader."""
    import base64
    import json

    from reporter.formats.crypto import KdfParams, aead_decrypt, derive_key

    vector = load(VECTORS / "kdf-extra-key")
    document = json.loads(vector.data)
    kdf = {k: document["kdf"][k] for k in ("algorithm", "opslimit", "memlimit", "salt")}
    header = {k: document[k] for k in ("format", "version", "warning", "public_key", "cipher")}
    aad = json.dumps({**header, "kdf": kdf}, sort_keys=True, separators=(",", ":")).encode()
    key = derive_key(vector.header["passphrase"], KdfParams.from_json(kdf))
    raw = aead_decrypt(key, base64.b64decode(document["nonce"]),
                       base64.b64decode(document["ciphertext"]), aad)
    assert len(raw) == 32  # it opens: a reader must refuse the file by rule (step 7)
