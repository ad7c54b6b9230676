"""The filter options of ``reporter review list``, ``export`` and ``stats``.

One set of options, in one order, for the three commands that select reports,
read into ``reporter.review.filters.Filters`` (which checks them again): apart
so that the three cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from reporter.formats.report import INCIDENT_TYPES, KINDS, PERPETRATORS, SOURCES
from reporter.review import workflow as wf
from reporter.review.filters import Filters, InvalidFilter, parse_day, parse_station


def _day(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return parse_day(value)
    except InvalidFilter as exc:
        raise click.BadParameter(str(exc)) from None


def _station(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return parse_station(value)
    except InvalidFilter as exc:
        raise click.BadParameter(str(exc)) from None


_FILTER_OPTIONS = (
    click.option("--site", default=None,
                 help="Only mine sites whose name contains this text (any case)."),
    click.option("--type", "incident_type", type=click.Choice(INCIDENT_TYPES), default=None,
                 metavar="CODE", help="Only reports that ticked this incident type "
                                      f"({', '.join(INCIDENT_TYPES)})."),
    click.option("--from", "date_from", metavar="YYYY-MM-DD", callback=_day, default=None,
                 help="Incident date (else date received) on or after this day."),
    click.option("--to", "date_to", metavar="YYYY-MM-DD", callback=_day, default=None,
                 help="Incident date (else date received) on or before this day."),
    click.option("--search", default=None,
                 help="Text anywhere in the report (any case)."),
    click.option("--kind", type=click.Choice(KINDS), default=None,
                 help="Only first reports (incident) or only follow-ups."),
    click.option("--station", metavar="HEX", callback=_station, default=None,
                 help="Only this station (its id, or the first hex digits of it)."),
    click.option("--perpetrator", type=click.Choice(PERPETRATORS), default=None,
                 metavar="CODE", help="Only reports that name this perpetrator "
                                      f"({', '.join(PERPETRATORS)})."),
    click.option("--source", type=click.Choice(SOURCES), default=None,
                 help="Only what the monitor saw (witnessed) or was told (heard)."),
    click.option("--with-attachments", is_flag=True, default=False,
                 help="Only reports with at least one attachment."),
    click.option("--status", type=click.Choice(wf.STATUSES), default=None,
                 help="Only reports reviewers gave this status (the desk sets it)."),
    click.option("--tag", default=None, help="Only reports with this tag (any case)."),
    click.option("--sensitive/--not-sensitive", default=None,
                 help="Only reports marked sensitive, or only those not marked."),
    click.option("--incident", type=click.IntRange(min=1), default=None, metavar="ID",
                 help="Only reports linked to this incident."),
)

F = Callable[..., Any]


def filter_options(function: F) -> F:
    for option in reversed(_FILTER_OPTIONS):
        function = option(function)
    return function


def filters_from(options: dict[str, Any]) -> Filters:
    try:
        return Filters(site=options["site"] or None,
                       incident_type=options["incident_type"],
                       date_from=options["date_from"], date_to=options["date_to"],
                       search=options["search"] or None, kind=options["kind"],
                       station=options["station"], perpetrator=options["perpetrator"],
                       source=options["source"],
                       with_attachments=options["with_attachments"],
                       status=options["status"], tag=options["tag"] or None,
                       sensitive=options["sensitive"], incident=options["incident"])
    except InvalidFilter as exc:
        raise click.BadParameter(str(exc), param_hint="'--from' / '--to'") from None
