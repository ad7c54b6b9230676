"""``reporter review ...``: the reviewer's commands, on an offline machine.

Import verifies and decrypts bundles into the review database; the other
commands read it (``attachments`` writes a report's attachments out of it).
Long operations show a progress bar on a terminal and stay quiet when output
is piped.
"""

from __future__ import annotations

import os
import sys
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import click

from reporter.cli.common import noun, plural, read_passphrase
from reporter.cli.terminal import clean as _clean
from reporter.cli.terminal import echo
from reporter.errors import ReporterError
from reporter.formats.report import INCIDENT_TYPES, KINDS, PERPETRATORS, SOURCES, AttachmentInfo
from reporter.review import files as reviewfiles
from reporter.review import incidents as ri
from reporter.review import query as rq
from reporter.review import review_history as rh
from reporter.review import workflow as wf
from reporter.review.db import ReviewDB, review_db_path
from reporter.review.labels import (
    CODE_LABELS,
    FIELD_LABELS,
    KIND_LABELS,
    NOT_GIVEN,
    TYPE_LABELS,
    field_names,
)
from reporter.review.recipients import pending as pending_recipient_changes


class ReviewContext:
    def __init__(self, path: Path, passphrase_file: Path | None) -> None:
        self.path = path
        self.passphrase_file = passphrase_file

    def passphrase(self, *, new: bool = False) -> str:
        return read_passphrase(file=self.passphrase_file, env="REPORTER_REVIEW_PASSPHRASE",
                               prompt="Review database passphrase", confirm=new,
                               option="--review-passphrase-file")

    def open(self) -> ReviewDB:
        db = ReviewDB.open(self.path, self.passphrase())
        try:
            remind(db)
        except BaseException:
            db.close()
            raise
        return db

    def open_or_create(self) -> ReviewDB:
        if not self.path.exists():
            echo(f"Creating the review database {self.path}", err=True)
            return ReviewDB.create(self.path, self.passphrase(new=True))
        return self.open()


pass_review = click.make_pass_decorator(ReviewContext)


def remind(db: ReviewDB) -> None:
    """On every command: a line per station whose recipients changed in a bundle and
    the change is not accepted yet (``reporter/review/recipients.py``)."""
    for station_id, numbers in pending_recipient_changes(db).items():
        many = len(numbers) > 1
        echo(f"WARNING: station {station_id.hex()[:8]}: {noun(len(numbers), 'bundle')} "
             f"{', '.join(map(str, numbers))} {'are' if many else 'is'} sealed to other keys "
             "than the pinned ones, and the change is not accepted: 'reporter review "
             "recipients' shows it", err=True)


@click.group()
@click.option("--review-db", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="The review database (default: $REPORTER_REVIEW_DB or ./review.db).")
@click.option("--review-passphrase-file", type=click.Path(path_type=Path, dir_okay=False),
              default=None,
              help="Read the review database passphrase from this file's first line "
                   "(otherwise $REPORTER_REVIEW_PASSPHRASE, or a prompt).")
@click.pass_context
def review(ctx: click.Context, review_db: Path | None,
           review_passphrase_file: Path | None) -> None:
    """Verify, import, read and export reports (reviewers, offline)."""
    ctx.obj = ReviewContext(review_db_path(review_db), review_passphrase_file)


# --- reading: list, show, export, stats ---------------------------------------------
# Report text comes from monitors (and anyone who found the form): it is shown
# through ``_clean`` so it cannot send escape sequences to the reviewer's
# terminal or reorder a line with bidirectional overrides.





def _width(text: str) -> int:
    """Columns a string takes in a terminal (wide East Asian characters take two)."""
    return sum(0 if unicodedata.combining(c) else
               2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]],
           right: frozenset[int] = frozenset()) -> None:
    """Print an aligned table; columns in ``right`` are right-aligned (numbers).
    Every cell goes through ``_clean``: any of them may come from a report."""
    table = [[_clean(cell) for cell in row] for row in [headers, *rows]]
    widths = [max(_width(r[i]) for r in table) for i in range(len(headers))]
    for row in table:
        cells = []
        for i, cell in enumerate(row):
            pad = " " * (widths[i] - _width(cell))
            last = i == len(row) - 1
            cells.append(pad + cell if i in right else cell + ("" if last else pad))
        click.echo("  ".join(cells).rstrip())


def _cut(text: str | None, limit: int) -> str:
    line = _clean(text or "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


# --- filter options ------------------------------------------------------------------


def _day(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return rq.parse_day(value)
    except rq.InvalidFilter as exc:
        raise click.BadParameter(str(exc)) from None


def _station(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return rq.parse_station(value)
    except rq.InvalidFilter as exc:
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


def _filters(options: dict[str, Any]) -> rq.Filters:
    try:
        return rq.Filters(site=options["site"] or None,
                          incident_type=options["incident_type"],
                          date_from=options["date_from"], date_to=options["date_to"],
                          search=options["search"] or None, kind=options["kind"],
                          station=options["station"], perpetrator=options["perpetrator"],
                          source=options["source"],
                          with_attachments=options["with_attachments"],
                          status=options["status"], tag=options["tag"] or None,
                          sensitive=options["sensitive"], incident=options["incident"])
    except rq.InvalidFilter as exc:
        raise click.BadParameter(str(exc), param_hint="'--from' / '--to'") from None


# --- list ------------------------------------------------------------------------------


@review.command("list")
@filter_options
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Show at most this many reports.")
@pass_review
def review_list(obj: ReviewContext, /, limit: int | None, **options: Any) -> None:
    """List matching reports, newest first (RECEIPT is the monitor's code: for a follow-up,
    the code of the report it follows)."""
    filters = _filters(options)
    with obj.open() as db:
        found = list(rq.list_reports(db, filters, limit))
    if not found:
        click.echo("No reports match.")
        return
    rows = [[str(s.id), f"{s.station_short}#{s.seq}", s.kind, s.submitted,
             s.incident_date or "-", _cut(s.site, 24) or "-", _cut(",".join(s.types), 40) or "-",
             s.receipt,
             str(s.follow_ups), str(s.attachments), s.excerpt] for s in found]
    _table(["ID", "STATION#SEQ", "KIND", "RECEIVED", "INCIDENT", "SITE", "TYPES", "RECEIPT",
            "FOLLOW-UPS", "FILES", "DESCRIPTION"], rows, right=frozenset({0, 8, 9}))


# --- show ------------------------------------------------------------------------------


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


def _show_record(record: rq.Record) -> None:
    report = record.report
    receipt = rq.receipt_code(report)
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
    width = max(_width(label) for label, _ in lines) + 1
    for label, value in lines:
        click.echo(f"{label}:{' ' * (width - _width(label))}{value}")
    click.echo("Description:")
    _indented(str(fields.get("description") or NOT_GIVEN))
    _attachments(record)


def _attachments(record: rq.Record, indent: str = "") -> None:
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


def _heading(record: rq.Record, noun: str = "report") -> str:
    report = record.report
    site = report.fields.get("site") or report.fields.get("site_other")
    where = f", site {_clean(str(site))}" if site else ""
    return (f"{noun} {record.id} ({KIND_LABELS.get(report.kind, report.kind)}, station "
            f"{record.station[:rq.SHORT_STATION]} #{record.seq}, received "
            f"{report.submitted}{where})")


@review.command("show")
@click.argument("report_id", metavar="ID", type=int)
@pass_review
def review_show(obj: ReviewContext, report_id: int) -> None:
    """Every field of report ID, with its follow-ups (or the report it follows)."""
    with obj.open() as db:
        detail = rq.get_report(db, report_id)
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


def _elsewhere(linked: rq.Record, record: rq.Record) -> str:
    """A mark on a link between reports of two stations."""
    if linked.station == record.station:
        return ""
    return (f" [from another station: {linked.station[:rq.SHORT_STATION]}, "
            f"not {record.station[:rq.SHORT_STATION]}]")


def _shared_code_warning(detail: rq.Detail) -> None:
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


# --- attachments -----------------------------------------------------------------------


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


@review.command("attachments")
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


# --- export ----------------------------------------------------------------------------


@contextmanager
def _output(path: Path | None, *, binary: bool = False) -> Iterator[IO[Any]]:
    """Standard output, or a new file (mode 0600, never an existing one)."""
    if path is None:
        yield sys.stdout.buffer if binary else sys.stdout
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        raise rq.ExportError(f"{path} already exists; reporter never overwrites a file: "
                             "choose another --out or move it") from None
    except OSError as exc:
        raise rq.ExportError(f"cannot create {path}: {exc.strerror}") from None
    try:
        with (open(fd, "wb") if binary
              else open(fd, "w", encoding="utf-8", newline="")) as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
    except BaseException:
        path.unlink(missing_ok=True)  # never leave half an export behind
        raise


def _writer(fmt: str) -> Callable[[Iterable[rq.ExportRow], Any], int]:
    if fmt == "xlsx":
        from reporter.review.spreadsheet import write_xlsx  # XlsxWriter, only when asked for
        return write_xlsx
    return rq.write_csv if fmt == "csv" else rq.write_jsonl


@review.command("export")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "jsonl"]), required=True,
              help="csv: one row per report (for spreadsheets; formulas defused with an "
                   "apostrophe); xlsx: a spreadsheet whose cells are typed text and "
                   "numbers, never formulas, the text unaltered; jsonl: one JSON report "
                   "per line, complete and lossless.")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write to this new file (mode 0600, never overwritten) "
                   "instead of standard output.")
@filter_options
@pass_review
def review_export(obj: ReviewContext, /, fmt: str, out: Path | None, **options: Any) -> None:
    """Export matching reports, oldest first, as CSV, a spreadsheet or JSON Lines."""
    filters = _filters(options)
    if out is not None and (out.exists() or out.is_symlink()):
        raise rq.ExportError(f"{out} already exists; reporter never overwrites a file: "
                             "choose another --out or move it")
    binary = fmt == "xlsx"
    if binary and out is None and sys.stdout.isatty():
        raise click.UsageError("--format xlsx writes a binary file: give --out FILE.xlsx")
    write = _writer(fmt)
    bar = sys.stderr.isatty() and (out is not None or not sys.stdout.isatty())
    with obj.open() as db, _output(out, binary=binary) as stream:
        rows = rq.export_rows(db, filters)
        if bar:
            with click.progressbar(rows, length=rq.count_reports(db, filters),
                                   label="Exporting", file=sys.stderr) as progress:
                count = write(progress, stream)
        else:
            count = write(rows, stream)
    echo(f"Exported {plural(count, 'report')}" + (f" to {out}." if out else "."), err=True)
    if out is not None:
        click.echo("The file is not encrypted: keep it on an encrypted disk and delete it "
                   "when you no longer need it.", err=True)


# --- stats -----------------------------------------------------------------------------


@review.command("stats")
@filter_options
@pass_review
def review_stats(obj: ReviewContext, /, **options: Any) -> None:
    """Counts of matching reports by kind, site, incident type and month."""
    filters = _filters(options)
    with obj.open() as db:
        counts = rq.stats(db, filters)
        incidents = ri.count_incidents(db, filters)
    if not counts.total:
        click.echo("No reports match.")
        return
    click.echo(f"Reports: {counts.total}")
    click.echo(f"Incidents: {incidents} (reports linked to one "
               "incident count once; a report linked to none counts as its own)")
    click.echo("")
    _table(["KIND", "REPORTS"], [[k, str(n)] for k, n in counts.by_kind], frozenset({1}))
    click.echo("")
    _table(["SITE", "REPORTS"],
           [[_cut(s, 40) if s else "(no site)", str(n)] for s, n in counts.by_site],
           frozenset({1}))
    if counts.by_type:
        click.echo("")
        _table(["INCIDENT TYPE", "REPORTS", "LABEL"],
               [[t, str(n), TYPE_LABELS.get(t, "")] for t, n in counts.by_type],
               frozenset({1}))
    click.echo("")
    _table(["MONTH", "REPORTS"], [[m, str(n)] for m, n in counts.by_month], frozenset({1}))
