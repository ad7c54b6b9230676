"""Write the RPTR-ENV v1 test vectors in this folder (one file per case).

Run from the repository root::

    .venv/bin/python tests/vectors/envelope/generate.py

Every envelope here is built by ``craft`` below, a second, independent writer
that follows ``docs/envelope-format.md`` using libsodium directly; it does not
call ``reporter.formats.envelope``. With its defaults it writes exactly what
``reporter.formats.envelope.seal`` writes; its keyword arguments let a case break one
rule at a time while everything else (including the authentication of the
header) stays valid, so that each vector exercises one reader check.

Envelopes use fresh randomness (file key, ephemeral keys, secretstream
header), so the bytes change every time this script runs. The expectations do
not: the outcome, and for ``ok`` cases the body's SHA-256 and length, are the
same on every run. See README.md.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Sequence
from pathlib import Path

import nacl.bindings as sodium

from reporter.formats.report import Report

HERE = Path(__file__).resolve().parent

# Fixed reviewer private keys (X25519). Test keys only: they are public.
IDENTITY_A = "e615c213ab214192abb390161da77e7832ff12f0d464ff1ce0cfd893001f8f37"
IDENTITY_B = "f9c24ff84be2d691bc312cf4696ad7636a6ed37ba775c3b8ca727002faa3e140"
IDENTITY_C = "f27562182c3bda6fdf318b57e394e4b3357fd5a5a4ba11088651a27945b34e3a"
IDENTITY_D = "f85813376a441c1b821d2edd082317f96fc2549375f3c7f2498003711e3d211e"

# The format, written out from the spec rather than imported from the code.
MAGIC = b"RPTR-ENV"
FIXED_HEADER = struct.Struct(">8sBBI")  # magic, version, recipient count n, padded length P
FIXED_BYTES = 14
STANZA_BYTES = 80
SS_HEADER_BYTES = 24
SS_ABYTES = 17
CHUNK = 64 * 1024
MIN_PADDED = 4 * 1024
CTX_PAYLOAD = b"reporter/envelope/v1/payload"
TAG_MESSAGE = 0
TAG_FINAL = 3


def public_key(identity_hex: str) -> bytes:
    return sodium.crypto_scalarmult_base(bytes.fromhex(identity_hex))


def padded_size(body_length: int) -> int:
    size = MIN_PADDED
    while size < body_length + 4:
        size *= 2
    return size


def craft(
    body: bytes,
    recipients: Sequence[str],
    *,
    version: int = 1,
    count: int | None = None,
    padded: int | None = None,
    length_prefix: int | None = None,
    padding_byte: int = 0,
    tags: Callable[[int, int], int] | None = None,
    first_ad: bool = True,
    ad_on_every_chunk: bool = False,
    derive_payload_key: bool = True,
) -> bytes:
    """An envelope for ``body`` sealed to the public keys of ``recipients``.

    The defaults give a valid envelope. ``count``/``padded``/``version`` put
    other values in the fixed header (the stanzas and payload still follow the
    real recipients and the real bucket unless ``padded`` is given, in which
    case the plaintext really is ``padded`` bytes long). ``length_prefix`` and
    ``padding_byte`` change the sealed plaintext; ``tags(index, chunks)``
    chooses each chunk's tag; ``first_ad``/``ad_on_every_chunk`` change which
    chunks carry the header as associated data; ``derive_payload_key=False``
    uses the file key itself as the payload key.
    """
    padded = padded_size(len(body)) if padded is None else padded
    count = len(recipients) if count is None else count
    file_key = sodium.randombytes(32)
    payload_key = (
        hashlib.blake2b(CTX_PAYLOAD, key=file_key, digest_size=32).digest()
        if derive_payload_key else file_key
    )
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    ss_header = sodium.crypto_secretstream_xchacha20poly1305_init_push(state, payload_key)
    header = b"".join([
        FIXED_HEADER.pack(MAGIC, version, count, padded),
        *(sodium.crypto_box_seal(file_key, public_key(r)) for r in recipients),
        ss_header,
    ])
    prefix = len(body) if length_prefix is None else length_prefix
    plaintext = struct.pack(">I", prefix) + body
    padding = padded - len(plaintext)
    assert padding >= 0, "body does not fit the padded length"
    plaintext += bytes(padding)
    if padding_byte:
        assert padding > 0, "no padding to make non-zero"
        plaintext = plaintext[:-1] + bytes([padding_byte])
    chunks = (padded + CHUNK - 1) // CHUNK
    out = [header]
    for index in range(chunks):
        tag = tags(index, chunks) if tags else (TAG_FINAL if index == chunks - 1 else TAG_MESSAGE)
        ad = header if (index == 0 and first_ad) or ad_on_every_chunk else None
        out.append(sodium.crypto_secretstream_xchacha20poly1305_push(
            state, plaintext[index * CHUNK : (index + 1) * CHUNK], ad, tag))
    return b"".join(out)


def flip(data: bytes, offset: int, mask: int = 0x01) -> bytes:
    return data[:offset] + bytes([data[offset] ^ mask]) + data[offset + 1 :]


def report_body(description: str, receipt: str) -> bytes:
    return Report(
        kind="incident",
        receipt=receipt,
        locale="fr",
        submitted="2026-11-02",
        fields={
            "incident_types": ["shooting", "intimidation-of-monitors"],
            "incident_date": "2026-11-01",
            "site": "Marange",
            "description": description,
            "source": "witnessed",
            "contact": "none",
        },
    ).to_body()


SMALL_BODY = report_body(
    "Des soldats ont tiré sur des creuseurs près de la rivière; deux blessés.",
    "7KQM-3XHD-9TWA-R25V",
)
# More than 64 KiB, so the payload has two full chunks (P = 128 KiB).
LARGE_BODY = report_body(
    ("Témoignage recueilli à Tshikapa, répété pour remplir plusieurs blocs. " * 1400)[:90_000],
    "0PEN-1NGR-EP0R-T5DK",
)
EDGE_BODY = bytes(range(256)) * 15 + bytes(range(252))  # 4092 bytes: P = 4096, no padding
assert len(EDGE_BODY) == 4092
assert len(LARGE_BODY) > CHUNK and padded_size(len(LARGE_BODY)) == 2 * CHUNK

STANZA_0 = FIXED_BYTES
SS_HEADER_1 = FIXED_BYTES + STANZA_BYTES  # where the secretstream header starts with n = 1


def cases() -> list[tuple[str, str, str, bytes | None, bytes, str]]:
    """(name, expect, identity, body for ok cases, envelope, comment)."""
    a, b, c, d = IDENTITY_A, IDENTITY_B, IDENTITY_C, IDENTITY_D
    small = craft(SMALL_BODY, [a])
    large = craft(LARGE_BODY, [a])
    last_chunk = CHUNK + SS_ABYTES
    large_payload = FIXED_BYTES + STANZA_BYTES + SS_HEADER_BYTES
    chunk_1 = large[large_payload : large_payload + last_chunk]
    chunk_2 = large[large_payload + last_chunk :]
    assert len(chunk_2) == last_chunk
    return [
        ("ok", "ok", a, SMALL_BODY, small,
         "one recipient, a report body in the smallest bucket (P = 4096, one chunk)"),
        ("ok-second-of-three-recipients", "ok", b, SMALL_BODY, craft(SMALL_BODY, [a, b, c]),
         "sealed to A, B, C; opened with B: a reader tries every stanza"),
        ("ok-multi-chunk", "ok", a, LARGE_BODY, large,
         "body over 64 KiB: P = 131072, two chunks, the first TAG_MESSAGE, the second TAG_FINAL"),
        ("ok-empty-body", "ok", a, b"", craft(b"", [a]),
         "empty body: length prefix 0, then 4092 zero bytes"),
        ("ok-bucket-edge", "ok", a, EDGE_BODY, craft(EDGE_BODY, [a]),
         "4092-byte body: 4 + 4092 = P = 4096 exactly, no padding bytes"),
        ("ok-larger-bucket-than-needed", "ok", a, SMALL_BODY,
         craft(SMALL_BODY, [a], padded=8192),
         "small body padded to 8192 instead of 4096: readers accept any valid P, "
         "they do not require the smallest bucket"),
        ("wrong-recipient", "not-a-recipient", b, None, craft(SMALL_BODY, [a, c]),
         "sealed to A and C; opened with B"),
        ("empty-file", "truncated", a, None, b"",
         "zero bytes"),
        ("truncated-in-fixed-header", "truncated", a, None, small[:10],
         "ends inside the 14-byte fixed header"),
        ("truncated-in-header", "truncated", a, None, small[:50],
         "ends inside the recipient stanza"),
        ("truncated-last-chunk", "truncated", a, None, small[:-100],
         "the last 100 bytes of the final (here the only) chunk are missing"),
        ("truncated-at-chunk-boundary", "truncated", a, None, large[:-last_chunk],
         "two-chunk envelope with the whole final chunk dropped: what is left ends "
         "exactly after a complete chunk"),
        ("trailing-bytes", "malformed", a, None, small + b"\x00",
         "a valid envelope followed by one zero byte"),
        ("flipped-byte-in-magic", "malformed", a, None, flip(small, 0),
         "first magic byte 'R' changed to 'S'"),
        ("flipped-byte-in-stanza", "not-a-recipient", a, None, flip(small, STANZA_0 + 40),
         "one bit of the only stanza flipped: a damaged stanza cannot be told apart "
         "from a stanza for another key"),
        ("flipped-byte-in-other-stanza", "tampered", a, None,
         flip(craft(SMALL_BODY, [a, b]), STANZA_0 + STANZA_BYTES + 40),
         "sealed to A and B, one bit of B's stanza flipped, opened with A: A's stanza "
         "opens but the header no longer authenticates the first chunk"),
        ("flipped-byte-in-padded-length", "malformed", a, None, flip(small, 13),
         "P changed from 4096 to 4097, which is not a power of two"),
        ("flipped-byte-in-secretstream-header", "tampered", a, None, flip(small, SS_HEADER_1),
         "first byte of the secretstream header flipped"),
        ("flipped-byte-in-payload", "tampered", a, None, flip(small, len(small) - 2000),
         "one bit of the only chunk flipped"),
        ("flipped-byte-in-final-chunk", "tampered", a, None, flip(large, len(large) - 5),
         "one bit of the second chunk (in its MAC) of a two-chunk envelope flipped"),
        ("swapped-chunks", "tampered", a, None,
         large[:large_payload] + chunk_2 + chunk_1,
         "the two (equal-sized) chunks of a two-chunk envelope in reverse order"),
        ("final-tag-on-first-chunk", "tampered", a, None,
         craft(LARGE_BODY, [a], tags=lambda i, n: TAG_FINAL),
         "every chunk authenticates, but the first is tagged TAG_FINAL: the stream "
         "claims to end before the last chunk"),
        ("missing-final-tag", "tampered", a, None,
         craft(SMALL_BODY, [a], tags=lambda i, n: TAG_MESSAGE),
         "the only chunk authenticates, but it is tagged TAG_MESSAGE instead of TAG_FINAL"),
        ("first-chunk-without-header-ad", "tampered", a, None,
         craft(SMALL_BODY, [a], first_ad=False),
         "the first chunk was sealed with empty associated data instead of the header"),
        ("header-ad-on-every-chunk", "tampered", a, None,
         craft(LARGE_BODY, [a], ad_on_every_chunk=True),
         "the second chunk was also sealed with the header as associated data; only "
         "the first chunk carries it"),
        ("payload-key-not-derived", "tampered", a, None,
         craft(SMALL_BODY, [a], derive_payload_key=False),
         "the payload was encrypted under the file key itself instead of "
         "BLAKE2b(key=file_key, 'reporter/envelope/v1/payload')"),
        ("unknown-version", "unknown-version", a, None, craft(SMALL_BODY, [a], version=2),
         "version byte 2; otherwise a valid envelope whose header (with the 2) is "
         "authenticated"),
        ("zero-recipients", "malformed", a, None, craft(SMALL_BODY, [], count=0),
         "n = 0 and no stanza"),
        ("too-many-recipients", "malformed", a, None,
         craft(SMALL_BODY, [a] + [b, c, d] * 21 + [b]),
         "n = 65 with 65 stanzas (the first for A): at most 64 are allowed"),
        ("nonzero-padding", "malformed", a, None, craft(SMALL_BODY, [a], padding_byte=0x01),
         "authenticates, but the last padding byte is 0x01"),
        ("body-length-exceeds-padded-length", "malformed", a, None,
         craft(SMALL_BODY, [a], length_prefix=4093),
         "authenticates, but the length prefix says 4093 > P - 4 = 4092"),
        ("padded-length-not-power-of-two", "malformed", a, None,
         craft(SMALL_BODY, [a], padded=6144),
         "P = 6144 with a matching 6144-byte payload: P must be a power of two"),
        ("padded-length-too-small", "malformed", a, None,
         craft(SMALL_BODY, [a], padded=2048),
         "P = 2048 with a matching payload: P must be at least 4096"),
        ("padded-length-too-large", "malformed", a, None,
         small[:10] + struct.pack(">I", 8 * 1024 * 1024) + small[14:],
         "P = 8 MiB declared (bytes 10..13 = 00 80 00 00): P must be at most 4 MiB"),
        ("padded-length-lies", "truncated", a, None,
         small[:10] + struct.pack(">I", 8192) + small[14:],
         "P changed from 4096 to 8192 in a 4096-byte envelope: it is shorter than "
         "its header says"),
        ("header-length-lies", "truncated", a, None, craft(SMALL_BODY, [a], count=2),
         "n = 2 but only one stanza: the envelope is 80 bytes shorter than its "
         "header says"),
        ("header-length-lies-fewer-recipients", "malformed", a, None,
         craft(SMALL_BODY, [a, b], count=1),
         "n = 1 but two stanzas: the envelope is 80 bytes longer than its header says"),
    ]


def main() -> None:
    for old in HERE.iterdir():
        if old.is_file() and "." not in old.name:
            old.unlink()
    for name, expect, identity, body, data, comment in cases():
        lines = [f"expect: {expect}", f"identity: {identity}"]
        if expect == "ok":
            assert body is not None
            lines.append(f"body-sha256: {hashlib.sha256(body).hexdigest()}")
            lines.append(f"body-length: {len(body)}")
        lines.append(f"comment: {comment}")
        text = "\n".join(lines) + "\n\n"
        assert "\n\n" not in text[:-2]
        (HERE / name).write_bytes(text.encode("utf-8") + data)
        print(f"{name:40} {expect:16} {len(data):8} bytes")


if __name__ == "__main__":
    main()
