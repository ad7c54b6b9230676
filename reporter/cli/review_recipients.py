"""``reporter review recipients``: whom each station seals to, and accepting a change.

Also the lines that ``verify`` and ``review import`` print about a bundle's
recipients, and the warning for a change (``reporter/review/recipients.py``
says what is pinned and why a change is imported but never silent).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

import click

from reporter.cli.common import noun
from reporter.cli.review import ReviewContext, pass_review
from reporter.cli.terminal import clean, echo
from reporter.errors import ReporterError
from reporter.formats.manifest import ROOT_HISTORY
from reporter.review import recipients as rr
from reporter.review.db_records import Recipient
from reporter.review.histories import short


def recipient_lines(recipients: Iterable[Recipient], own: bytes | None = None,
                    indent: str = "    ") -> list[str]:
    """One line per recipient: name (as the station's list gives it), fingerprint."""
    listed = list(recipients)
    width = max((len(clean(r.name or "")) for r in listed), default=0)
    lines = []
    for r in listed:
        name = clean(r.name) if r.name is not None else "(not named: bundle format 1 or 2)"
        mine = "  (your key)" if own is not None and r.id == own else ""
        lines.append(f"{indent}{name.ljust(width)}  {rr.fingerprint(r)}{mine}")
    return lines


def sealed_to(recipients: Iterable[Recipient], own: bytes | None = None) -> list[str]:
    listed = list(recipients)
    named = all(r.name is not None for r in listed)
    return [f"  sealed to {len(listed)} {noun(len(listed), 'recipient')}"
            + (" (names as the station's list gives them):" if named
               else " (this bundle's format lists key ids only):"),
            *recipient_lines(listed, own)]


def change_lines(change: rr.Change, own: bytes | None = None) -> list[str]:
    lines = []
    for label, found in (("added:  ", change.added), ("removed:", change.removed)):
        for line in recipient_lines(found, own, indent=""):
            lines.append(f"  {label} {line}")
    for before, after in change.renamed:
        lines.append(f"  renamed: {rr.fingerprint(after)} was {clean(before.name or '')!r}, "
                     f"now {clean(after.name or '')!r}")
    return lines


def warn_change(station_id: bytes, number: int, change: rr.Change,
                own: bytes | None = None) -> None:
    """The loud warning for a bundle sealed to another set of keys than the pinned one."""
    short = station_id.hex()[:8]
    echo(f"SECURITY WARNING: bundle {number} of station {short} is sealed to other keys "
         f"than the ones pinned for it (from bundle {change.pinned_from}):", err=True)
    for line in change_lines(change, own):
        echo(line, err=True)
    echo("  Its reports were imported: every key added can read every report sealed to it "
         "since it was added.", err=True)
    echo("  Check each new fingerprint with its owner by phone. If nobody in the coalition "
         "added it, someone else holds the station's passphrase: warn the coalition and the "
         "operator.", err=True)
    echo(f"  Then accept the change: reporter review recipients accept {short} "
         f"--bundle {number}", err=True)


@click.group("recipients", invoke_without_command=True)
@click.pass_context
def review_recipients(ctx: click.Context) -> None:
    """Whom each station seals its bundles to: the pinned keys and any change."""
    if ctx.invoked_subcommand is not None:
        return
    obj: ReviewContext = ctx.ensure_object(ReviewContext)
    with obj.open() as db:
        stations = db.stations()
        if not stations:
            click.echo("No bundle imported yet.")
        for station_id, _key in stations:
            click.echo(f"Station {station_id.hex()}:")
            histories = db.pinned_histories(station_id)
            if not histories:
                click.echo("  no recipients pinned yet (its bundles were imported before "
                           "reporter pinned recipients; the next bundle pins them)")
            for history in histories:
                where = ("" if history == ROOT_HISTORY
                         else f" of history {short(history)} (after a restore)")
                for start, pinned in sorted(db.pins(station_id, history).items()):
                    click.echo(f"  pinned from bundle {start}{where}:")
                    for line in recipient_lines(pinned):
                        echo(line)
            for number, change in rr.changes(db, station_id):
                click.echo(f"  NOT ACCEPTED: bundle {number} is sealed to other keys than "
                           f"those pinned from bundle {change.pinned_from}:")
                for line in change_lines(change):
                    echo("  " + line)
                click.echo(f"    reporter review recipients accept "
                           f"{station_id.hex()[:8]} --bundle {number}")


@review_recipients.command("accept")
@click.argument("station")
@click.option("--bundle", "number", type=click.IntRange(1), default=None,
              help="The bundle whose recipients to pin (default: the earliest bundle "
                   "with a change not accepted yet).")
@click.option("--yes", is_flag=True,
              help="Do not ask: you checked every new fingerprint with its owner.")
@pass_review
def review_recipients_accept(obj: ReviewContext, station: str, number: int | None,
                             yes: bool) -> None:
    """Pin the recipients of a bundle whose recipients changed, for STATION (its id or
    the first hex digits of it), from that bundle on."""
    with obj.open() as db:
        station_id = rr.find_station(db, station)
        histories = {n: h for n, h, _c in rr.history_changes(db, station_id)}
        waiting = dict(rr.changes(db, station_id))
        chosen = number if number is not None else min(waiting, default=None)
        if chosen is not None and chosen in waiting:
            click.echo(f"Bundle {chosen} of station {station_id.hex()[:8]} is sealed to:")
            for line in recipient_lines(db.bundle_recipients(station_id, chosen,
                                                             histories[chosen])):
                echo(line)
            click.echo(f"Compared with the keys pinned from bundle "
                       f"{waiting[chosen].pinned_from}:")
            for line in change_lines(waiting[chosen]):
                echo(line)
            if not yes:
                if not sys.stdin.isatty():
                    raise ReporterError("accepting needs a confirmation: run it in a "
                                        "terminal, or add --yes once you checked every new "
                                        "fingerprint with its owner")
                click.confirm("Pin these recipients from this bundle on? Only if you "
                              "checked every new fingerprint with its owner by phone",
                              abort=True)
        done = rr.accept(db, station_id, chosen)
    short = station_id.hex()[:8]
    click.echo(f"Pinned the recipients of bundle {done.number} for station {short} from "
               f"bundle {done.number} on.")
    if done.settled:
        click.echo(f"The same set settles {noun(len(done.settled), 'bundle')} "
                   f"{', '.join(map(str, done.settled))}.")
    if done.remaining:
        click.echo(f"Still not accepted: {noun(len(done.remaining), 'bundle')} "
                   f"{', '.join(map(str, done.remaining))} "
                   "(another change; 'reporter review recipients' shows them).")
