"""Which reports a review query selects: ``Filters``, checked, and the SQL they build.

Every query of the review database selects through here (the list, the pages
and the counts in ``listing.py``, the exports in ``export.py``, the reviewers'
marks in ``workflow.py``, the desk's charts in ``charts.py``), so the rules
below hold for all of them alike; this module is apart from those because it
decides *which* reports, and they decide what is read of them.

Everything here is read-only. The SQL is assembled only from constant
fragments (this module's and its callers'); every value a reviewer types
reaches SQLite as a ``?`` parameter. Small Python functions are registered on
the connection for Unicode-aware matching (``reviewquery_fold``,
``reviewquery_text``, ``reviewquery_has``, ``reviewquery_body_has``).

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
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

from reporter.errors import ReporterError
from reporter.formats.report import INCIDENT_TYPES, ISO_DAY, KINDS, PERPETRATORS, SOURCES
from reporter.review.db import ReviewDB
from reporter.review.searchtext import body_text as _body_text
from reporter.review.searchtext import fold
from reporter.review.workflow_schema import STATUSES
from reporter.storage import sqlc

STATION_HEX = re.compile(r"[0-9a-f]{1,32}")


class InvalidFilter(ReporterError):
    """A filter value is malformed (a date, a station id, a type or a kind)."""


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


def register_functions(conn: sqlc.Connection) -> None:
    """Register on ``conn`` the Python functions the filters' SQL calls."""
    conn.create_function("reviewquery_fold", 1, fold, deterministic=True)
    conn.create_function("reviewquery_text", 1, _body_text, deterministic=True)
    conn.create_function("reviewquery_has", 2, _has, deterministic=True)
    conn.create_function("reviewquery_body_has", 2, _body_has, deterministic=True)


def select_where(db: ReviewDB, what: str, filters: Filters, tail: str = "",
            extra: tuple[Any, ...] = ()) -> Any:
    """A cursor over ``SELECT <what> WHERE <filters> <tail>``.

    ``what`` and ``tail`` are always constants of the query modules and ``where()``
    emits constant text, so no value a reviewer typed is ever part of the SQL.
    """
    conn: sqlc.Connection = db.connection
    register_functions(conn)
    where, params = filters.where()
    sql = f"SELECT {what}{where}{tail}"  # constant fragments only, see above
    return conn.execute(sql, [*params, *extra])
