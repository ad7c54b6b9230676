"""Every code a report can carry has one term of the HURIDOCS micro-thesauri, and that
term is the one OpenEvSys publishes under that code (``docs/vocabulary.md``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reporter.formats import report
from reporter.review import vocabulary

DOC = Path(__file__).resolve().parents[2] / "docs" / "vocabulary.md"
# The published terms of the codes used, from OpenEvSys's load of the micro-thesauri
# (schema/mysql-dbpopulate-mt.sql @8dce5d1c: list_code 4 = types_of_acts, 24 =
# types_of_perpetrators), with their parents: copied by hand, checked against the module.
PUBLISHED = {
    (4, "010000000000"): "Violations of the right to life",
    (4, "010100000000"): "Direct actions which violate the right to life",
    (4, "020100000000"): "Direct violations against personal integrity",
    (4, "020101000000"): "Physical assaults, including domestic violence",
    (4, "020102000000"): "Sexual violations",
    (4, "020103000000"): "Psychological assault, harassment",
    (4, "300102010000"): "Involuntary or forced labour",
    (4, "310100000000"): "Direct actions which violate the rights of children and juveniles",
    (4, "510100000000"): "Direct actions which violate the right to adequate housing",
    (4, "540100000000"): "Direct actions which violate the right to a healthy environment",
    (4, "900000000000"): "Other",
    (24, "010100000000"): "Executive",
    (24, "010104000000"): "Police",
    (24, "020000000000"): "Non-governmental entities",
    (24, "020400000000"): "Private security guards",
    (24, "210100000000"): "Corporations",
    (24, "900000000000"): "Others",
    (24, "990000000000"): "Unknown",
}


@pytest.mark.parametrize(("codes", "terms"), [
    (report.INCIDENT_TYPES, vocabulary.INCIDENT_TYPES),
    (report.PERPETRATORS, vocabulary.PERPETRATORS),
])
def test_every_code_of_the_report_has_a_term(codes: tuple[str, ...],
                                             terms: dict[str, vocabulary.Term]) -> None:
    assert list(terms) == list(codes)
    for code in codes:
        term = terms[code]
        assert re.fullmatch(r"[0-9]{12}", term.code), code
        assert PUBLISHED[(term.number, term.code)] == term.term, code
        assert term.match in (vocabulary.EXACT, vocabulary.BROADER)
        assert bool(term.note) == (term.match == vocabulary.BROADER), code


def test_thesauri_are_the_right_ones() -> None:
    assert {t.number for t in vocabulary.INCIDENT_TYPES.values()} == {4}
    assert {t.thesaurus for t in vocabulary.INCIDENT_TYPES.values()} == {"Types of Acts"}
    assert {t.number for t in vocabulary.PERPETRATORS.values()} == {24}
    assert vocabulary.NAME == "huridocs-mt-2001"


def test_codes_of_a_report_keep_order_drop_repeats_and_unknown_values() -> None:
    assert vocabulary.type_codes(["killing", "shooting", "killing"]) == [
        "010100000000", "020101000000"]
    # "smuggling" and "other" share "Other": one code.
    assert vocabulary.type_codes(["smuggling", "other"]) == ["900000000000"]
    assert vocabulary.type_codes(["=evil", 3, None, "police"]) == []
    assert vocabulary.type_codes("killing") == []  # not a list: a modified station
    assert vocabulary.perpetrator_codes(["police", "unknown"]) == [
        "010104000000", "990000000000"]
    assert vocabulary.perpetrator_codes(None) == []


def test_the_doc_page_lists_every_mapping() -> None:
    """docs/vocabulary.md's table says what the module says, row for row."""
    rows = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) >= 6 and re.fullmatch(r"[0-9]{12}", cells[2]):
            rows[(cells[1], cells[0])] = cells
    expected = {**{("Types of Acts", c): t for c, t in vocabulary.INCIDENT_TYPES.items()},
                **{("Types of Perpetrators", c): t for c, t in vocabulary.PERPETRATORS.items()}}
    assert set(rows) == set(expected)
    for key, term in expected.items():
        _, _, code, words, match, *_ = rows[key]
        assert (code, words, match) == (term.code, term.term, term.match), key
