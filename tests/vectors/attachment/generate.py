"""Write the RPTR-ATT v1 test vectors in this folder (one attachment per file).

Run from the repository root::

    .venv/bin/python tests/vectors/attachment/generate.py            # every case
    .venv/bin/python tests/vectors/attachment/generate.py NAME ...   # only these

Every attachment here is built by ``craft`` below, a second, independent
writer that follows *Attachments* in ``docs/envelope-format.md`` with
libsodium and ``hashlib`` directly (it does not call
``reporter.formats.attachment``). With its defaults it writes what
``attachment.Writer`` writes; its keyword arguments break one rule at a time
while the rest stays consistent: the header stays the first chunk's
associated data and, unless the case is about them, the hashes in the
attachment object describe exactly the bytes in the file, so only the check
the case is about can refuse it.

Each file carries, in its header, the envelope's file key and the
attachment object exactly as the report body lists it (canonical JSON), so a
reader needs nothing else. The file keys and the files are fixed; the
secretstream header is drawn by libsodium on every run, so the **bytes**
change each time the script runs and the expectations do not. With names,
only those files are rewritten.
"""

from __future__ import annotations

import hashlib
import json
import random
import struct
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nacl.bindings as sodium

HERE = Path(__file__).resolve().parent

# The format, written out from the spec rather than imported from the code.
MAGIC = b"RPTR-ATT"
HEADER = struct.Struct(">8sBB")  # magic, version, index; then 24 bytes of secretstream header
HEADER_BYTES = 34
CHUNK = 64 * 1024
SS_ABYTES = 17
MIN_PADDED = 4096
CTX_KEY = b"reporter/attachment/v1/"
CTX_HASH = b"reporter/attachment-ciphertext/v1"
TAG_MESSAGE = 0
TAG_FINAL = 3

FILE_KEY = hashlib.sha256(b"reporter attachment vectors: file key").hexdigest()
OTHER_KEY = hashlib.sha256(b"reporter attachment vectors: another file key").hexdigest()


def padme(size: int) -> int:
    length = max(size, MIN_PADDED)
    exponent = length.bit_length() - 1
    mask = (1 << (exponent - exponent.bit_length())) - 1
    return (length + mask) & ~mask


def sealed_length(size: int) -> int:
    padded = padme(size)
    return HEADER_BYTES + padded + -(-padded // CHUNK) * SS_ABYTES


def key_for(file_key_hex: str, index: int) -> bytes:
    return hashlib.blake2b(CTX_KEY + bytes([index]), key=bytes.fromhex(file_key_hex),
                           digest_size=32).digest()


def ciphertext_hash(data: bytes) -> str:
    return hashlib.sha256(bytes([len(CTX_HASH)]) + CTX_HASH + data).hexdigest()


def sample(size: int, seed: int) -> bytes:
    """A JPEG by its first bytes, then deterministic filler."""
    magic = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"
    return (magic + random.Random(seed).randbytes(size))[:size]


def craft(original: bytes, index: int = 0, *, key_index: int | None = None,
          header_index: int | None = None, version: int = 1, magic: bytes = MAGIC,
          file_key: str = FILE_KEY, padding_byte: int = 0,
          tags: Callable[[int, int], int] | None = None, first_ad: bool = True) -> bytes:
    """``original`` sealed as attachment ``index``; the keywords break one rule each."""
    padded = padme(len(original))
    plaintext = original + bytes(padded - len(original))
    if padding_byte:
        plaintext = plaintext[:-1] + bytes([padding_byte])
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    ss_header = sodium.crypto_secretstream_xchacha20poly1305_init_push(
        state, key_for(file_key, index if key_index is None else key_index))
    header = HEADER.pack(magic, version, index if header_index is None else header_index)
    header += ss_header
    chunks = -(-padded // CHUNK)
    out = [header]
    for i in range(chunks):
        tag = tags(i, chunks) if tags else (TAG_FINAL if i == chunks - 1 else TAG_MESSAGE)
        out.append(sodium.crypto_secretstream_xchacha20poly1305_push(
            state, plaintext[i * CHUNK : (i + 1) * CHUNK], header if i == 0 and first_ad
            else None, tag))
    return b"".join(out)


def describe(original: bytes, sealed: bytes, index: int = 0, **changes: Any) -> dict[str, Any]:
    """The attachment object of the report body for this file (``changes`` override)."""
    item: dict[str, Any] = {
        "index": index,
        "name": "photo.jpg",
        "type": "image/jpeg",
        "size": len(original),
        "sha256": hashlib.sha256(original).hexdigest(),
        "ciphertext_size": sealed_length(len(original)),
        "ciphertext_hash": ciphertext_hash(sealed),
    }
    item.update(changes)
    return item


def flip(data: bytes, offset: int) -> bytes:
    return data[:offset] + bytes([data[offset] ^ 1]) + data[offset + 1 :]


@dataclass(frozen=True)
class Case:
    name: str
    expect: str
    item: dict[str, Any]
    data: bytes
    comment: str
    file_key: str = FILE_KEY


def cases() -> list[Case]:
    small = sample(3000, 1)
    two = sample(70_000, 2)  # Padme 71680: a full chunk and a 6144-byte one
    exact = sample(65_536, 3)  # Padme 65536: exactly one full chunk, tagged FINAL
    ok = craft(small)
    ok_two = craft(two)
    assert len(ok) == sealed_length(3000) == 4147 and len(ok_two) == sealed_length(70_000)

    def case(name: str, expect: str, original: bytes, sealed: bytes, comment: str,
             index: int = 0, **changes: Any) -> Case:
        return Case(name, expect, describe(original, sealed, index, **changes), sealed, comment)

    def consistent(name: str, expect: str, original: bytes, comment: str, **craft_args: Any,
                   ) -> Case:
        sealed = craft(original, **craft_args)
        return case(name, expect, original, sealed, comment)

    bad_hash = hashlib.sha256(b"another file").hexdigest()
    return [
        case("ok", "ok", small, ok, "a 3000-byte photo: Padme 4096, one chunk, 4147 bytes"),
        case("ok-two-chunks", "ok", two, ok_two,
             "70000 bytes: Padme 71680, a full chunk (MESSAGE) and one of 6144 bytes (FINAL)"),
        consistent("ok-exact-chunk", "ok", exact,
                   "65536 bytes: Padme 65536, exactly one full chunk, tagged FINAL"),
        consistent("ok-one-byte", "ok", b"\x00",
                   "a 1-byte file (a zero byte, like the padding): Padme 4096"),
        case("ok-third-attachment", "ok", small, craft(small, 2),
             "attachment index 2 (the third of its report), key and header for index 2",
             index=2),
        case("ciphertext-size-not-from-size", "invalid-report", small, ok,
             "the object's ciphertext_size is 4164 (L + 17) instead of L(3000) = 4147: the "
             "body is invalid before any attachment byte is read (step 1)",
             ciphertext_size=sealed_length(3000) + 17),
        case("size-zero", "invalid-report", small, ok,
             "the object's size is 0 (sizes are 1..2^40)", size=0),
        case("empty-file", "truncated", small, b"", "no byte of the attachment at all"),
        case("truncated-in-header", "truncated", small, ok[:20],
             "the first 20 bytes: ends inside the 34-byte header"),
        case("truncated-last-chunk", "truncated", small, ok[:-100],
             "the last 100 bytes missing (step 2)"),
        case("trailing-bytes", "malformed", small, ok + b"\x00",
             "one zero byte after the L bytes (step 2)"),
        case("flipped-byte-in-magic", "malformed", small, flip(ok, 0),
             "'RPTR-ATT' changed to 'SPTR-ATT' (step 3)"),
        consistent("unknown-version", "unknown-version", small,
                   "version byte 2, the header still the first chunk's associated data "
                   "(step 4)", version=2),
        consistent("index-in-header-differs", "tampered", small,
                   "sealed under the key for index 0 but the header says index 1, "
                   "consistently authenticated: only step 5 catches it", header_index=1),
        case("swapped-attachment", "tampered", small, craft(small, 1),
             "attachment 1 of the report (its key, its header) given as attachment 0, "
             "with hashes matching its bytes (step 5)"),
        case("other-file-key", "tampered", small, craft(small, file_key=OTHER_KEY),
             "sealed under another report's file key (step 6)"),
        case("flipped-byte-in-payload", "tampered", small, flip(ok, HEADER_BYTES + 50),
             "one bit of the first chunk flipped, the ciphertext hash over the flipped bytes "
             "(step 6)"),
        case("flipped-byte-in-secretstream-header", "tampered", small, flip(ok, 12),
             "one bit of the secretstream header flipped (step 6)"),
        consistent("first-chunk-without-header-ad", "tampered", small,
                   "the first chunk pushed without the header as associated data (step 6)",
                   first_ad=False),
        consistent("missing-final-tag", "tampered", two,
                   "two chunks, both tagged MESSAGE (step 7)",
                   tags=lambda i, n: TAG_MESSAGE),
        consistent("final-tag-on-first-chunk", "tampered", two,
                   "two chunks, the first tagged FINAL (step 7)",
                   tags=lambda i, n: TAG_FINAL if i == 0 else TAG_MESSAGE),
        consistent("nonzero-padding", "malformed", small,
                   "the last padding byte is 1, everything else consistent (step 8)",
                   padding_byte=1),
        case("ciphertext-hash-differs", "tampered", small, ok,
             "the object's ciphertext_hash is not this file's (step 9)",
             ciphertext_hash=ciphertext_hash(ok + b"x")),
        case("sha256-differs", "tampered", small, ok,
             "the object's sha256 is not the original's (step 10)", sha256=bad_hash),
    ]


def self_check() -> None:
    """reporter opens, byte for byte, what this writer makes."""
    sys.path.insert(0, str(HERE.parents[2]))
    from reporter.formats.attachment import Reader, ciphertext_size

    for size, seed in ((3000, 1), (70_000, 2), (65_536, 3), (1, 4)):
        original = sample(size, seed)
        sealed = craft(original, 1)
        assert ciphertext_size(size) == sealed_length(size) == len(sealed)
        item = describe(original, sealed, 1)
        reader = Reader(bytes.fromhex(FILE_KEY), 1, size, bytes.fromhex(item["sha256"]),
                        bytes.fromhex(item["ciphertext_hash"]))
        assert b"".join(reader.read([sealed[:777], sealed[777:]])) == original


def main(names: Sequence[str] = ()) -> None:
    self_check()
    every = cases()
    unknown = set(names) - {c.name for c in every}
    assert not unknown, f"no such case: {sorted(unknown)}"
    if not names:
        for old in HERE.iterdir():
            if old.is_file() and "." not in old.name:
                old.unlink()
    for c in every:
        if names and c.name not in names:
            continue
        item = json.dumps(c.item, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        lines = [f"expect: {c.expect}", f"file-key: {c.file_key}", f"attachment: {item}",
                 f"comment: {c.comment}"]
        text = "\n".join(lines) + "\n\n"
        assert "\n\n" not in text[:-2]
        (HERE / c.name).write_bytes(text.encode("utf-8") + c.data)
        print(f"{c.name:38} {c.expect:16} {len(c.data):7} bytes")


if __name__ == "__main__":
    main(sys.argv[1:])
