"""The reports a reviewer lists: ``list`` lines, keyset pages, counts and ``stats``.

Apart from ``filters.py`` (which reports) and ``records.py`` (one report in
full): this is the inbox's view, a summary line per report, newest first,
walked a page at a time, and how many match.

Order: ``list_reports`` gives the newest first (``submitted``, then station id,
then sequence number, then id, all descending: the id only breaks a tie that
one station's numbering cannot make); ``export_rows`` gives exactly the
reverse, oldest first. ``page`` gives the same order a page at a time by
*keyset* pagination: a page ends with the key ``(submitted, station, seq, id)``
of its last report, and the next page is the reports strictly older than that
key (``WHERE (submitted, station_id, seq, id) < (?, ?, ?, ?)``), walked on the
index ``reports_newest`` (whose entries end with the row id). No ``OFFSET``:
the 2,000th page costs what the first does, and a report imported between two
pages neither repeats nor hides one.

Follow-ups are counted under the first report they link to by the rule of
``records.py`` ("Linking").

Attachment counts come from the report's own sealed list (schema 2 bodies;
0 for schema 1), so they say what the monitor sent, not what was stored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from reporter.formats.report import KINDS
from reporter.review.db import ReviewDB
from reporter.review.filters import Filters, InvalidFilter, register_functions, select_where
from reporter.review.searchtext import fold

SHORT_STATION = 8
EXCERPT_CHARS = 60


@dataclass(frozen=True)
class Summary:
    """One line of ``reporter review list``."""

    id: int
    station: str  # full station id, hex
    seq: int
    kind: str
    submitted: str
    incident_date: str | None
    site: str | None
    types: tuple[str, ...]
    receipt: str  # the monitor's code: for a follow-up, the one it follows
    follows: str | None
    excerpt: str
    follow_ups: int
    attachments: int = 0
    perpetrators: tuple[str, ...] = ()
    source: str | None = None
    status: str = "new"  # the reviewers' (``workflow.py``)
    sensitive: bool = False
    incident: int | None = None

    @property
    def station_short(self) -> str:
        return self.station[:SHORT_STATION]

    @property
    def key(self) -> PageKey:
        return PageKey(self.submitted, self.station, self.seq, self.id)


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """The description on one line, cut to ``limit`` characters with an ellipsis."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def _types(raw: str) -> tuple[str, ...]:
    try:
        value = json.loads(raw)
    except ValueError:
        return ()
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


# The follow-ups that link to report ``r`` (see "Linking" in ``records.py``): those
# naming its code whose own station has no first report with that code, or has ``r``.
_FOLLOW_UP_COUNT = (
    "(SELECT count(*) FROM reports AS f WHERE r.kind = 'incident' "
    "AND f.kind = 'follow-up' AND f.follows = r.receipt AND r.id = coalesce("
    "(SELECT min(g.id) FROM reports AS g WHERE g.kind = 'incident' "
    "AND g.receipt = f.follows AND g.station_id = f.station_id), "
    "(SELECT min(g.id) FROM reports AS g WHERE g.kind = 'incident' "
    "AND g.receipt = f.follows)))")
NEWEST_FIRST = " ORDER BY r.submitted DESC, r.station_id DESC, r.seq DESC, r.id DESC"
OLDEST_FIRST = " ORDER BY r.submitted, r.station_id, r.seq, r.id"


def list_reports(db: ReviewDB, filters: Filters, limit: int | None = None) -> Iterator[Summary]:
    """Summaries of the matching reports, newest first, at most ``limit`` of them."""
    tail, extra = (NEWEST_FIRST, ()) if limit is None else (NEWEST_FIRST + " LIMIT ?", (limit,))
    for row in select_where(db, _SUMMARY, filters, tail, extra):
        yield _summary(row)


_SUMMARY = ("r.id, r.station_id, r.seq, r.kind, r.submitted, r.incident_date, r.site, "
            "r.types, CASE WHEN r.kind = 'follow-up' AND r.follows IS NOT NULL "
            "THEN r.follows ELSE r.receipt END, r.follows, r.description, "
            + _FOLLOW_UP_COUNT + ", "
            # From the body, not ``attachment_count``: SQLite parses it, so a damaged
            # page fails here as an SQLite error, which ``ReviewDB`` names as damage.
            "coalesce(json_array_length(r.body, '$.attachments'), 0), r.perpetrators, "
            "r.source, r.status, r.sensitive, r.incident FROM reports AS r")


def _summary(row: Any) -> Summary:
    return Summary(
        id=int(row[0]), station=bytes(row[1]).hex(), seq=int(row[2]), kind=str(row[3]),
        submitted=str(row[4]), incident_date=row[5], site=row[6], types=_types(row[7]),
        receipt=str(row[8]), follows=row[9], excerpt=excerpt(str(row[10])),
        follow_ups=int(row[11]), attachments=int(row[12]), perpetrators=_types(row[13]),
        source=row[14], status=str(row[15]), sensitive=bool(row[16]),
        incident=None if row[17] is None else int(row[17]))


def count_reports(db: ReviewDB, filters: Filters) -> int:
    """How many reports match. One filter: SQLite counts on that filter's own index.
    Several: on ``reports_newest``, which holds every column they test (SQLite
    would take one filter's index and read each of its reports from the table
    to test the others: 0.07 to 0.3 s on 100,000 reports, against 0.03 s)."""
    source = ("count(*) FROM reports AS r INDEXED BY reports_newest"
              if filters.terms > 1 else "count(*) FROM reports AS r")
    return int(select_where(db, source, filters).fetchone()[0])


# --- pages (keyset pagination, see the module's docstring) ---------------------------

_PAGE_KEY = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})\.([0-9a-f]{32})\.([0-9]{1,19})"
                       r"\.([0-9]{1,19})")


@dataclass(frozen=True, order=True)
class PageKey:
    """Where a report stands in the newest-first order: ``(submitted, station, seq, id)``."""

    submitted: str
    station: str  # hex, 32 digits
    seq: int
    id: int

    def __str__(self) -> str:
        """``2026-03-14.<station hex>.12.40``: safe in a URL as it is."""
        return f"{self.submitted}.{self.station}.{self.seq}.{self.id}"

    @classmethod
    def parse(cls, text: str) -> PageKey:
        """The key ``str()`` wrote, or ``InvalidFilter`` (a hand-edited or stale link)."""
        match = _PAGE_KEY.fullmatch(text.strip())
        if match is None or max(int(match.group(3)), int(match.group(4))) >= 2**63:
            raise InvalidFilter(f"{text[:80]!r} is not a page position")
        return cls(match.group(1), match.group(2), int(match.group(3)), int(match.group(4)))


@dataclass(frozen=True)
class Page:
    """One page of the newest-first list: its reports and the keys that lead to the
    pages either side (``None``: there is no such page)."""

    reports: tuple[Summary, ...]
    newer: PageKey | None  # pass as ``before`` for the page of newer reports
    older: PageKey | None  # pass as ``after`` for the page of older reports


def page(db: ReviewDB, filters: Filters, size: int, *, after: PageKey | None = None,
         before: PageKey | None = None, matches: int | None = None) -> Page:
    """``size`` matching reports, newest first: the first page, or those just older
    than ``after``, or those just newer than ``before`` (one of the two at most).

    Two steps: the page's ids walk the index ``reports_newest`` (no sort, no
    ``OFFSET``, and the follow-up counts are not computed for rows that are only
    passed over), then the summaries of those ids alone. ``matches``: how many
    reports match, if the caller counted them already (0: nothing to walk).
    """
    if size < 1 or (after is not None and before is not None):
        raise ValueError("one page of at least one report, after or before a key")
    if matches == 0:  # the caller counted: no report matches, no index to walk
        return Page((), None, None)
    key = after or before
    where, params = filters.where()
    if key is not None:
        where += (" AND " if where else " WHERE ")
        where += ("(r.submitted, r.station_id, r.seq, r.id) " + ("<" if after else ">")
                  + " (?, ?, ?, ?)")
        params += [key.submitted, bytes.fromhex(key.station), key.seq, key.id]
    order = NEWEST_FIRST if before is None else OLDEST_FIRST
    conn = db.connection
    register_functions(conn)
    sql = (f"SELECT r.id FROM reports AS r INDEXED BY reports_newest{where}{order} "  # noqa: S608
           "LIMIT ?")  # constants only
    ids = [int(row[0]) for row in conn.execute(sql, [*params, size + 1])]
    more = len(ids) > size
    ids = ids[:size]
    if before is not None:
        ids.reverse()
    found = {s.id: s for s in (_summary(row) for row in conn.execute(
        f"SELECT {_SUMMARY} WHERE r.id IN ({', '.join('?' * len(ids))})", ids))} if ids else {}
    reports = tuple(found[i] for i in ids)
    if not reports:
        return Page((), None, None)
    # Newer pages exist if we came from one (``after``), or if more lie beyond ``before``.
    newer = reports[0].key if (after is not None or (before is not None and more)) else None
    older = reports[-1].key if (before is not None or more) else None
    return Page(reports, newer, older)


# --- stats --------------------------------------------------------------------------


@dataclass(frozen=True)
class Stats:
    total: int
    by_kind: tuple[tuple[str, int], ...]  # every kind, in ``KINDS`` order
    by_site: tuple[tuple[str | None, int], ...]  # most reports first; None: no site
    by_type: tuple[tuple[str, int], ...]  # most reports first; a report counts once per type
    by_month: tuple[tuple[str, int], ...]  # YYYY-MM of the incident (else submitted) date


def _counts(db: ReviewDB, key: str, source: str, filters: Filters, *,
            group: str | None = None) -> list[tuple[Any, int]]:
    cursor = select_where(db, f"{key}, count(DISTINCT r.id) FROM {source}", filters,
                     f" GROUP BY {group or key}")
    return [(k, int(n)) for k, n in cursor]


def stats(db: ReviewDB, filters: Filters) -> Stats:
    """Counts of the matching reports by kind, site, incident type and month."""
    kinds = dict(_counts(db, "r.kind", "reports AS r", filters))
    # Sites are grouped case-insensitively, as the site filter matches them.
    sites = _counts(db, "min(r.site)", "reports AS r", filters,
                    group="reviewquery_fold(r.site)")
    types = _counts(db, "t.value", "reports AS r, json_each(r.types) AS t", filters)
    months = _counts(db, "substr(coalesce(r.incident_date, r.submitted), 1, 7)",
                     "reports AS r", filters)
    return Stats(
        total=count_reports(db, filters),
        by_kind=tuple((k, kinds.get(k, 0)) for k in KINDS),
        by_site=tuple(sorted(sites, key=lambda s: (s[0] is None, -s[1], fold(s[0]) or ""))),
        by_type=tuple(sorted(((str(k), n) for k, n in types), key=lambda t: (-t[1], t[0]))),
        by_month=tuple(sorted((str(k), n) for k, n in months)),
    )
