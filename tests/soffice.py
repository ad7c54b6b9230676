"""LibreOffice headless for export tests, or a clear reason it is missing.

``soffice --convert-to ods`` opens a CSV (with a chosen separator and formula
evaluation on, as a reviewer's spreadsheet would) or an ``.xlsx``, and saves
what it understood as OpenDocument: ``content.xml`` then says which cells
became formulas (``table:formula``) and what every cell holds.

On a machine without LibreOffice these tests skip and say why; under CI
(``REPORTER_CI=1``, set by ``.ci/run``, which installs ``libreoffice-calc-nogui``)
a missing LibreOffice is a failure, as for the browser tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import pytest

TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
SEPARATORS = {",": 44, ";": 59, "\t": 9}
TIMEOUT = 180


def _unavailable(reason: str) -> None:
    if os.environ.get("REPORTER_CI") == "1":
        pytest.fail(f"LibreOffice tests cannot run in CI: {reason}")
    pytest.skip(reason)


@dataclass(frozen=True)
class Sheet:
    """What LibreOffice made of a file: every cell's text, row by row, and every formula."""

    rows: list[list[str]]
    formulas: list[str]

    def cells(self) -> list[str]:
        return [cell for row in self.rows for cell in row]


@dataclass(frozen=True)
class LibreOffice:
    executable: str
    profile: Path

    def open(self, src: Path, separator: str | None = None) -> Sheet:
        """``src`` as LibreOffice reads it: a CSV split on ``separator`` (character set
        UTF-8, quotes ``"``, formulas evaluated), or any file it can open."""
        out = Path(tempfile.mkdtemp(prefix=f"{src.name}-", dir=src.parent))
        command = [self.executable, f"-env:UserInstallation={self.profile.as_uri()}",
                   "--headless", "--norestore"]
        if separator is not None:
            # separator, text delimiter ", UTF-8 (76), start at line 1, column formats
            # default, language en-US, quoted field as text: no, detect special numbers:
            # no, ..., evaluate formulas: yes (the last field).
            command.append(f"--infilter=CSV:{SEPARATORS[separator]},34,76,1,,1033,"
                           "false,false,false,false,false,-1,true")
        command += ["--convert-to", "ods", "--outdir", str(out), str(src)]
        done = subprocess.run(command, capture_output=True, timeout=TIMEOUT, check=False)
        converted = out / (src.stem + ".ods")
        assert converted.exists(), (done.returncode, done.stdout, done.stderr)
        with zipfile.ZipFile(converted) as ods:
            content = ods.read("content.xml")
        return _sheet(content)


def _text(paragraph: ElementTree.Element) -> str:
    parts = [paragraph.text or ""]
    for child in paragraph:
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "s":
            parts.append(" " * int(child.get(f"{{{TEXT}}}c", "1")))
        elif tag == "tab":
            parts.append("\t")
        elif tag == "line-break":
            parts.append("\n")
        else:
            parts.append(_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _sheet(content: bytes) -> Sheet:
    root = ElementTree.fromstring(content)  # noqa: S314 (LibreOffice's own output)
    rows, formulas = [], []
    for element in root.iter():
        if element.get(f"{{{TABLE}}}formula") is not None:
            formulas.append(element.get(f"{{{TABLE}}}formula") or "")
    for row in root.iter(f"{{{TABLE}}}table-row"):
        cells = []
        for cell in row:
            text = "\n".join(_text(p) for p in cell.iter(f"{{{TEXT}}}p"))
            repeat = int(cell.get(f"{{{TABLE}}}number-columns-repeated", "1"))
            cells += [text] * min(repeat, 64)
        while cells and cells[-1] == "":
            cells.pop()
        rows.append(cells)
    return Sheet(rows, formulas)


@pytest.fixture(scope="session")
def libreoffice(tmp_path_factory: pytest.TempPathFactory) -> LibreOffice:
    executable = shutil.which("soffice") or shutil.which("libreoffice")
    if executable is None:
        _unavailable("LibreOffice is not installed (apt-get install libreoffice-calc-nogui)")
    assert executable is not None
    # A profile of its own: never the user's, and no lock shared with a running office.
    return LibreOffice(executable, tmp_path_factory.mktemp("libreoffice-profile"))
