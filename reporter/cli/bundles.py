"""Bundle commands: ``export``, ``station-key``, ``verify`` (station and reviewer)
and ``review import`` / ``review gaps`` (reviewer)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from reporter.cli.common import noun, plural, read_passphrase
from reporter.cli.review import ReviewContext, pass_review
from reporter.cli.review_recipients import sealed_to, warn_change
from reporter.cli.terminal import clean, echo
from reporter.errors import DatabaseUnreadable, NothingToExport, ReporterError
from reporter.formats import keyfile
from reporter.formats.crypto import RecipientPrivateKey, StationVerifyKey
from reporter.formats.manifest import ROOT_HISTORY, Restore, recipient_id
from reporter.review.histories import NewRestore, Replaced, short
from reporter.review.importer import compress, format_ranges, gaps, import_bundle, verify_bundle
from reporter.review.recipients import PINNED, RecipientsChanged, of_manifest
from reporter.station.export import export_bundle
from reporter.station.instance import load_identity
from reporter.storage.blobs import BlobStore


def report_range(first: int, last: int, count: int) -> str:
    """``reports 1-3 (3)``, or ``report 4`` for one."""
    if count == 1 and first == last:
        return f"report {first}"
    return f"reports {first}-{last} ({count})"


@contextmanager
def progress_bar(total: int, label: str) -> Iterator[Any]:
    """A progress bar on a terminal (stderr); nothing when output is piped."""
    if total > 0 and sys.stderr.isatty():
        with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
            yield bar
    else:
        yield None


def load_key(path: Path, passphrase_file: Path | None) -> RecipientPrivateKey:
    data = keyfile.read(path)
    passphrase = read_passphrase(file=passphrase_file, env="REPORTER_KEY_PASSPHRASE",
                                 prompt=clean(f"Passphrase for {path}"), confirm=False,
                                 option="--key-passphrase-file")
    return keyfile.load(data, passphrase)


key_option = click.option("--key", "key_path", required=True,
                          type=click.Path(path_type=Path, dir_okay=False),
                          help="Your reviewer key file (from 'reporter keygen').")
key_passphrase_option = click.option(
    "--key-passphrase-file", type=click.Path(path_type=Path, dir_okay=False), default=None,
    help="Read the key's passphrase from this file (otherwise $REPORTER_KEY_PASSPHRASE, "
         "or a prompt).")


@click.command()
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="Where to write the bundle (never overwritten).")
@click.option("--all", "all_held", is_flag=True,
              help="Every report the station still holds, not only new ones.")
@click.pass_obj
def export(obj: Any, out: Path, all_held: bool) -> None:
    """Write a signed, sealed bundle of the reports not yet exported, with their
    attachments."""
    with obj.store() as store, BlobStore.open(obj.instance, obj.key()) as blobs:
        identity = load_identity(store)
        total = max(store.last_seq(), 0)
        try:
            with progress_bar(total, "Sealing the bundle") as bar:
                result = export_bundle(store, identity, out, all_held=all_held,
                                       progress=(lambda n: bar.update(1)) if bar else None,
                                       blobs=blobs)
        except NothingToExport as nothing:
            click.echo(str(nothing), err=True)
            return
    files = (f", {plural(result.attachments, 'attachment')} "
             f"({plural(result.attachment_bytes, 'byte')} sealed)" if result.attachments else "")
    echo(f"Bundle {result.number} written to {result.path}: "
         f"{report_range(result.first_seq, result.last_seq, result.reports)}{files}, "
         f"{plural(result.size, 'byte')}.")
    click.echo("Give it to the reviewers. Nobody can read it on the way.", err=True)


@click.command()
@click.option("--through", "number", type=click.IntRange(1), required=True,
              help="Erase the reports of bundles 1 to N (N included).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def purge(obj: Any, number: int, yes: bool) -> None:
    """Erase reports (and their attachments) that reviewers confirmed they received, so
    a seized station holds as little as possible. Only do this once they have imported
    the bundles."""
    if not yes:
        click.confirm(f"Erase for good every report (and its attachments) in bundles 1 to "
                      f"{number}? Only do this once the reviewers confirmed they imported "
                      "them", abort=True)
    # Reports first, then their attachments: if purge is cut off in between, what is
    # left is attachments of no held report, which the station's start-up sweep
    # erases. The other order could leave reports whose attachments are gone.
    with obj.store() as store, BlobStore.open(obj.instance, obj.key()) as blobs:
        result = store.purge_through(number)
        attachments = blobs.delete_for(list(result.envelope_hashes))
    click.echo(f"Erased {plural(result.erased, 'report')} (up to report "
               f"{result.through_seq}, bundle {result.through_bundle}) and "
               f"{plural(attachments, 'attachment')}; the database file was rewritten.")
    if not result.wal_truncated:
        click.echo("Note: a running 'reporter serve' kept the write-ahead log open; run "
                   "purge again after stopping it to empty the log as well.", err=True)


@click.command("station-key")
@click.pass_obj
def station_key(obj: Any) -> None:
    """Print the station's public signing key and fingerprint, for reviewers to pin."""
    with obj.store() as store:
        identity = load_identity(store)
    key = identity.signing_key.verify_key
    click.echo(f"Station id:  {identity.station_id_text}")
    click.echo(f"Signing key: {key.to_text()}")
    click.echo(f"Fingerprint: {key.fingerprint()}")


@click.command()
@click.argument("bundle", type=click.Path(path_type=Path, dir_okay=False))
@key_option
@key_passphrase_option
@click.option("--station-key", "expected", default=None,
              help="Refuse the bundle unless it is signed by this station key "
                   "('reporterstation1...', from 'reporter station-key').")
def verify(bundle: Path, key_path: Path, key_passphrase_file: Path | None,
           expected: str | None) -> None:
    """Check a bundle completely without importing it; say exactly what is wrong."""
    pinned = StationVerifyKey.from_text(expected) if expected else None
    key = load_key(key_path, key_passphrase_file)
    try:
        result = verify_bundle(bundle, key, pinned)
    except ReporterError as exc:
        raise type(exc)(f"{bundle}: {exc}") from None
    m = result.manifest
    echo(f"{bundle}: OK")
    click.echo(f"  station {m.station_id.hex()} signed by {m.station_key.fingerprint()}")
    click.echo(f"  bundle {m.number}{history_label(m.history)}, "
               f"{report_range(m.first_seq, m.last_seq, result.reports)}, created {m.created}")
    for restore in m.restores:
        click.echo(f"  the station was {restored_line(restore)}: history {short(restore.id)}")
    if result.attachments:
        click.echo(f"  {plural(result.attachments, 'attachment')} "
                   f"({plural(result.attachment_bytes, 'byte')} sealed), each matching its "
                   "signed size and hash")
    click.echo("  signature, every report's hash and the hash chain verified")
    click.echo("  " + sealed_to_key(m.first_seq, result.reports, list(result.not_sealed_to_key)))
    for line in sealed_to(of_manifest(m), recipient_id(key.public_key)):
        echo(line)


def history_label(history: bytes) -> str:
    """`` of history 3fa9c1d2`` for a restored station's bundles; nothing otherwise."""
    return "" if history == ROOT_HISTORY else f" of history {short(history)}"


def restored_line(restore: Restore) -> str:
    """``restored on DAY from a backup of DAY (it held ...)``."""
    if restore.seq == 0:
        held = "it held no report"
    else:
        bundles = (f"bundles up to {restore.bundle}" if restore.bundle
                   else "no bundle exported")
        held = f"it held reports up to {restore.seq}, {bundles}"
    return f"restored on {restore.restored} from a backup of {restore.backup} ({held})"


def restore_notice(station: str, new: NewRestore) -> list[str]:
    """What a reviewer is told the first time a bundle shows a restore of a station."""
    r = new.restore
    lines = [f"  NOTICE: {station} was {restored_line(r)}.",
             f"    Its bundles from {r.bundle + 1} and reports from {r.seq + 1} on are a new "
             f"history, {short(r.id)}, kept apart from those of the same numbers that it "
             "made before it was restored."]
    if new.held_reports is None and new.held_bundles is None:
        lines.append(f"    Of what it sealed after that backup you hold nothing: reports from "
                     f"{r.seq + 1} on that it had not exported are lost.")
    else:
        bundles = (f" (bundles up to {new.held_bundles})" if new.held_bundles is not None
                   else "")
        upto = new.held_reports if new.held_reports is not None else r.seq
        lines.append(f"    Of what it sealed after that backup you hold reports "
                     f"{r.seq + 1}-{upto}{bundles}; reports after {upto} that it had not "
                     "exported are lost.")
    lines.append("    A bundle it made before the restore and that is still on its way can "
                 "still be imported. If nobody restored the station, ask the operator: "
                 "whoever holds its passphrase and a backup can do this.")
    if new.made_after:
        lines.append(f"  WARNING: {noun(len(new.made_after), 'bundle')} "
                     f"{compress(list(new.made_after))} of the history this restore replaced "
                     f"{'was' if len(new.made_after) == 1 else 'were'} made after "
                     f"{r.restored}: two copies of the station may be running. Ask the "
                     "operator.")
    return lines


def replaced_note(station: str, number: int, replaced: Replaced) -> str:
    r = replaced.restore
    if replaced.after_restore:
        return (f"  WARNING: bundle {number} of {station} was made on {replaced.created}, "
                f"after the station was {restored_line(r)} (new history {short(r.id)}), but "
                "it continues the history that restore replaced: two copies of the station "
                "may be running. Ask the operator.")
    return (f"  bundle {number} was made before the station was {restored_line(r)}: its "
            f"reports are kept in the history that restore replaced (history {short(r.id)} "
            "goes on from the backup)")


def sealed_to_key(first_seq: int, total: int, not_sealed: list[int]) -> str:
    """How many of a bundle's reports the reviewer's key opens (``verify``)."""
    opened = total - len(not_sealed)
    if not not_sealed:
        return ("the report is sealed to your key" if total == 1
                else f"all {total} reports are sealed to your key")
    them = "it" if len(not_sealed) == 1 else "them"
    why = (f"sealed before your key was on the station's list; the keys on it then "
           f"open {them}")
    if opened == 0:
        if total == 1:
            return f"report {first_seq} is not sealed to your key ({why})"
        return f"none of the {total} reports is sealed to your key ({why})"
    return (f"{opened} of {plural(total, 'report')} {'is' if opened == 1 else 'are'} sealed "
            f"to your key; not {noun(len(not_sealed), 'report')} {compress(not_sealed)} "
            f"({why})")


@click.command("import")
@click.argument("bundles", nargs=-1, required=True,
                type=click.Path(path_type=Path, dir_okay=False))
@key_option
@key_passphrase_option
@pass_review
def review_import(ctx: ReviewContext, bundles: tuple[Path, ...], key_path: Path,
                  key_passphrase_file: Path | None) -> None:
    """Verify and decrypt bundles into the review database (one transaction each)."""
    key = load_key(key_path, key_passphrase_file)
    own = recipient_id(key.public_key)
    failures = 0
    changed: list[str] = []
    with ctx.open_or_create() as db:
        for path in bundles:
            try:
                with progress_bar(1, clean(f"Importing {path.name}")) as bar:
                    def step(done: int, total: int, bar: Any = bar) -> None:
                        if bar is not None:
                            bar.length = total
                            bar.update(1)
                    result = import_bundle(db, path, key, progress=step)
            except DatabaseUnreadable:
                # The review database itself is damaged: not this bundle's fault,
                # and no other bundle can be imported either.
                raise
            except ReporterError as exc:
                failures += 1
                echo(f"error: {path}: {exc}", err=True)
                continue
            station = f"station {result.station_id.hex()[:8]}"
            for new in result.restores:
                for line in restore_notice(station, new):
                    echo(line)
            numbered = f"{result.number}{history_label(result.history)}"
            if result.new_station:
                echo(f"{path}: new {station}, signing key pinned: "
                     f"{result.station_key.fingerprint()} (check it with the operator)")
            files = (f" ({plural(result.attachments, 'attachment')})"
                     if result.attachments else "")
            if result.already_imported and not result.added:
                echo(f"{path}: bundle {numbered} of {station} was already "
                     "imported; nothing added")
            elif result.already_imported:
                echo(f"{path}: bundle {numbered} of {station} was already imported; "
                     f"this key opens {plural(result.added, 'report')} that no key imported "
                     f"with before could: {compress(result.filled)}, added{files}")
            else:
                echo(f"{path}: bundle {numbered} of {station}: "
                     f"{plural(result.added, 'report')} added{files}, "
                     f"{result.already_present} already present")
                if result.filled:
                    click.echo(f"  of which {noun(len(result.filled), 'report')} "
                               f"{compress(result.filled)}: no key imported with before "
                               f"opened {'it' if len(result.filled) == 1 else 'them'}")
            for replaced in result.replaced:
                echo(replaced_note(station, result.number, replaced),
                     err=replaced.after_restore)
            for seq, report_id, others in result.shared_codes:
                echo(f"  WARNING: report {seq} (id {report_id}) has the receipt code of first "
                     f"report{'s' if len(others) > 1 else ''} "
                     f"{', '.join(f'id {i}' for i in others)}, imported before: a station "
                     "reused a monitor's code (a forged station, or a replay). "
                     f"'reporter review show {report_id}' shows both", err=True)
            if result.unreadable:
                many = len(result.unreadable) != 1
                click.echo(f"  {plural(len(result.unreadable), 'report')} "
                           f"{'are' if many else 'is'} not sealed to this key (sealed before "
                           f"it was added): {compress(result.unreadable)}; importing this "
                           f"bundle again with a key that opens {'them' if many else 'it'} "
                           f"adds {'them' if many else 'it'}")
            if result.oversealed:
                counts = sorted({n for _seq, n in result.oversealed})
                many = len(result.oversealed) != 1
                echo(f"  WARNING: {noun(len(result.oversealed), 'report')} "
                     f"{compress([seq for seq, _n in result.oversealed])} "
                     f"{'are' if many else 'is'} sealed to {' or '.join(map(str, counts))} "
                     f"keys, more than the {result.sealed_to} this bundle is sealed to: a key "
                     f"was on the station's list when {'they' if many else 'it'} arrived and "
                     "is not now (removed since, or "
                     "added and removed between two bundles). If nobody removed a reviewer, "
                     "ask the operator.", err=True)
            outcome = result.recipients
            if outcome is not None:
                for line in sealed_to(outcome.recipients, own):
                    echo(line)
                if outcome.state == PINNED:
                    click.echo(f"  these recipients are now pinned for {station}: check each "
                               "fingerprint with its owner by phone")
                if outcome.change is not None:
                    warn_change(result.station_id, result.number, outcome.change, own)
                    changed.append(f"bundle {result.number} of {station}")
    refused = (f"{failures} of {plural(len(bundles), 'bundle')} "
               f"{'was' if failures == 1 else 'were'} refused (see above)" if failures else "")
    if changed:
        news = (f"the recipients changed in {', '.join(changed)}: nothing is pinned until you "
                "accept the change ('reporter review recipients')")
        if failures:
            raise ReporterError(f"{refused}; {news}")
        raise RecipientsChanged(f"imported, but {news}")
    if failures:
        raise ReporterError(refused)


@click.command("gaps")
@pass_review
def review_gaps(ctx: ReviewContext) -> None:
    """Per station: bundles and reports not imported yet."""
    with ctx.open() as db:
        found = gaps(db)
    if not found:
        click.echo("No bundle imported yet.")
    for g in found:
        click.echo(f"Station {g.station_id.hex()} ({g.station_key.fingerprint()}): "
                   f"{plural(g.bundles, 'bundle')}, reports up to {g.last_seq}")
        for h in g.histories:
            indent = "  "
            if h.restore is not None:
                click.echo(f"  history {short(h.history)}, {restored_line(h.restore)}: "
                           f"{plural(h.bundles, 'bundle')}, reports up to {h.last_seq}")
                indent = "    "
            click.echo(f"{indent}missing bundles: {format_ranges(h.missing_bundles) or 'none'}")
            click.echo(f"{indent}missing reports: {format_ranges(h.missing_reports) or 'none'}")
            if h.unreadable_reports:
                click.echo(f"{indent}not readable (no key imported with opens them): "
                           f"{compress(h.unreadable_reports)}")
            for restore, held in h.replaced_by:
                after = held if held is not None else restore.seq
                click.echo(f"{indent}replaced by history {short(restore.id)} (restored on "
                           f"{restore.restored}): reports after {after} that it had not "
                           "exported are lost, unless a bundle is still on its way")
