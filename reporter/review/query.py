"""Reading the review database: filter, list, show, export and count reports.

Everything here is read-only. The SQL is assembled only from the constant
fragments below; every value a reviewer types reaches SQLite as a ``?``
parameter. Small Python functions are registered on the connection for
Unicode-aware matching (``reviewquery_fold``, ``reviewquery_text``,
``reviewquery_has``, ``reviewquery_body_has``).

Filtering rules (``Filters``):

* **site**: the report's site (the chosen site, else the monitor's own
  "other site" text) contains the given text, case-insensitive (Unicode case
  folding): ``marange`` finds "Marange (Chiadzwa), Zimbabwe", as a person
  expects of a search box. Sites are named by operators and typed by monitors,
  so nobody remembers a whole name exactly.
* **incident type**: one code of ``report.INCIDENT_TYPES``; a report matches if
  it ticked that type among others.
* **dates**: ``date_from`` and ``date_to`` (``YYYY-MM-DD``, both inclusive)
  apply to the *incident date* when the monitor gave one, else to the date the
  station received the report (``submitted``). Follow-ups have no incident
  date, so their ``submitted`` date counts.
* **search**: case-insensitive substring of the description or of any value in
  the report body (every field, code, date and receipt; not the JSON keys).
* **kind**: ``incident`` or ``follow-up``.
* **station**: a prefix of the station id in hex.
* **perpetrator**: one code of ``report.PERPETRATORS``; a report matches if it
  ticked that code among others.
* **source**: ``witnessed`` or ``heard`` (how the monitor knows).
* **with attachments**: only reports that list at least one attachment.
* **status**, **tag**, **sensitive**, **incident**: the reviewers' own marks
  (``workflow.py``): a status code of ``workflow_schema.STATUSES``; a tag,
  matched as ``workflow.tag_key`` folds it (case and Unicode form do not
  matter); marked sensitive (``True``) or not (``False``); linked to one
  incident (its id).

Follow-ups carry no site or incident types of their own: ``--site`` and
``--type`` select first reports only. ``show`` lists follow-ups under the first
report they follow.

Linking a follow-up to its first report (``linked_first``): a follow-up names
only a receipt code, and codes are random, so two first reports with the same
code mean that a station reused a monitor's code (a forged station, or a
replay). A follow-up links to the first report with its code **from its own
station** if there is one; otherwise (a monitor may send a follow-up through
another station of the coalition) to the earliest imported one from any
station. ``get_report`` says which station every link comes from and lists
every first report that shares the code (``Detail.same_code``), and ``list``
counts follow-ups by the same rule, so a forged station that reuses a code
does not capture the real station's follow-ups.

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

Indexes (``db._MIGRATION_FTS``), so that a filter and its count read no report
body: ``reports_newest`` holds, in the inbox's order, every column a filter
tests, so a page walks it and stops at its last report whatever the filter
(``INDEXED BY``: SQLite would otherwise take a filter's own index and sort every
match), and a count scans it when no narrower index serves; ``reports_day``
(the date the date filters apply to), ``reports_source``,
``reports_site`` (a site filter folds each *distinct* site, not each report's),
``reports_with_attachments``; ``report_codes`` (type and perpetrator codes);
and ``reports_fts``, a trigram full-text index of ``searchtext.body_text``
(folded), which answers a search of three characters or more as a substring
match (one quoted phrase); shorter needles, and needles with a NUL, are tested
on every row as before. The two paths select the same reports
(``tests/review/test_search_index.py``).

Attachment counts come from the report's own sealed list (schema 2 bodies;
0 for schema 1), so they say what the monitor sent, not what was stored.

One receipt code per report (``receipt_code``): the one the monitor holds.
A follow-up's body also carries a code of its own, made by the station when
it arrived; the receipt page shows the monitor the code they followed, never
that one, so no monitor knows it. ``list``, ``show``, the CSV and spreadsheet
exports and the JSON Lines wrapper show the monitor's code (for a follow-up,
the code of the report it follows), and ``--search`` does not look at the
follow-up's own; JSON Lines keeps the sealed report whole, that code included.
"""

from __future__ import annotations

import csv
import json
import math
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any, TextIO

from reporter.errors import ReporterError
from reporter.formats.report import INCIDENT_TYPES, ISO_DAY, KINDS, PERPETRATORS, SOURCES, Report
from reporter.review import vocabulary
from reporter.review.db import ReviewDB
from reporter.review.searchtext import body_text as _body_text
from reporter.review.searchtext import fold
from reporter.review.workflow_schema import STATUSES
from reporter.storage import sqlc

STATION_HEX = re.compile(r"[0-9a-f]{1,32}")
SHORT_STATION = 8
EXCERPT_CHARS = 60


class UnknownReport(ReporterError):
    """No report with that id is in the review database."""


class InvalidFilter(ReporterError):
    """A filter value is malformed (a date, a station id, a type or a kind)."""


class ExportError(ReporterError):
    """An export file cannot be written (it exists, or the folder is not writable)."""


# --- filters ----------------------------------------------------------------------


def parse_day(text: str) -> str:
    """A strict ``YYYY-MM-DD`` calendar date, or ``InvalidFilter``."""
    if not ISO_DAY.fullmatch(text):
        raise InvalidFilter(f"{text!r} is not a date written YYYY-MM-DD (e.g. 2026-03-14)")
    try:
        date.fromisoformat(text)
    except ValueError:
        raise InvalidFilter(f"{text} is not a real calendar date") from None
    return text


def parse_station(text: str) -> str:
    """A station id or a prefix of it, in hex (1 to 32 digits); lower-cased."""
    value = text.strip().lower()
    if not STATION_HEX.fullmatch(value):
        raise InvalidFilter(
            f"{text!r} is not a station id: use 1 to 32 hex digits (0-9, a-f)")
    return value


def tag_key(text: str) -> str:
    """How a tag is matched: NFC, inner white space collapsed to one space, trimmed,
    case-folded (``Spill``, ``spill`` and `` SPILL `` are one tag)."""
    collapsed = " ".join(unicodedata.normalize("NFC", text).split())
    return unicodedata.normalize("NFC", collapsed.casefold())


@dataclass(frozen=True)
class Filters:
    """What to select; ``None`` means "any". Checked on construction."""

    site: str | None = None
    incident_type: str | None = None
    date_from: str | None = None
    date_to: str | None = None
    search: str | None = None
    kind: str | None = None
    station: str | None = None
    perpetrator: str | None = None
    source: str | None = None
    with_attachments: bool = False
    status: str | None = None
    tag: str | None = None
    sensitive: bool | None = None
    incident: int | None = None

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in STATUSES:
            raise InvalidFilter(f"unknown status {self.status!r}; use one of "
                                f"{', '.join(STATUSES)}")
        if self.incident_type is not None and self.incident_type not in INCIDENT_TYPES:
            raise InvalidFilter(f"unknown incident type {self.incident_type!r}; "
                                f"use one of {', '.join(INCIDENT_TYPES)}")
        if self.perpetrator is not None and self.perpetrator not in PERPETRATORS:
            raise InvalidFilter(f"unknown perpetrator {self.perpetrator!r}; "
                                f"use one of {', '.join(PERPETRATORS)}")
        if self.source is not None and self.source not in SOURCES:
            raise InvalidFilter(f"unknown source {self.source!r}; use one of "
                                f"{', '.join(SOURCES)}")
        if self.kind is not None and self.kind not in KINDS:
            raise InvalidFilter(f"unknown kind {self.kind!r}; use one of {', '.join(KINDS)}")
        for day in (self.date_from, self.date_to):
            if day is not None:
                parse_day(day)
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise InvalidFilter(f"the start date {self.date_from} is after "
                                f"the end date {self.date_to}")
        if self.station is not None:
            object.__setattr__(self, "station", parse_station(self.station))

    def where(self, *, indexed: bool = True) -> tuple[str, list[Any]]:
        """A ``WHERE`` clause over ``reports AS r`` (constant text) and its parameters.

        Each filter reads an index (see "Indexes" in the module's docstring);
        ``indexed=False`` gives the plain clauses that read every row instead,
        which select the same reports (the tests hold the two to each other).
        A list of ids is tested as ``+r.id IN (...)``: the ``+`` keeps SQLite from
        fetching each listed report from the table (one page read and decrypted per
        id: 0.15 s for 15,000 ids) rather than testing the list while it scans an
        index.
        """
        clauses: list[str] = []
        params: list[Any] = []
        if self.site and self.site.strip():
            # Fold each distinct site once, not each report's (LIMIT -1 keeps SQLite
            # from pushing the test down into the rows).
            clauses.append(
                "r.site IN (SELECT s FROM (SELECT DISTINCT site AS s FROM reports "
                "WHERE site IS NOT NULL LIMIT -1) WHERE reviewquery_has(CAST(s AS BLOB), ?))"
                if indexed else "reviewquery_has(CAST(r.site AS BLOB), ?)")
            params.append(_utf8(fold(self.site.strip())))
        if self.incident_type:
            clauses.append(
                "+r.id IN (SELECT report FROM report_codes WHERE field = 'type' AND code = ?)"
                if indexed else
                "EXISTS (SELECT 1 FROM json_each(r.types) AS t WHERE t.value = ?)")
            params.append(self.incident_type)
        if self.date_from:
            clauses.append("coalesce(r.incident_date, r.submitted) >= ?")
            params.append(self.date_from)
        if self.date_to:
            clauses.append("coalesce(r.incident_date, r.submitted) <= ?")
            params.append(self.date_to)
        if self.search:
            needle = fold(self.search) or ""
            if indexed and fts_phrase(needle) is not None:
                clauses.append("+r.id IN (SELECT rowid FROM reports_fts "
                               "WHERE reports_fts MATCH ?)")
                params.append(fts_phrase(needle))
            else:
                clauses.append("(reviewquery_has(CAST(r.description AS BLOB), ?) "
                               "OR reviewquery_body_has(CAST(r.body AS BLOB), ?))")
                params += [_utf8(needle), _utf8(needle)]
        if self.kind:
            clauses.append("r.kind = ?")
            params.append(self.kind)
        if self.station:
            clauses.append(
                "r.station_id IN (SELECT station_id FROM stations "
                "WHERE substr(lower(hex(station_id)), 1, ?) = ?)"
                if indexed else "substr(lower(hex(r.station_id)), 1, ?) = ?")
            params += [len(self.station), self.station]
        if self.perpetrator:
            clauses.append(
                "+r.id IN (SELECT report FROM report_codes WHERE field = 'perpetrator' "
                "AND code = ?)" if indexed else
                "EXISTS (SELECT 1 FROM json_each(r.perpetrators) AS p WHERE p.value = ?)")
            params.append(self.perpetrator)
        if self.source:
            clauses.append("r.source = ?")
            params.append(self.source)
        if self.with_attachments:
            clauses.append("r.attachment_count > 0")
        if self.status:
            clauses.append("r.status = ?")
            params.append(self.status)
        if self.tag and self.tag.strip():
            clauses.append("EXISTS (SELECT 1 FROM report_tags AS g WHERE g.report = r.id "
                           "AND g.tag = ?)")
            params.append(tag_key(self.tag))
        if self.sensitive is not None:
            clauses.append("r.sensitive = ?")
            params.append(1 if self.sensitive else 0)
        if self.incident is not None:
            clauses.append("r.incident = ?")
            params.append(self.incident)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    @property
    def terms(self) -> int:
        """How many filters are set (a date range is one: its index serves both ends)."""
        return sum(map(bool, (
            self.site and self.site.strip(), self.incident_type,
            self.date_from or self.date_to, self.search, self.kind, self.station,
            self.perpetrator, self.source, self.with_attachments, self.status,
            self.tag and self.tag.strip(), self.sensitive is not None,
            self.incident is not None)))

    @property
    def active(self) -> bool:
        """Whether any filter is set (else every report matches)."""
        return self != Filters()


# The trigram tokenizer indexes every run of three characters: a needle shorter
# than that matches nothing through the index. A NUL would end the query text
# inside FTS5. Both take the plain path.
FTS_MIN_CHARS = 3


def fts_phrase(needle: str) -> str | None:
    """The FTS5 query that finds ``needle`` (already folded) as a substring of the
    indexed text: one quoted phrase (its trigrams, consecutive), quotes doubled;
    ``None`` when the index cannot answer (too short, a NUL in it, or not UTF-8)."""
    if len(needle) < FTS_MIN_CHARS or "\x00" in needle or not _is_utf8(needle):
        return None
    return '"' + needle.replace('"', '""') + '"'


def _is_utf8(text: str) -> bool:
    """False for a lone surrogate (a command-line argument that was not UTF-8)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def receipt_code(report: Report) -> str:
    """The report's one identity: the receipt code the monitor holds (for a follow-up,
    the code of the report it follows; see the module's docstring)."""
    return report.follows if report.kind == "follow-up" and report.follows else report.receipt


# Text goes to the Python functions below as UTF-8 bytes (``CAST(... AS BLOB)``, and
# the needle bound as bytes): the ``sqlite3`` module of Python 3.11 hands a text
# argument to a Python function as a C string, cut at its first NUL, so the
# ``instr(reviewquery_fold(...), ?)`` of old never saw what followed a NUL (and a
# needle with a NUL became the empty needle, which matched every report).


def _utf8(text: str | None) -> bytes:
    return (text or "").encode("utf-8", "surrogatepass")


def _decode(value: bytes | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return bytes(value).decode("utf-8", "surrogatepass")


def _has(text: bytes | None, needle: bytes | None) -> bool:
    """Whether ``needle`` (folded) is in ``fold(text)``."""
    haystack, wanted = fold(_decode(text)), _decode(needle)
    return haystack is not None and wanted is not None and wanted in haystack


def _body_has(body: bytes | None, needle: bytes | None) -> bool:
    """Whether ``needle`` (folded) is in the searchable text of ``body``."""
    haystack, wanted = _body_text(_decode(body)), _decode(needle)
    return haystack is not None and wanted is not None and wanted in haystack


def _select(db: ReviewDB, what: str, filters: Filters, tail: str = "",
            extra: tuple[Any, ...] = ()) -> Any:
    """A cursor over ``SELECT <what> WHERE <filters> <tail>``.

    ``what`` and ``tail`` are always constants of this module and ``where()``
    emits constant text, so no value a reviewer typed is ever part of the SQL.
    """
    conn: sqlc.Connection = db.connection
    conn.create_function("reviewquery_fold", 1, fold, deterministic=True)
    conn.create_function("reviewquery_text", 1, _body_text, deterministic=True)
    conn.create_function("reviewquery_has", 2, _has, deterministic=True)
    conn.create_function("reviewquery_body_has", 2, _body_has, deterministic=True)
    where, params = filters.where()
    sql = f"SELECT {what}{where}{tail}"  # constant fragments only, see above
    return conn.execute(sql, [*params, *extra])


# --- list ---------------------------------------------------------------------------


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


# The follow-ups that link to report ``r`` (see "Linking" above): those naming its
# code whose own station has no first report with that code, or has ``r``.
_FOLLOW_UP_COUNT = (
    "(SELECT count(*) FROM reports AS f WHERE r.kind = 'incident' "
    "AND f.kind = 'follow-up' AND f.follows = r.receipt AND r.id = coalesce("
    "(SELECT min(g.id) FROM reports AS g WHERE g.kind = 'incident' "
    "AND g.receipt = f.follows AND g.station_id = f.station_id), "
    "(SELECT min(g.id) FROM reports AS g WHERE g.kind = 'incident' "
    "AND g.receipt = f.follows)))")
_NEWEST_FIRST = " ORDER BY r.submitted DESC, r.station_id DESC, r.seq DESC, r.id DESC"
_OLDEST_FIRST = " ORDER BY r.submitted, r.station_id, r.seq, r.id"


def list_reports(db: ReviewDB, filters: Filters, limit: int | None = None) -> Iterator[Summary]:
    """Summaries of the matching reports, newest first, at most ``limit`` of them."""
    tail, extra = (_NEWEST_FIRST, ()) if limit is None else (_NEWEST_FIRST + " LIMIT ?", (limit,))
    for row in _select(db, _SUMMARY, filters, tail, extra):
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
    return int(_select(db, source, filters).fetchone()[0])


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
    order = _NEWEST_FIRST if before is None else _OLDEST_FIRST
    conn = db.connection
    conn.create_function("reviewquery_fold", 1, fold, deterministic=True)
    conn.create_function("reviewquery_text", 1, _body_text, deterministic=True)
    conn.create_function("reviewquery_has", 2, _has, deterministic=True)
    conn.create_function("reviewquery_body_has", 2, _body_has, deterministic=True)
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


# --- show ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """One stored report, parsed."""

    id: int
    station: str  # hex
    seq: int
    report: Report
    history: str = "00" * 16  # hex; all zero: the station's first (never restored)


@dataclass(frozen=True)
class Detail:
    """A report with the follow-ups that link to it, and the first report it follows.

    ``same_code``: when two or more first reports carry the receipt code in
    question (the report's own code for a first report, the code it follows for a
    follow-up), all of them, oldest import first; else empty.
    """

    record: Record
    follow_ups: tuple[Record, ...]
    follows: Record | None  # for a follow-up: the first report, if imported
    same_code: tuple[Record, ...] = ()


# ``json_type``: SQLite parses the body, so a damaged page fails here as an SQLite
# error, which ``ReviewDB`` names as damage (see ``_SUMMARY``).
_RECORD = ("SELECT r.id, r.station_id, r.seq, r.body, r.history, json_type(r.body) "
           "FROM reports AS r")


def _record(row: Any) -> Record:
    return Record(id=int(row[0]), station=bytes(row[1]).hex(), seq=int(row[2]),
                  report=Report.from_body(str(row[3]).encode("utf-8")),
                  history=bytes(row[4]).hex())


def linked_first(candidates: tuple[Record, ...], station: str) -> Record | None:
    """The first report a follow-up from ``station`` links to, among the first reports
    with its code (oldest import first): its own station's, else the oldest."""
    own = [c for c in candidates if c.station == station]
    pool = own or list(candidates)
    return pool[0] if pool else None


def _first_reports(conn: sqlc.Connection, receipt: str) -> tuple[Record, ...]:
    return tuple(_record(r) for r in conn.execute(
        _RECORD + " WHERE r.receipt = ? AND r.kind = 'incident' ORDER BY r.id", (receipt,)))


def get_report(db: ReviewDB, report_id: int) -> Detail:
    """The full record of report ``report_id``; ``UnknownReport`` if there is none."""
    conn = db.connection
    row = conn.execute(_RECORD + " WHERE r.id = ?", (report_id,)).fetchone()
    if row is None:
        raise UnknownReport(f"no report with id {report_id}; "
                            "'reporter review list' shows the ids")
    record = _record(row)
    report = record.report
    if report.follows is not None:
        candidates = _first_reports(conn, report.follows)
        return Detail(record, (), linked_first(candidates, record.station),
                      candidates if len(candidates) > 1 else ())
    candidates = _first_reports(conn, report.receipt)
    follow_ups = tuple(
        f for f in (_record(r) for r in conn.execute(
            _RECORD + " WHERE r.follows = ? AND r.kind = 'follow-up'" + _OLDEST_FIRST,
            (report.receipt,)))
        if (linked := linked_first(candidates, f.station)) is not None
        and linked.id == record.id)
    return Detail(record, follow_ups, None, candidates if len(candidates) > 1 else ())


# --- export -------------------------------------------------------------------------

FIELD_COLUMNS = (
    "incident_date", "date_approximate", "site", "site_other", "location", "incident_types",
    "people_affected", "children_affected", "women_affected", "perpetrators",
    "perpetrator_other", "description", "source", "monitor_code", "contact",
    "contact_details",
)
# ``receipt`` is the monitor's code (``receipt_code``): a follow-up and its first
# report share it, so sorting on it groups them.
# Then what the review database adds: the station history the report belongs to
# (``histories.py``; 32 zeros for the station's first) and the reviewers' marks
# (``workflow.py``): status, sensitive, incident id, tags (joined with ``;``).
# The last two: the report's types and perpetrators as codes of the HURIDOCS
# micro-thesauri (``vocabulary.py``).
VOCABULARY_COLUMNS = ("type_codes_huridocs", "perpetrator_codes_huridocs")
CSV_COLUMNS = ("id", "station", "seq", "kind", "receipt", "locale", "submitted",
               *FIELD_COLUMNS, "attachments", "history", "status", "sensitive", "incident",
               "tags", *VOCABULARY_COLUMNS)


@dataclass(frozen=True)
class ExportRow:
    id: int
    station: str  # full station id, hex
    seq: int
    body: str  # the stored canonical JSON of the report
    attachments: int = 0  # how many the report lists
    history: str = "00" * 16  # hex; all zero: the station's first history
    status: str = "new"  # the reviewers' marks (``workflow.py``)
    sensitive: bool = False
    incident: int | None = None
    tags: tuple[str, ...] = ()  # as first typed, in the order of their keys


def export_rows(db: ReviewDB, filters: Filters) -> Iterator[ExportRow]:
    """The matching reports, oldest first, streamed from the cursor (never all in memory)."""
    cursor = _select(db, "r.id, r.station_id, r.seq, r.body, "  # parsed: see _SUMMARY
                         "coalesce(json_array_length(r.body, '$.attachments'), 0), "
                         "r.history, r.status, r.sensitive, r.incident, "
                         "(SELECT json_group_array(label) FROM (SELECT g.label FROM "
                         "report_tags AS g WHERE g.report = r.id ORDER BY g.tag)) "
                         "FROM reports AS r", filters, _OLDEST_FIRST)
    for row in cursor:
        yield ExportRow(int(row[0]), bytes(row[1]).hex(), int(row[2]), str(row[3]),
                        int(row[4]), history=bytes(row[5]).hex(), status=str(row[6]),
                        sensitive=bool(row[7]),
                        incident=None if row[8] is None else int(row[8]),
                        tags=tuple(str(t) for t in json.loads(row[9] or "[]")))


def export_rows_of(db: ReviewDB, report_ids: Iterable[int]) -> Iterator[ExportRow]:
    """The rows of the reports ``report_ids`` (as ``export_rows`` makes them), in that
    order; ``UnknownReport`` for an id that is not in the database."""
    for report_id in report_ids:
        row = db.connection.execute(
            "SELECT r.id, r.station_id, r.seq, r.body, "
            "coalesce(json_array_length(r.body, '$.attachments'), 0) "
            "FROM reports AS r WHERE r.id = ?", (report_id,)).fetchone()
        if row is None:
            raise UnknownReport(f"no report with id {report_id}")
        yield ExportRow(int(row[0]), bytes(row[1]).hex(), int(row[2]), str(row[3]),
                        int(row[4]))


# Where a spreadsheet may start a cell: at the start of ours, and, if it splits
# lines on ";" or tab instead of the comma this file uses (Excel does in French
# and Portuguese locales), after every ";" and tab inside it; after a line break
# too, since quotes that open in the middle of such a cell no longer protect one.
# Quotes and spaces at the start of a cell are dropped or trimmed by some
# importers, so they are looked through.
_CELL_STARTS = re.compile(r"""(\A|[;\t\r\n])([\s"]*)(?=[=+\-@])""")


def guard_cell(text: str) -> str:
    """Defuse spreadsheet formulas, whatever separator the file is opened with: a
    ``'`` is put before ``= + - @`` wherever a cell can start (see ``_CELL_STARTS``:
    the start of the text, or after ``;``, a tab or a line break, past any quotes
    and spaces), and before a tab or CR that starts the text. Spreadsheets show
    such a cell as text. A comma needs no guard: this file is comma-separated, so
    a comma inside a cell is always quoted."""
    guarded = _CELL_STARTS.sub(r"\1\2'", text)
    return "'" + guarded if guarded.startswith(("\t", "\r")) else guarded


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(_text(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _value(value: Any) -> str | int | float:
    if (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value)):
        return value  # a number is never a formula
    return _text(value)


def export_values(row: ExportRow) -> list[str | int | float]:
    """One report in ``CSV_COLUMNS`` order, unguarded: text as text (lists joined
    with ``;``), numbers as numbers. For typed cells (``spreadsheet.py``)."""
    report = Report.from_body(row.body.encode("utf-8"))
    header: dict[str, Any] = {
        "id": row.id, "station": row.station, "seq": row.seq, "kind": report.kind,
        "receipt": receipt_code(report), "locale": report.locale,
        "submitted": report.submitted, "attachments": len(report.attachments),
        "history": row.history, "status": row.status, "sensitive": row.sensitive,
        "incident": row.incident, "tags": list(row.tags),
        **_vocabulary_codes(report.fields),
    }
    return [_value(header[c] if c in header else report.fields.get(c)) for c in CSV_COLUMNS]


def _vocabulary_codes(fields: Any) -> dict[str, list[str]]:
    """``VOCABULARY_COLUMNS`` of a report's fields (none for a follow-up)."""
    if not isinstance(fields, dict):
        fields = {}
    return {"type_codes_huridocs": vocabulary.type_codes(fields.get("incident_types")),
            "perpetrator_codes_huridocs": vocabulary.perpetrator_codes(
                fields.get("perpetrators"))}


def csv_cells(row: ExportRow) -> list[str | int | float]:
    """One CSV record in ``CSV_COLUMNS`` order: ``export_values`` with every text
    cell through ``guard_cell`` (numbers are written as numbers)."""
    return [guard_cell(v) if isinstance(v, str) else v for v in export_values(row)]


def jsonl_line(row: ExportRow) -> str:
    """``{"id", "station", "seq", "receipt", "attachments", "history", "status",
    "sensitive", "incident", "tags", "vocabulary", "type_codes_huridocs",
    "perpetrator_codes_huridocs", "report": <the stored body, as JSON>}`` on one
    line; ``receipt`` is the monitor's code (``receipt_code``), ``attachments`` how
    many the report lists (their details are in ``report.attachments``), the next
    five as in the CSV (``incident`` null when not linked, ``tags`` a list),
    ``vocabulary`` the name of the mapping the two lists of codes come from
    (``vocabulary.NAME``)."""
    report = json.loads(row.body)  # stored by import: a checked report (report.py)
    receipt = (report["follows"] if report.get("kind") == "follow-up" and report.get("follows")
               else report["receipt"])
    text = json.dumps({"id": row.id, "station": row.station, "seq": row.seq,
                       "receipt": receipt, "attachments": row.attachments,
                       "history": row.history, "status": row.status,
                       "sensitive": row.sensitive, "incident": row.incident,
                       "tags": list(row.tags),
                       "vocabulary": vocabulary.NAME, **_vocabulary_codes(report.get("fields")),
                       "report": report},
                      ensure_ascii=False, separators=(",", ":"))
    # JSON allows these raw in strings, but tools that split lines on them would break
    # (U+2028, U+2029), and a terminal obeys them (DEL, C1 controls; bidi controls
    # reorder the line) when the export goes to standard output. Escaped, they decode
    # to the same text: nothing is lost.
    return _JSON_ESCAPED.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


_JSON_ESCAPED = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
                           "\u2066-\u2069]")


def write_csv(rows: Iterable[ExportRow], out: TextIO) -> int:
    """A header line (``CSV_COLUMNS``) then one record per row, RFC 4180 with CRLF;
    returns the count. Formula guard: wherever a spreadsheet could start a cell
    with ``= + - @``, whether it splits lines on commas, semicolons or tabs, an
    apostrophe is put first (see ``guard_cell``), so opening the file never runs
    report text. JSON Lines and the spreadsheet export are never altered."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    count = 0
    for row in rows:
        writer.writerow(csv_cells(row))
        count += 1
    return count


def write_jsonl(rows: Iterable[ExportRow], out: TextIO) -> int:
    count = 0
    for row in rows:
        out.write(jsonl_line(row) + "\n")
        count += 1
    return count


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
    cursor = _select(db, f"{key}, count(DISTINCT r.id) FROM {source}", filters,
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
