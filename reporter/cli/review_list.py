"""``reporter review list`` and ``reporter review stats``: the matching reports as
tables, one line per report or counts by kind, site, incident type and month.
"""

from __future__ import annotations

from typing import Any

import click

from reporter.cli.review import ReviewContext, pass_review
from reporter.cli.review_filters import filter_options, filters_from
from reporter.cli.tables import cut, print_table
from reporter.review import incidents as ri
from reporter.review import listing
from reporter.review.labels import TYPE_LABELS


@click.command("list")
@filter_options
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Show at most this many reports.")
@pass_review
def review_list(obj: ReviewContext, /, limit: int | None, **options: Any) -> None:
    """List matching reports, newest first (RECEIPT is the monitor's code: for a follow-up,
    the code of the report it follows)."""
    filters = filters_from(options)
    with obj.open() as db:
        found = list(listing.list_reports(db, filters, limit))
    if not found:
        click.echo("No reports match.")
        return
    rows = [[str(s.id), f"{s.station_short}#{s.seq}", s.kind, s.submitted,
             s.incident_date or "-", cut(s.site, 24) or "-", cut(",".join(s.types), 40) or "-",
             s.receipt,
             str(s.follow_ups), str(s.attachments), s.excerpt] for s in found]
    print_table(["ID", "STATION#SEQ", "KIND", "RECEIVED", "INCIDENT", "SITE", "TYPES",
                 "RECEIPT", "FOLLOW-UPS", "FILES", "DESCRIPTION"], rows,
                right=frozenset({0, 8, 9}))


@click.command("stats")
@filter_options
@pass_review
def review_stats(obj: ReviewContext, /, **options: Any) -> None:
    """Counts of matching reports by kind, site, incident type and month."""
    filters = filters_from(options)
    with obj.open() as db:
        counts = listing.stats(db, filters)
        incidents = ri.count_incidents(db, filters)
    if not counts.total:
        click.echo("No reports match.")
        return
    click.echo(f"Reports: {counts.total}")
    click.echo(f"Incidents: {incidents} (reports linked to one "
               "incident count once; a report linked to none counts as its own)")
    click.echo("")
    print_table(["KIND", "REPORTS"], [[k, str(n)] for k, n in counts.by_kind], frozenset({1}))
    click.echo("")
    print_table(["SITE", "REPORTS"],
                [[cut(s, 40) if s else "(no site)", str(n)] for s, n in counts.by_site],
                frozenset({1}))
    if counts.by_type:
        click.echo("")
        print_table(["INCIDENT TYPE", "REPORTS", "LABEL"],
                    [[t, str(n), TYPE_LABELS.get(t, "")] for t, n in counts.by_type],
                    frozenset({1}))
    click.echo("")
    print_table(["MONTH", "REPORTS"], [[m, str(n)] for m, n in counts.by_month], frozenset({1}))
