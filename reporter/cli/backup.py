"""``reporter backup`` and ``reporter restore``: a station's files, still encrypted.

The file format is ``docs/backup-format.md``; what a restore does to the
station's numbering, and what reviewers see, is ``docs/bundle-format.md``,
*Restores*. Both verbs ask for the station passphrase: the backup to copy the
databases under their own key, the restore (once the file is checked) to
prove the backup opens before anything is moved into place.
"""

from __future__ import annotations

from pathlib import Path

import click

from reporter.cli.common import plural
from reporter.cli.station import Context, pass_ctx
from reporter.cli.terminal import echo
from reporter.station.backup import restore_backup, take_backup


@click.command()
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="Where to write the backup (never overwritten); ideally another disk.")
@pass_ctx
def backup(obj: Context, out: Path) -> None:
    """Copy the station (its encrypted databases, as they are) into one file, while it runs.

    The file is as safe as the station's disk: everything in it stays encrypted under
    the station passphrase. Restore it with 'reporter restore'."""
    result = take_backup(obj.instance, obj.key(), out)
    files = (f", {plural(result.attachments, 'attachment')}" if result.attachments else "")
    upto = (f"bundles exported up to {result.last_bundle}" if result.last_bundle
            else "no bundle exported yet")
    echo(f"Backup written to {result.path}: {plural(result.reports, 'report')} held "
         f"(up to report {result.last_seq}){files}, {upto}; {plural(result.size, 'byte')}.")
    click.echo("Keep it apart from the station (another disk, another place). It opens "
               "only with the station passphrase, and so does the station it restores.",
               err=True)


@click.command()
@click.argument("source", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--replace", is_flag=True,
              help="The instance folder holds a station: move it aside (to "
                   "INSTANCE.replaced-N, not deleted) and restore in its place. Stop the "
                   "station first.")
@pass_ctx
def restore(obj: Context, source: Path, replace: bool) -> None:
    """Restore a station from a backup into the instance folder.

    The whole file is checked first: a backup that is cut short or altered is
    refused and nothing is written. The restored station starts a new history of its
    numbering, so reviewers accept its next bundles (and say what was lost)."""
    result = restore_backup(source, obj.instance, obj.station_passphrase, replace=replace)
    r = result.restore
    echo(f"Station {result.identity.station_id_text} restored into {result.instance} from "
         f"a backup of {r.backup}.")
    if result.replaced is not None:
        echo(f"The station that was there is kept in {result.replaced}: delete it once "
             "you are sure you no longer need it.")
    exported = (f"bundles up to {r.bundle} were exported" if r.bundle
                else "no bundle had been exported")
    click.echo(f"It holds {plural(result.reports, 'report')} (up to report {r.seq}) and "
               f"{plural(result.attachments, 'attachment')}; when the backup was taken, "
               f"{exported}.")
    click.echo("Reports that arrived after the backup are not in it: those already exported "
               "are with the reviewers; the others are lost.")
    click.echo(f"New history {r.id.hex()[:8]}: bundles and reports from now on are numbered "
               "after the backup's, in a history of their own, so reviewers' 'review import' "
               "accepts them and says the station was restored. Tell the reviewers.")
    if result.dropped_reservations:
        click.echo(f"{plural(result.dropped_reservations, 'export')} that had not finished "
                   "when the backup was taken were dropped; the next export carries their "
                   "reports.")
    click.echo("Check it with 'reporter status', then start it as before.")
