"""docs/instance-format.md shows the SQL of every migration, as the code runs it.

A reader of the spec (someone opening a station database with their own
tools, or checking a backup) must find the whole schema there: this test
reads each "Migration N" block of the document and compares it, statement by
statement, with ``reporter.station.store.MIGRATIONS``.
"""

from __future__ import annotations

import re
from pathlib import Path

from reporter.station.store import MIGRATIONS, SCHEMA_VERSION

DOC = Path(__file__).resolve().parents[2] / "docs" / "instance-format.md"
BLOCK = re.compile(r"^Migration (\d+)\b.*?```sql\n(.*?)```", re.MULTILINE | re.DOTALL)


def normalise(sql: str) -> str:
    """One statement with white space made irrelevant (around brackets and commas too)."""
    sql = re.sub(r"\s+", " ", sql.strip().rstrip(";"))
    return re.sub(r"\s*([(),])\s*", r"\1", sql)


def documented() -> dict[int, list[str]]:
    text = DOC.read_text(encoding="utf-8")
    return {int(number): [normalise(s) for s in block.split(";") if s.strip()]
            for number, block in BLOCK.findall(text)}


def test_the_document_shows_the_sql_of_every_migration() -> None:
    shown = documented()
    assert sorted(shown) == list(range(1, SCHEMA_VERSION + 1)), (
        f"docs/instance-format.md shows migrations {sorted(shown)}; the code has "
        f"1 to {SCHEMA_VERSION}")
    for number, statements in enumerate(MIGRATIONS, 1):
        assert shown[number] == [normalise(s) for s in statements], f"migration {number}"


def test_the_document_names_the_current_schema_version() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert f"{SCHEMA_VERSION} for the schema below (migrations 1 to {SCHEMA_VERSION})" in text
