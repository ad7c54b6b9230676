"""Charts of the review database: what is counted, per month, and the SVG drawn of it.

**What a chart counts** is a ``Unit``, passed to the one function that counts
(``count``): ``INCIDENTS`` (the desk's default: ``incidents.INCIDENT_KEY``,
reports linked into one incident count once, an unlinked report as an
incident of its own) or ``REPORTS``, first reports received (a follow-up adds
to a report already counted, and carries no site, type or perpetrator of its
own). Several reports can describe one incident, so a
count of reports is not a count of incidents, and neither is a measure of all
violations: many are never reported, and a rise can mean that more people
could report. Every chart and CSV names its unit (``Unit.label``,
``Unit.column``), and the desk says so beside them.

A ``Unit`` is the SQL expression counted once (``counted``, over ``reports AS
r``) and the joins that reach it (``joins``): every query below takes it as it
is. People affected are summed per report for ``REPORTS``; per incident for
``INCIDENTS`` (``per_incident``): the reviewers' own count if they gave one,
else the largest number its reports give.

**Counts** (``count``), of the reports the inbox's filters select
(``filters.Filters``; first reports only):

* ``types`` and ``perpetrators``: a report counts once under each code it
  ticked, so a month's bars add up to more than its reports;
* ``sites``: the site (chosen, else typed), case differences merged, as the
  site filter matches; ``None`` for a report without one;
* ``people``: the ``people_affected`` the monitors gave, summed: only whole
  numbers from 0 to ``MAX_PEOPLE`` (the form's limit) count, since a station
  running modified software can seal anything.

A month is the incident date's, else the date the station received the
report (``filters``' date rule). Import checks both dates (``Report.from_body``),
so every report has one; a value that were not ``YYYY-MM`` would be counted in
``Table.undated``, never drawn.

**Drawing** (``draw``): matplotlib, imported only here and only when a chart
is drawn, with its SVG backend (never a GUI one, no pyplot state). The same
table gives the same bytes: fixed ``svg.hashsalt``, no date in the metadata,
the font bundled with matplotlib, text written as ``<text>`` (``svg.fonttype:
none``, which keeps the file small). Site names come from monitors: every
label is cleaned (controls, bidi controls and other invisible characters
removed), shortened to ``MAX_LABEL`` characters, never read as mathtext
(``parse_math=False``), and matplotlib escapes it as XML text; at most
``MAX_SERIES`` categories are drawn, the rest fold into one "Others".
The desk sends the SVG as ``image/svg+xml`` with ``nosniff`` and a sandboxed
CSP, and shows it with ``<img>``, where no script of an SVG ever runs.
"""

from __future__ import annotations

import csv
import io
import re
import threading
import unicodedata
import warnings
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TextIO

from reporter.review import export, incidents
from reporter.review.db import ReviewDB
from reporter.review.filters import Filters, select_where
from reporter.review.labels import N_, PERPETRATOR_LABELS, TYPE_LABELS

CHARTS = ("types", "sites", "perpetrators", "people")
MAX_PEOPLE = 1_000_000  # the station form's limit (station/forms.py MAX_PEOPLE)
MAX_SERIES = 8  # categories drawn; the rest fold into "Others"
MAX_LABEL = 32  # characters of a label drawn (the CSV has them whole)
MAX_CODE_LABEL = 48  # the same, for the label of one of our codes
MAX_MONTHS = 60  # months drawn: the latest; the CSV has them all
SALT = "reporter-review-charts"  # svg.hashsalt: the same table, the same bytes
_MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")


@dataclass(frozen=True)
class Unit:
    """What a chart counts: once per distinct value of ``counted`` (SQL over
    ``reports AS r`` and ``joins``)."""

    name: str
    column: str  # the CSV column of the count
    label: str  # what it counts, in words (translated where shown): "reports received"
    axis: str  # the same, as an axis title
    counted: str
    joins: str = ""
    per_incident: bool = False  # people affected: one number per counted thing, not summed


REPORTS = Unit("reports", "reports_received", N_("reports received"), N_("Reports received"),
               "r.id")
# Incidents (``incidents.INCIDENT_KEY``): a report linked to an incident counts for it,
# once however many of its reports fall in the month; a report linked to none counts
# as an incident of its own. An incident whose reports give different months counts
# once in each of those months.
INCIDENTS = Unit("incidents", "incidents", N_("incidents"), N_("Incidents"),
                 incidents.INCIDENT_KEY, per_incident=True)
UNITS = {INCIDENTS.name: INCIDENTS, REPORTS.name: REPORTS}

TITLES = {
    "types": N_("Per month, by what happened"),
    "sites": N_("Per month, by mine site"),
    "perpetrators": N_("Per month, by who did it"),
    "people": N_("People affected per month"),
}
NO_SITE = N_("(no site)")
OTHERS = N_("Others (%(num)s more)")
PEOPLE_AXIS = N_("People affected")
NOTHING = N_("No reports match these filters.")
FOOTNOTE = N_("Counting %(unit)s: not a measure of all violations.")
PEOPLE_FOOTNOTE = N_("As given in %(unit)s, summed: not a measure of all violations.")
PEOPLE_FOOTNOTE_INCIDENTS = N_("Per incident, your count if you gave one, else the largest "
                               "number its reports give; summed: not a measure of all "
                               "violations.")


@dataclass(frozen=True)
class Row:
    month: str  # YYYY-MM
    key: str | None  # a code, a site (None: no site); None for "people"
    count: int  # of the unit
    people: int = 0  # "people": the numbers given, summed
    with_number: int = 0  # "people": how many of the unit gave a number


@dataclass(frozen=True)
class Table:
    chart: str
    unit: Unit
    rows: tuple[Row, ...]  # by month, then largest count first, then key
    undated: int = 0  # counted, but with no usable month


# The month of a report: its incident date's, else the day it was received.
_MONTH_SQL = "substr(coalesce(r.incident_date, r.submitted), 1, 7)"
_PEOPLE = "json_extract(r.body, '$.fields.people_affected')"
_VALID_PEOPLE = (f"(json_type(r.body, '$.fields.people_affected') = 'integer' "
                 f"AND {_PEOPLE} BETWEEN 0 AND {MAX_PEOPLE})")


def _sql(chart: str, unit: Unit) -> tuple[str, str]:
    """``what`` and ``tail`` for ``filters.select_where`` (constant text only)."""
    counted = f"count(DISTINCT {unit.counted})"
    if chart == "people":
        return (f"{_MONTH_SQL}, NULL, {counted}, "
                f"coalesce(sum(CASE WHEN {_VALID_PEOPLE} THEN {_PEOPLE} END), 0), "
                f"count(DISTINCT CASE WHEN {_VALID_PEOPLE} THEN {unit.counted} END) "
                f"FROM reports AS r{unit.joins}", " GROUP BY 1")
    if chart == "sites":  # grouped as the site filter matches (case-insensitive)
        return (f"{_MONTH_SQL}, min(r.site), {counted}, 0, 0 FROM reports AS r{unit.joins}",
                " GROUP BY 1, reviewquery_fold(r.site)")
    column = {"types": "r.types", "perpetrators": "r.perpetrators"}[chart]
    return (f"{_MONTH_SQL}, c.value, {counted}, 0, 0 FROM reports AS r{unit.joins}, "
            f"json_each({column}) AS c", " GROUP BY 1, 2")


def count(db: ReviewDB, filters: Filters, chart: str, unit: Unit = REPORTS) -> Table:
    """The one counting function: ``chart`` (one of ``CHARTS``) of the reports
    ``filters`` selects, per month, counting ``unit``."""
    if chart not in CHARTS:
        raise ValueError(f"no chart {chart!r}")
    if filters.kind is None:
        filters = replace(filters, kind="incident")
    if chart == "people" and unit.per_incident:
        return _people_per_incident(db, filters, unit)
    what, tail = _sql(chart, unit)
    rows: list[Row] = []
    undated = 0
    for month, key, number, people, with_number in select_where(db, what, filters, tail):
        if chart in ("types", "perpetrators") and not isinstance(key, str):
            continue  # a code that is not text: a modified station; not a category
        if not (isinstance(month, str) and _MONTH.fullmatch(month)):
            undated += int(number)
            continue
        rows.append(Row(month, key if isinstance(key, str) else None, int(number),
                        int(people), int(with_number)))
    rows.sort(key=lambda r: (r.month, -r.count, r.key is None, r.key or ""))
    return Table(chart, unit, tuple(rows), undated)


def _people_per_incident(db: ReviewDB, filters: Filters, unit: Unit) -> Table:
    """People affected per month, one number per incident: the reviewers' own count
    (``incidents.people_affected``) if they gave one, else the largest number its
    reports give (two monitors reporting one attack must not double its victims)."""
    # Constant text only: this module's SQL and a Unit's (never a value from a request).
    what = (f"{_MONTH_SQL}, {unit.counted}, CASE WHEN {_VALID_PEOPLE} THEN {_PEOPLE} END, "  # noqa: S608
            "(SELECT i.people_affected FROM incidents AS i WHERE i.id = r.incident) "
            f"FROM reports AS r{unit.joins}")
    ours: dict[tuple[str, Any], int] = {}
    given: dict[tuple[str, Any], int] = {}
    seen: set[tuple[str, Any]] = set()
    undated: set[Any] = set()
    for month, key, number, counted in select_where(db, what, filters):
        if not (isinstance(month, str) and _MONTH.fullmatch(month)):
            undated.add(key)
            continue
        seen.add((month, key))
        if isinstance(counted, int) and 0 <= counted <= MAX_PEOPLE:
            ours[(month, key)] = counted
        if isinstance(number, int):
            given[(month, key)] = max(number, given.get((month, key), 0))
    months: dict[str, list[int]] = {}
    for month, key in seen:
        value = ours.get((month, key), given.get((month, key)))
        tally = months.setdefault(month, [0, 0, 0])
        tally[0] += 1
        if value is not None:
            tally[1] += value
            tally[2] += 1
    rows = [Row(month, None, n, people, with_number)
            for month, (n, people, with_number) in sorted(months.items())]
    return Table("people", unit, tuple(rows), len(undated))


def months_between(first: str, last: str) -> list[str]:
    """Every ``YYYY-MM`` from ``first`` to ``last``, both included."""
    year, month = int(first[:4]), int(first[5:])
    end = (int(last[:4]), int(last[5:]))
    out: list[str] = []
    while (year, month) <= end:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


# --- labels ---------------------------------------------------------------------------

Translate = Callable[[str], str]


def clean_label(text: str, limit: int = MAX_LABEL) -> str:
    """A label fit to draw: controls, bidi controls, unassigned and private-use
    characters and surrogates removed, white space made single spaces, cut to
    ``limit`` characters with an ellipsis."""
    kept = "".join(" " if ch.isspace() else ch for ch in text
                   if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn")
                   or ch.isspace())
    line = " ".join(kept.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def key_label(chart: str, key: str | None, translate: Translate) -> str:
    """The words for a category: a code's label (translated), a site's name, or
    "(no site)"; unknown codes as they are (cleaned where drawn)."""
    if key is None:
        return translate(NO_SITE)
    labels = {"types": TYPE_LABELS, "perpetrators": PERPETRATOR_LABELS}.get(chart, {})
    return translate(labels[key]) if key in labels else key


# --- CSV ------------------------------------------------------------------------------


def write_csv(table: Table, out: TextIO, translate: Translate) -> int:
    """The table as CSV (every month and category, whole: nothing folded or cut),
    each text cell through ``export.guard_cell``; the count column is named by the
    unit (``reports_received``). Returns the number of data lines."""
    writer = csv.writer(out, lineterminator="\r\n")
    unit = table.unit.column
    if table.chart == "people":
        writer.writerow(["month", "people_affected", unit, f"{unit}_giving_a_number"])
        for row in table.rows:
            writer.writerow([row.month, row.people, row.count, row.with_number])
        return len(table.rows)
    writer.writerow(["month", "category", "category_label", unit])
    for row in table.rows:
        label = key_label(table.chart, row.key, translate)
        writer.writerow([row.month, export.guard_cell(row.key or ""),
                         export.guard_cell(label), row.count])
    return len(table.rows)


def csv_text(table: Table, translate: Translate) -> str:
    out = io.StringIO(newline="")
    write_csv(table, out, translate)
    return out.getvalue()


# --- drawing --------------------------------------------------------------------------

# Okabe and Ito's palette (told apart with any colour vision); grey for "Others".
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
           "#000000")
OTHERS_COLOUR = "#999999"
_DRAWING = threading.Lock()  # matplotlib's settings are global: one chart at a time
_RC: dict[Any, Any] = {
    "svg.fonttype": "none", "svg.hashsalt": SALT, "svg.image_inline": True,
    "font.family": "DejaVu Sans", "font.size": 10, "axes.titlesize": 12,
    "text.usetex": False, "text.parse_math": False, "path.simplify": True,
    "figure.dpi": 72,
}


@dataclass(frozen=True)
class Series:
    label: str
    values: tuple[int, ...]
    folded: bool = False  # the "Others" of categories beyond MAX_SERIES


def _limit(chart: str, key: str | None) -> int:
    """How much of a label is drawn: a site's name (a monitor's words) ``MAX_LABEL``
    characters; our own codes' labels (translated) a little more, to be whole."""
    known = {"types": TYPE_LABELS, "perpetrators": PERPETRATOR_LABELS}.get(chart, {})
    return MAX_CODE_LABEL if key in known else MAX_LABEL


def series_of(table: Table, months: list[str], translate: Translate) -> list[Series]:
    """The categories drawn over ``months``: the ``MAX_SERIES - 1`` largest, and the
    rest folded into one "Others" (all of them if they fit)."""
    if table.chart == "people":
        by_month = {r.month: r.people for r in table.rows}
        return [Series(translate(PEOPLE_AXIS), tuple(by_month.get(m, 0) for m in months))]
    wanted = set(months)
    values: dict[str | None, dict[str, int]] = defaultdict(dict)
    for row in table.rows:
        if row.month in wanted:
            values[row.key][row.month] = row.count
    order = sorted(values, key=lambda k: (-sum(values[k].values()), k is None, k or ""))
    keep = order if len(order) <= MAX_SERIES else order[: MAX_SERIES - 1]
    out = [Series(clean_label(key_label(table.chart, k, translate), _limit(table.chart, k)),
                  tuple(values[k].get(m, 0) for m in months)) for k in keep]
    rest = order[len(keep):]
    if rest:
        out.append(Series(
            translate(OTHERS) % {"num": len(rest)},
            tuple(sum(values[k].get(m, 0) for k in rest) for m in months), folded=True))
    return out


def drawn_months(table: Table) -> list[str]:
    """The months a chart shows: from the first to the last with a count, at most the
    latest ``MAX_MONTHS``."""
    months = sorted({r.month for r in table.rows})
    if not months:
        return []
    first = months[0]
    last = months[-1]
    year, month = int(last[:4]), int(last[5:])
    back = year * 12 + month - 1 - (MAX_MONTHS - 1)
    earliest = f"{back // 12:04d}-{back % 12 + 1:02d}" if back >= 0 else "0000-01"
    return months_between(max(first, earliest), last)


def draw(table: Table, translate: Translate) -> bytes:
    """The table as an SVG stacked bar chart, the same bytes for the same table and
    language. matplotlib is imported here, on the first chart drawn."""
    import matplotlib  # only when a chart is drawn (see the module's docstring)
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    months = drawn_months(table)
    series = series_of(table, months, translate)
    unit = translate(table.unit.label)
    title = translate(TITLES[table.chart])
    with _DRAWING, matplotlib.rc_context(_RC), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a missing glyph's warning would name it
        figure = Figure(figsize=(10, 5.2), layout="constrained")
        axes = figure.add_subplot()
        axes.set_title(title, loc="left", parse_math=False)
        axes.set_ylabel(translate(PEOPLE_AXIS) if table.chart == "people"
                        else translate(table.unit.axis), parse_math=False)
        if not months:
            axes.text(0.5, 0.5, translate(NOTHING), ha="center", va="center",
                      transform=axes.transAxes, parse_math=False)
            axes.set_xticks([])
            axes.set_yticks([])
        else:
            positions = list(range(len(months)))
            bottom = [0] * len(months)
            for number, item in enumerate(series):
                axes.bar(positions, item.values, bottom=bottom, width=0.8,
                         color=OTHERS_COLOUR if item.folded else COLOURS[number % len(COLOURS)],
                         label=item.label,
                         edgecolor="white", linewidth=0.5)
                bottom = [b + v for b, v in zip(bottom, item.values, strict=True)]
            step = max(1, -(-len(months) // 12))
            axes.set_xticks(positions[::step], months[::step], rotation=45, ha="right")
            axes.yaxis.set_major_locator(MaxNLocator(integer=True))
            axes.set_xlim(-0.6, len(months) - 0.4)
            axes.grid(axis="y", color="#dddddd", linewidth=0.6)
            axes.set_axisbelow(True)
            for side in ("top", "right"):
                axes.spines[side].set_visible(False)
            legend = axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0),
                                 frameon=False, reverse=True)
            for text in legend.get_texts():
                text.set_parse_math(False)
        # What it counts, under the months (so the layout makes room for it).
        note = ((PEOPLE_FOOTNOTE_INCIDENTS if table.unit.per_incident else PEOPLE_FOOTNOTE)
                if table.chart == "people" else FOOTNOTE)
        axes.set_xlabel(translate(note) % {"unit": unit}, loc="left", fontsize=8,
                        color="#444444", parse_math=False)
        out = io.BytesIO()
        # A Figure of its own (no pyplot), written by matplotlib's SVG backend.
        figure.savefig(out, format="svg", metadata={"Date": None})
    return out.getvalue()

