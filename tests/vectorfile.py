"""Reading test-vector files (``tests/vectors/*/``): a ``key: value`` header,
a blank line, then the raw bytes. One reader for every format's vectors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reporter.formats.crypto import RecipientPrivateKey


@dataclass(frozen=True)
class Vector:
    name: str
    header: dict[str, str]
    data: bytes

    @property
    def expect(self) -> str:
        return self.header["expect"]

    @property
    def identity(self) -> RecipientPrivateKey:
        return RecipientPrivateKey(bytes.fromhex(self.header["identity"]))


def load(path: Path) -> Vector:
    raw = path.read_bytes()
    head, separator, data = raw.partition(b"\n\n")
    assert separator, f"{path.name}: no blank line after the header"
    header: dict[str, str] = {}
    for line in head.decode("utf-8").split("\n"):
        key, colon, value = line.partition(": ")
        assert colon and key and value, f"{path.name}: bad header line {line!r}"
        assert key not in header, f"{path.name}: {key} appears twice"
        header[key] = value
    return Vector(path.name, header, data)


def vector_files(folder: Path) -> list[Path]:
    """The vector files of ``folder`` (files without a dot: not the generator or README)."""
    return sorted(p for p in folder.iterdir() if p.is_file() and "." not in p.name)
