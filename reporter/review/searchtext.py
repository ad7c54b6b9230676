"""The text a reviewer's search looks at, folded (``filters.py``, ``schema.py``, ``db_records.py``).

``fold``: Unicode-aware case folding after NFC. ``body_text``: every value of
a report body (every field, code, date and receipt, not the JSON keys), one
per line, folded, but a follow-up's own receipt code (no monitor knows it).
A search for ``needle`` matches a report when ``fold(needle)`` is a substring
of ``body_text(body)``; the full-text index (``reports_fts``, made by
``db._MIGRATION_FTS``) holds exactly this text, so that it answers the same.
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any


def fold(text: str | None) -> str | None:
    """Unicode-aware case folding, after NFC, for case-insensitive matching."""
    if text is None:
        return None
    return unicodedata.normalize("NFC", str(text)).casefold()


def body_text(body: str | None) -> str | None:
    """Every value in a report body, folded, one per line, but a follow-up's own
    receipt code. Never raises: it runs inside SQLite, on bodies a station sent
    (iterative, so depth cannot hurt)."""
    if body is None:
        return None
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return fold(body)
    if isinstance(document, dict) and document.get("kind") == "follow-up":
        document = {k: v for k, v in document.items() if k != "receipt"}
    pending: list[Any] = [document]
    values: list[str] = []
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif value is not None:
            values.append(str(value))
    return fold("\n".join(values))
