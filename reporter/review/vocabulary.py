"""The report's codes mapped to a documented controlled vocabulary: the HURIDOCS
micro-thesauri (2001), as OpenEvSys ships them.

Coalition data is merged with other documentation systems (OpenEvSys, Uwazi,
and any database built on the HURIDOCS Events Standard Formats) by these
codes, so every incident type and perpetrator category of
``formats/report.py`` has exactly one term here:

* incident types -> micro-thesaurus 4, "Types of Acts";
* perpetrators -> micro-thesaurus 24, "Types of Perpetrators".

Codes and terms are copied from OpenEvSys's own load of the micro-thesauri
(``schema/mysql-dbpopulate-mt.sql`` in github.com/huridocs/OpenEvSys, commit
8dce5d1c25dda65ad947413a9e62d4f2f217261e, table ``mt_vocab``: ``huri_code``
and ``english``, where ``list_code`` 4 is ``types_of_acts`` and 24 is
``types_of_perpetrators``), which follow the printed edition: J. Dueck,
M. Guzman, B. Verstappen, *Micro-thesauri: a tool for documenting human
rights violations*, HURIDOCS 2001, ISBN 92-95015-01-0. A code is the
OpenEvSys ``huri_code``: twelve digits, two per level of the hierarchy.

``match`` says how close the term is, in SKOS's words: ``exact`` (the same
meaning) or ``broader`` (no term of the micro-thesaurus means exactly ours,
so the nearest term that contains it). ``note`` says why, for a broader one.
``docs/vocabulary.md`` is the same table for people.

The mapping is versioned (``NAME``): an export names the version it used, and
a change of any code or term gets a new name, never an edit in place.
Pure data: no database, no web framework.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reporter.formats import report

NAME = "huridocs-mt-2001"
SOURCE = ("github.com/huridocs/OpenEvSys schema/mysql-dbpopulate-mt.sql "
          "@8dce5d1c25dda65ad947413a9e62d4f2f217261e (HURIDOCS Micro-thesauri, 2001)")
TYPES_OF_ACTS = "Types of Acts"  # micro-thesaurus 4
TYPES_OF_PERPETRATORS = "Types of Perpetrators"  # micro-thesaurus 24
EXACT = "exact"
BROADER = "broader"


@dataclass(frozen=True)
class Term:
    """One term of a HURIDOCS micro-thesaurus, and how close it is to our code."""

    thesaurus: str  # its name (TYPES_OF_ACTS, TYPES_OF_PERPETRATORS)
    number: int  # its number among the micro-thesauri (OpenEvSys ``list_code``)
    code: str  # twelve digits (OpenEvSys ``huri_code``)
    term: str  # its English term, as published
    match: str  # EXACT or BROADER
    note: str = ""  # for BROADER: why, and the narrower terms a reviewer may choose


def _act(code: str, term: str, match: str, note: str = "") -> Term:
    return Term(TYPES_OF_ACTS, 4, code, term, match, note)


def _perpetrator(code: str, term: str, match: str, note: str = "") -> Term:
    return Term(TYPES_OF_PERPETRATORS, 24, code, term, match, note)


INCIDENT_TYPES: dict[str, Term] = {
    "shooting": _act(
        "020101000000", "Physical assaults, including domestic violence", BROADER,
        "ours is 'shooting or other violence': Types of Acts names acts, not weapons"),
    "beating-torture": _act(
        "020100000000", "Direct violations against personal integrity", BROADER,
        "ours is 'beating or torture'; narrower: 020101000000 Physical assaults, "
        "020111110000 Torture"),
    "sexual-violence": _act("020102000000", "Sexual violations", EXACT),
    "killing": _act(
        "010100000000", "Direct actions which violate the right to life", BROADER,
        "the form does not say how or by whom; narrower terms (010101000000 Deliberate "
        "killings of specific individuals, ...) need the description"),
    "forced-labour": _act("300102010000", "Involuntary or forced labour", EXACT),
    "child-labour": _act(
        "310100000000", "Direct actions which violate the rights of children and juveniles",
        BROADER, "the micro-thesaurus has no term for child labour itself"),
    "eviction-destruction": _act(
        "510100000000", "Direct actions which violate the right to adequate housing", BROADER,
        "ours is 'eviction or destruction of homes'; narrower: 050103000000 Eviction, "
        "130103000000 Destruction"),
    "smuggling": _act(
        "900000000000", "Other", BROADER,
        "illicit trade is not a type of act in the micro-thesaurus"),
    "environmental-harm": _act(
        "540100000000", "Direct actions which violate the right to a healthy environment",
        BROADER, "narrower: 540101010000 Pollution, 540101000000 Deterioration of natural "
        "resources"),
    "intimidation-of-monitors": _act(
        "020103000000", "Psychological assault, harassment", BROADER,
        "ours is threats or intimidation of monitors; narrower: 020103010000 Threats, "
        "020103020000 Death threats, 020103030000 Surveillance"),
    "other": _act("900000000000", "Other", EXACT),
}
PERPETRATORS: dict[str, Term] = {
    "state-security": _perpetrator(
        "010100000000", "Executive", BROADER,
        "ours is 'army or other state security forces'; narrower: 010103000000 Armed "
        "forces, 010106000000 Intelligence agency; secret service"),
    "police": _perpetrator("010104000000", "Police", EXACT),
    "private-security": _perpetrator("020400000000", "Private security guards", EXACT),
    "armed-group": _perpetrator(
        "020000000000", "Non-governmental entities", BROADER,
        "ours is 'armed group or militia'; narrower: 020101000000 Paramilitary forces, "
        "020201000000 Guerrilla armies, 020300000000 Warlords, private armies"),
    "mine-operator": _perpetrator(
        "210100000000", "Corporations", BROADER,
        "ours is 'mine company or its staff'; narrower: 210101000000 Local or national "
        "corporations, 210102000000 Transnational corporations"),
    "unknown": _perpetrator("990000000000", "Unknown", EXACT),
    "other": _perpetrator("900000000000", "Others", EXACT),
}
# Every code of the report has a term, and no term is kept for a code it lost.
assert set(INCIDENT_TYPES) == set(report.INCIDENT_TYPES)  # noqa: S101
assert set(PERPETRATORS) == set(report.PERPETRATORS)  # noqa: S101


def _codes(values: Any, terms: dict[str, Term]) -> list[str]:
    """The micro-thesaurus codes of a report's list of our codes, in its order, each
    once. A value that is not one of our codes (a station running modified software
    may seal anything) has none: it is left out, never guessed."""
    if not isinstance(values, list):
        return []
    codes: list[str] = []
    for value in values:
        term = terms.get(value) if isinstance(value, str) else None
        if term is not None and term.code not in codes:
            codes.append(term.code)
    return codes


def type_codes(values: Any) -> list[str]:
    """Types of Acts codes for a report's ``incident_types``."""
    return _codes(values, INCIDENT_TYPES)


def perpetrator_codes(values: Any) -> list[str]:
    """Types of Perpetrators codes for a report's ``perpetrators``."""
    return _codes(values, PERPETRATORS)
