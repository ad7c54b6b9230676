"""``reporter review show`` and ``reporter review attachments``: one report.

``show`` prints every field of a report with the reviewers' marks and history,
its follow-ups (or the first report it follows) and a warning when a station
reused a receipt code; ``attachments`` decrypts, checks and writes its files.
Both list attachments the same way (``_attachment_line``). Every value that
came from a report is printed through ``terminal.clean``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from reporter.cli.common import plural
from reporter.cli.review import ReviewContext, pass_review
from reporter.cli.tables import text_width
from reporter.cli.terminal import clean as _clean
from reporter.errors import ReporterError
from reporter.formats.report import AttachmentInfo
from reporter.review import files as reviewfiles
from reporter.review import incidents as ri
from reporter.review import listing, records
from reporter.review import review_history as rh
from reporter.review import workflow as wf
from reporter.review.labels import (
    CODE_LABELS,
    FIELD_LABELS,
    KIND_LABELS,
    NOT_GIVEN,
    field_names,
)


def _value(name: str, value: Any) -> str:
    if value is None or value == "" or value == []:
        return NOT_GIVEN
    labels = CODE_LABELS.get(name)
    codes = value if isinstance(value, list) else [value]
    if labels is not None:
        return "; ".join(f"{labels[str(c)]} [{c}]" if str(c) in labels else str(c)
                         for c in codes)
    return "; ".join(str(c) for c in codes)


def _indented(text: str, prefix: str = "    ") -> None:
    for line in _clean(text, multiline=True).split("\n"):
        click.echo(prefix + line if line else "")


def _show_record(record: records.Record) -> None:
    report = record.report
    receipt = records.receipt_code(report)
    if report.kind == "follow-up":
        receipt += " (the code of the report it follows: the monitor's)"
    lines = [("Station", record.station), ("Sequence", str(record.seq))]
    if record.history.strip("0"):
        lines.append(("History", f"{record.history[:8]} (the station was restored from a "
                                 "backup: 'reporter review gaps' says when)"))
    lines += [("Kind", KIND_LABELS.get(report.kind, report.kind)), ("Receipt", receipt)]
    lines += [("Received", f"{report.submitted} (date the station received it, UTC)"),
              ("Language", report.locale or NOT_GIVEN), ("Form", report.form or NOT_GIVEN)]
    fields = report.fields
    for name in field_names(report):
        if name != "description":
            lines.append((FIELD_LABELS.get(name, name), _value(name, fields.get(name))))
    lines = [(_clean(label), _clean(value)) for label, value in lines]
    width = max(text_width(label) for label, _ in lines) + 1
    for label, value in lines:
        click.echo(f"{label}:{' ' * (width - text_width(label))}{value}")
    click.echo("Description:")
    _indented(str(fields.get("description") or NOT_GIVEN))
    _attachments(record)


def _attachments(record: records.Record, indent: str = "") -> None:
    """The attachments a report lists, one per line, and how to write them out."""
    report = record.report
    if not report.attachments:
        return
    click.echo(f"{indent}Attachments: {len(report.attachments)} "
               f"('reporter review attachments {record.id} --out DIR' writes them)")
    for info in report.attachments:
        click.echo(f"{indent}  " + _attachment_line(info))
        claimed = reviewfiles.name_disagrees(info, info.type)
        if claimed is not None:
            click.echo(f"{indent}     " + _clean(
                f"warning: the name says {claimed}, but the file is {info.type}; "
                "'review attachments' writes it as "
                f"{reviewfiles.file_name(info, info.type)}"))


def _attachment_line(info: AttachmentInfo, name: str | None = None, size: int | None = None,
                     label: str = "SHA-256") -> str:
    """Name, type, size and SHA-256 of one attachment, on one line (terminal-safe)."""
    shown = name if name is not None else f"{info.index + 1}. {info.name}"
    bytes_ = plural(size if size is not None else info.size, "byte", grouped=True)
    return _clean(f"{shown}  {info.type}  {bytes_}  {label} {info.sha256.hex()}")


def _heading(record: records.Record, noun: str = "report") -> str:
    report = record.report
    site = report.fields.get("site") or report.fields.get("site_other")
    where = f", site {_clean(str(site))}" if site else ""
    return (f"{noun} {record.id} ({KIND_LABELS.get(report.kind, report.kind)}, station "
            f"{record.station[:listing.SHORT_STATION]} #{record.seq}, received "
            f"{report.submitted}{where})")


@click.command("show")
@click.argument("report_id", metavar="ID", type=int)
@pass_review
def review_show(obj: ReviewContext, report_id: int) -> None:
    """Every field of report ID, with its follow-ups (or the report it follows)."""
    with obj.open() as db:
        detail = records.get_report(db, report_id)
        state = wf.state(db, report_id)
        incident = ri.get_incident(db, state.incident) if state.incident else None
        entries = rh.history(db, report=report_id)
    record = detail.record
    click.echo(f"Report {record.id}")
    _shared_code_warning(detail)
    _show_record(record)
    _show_verification(state, incident, entries)
    if record.report.follows is not None:
        click.echo("")
        if detail.follows is None:
            click.echo(f"Follows receipt {record.report.follows}: that first report is not "
                       "in this review database (not imported yet?).")
        else:
            click.echo(f"Follows {_heading(detail.follows)}"
                       f"{_elsewhere(detail.follows, record)}:")
            _indented(str(detail.follows.report.fields.get("description") or NOT_GIVEN))
    if detail.follow_ups or record.report.kind == "incident":
        click.echo("")
        click.echo(f"Follow-ups: {len(detail.follow_ups)}")
        for follow_up in detail.follow_ups:
            click.echo(f"  {_heading(follow_up, 'Report')}{_elsewhere(follow_up, record)}:")
            _indented(str(follow_up.report.fields.get("description") or NOT_GIVEN), "      ")
            _attachments(follow_up, "    ")


def _show_verification(state: wf.ReportState, incident: ri.Incident | None,
                       entries: list[rh.Entry]) -> None:
    """What reviewers decided about the report (the desk records it), and its history."""
    status = wf.STATUS_LABELS.get(state.status, state.status)
    if state.duplicate_of is not None:
        status += f" (of report {state.duplicate_of})"
    click.echo(f"Status:    {status}")
    click.echo(f"Sensitive: {'yes' if state.sensitive else 'no'}")
    click.echo("Tags:      " + (_clean(", ".join(t.label for t in state.tags)) or "none"))
    if incident is None:
        click.echo("Incident:  not linked (counted as an incident of its own)")
    else:
        click.echo(f"Incident:  {incident.id}, {_clean(incident.fields.title)} "
                   f"({plural(incident.reports, 'report')})")
    if entries:
        click.echo(f"History:   {plural(len(entries), 'change')}")
        for entry in entries:
            click.echo("  " + _clean(f"{entry.at}  {entry.reviewer}: {_what(entry)}"))
            if entry.action == "note":
                _indented(str(entry.detail.get("text", "")), "      ")


def _what(entry: rh.Entry) -> str:
    d = entry.detail
    if entry.action == "status":
        return (f"status {wf.STATUS_LABELS.get(str(d.get('from')), d.get('from'))} -> "
                f"{wf.STATUS_LABELS.get(str(d.get('to')), d.get('to'))}")
    if entry.action in ("tag-added", "tag-removed"):
        return f"{entry.action} {d.get('tag')}"
    if entry.action in ("linked", "unlinked"):
        return f"{entry.action} incident {entry.incident}"
    if entry.action == "duplicate":
        return f"marked a duplicate of report {d.get('of')}"
    return entry.action.replace("-", " ")


def _elsewhere(linked: records.Record, record: records.Record) -> str:
    """A mark on a link between reports of two stations."""
    if linked.station == record.station:
        return ""
    return (f" [from another station: {linked.station[:listing.SHORT_STATION]}, "
            f"not {record.station[:listing.SHORT_STATION]}]")


def _shared_code_warning(detail: records.Detail) -> None:
    """Two first reports with one receipt code: a station reused a monitor's code."""
    if not detail.same_code:
        return
    code = detail.record.report.follows or detail.record.report.receipt
    click.echo(f"WARNING: {len(detail.same_code)} first reports carry the receipt code "
               f"{code}:")
    for first in detail.same_code:
        click.echo(f"  {_heading(first)}")
    click.echo("  Receipt codes are random: two alike mean that a station reused a monitor's "
               "code (a forged station, or a replay). Each follow-up is linked to the first "
               "report of its own station; check with the operators which report is real.")



def _type_notes(outcome: reviewfiles.Written) -> None:
    """Say why a file's extension is not the one in the name the phone sent."""
    info, detected = outcome.info, outcome.detected
    if detected != info.type:
        click.echo("  " + _clean(
            f"warning: the station recorded {info.type}, but the file's first bytes say "
            f"{detected or 'no known type'}: the bundle may be forged. Written as "
            f"{outcome.path.name}; open it with care."))
    elif reviewfiles.name_disagrees(info, detected) is not None:
        click.echo("  " + _clean(
            f"note: sent as \"{info.name}\", but it is {detected}: written as "
            f"{outcome.path.name}, so that it opens as what it is."))


@click.command("attachments")
@click.argument("report_id", metavar="ID", type=int)
@click.option("--out", "out_dir", required=True,
              type=click.Path(path_type=Path, file_okay=False),
              help="Write the files into this folder (made if missing, mode 0700); an "
                   "existing file is never overwritten.")
@click.option("--stripped", is_flag=True,
              help="Write only copies with their metadata removed (pictures only), named "
                   "N-stripped-NAME, instead of the originals.")
@pass_review
def review_attachments(obj: ReviewContext, report_id: int, out_dir: Path,
                       stripped: bool) -> None:
    """Decrypt and check the attachments of report ID into a folder.

    Each file is checked against the SHA-256 the station computed when it arrived
    (printed: the chain-of-custody hash) before it gets its name, N-NAME.
    """
    failures = total = 0
    with obj.open() as db:
        for outcome in reviewfiles.extract(db, report_id, out_dir, stripped=stripped):
            total += 1
            if isinstance(outcome, reviewfiles.Failed):
                failures += 1
                click.echo(f"error: {outcome.info.index + 1}. {_clean(outcome.info.name)}: "
                           f"{_clean(str(outcome.error))}", err=True)
                continue
            if outcome.stripped is None:
                click.echo(_attachment_line(outcome.info, outcome.path.name))
            else:
                click.echo(_attachment_line(outcome.info, outcome.path.name, outcome.size,
                                            label="original's SHA-256"))
                click.echo(f"  removed: {outcome.stripped.removed}")
                click.echo(f"  kept: {outcome.stripped.kept}")
            _type_notes(outcome)
    if total == 0:
        click.echo(f"Report {report_id} has no attachments.")
    elif failures:
        raise ReporterError(f"{failures} of {plural(total, 'attachment')} of report "
                            f"{report_id} {'was' if failures == 1 else 'were'} not written "
                            "(see above)")
