"""docs/envelope-format.md, *The body*, is enough to write and check a body.

Its canonical-JSON rules, re-implemented here from the text alone, give
exactly ``Report.to_body``'s bytes (escapes included); its examples are
canonical, valid bodies with the documented ``fields``; and its receipt-code
grammar, re-implemented with hashlib, gives the codes ``receipt.py`` makes.
"""

from __future__ import annotations

import hashlib
import re
import struct
from pathlib import Path
from typing import Any

import pytest

from reporter.formats.receipt import ALPHABET, new_receipt, parse_receipt
from reporter.formats.report import Report

DOC = Path(__file__).resolve().parents[2] / "docs" / "envelope-format.md"


def section(title: str) -> str:
    """From ``title`` to the next heading of the same or a higher level."""
    text = DOC.read_text(encoding="utf-8")
    start = text.index(title)
    level = title.split(" ", 1)[0]
    ends = [i for i in (text.find(f"\n{'#' * n} ", start + len(title))
                        for n in range(1, len(level) + 1)) if i > 0]
    return text[start : min(ends) if ends else None]


# --- canonical JSON, as the spec spells it ---------------------------------------

SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n",
                 "\f": "\\f", "\r": "\\r"}


def quote(text: str) -> str:
    out = []
    for char in text:
        if char in SHORT_ESCAPES:
            out.append(SHORT_ESCAPES[char])
        elif ord(char) < 0x20:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def canonical(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, list):
        return "[" + ",".join(canonical(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ",".join(f"{quote(k)}:{canonical(value[k])}" for k in sorted(value)) + "}"


def report(description: str, **fields: Any) -> Report:
    return Report(kind="incident", receipt="7KQM-3XHD-9TWA-R25V", locale="fr",
                  submitted="2026-11-02", fields={"description": description, **fields})


@pytest.mark.parametrize("text", [
    "".join(chr(c) for c in range(0x80)),  # every ASCII character, controls and DEL
    "é à ç ñ ß ø — “quotes” ‘single’ … € 🙂",
    "line\u2028separator\u2029paragraph, slash / and backslash \\",
    "",
])
def test_the_spelled_out_rules_give_the_same_bytes_as_the_writer(text: str) -> None:
    body = report(text, people_affected=-0, women_affected=1_000_000, site=None,
                  incident_types=["shooting", "other"], location=text[:5])
    document = {"schema": 2, "kind": "incident", "form": "incident/1",
                "receipt": "7KQM-3XHD-9TWA-R25V", "follows": None, "locale": "fr",
                "submitted": "2026-11-02", "fields": body.fields, "attachments": []}
    assert canonical(document).encode("utf-8") == body.to_body()


def test_the_control_character_escapes_are_lower_case_hex() -> None:
    assert b'"\\u001f\\u0001\x7f"' in report("\x1f\x01\x7f").to_body()


# --- the examples and the fields tables -------------------------------------------

def table_keys(title: str) -> list[str]:
    return re.findall(r"^\| `([a-z_]+)` \|", section(title), re.MULTILINE)


def examples() -> list[bytes]:
    return [block.encode("utf-8")
            for block in re.findall(r"```json\n(.*?)\n```", section("## The body"), re.DOTALL)]


def test_the_examples_are_canonical_valid_bodies_with_the_documented_fields() -> None:
    incident, follow_up = examples()
    for body in (incident, follow_up):
        assert Report.from_body(body).to_body() == body
    first = Report.from_body(incident)
    assert first.form == "incident/1"
    assert sorted(first.fields) == sorted(table_keys("### `fields` of `incident/1`"))
    second = Report.from_body(follow_up)
    assert (second.form, second.follows) == ("follow-up/1", first.receipt)
    assert list(second.fields) == ["description"]


# --- receipt codes, as the spec spells them ---------------------------------------

def check_characters(data: str) -> str:
    context = b"reporter/receipt-check/v1"
    framed = (bytes([len(context)]) + context + struct.pack(">Q", len(data))
              + data.encode("ascii"))
    value = int.from_bytes(hashlib.blake2b(framed, digest_size=2).digest(), "big") >> 6
    return ALPHABET[value >> 5] + ALPHABET[value & 31]


def test_the_receipt_grammar_and_worked_example() -> None:
    text = section("### Receipt codes")
    assert "`7KQM3XHD9TWAR2`, the digest is `2e e7`" in text
    assert check_characters("7KQM3XHD9TWAR2") == "5V"
    grammar = re.compile(r"[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}")
    for _ in range(200):
        code = new_receipt()
        assert grammar.fullmatch(code), code
        raw = code.replace("-", "")
        assert raw[14:] == check_characters(raw[:14])


@pytest.mark.parametrize("typed", ["7kqm 3xhd 9twa r25v", "7KQM3XHD9TWAR25V",
                                   "7KQM-3XHD-9TWA-R25V\t", "7KQM-3XHD-9TWA-R25V"])
def test_the_documented_normalisation(typed: str) -> None:
    assert parse_receipt(typed) == "7KQM-3XHD-9TWA-R25V"
