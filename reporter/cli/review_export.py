"""``reporter review export``: matching reports to a new file or standard output,
as CSV, a spreadsheet or JSON Lines.

Apart from the reading commands because it writes: a file that never
overwrites another, is made mode 0600, synced, and removed if the export fails
half-way (``_output``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import click

from reporter.cli.common import plural
from reporter.cli.review import ReviewContext, pass_review
from reporter.cli.review_filters import filter_options, filters_from
from reporter.cli.terminal import echo
from reporter.review import export, listing


@contextmanager
def _output(path: Path | None, *, binary: bool = False) -> Iterator[IO[Any]]:
    """Standard output, or a new file (mode 0600, never an existing one)."""
    if path is None:
        yield sys.stdout.buffer if binary else sys.stdout
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        raise export.ExportError(f"{path} already exists; reporter never overwrites a file: "
                                 "choose another --out or move it") from None
    except OSError as exc:
        raise export.ExportError(f"cannot create {path}: {exc.strerror}") from None
    try:
        with (open(fd, "wb") if binary
              else open(fd, "w", encoding="utf-8", newline="")) as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
    except BaseException:
        path.unlink(missing_ok=True)  # never leave half an export behind
        raise


def _writer(fmt: str) -> Callable[[Iterable[export.ExportRow], Any], int]:
    if fmt == "xlsx":
        from reporter.review.spreadsheet import write_xlsx  # XlsxWriter, only when asked for
        return write_xlsx
    return export.write_csv if fmt == "csv" else export.write_jsonl


@click.command("export")
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
    filters = filters_from(options)
    if out is not None and (out.exists() or out.is_symlink()):
        raise export.ExportError(f"{out} already exists; reporter never overwrites a file: "
                                 "choose another --out or move it")
    binary = fmt == "xlsx"
    if binary and out is None and sys.stdout.isatty():
        raise click.UsageError("--format xlsx writes a binary file: give --out FILE.xlsx")
    write = _writer(fmt)
    bar = sys.stderr.isatty() and (out is not None or not sys.stdout.isatty())
    with obj.open() as db, _output(out, binary=binary) as stream:
        rows = export.export_rows(db, filters)
        if bar:
            with click.progressbar(rows, length=listing.count_reports(db, filters),
                                   label="Exporting", file=sys.stderr) as progress:
                count = write(progress, stream)
        else:
            count = write(rows, stream)
    echo(f"Exported {plural(count, 'report')}" + (f" to {out}." if out else "."), err=True)
    if out is not None:
        click.echo("The file is not encrypted: keep it on an encrypted disk and delete it "
                   "when you no longer need it.", err=True)
