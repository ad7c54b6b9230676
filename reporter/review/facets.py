"""How many reports each choice of the inbox's lists would show: a count per filter.

Beside each choice of a list filter (what happened, who did it, how the monitor
knows, kind, station, status, sensitive mark) and the attachments box, the inbox
shows how many reports the inbox would hold with that choice, the other filters
as they are: the counts of Uwazi's and OpenEvSys's filter panels. A list's own
choice is left out of its counts (choosing "police" must not make every other
perpetrator count 0), so each count is exactly ``count_reports`` of the filters
with that one choice changed; the tests hold every count to that.

Cost, on 100,000 reports (docs/benchmarks.md, "count per filter"): the lists
whose own filter is not set are counted together, in one walk of the covering
index ``reports_newest`` grouped by all their columns; a list whose filter is
set takes one walk of its own; each sums its choices (no GROUP BY: sorting
100,000 rows cost more than the walk). The two lists of codes (types,
perpetrators) are counted on ``report_codes``, over the ids the other filters
select.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from reporter.formats.report import KINDS, SOURCES
from reporter.review.db import ReviewDB
from reporter.review.filters import Filters, select_where
from reporter.review.workflow_schema import STATUSES

# The inbox's names for them (its query string), in the form's order.
FACETS = ("type", "perpetrator", "source", "kind", "station", "status", "sensitive", "files")
# The ``Filters`` field each one sets, and its "any" value.
_FIELD: dict[str, tuple[str, Any]] = {
    "type": ("incident_type", None), "perpetrator": ("perpetrator", None),
    "source": ("source", None), "kind": ("kind", None), "station": ("station", None),
    "status": ("status", None), "sensitive": ("sensitive", None),
    "files": ("with_attachments", False)}
_CODES = {"type": "type", "perpetrator": "perpetrator"}
_NEWEST = "FROM reports AS r INDEXED BY reports_newest"
_CHOICES = {"source": SOURCES, "kind": KINDS, "status": STATUSES}
_COLUMN = {"source": "r.source", "kind": "r.kind", "status": "r.status"}

Facets = dict[str, dict[str, int]]


def _is_set(filters: Filters, name: str) -> bool:
    field, any_value = _FIELD[name]
    return bool(getattr(filters, field) != any_value)


def _without(filters: Filters, name: str) -> Filters:
    field, any_value = _FIELD[name]
    return replace(filters, **{field: any_value})


def _sums(name: str, stations: list[str]) -> list[tuple[str, str]]:
    """``(choice, SQL sum)`` for each choice of a list of columns. The SQL is constant
    text: codes of this program, and station ids as hex (``bytes.hex()``: digits and
    a-f only), never anything a reviewer typed."""
    if name in _CHOICES:
        return [(choice, f"sum({_COLUMN[name]} = '{choice}')") for choice in _CHOICES[name]]
    if name == "station":
        return [(hexid, f"sum(r.station_id = x'{hexid}')") for hexid in stations]
    if name == "sensitive":
        return [("1", "sum(r.sensitive = 1)"), ("0", "sum(r.sensitive = 0)")]
    return [("1", "sum(r.attachment_count > 0)")]  # files


def facet_counts(db: ReviewDB, filters: Filters) -> Facets:
    """``{list: {choice: reports}}`` for every list in ``FACETS`` (``files``: only
    ``"1"``), a choice no report has counting 0."""
    stations = [sid.hex() for sid, _key in db.stations()]
    counts: Facets = {name: {} for name in FACETS}
    columns = [name for name in FACETS if name not in _CODES]
    # The lists whose own filter is not set share the current filters: one walk of
    # the index sums them all (a GROUP BY of them all sorted 100,000 rows: 2 to 3
    # times slower). A list whose filter is set takes a walk of its own.
    groups = [[name for name in columns if not _is_set(filters, name)]]
    groups += [[name] for name in columns if _is_set(filters, name)]
    for names in groups:
        if not names:
            continue
        sums = [(name, choice, sql) for name in names for choice, sql in _sums(name, stations)]
        others = filters if len(names) > 1 or not _is_set(filters, names[0]) \
            else _without(filters, names[0])
        row = select_where(db, ", ".join(sql for _n, _c, sql in sums) + f" {_NEWEST}",
                      others).fetchone()
        for (name, choice, _sql), n in zip(sums, row, strict=True):
            counts[name][choice] = int(n or 0)
    for name, field in _CODES.items():
        others = _without(filters, name)
        if not others.active:
            cursor = db.connection.execute(
                "SELECT code, count(*) FROM report_codes WHERE field = ? GROUP BY code",
                (field,))
        else:  # ``field`` is one of two constants
            cursor = select_where(
                db, f"c.code, count(*) FROM report_codes AS c WHERE c.field = '{field}' "
                f"AND c.report IN (SELECT r.id {_NEWEST}", others, ") GROUP BY c.code")
        counts[name] = {str(code): int(n) for code, n in cursor}
    return counts


def state(db: ReviewDB) -> tuple[int, int]:
    """What the counts depend on, cheaply: the last report imported and the last change
    of the verification workflow (status and sensitive mark), both append-only."""
    row = db.connection.execute(
        "SELECT (SELECT max(id) FROM reports), (SELECT max(id) FROM review_history)"
    ).fetchone()
    return int(row[0] or 0), int(row[1] or 0)
