"""``reporter`` verbs that set up, run and inspect a station.

``init``, ``recipients``, ``sites``, ``serve`` and ``status``; they act on the
instance folder chosen by the root group's ``--instance`` and unlock it with
the station passphrase.
"""

from __future__ import annotations

import errno
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from reporter.cli.common import plural, read_passphrase
from reporter.cli.onion_serve import onion_options, start_onion
from reporter.cli.process import forget_environment_variable
from reporter.cli.terminal import echo
from reporter.errors import ConfigError, NoRecipients
from reporter.formats.crypto import KDF_PROFILES, RecipientPublicKey
from reporter.station.config import load_config
from reporter.station.diskspace import DiskSpace, Room, mib
from reporter.station.instance import init_instance, load_identity, open_store, unlock
from reporter.station.store import Store, check_recipient_count
from reporter.storage.blob_file import blobs_path
from reporter.storage.blobs import BlobStore

if TYPE_CHECKING:
    from reporter.station.onion.run import OnionOptions


class Context:
    def __init__(self, instance: Path, passphrase_file: Path | None) -> None:
        self.instance = instance
        self.passphrase_file = passphrase_file
        self._key: bytes | None = None

    def station_passphrase(self, *, new: bool = False) -> str:
        return read_passphrase(
            file=self.passphrase_file, env="REPORTER_PASSPHRASE",
            prompt="Station passphrase", confirm=new,
        )

    def key(self) -> bytes:
        if self._key is None:
            self._key = unlock(self.instance, self.station_passphrase())
        return self._key

    def store(self) -> Store:
        return open_store(self.instance, self.key())


pass_ctx = click.make_pass_decorator(Context)


@click.command()
@click.option("--kdf", "kdf_profile", type=click.Choice(sorted(KDF_PROFILES)),
              default="moderate", show_default=True,
              help="Cost of deriving the database key. Use 'interactive' on a "
                   "Raspberry Pi with 512 MB of memory.")
@pass_ctx
def init(obj: Context, kdf_profile: str) -> None:
    """Create a new station (encrypted database, signing key) in the instance folder."""
    passphrase = obj.station_passphrase(new=True)
    identity = init_instance(obj.instance, passphrase, kdf_profile=kdf_profile)
    echo(f"Station created in {obj.instance}")
    click.echo(f"Station id:          {identity.station_id_text}")
    click.echo(f"Station signing key: {identity.signing_key.verify_key.to_text()}")
    click.echo(f"Fingerprint:         {identity.signing_key.verify_key.fingerprint()}")
    click.echo("Next: add a reviewer's public key with 'reporter recipients add NAME KEY'.")


@click.group()
def recipients() -> None:
    """The reviewers whose public keys every report is sealed to."""


@recipients.command("add")
@click.argument("name")
@click.argument("public_key")
@pass_ctx
def recipients_add(obj: Context, name: str, public_key: str) -> None:
    """Add reviewer NAME with PUBLIC_KEY (the 'reporter1...' line from keygen)."""
    key = RecipientPublicKey.from_text(public_key)
    with obj.store() as store:
        store.add_recipient(name, key)
        held, unexported = store.report_count(), store.unexported_count()
    echo(f"Added {name}. Fingerprint: {key.fingerprint()}")
    click.echo("Check this fingerprint with the reviewer over another channel.")
    click.echo(sealed_before(held, unexported))


def sealed_before(held: int, unexported: int) -> str:
    """What a key just added cannot open: every report already held was sealed on
    arrival to the list of that moment. Envelopes name no recipient, so the station
    counts the envelopes it holds; it cannot check them for a key that was on the
    list before, removed and added again."""
    if held == 0:
        return "The station holds no report: every report from now on is sealed to it."
    one = held == 1
    text = (f"The station holds {plural(held, 'report')} sealed before this key was added: "
            f"this key will not open {'it' if one else 'them'} (unless it was on the list "
            f"when {'it' if one else 'they'} arrived); the reviewers already on the list can. "
            "Reports from now on are sealed to it.")
    if unexported:
        if one:
            text += " That report is not exported yet: the next bundle carries it."
        else:
            few = unexported == 1
            text += (f" {unexported} of them {'is' if few else 'are'} not exported yet: the "
                     f"next bundle carries {'it' if few else 'them'}.")
    return text


@recipients.command("list")
@pass_ctx
def recipients_list(obj: Context) -> None:
    """List the reviewers, with fingerprints."""
    with obj.store() as store:
        found = store.recipients()
    if not found:
        click.echo("No recipients yet. Add one with 'reporter recipients add NAME KEY'.")
    for r in found:
        echo(f"{r.name}\t{r.public_key.fingerprint()}\t{r.public_key.to_text()}")


@recipients.command("remove")
@click.argument("name")
@pass_ctx
def recipients_remove(obj: Context, name: str) -> None:
    """Stop sealing new reports to reviewer NAME (reports already sealed stay as they are)."""
    with obj.store() as store:
        store.remove_recipient(name)
    echo(f"Removed {name}. New reports are no longer sealed to that key.")


# --- sites ---------------------------------------------------------------------


@click.group()
def sites() -> None:
    """The mine sites monitors can choose from on the form."""


@sites.command("add")
@click.argument("name")
@pass_ctx
def sites_add(obj: Context, name: str) -> None:
    """Add a mine site to the form's list."""
    with obj.store() as store:
        store.add_site(name)
    echo(f"Added site {name}.")


@sites.command("list")
@pass_ctx
def sites_list(obj: Context) -> None:
    """List the mine sites on the form."""
    with obj.store() as store:
        for site in store.sites():
            echo(site)


@sites.command("remove")
@click.argument("name")
@pass_ctx
def sites_remove(obj: Context, name: str) -> None:
    """Remove a mine site from the form's list."""
    with obj.store() as store:
        store.remove_site(name)
    echo(f"Removed site {name}.")


# --- serving and status --------------------------------------------------------


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0 to serve a local Wi-Fi).")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@click.option("--threads", type=click.IntRange(2, 256), default=16, show_default=True,
              help="Requests the app works on at once. Waiting connections hold none.")
@click.option("--upload-slots", type=click.IntRange(1, 255), default=None,
              help="Uploads received at once (default: three quarters of --threads); the "
                   "other threads always serve the form and text-only reports.")
@click.option("--max-connections", type=click.IntRange(16, 1_000_000), default=4096,
              show_default=True, help="Connections held open, idle or waiting, at most.")
@click.option("--head-timeout", type=click.FloatRange(1, 3600), default=60, show_default=True,
              help="Seconds a connection has to send a complete request head.")
@click.option("--min-upload-rate", type=click.IntRange(0, 10**9), default=1024,
              show_default=True,
              help="Bytes a second an upload must average over each minute, or be dropped.")
@click.option("--upload-rate-window", type=click.FloatRange(1, 3600), default=60, hidden=True)
@click.option("--max-submissions-per-minute", type=click.IntRange(0, 1_000_000), default=None,
              help="Reports and follow-ups the whole station takes a minute, 0 for no "
                   "limit (default 60, or $REPORTER_MAX_SUBMISSIONS_PER_MINUTE). Past it, "
                   "the form comes back with what was typed: 'try again in a minute'.")
@click.option("--submission-window", type=click.FloatRange(0.1, 3600), default=None,
              hidden=True)
@click.option("--min-free-mib", type=click.IntRange(0, 16 * 1024 * 1024), default=None,
              help="Free disk space to keep, in MiB, 0 for no guard (default 512, or "
                   "$REPORTER_MIN_FREE_MIB). Below it files are refused; below a quarter "
                   "of it, every report.")
@click.option("--hotspot", is_flag=True, default=None,
              help="Answer phones' captive-portal checks with the form, for a station on "
                   "its own Wi-Fi (docs/hotspot-answers.md). Not behind a reverse proxy.")
@click.option("--preview-languages", is_flag=True,
              help="Also show in-progress translations (for translators, never in the field).")
@onion_options
@pass_ctx
def serve(obj: Context, host: str, port: int, threads: int, upload_slots: int | None,
          max_connections: int, head_timeout: float, min_upload_rate: int,
          upload_rate_window: float, max_submissions_per_minute: int | None,
          submission_window: float | None, min_free_mib: int | None, hotspot: bool | None,
          preview_languages: bool, onion: OnionOptions | None) -> None:
    """Serve the report form (with --onion, as a Tor onion service too). Refuses to start
    with no reviewer key."""
    from reporter.station.app import create_app
    from reporter.station.web.attachments import delete_in_background, orphaned_uploads
    from reporter.web.server import make_server

    key = obj.key()
    # The passphrase has done its work: it must not stay readable in
    # /proc/PID/environ for the server's lifetime.
    forget_environment_variable("REPORTER_PASSPHRASE")
    with open_store(obj.instance, key) as store:
        if not store.recipients():
            raise NoRecipients(
                "no reviewer key is configured, so reports could not be sealed. Add one "
                "first: 'reporter recipients add NAME KEY' (the key comes from "
                "'reporter keygen' on the reviewer's machine)"
            )
        check_recipient_count(len(store.recipients()))
    orphans = orphaned_uploads(obj.instance, key)
    chosen: dict[str, Any] = {"max_submissions_per_minute": max_submissions_per_minute,
              "submission_window": submission_window, "min_free_mib": min_free_mib,
              "hotspot": hotspot or None, "preview_languages": preview_languages or None}
    config = load_config(obj.instance, key,
                         **{name: value for name, value in chosen.items() if value is not None})
    room = DiskSpace(obj.instance, config.min_free_bytes, config.disk_size_file)
    if room.room() is not Room.PLENTY:
        click.echo(f"Warning: {low_space(room)}", err=True)
    tuning: dict[str, float] = {"max_connections": max_connections,
                                "head_timeout": head_timeout,
                                "min_body_rate": min_upload_rate,
                                "rate_window": upload_rate_window}
    if upload_slots is not None:
        tuning["upload_slots"] = min(upload_slots, threads - 1)
    try:
        server = make_server(create_app(config), host, port, threads,
                             max_body_bytes=config.max_request_bytes, **tuning)
    except OSError as exc:
        raise _bind_error(exc, host, port) from None
    if orphans:
        delete_in_background(obj.instance, key, orphans)
    click.echo(f"Serving the station on http://{host}:{server.effective_port}/ "
               "(Ctrl+C to stop)", err=True)
    published = None
    if onion is not None:
        try:
            published = start_onion(obj.instance, key, host, server.effective_port, onion)
        except BaseException:
            server.close()
            raise
    sys.stdout.flush()
    try:
        server.run()
    except KeyboardInterrupt:
        click.echo("Stopped.", err=True)
    finally:
        if published is not None:
            published.close()


def low_space(room: DiskSpace) -> str:
    """What a station short of disk space does now, and what to do about it."""
    if room.room() is Room.FULL:
        doing = (f"under {mib(room.reserve)}: the station takes no report at all, not even "
                 "text")
    else:
        doing = (f"under {mib(room.min_free)}: the station refuses files (reports without "
                 f"files are still taken down to {mib(room.reserve)})")
    free = room.free_bytes()
    return (f"free disk space on the instance's file system is {mib(free or 0)}, {doing}. "
            "Free some space (export and purge reports, remove other files) or move the "
            "instance to a larger disk; --min-free-mib sets the threshold.")


def _bind_error(exc: OSError, host: str, port: int) -> ConfigError:
    """What to do when the server cannot listen where it was told to."""
    where = f"port {port} on {host}"
    if exc.errno == errno.EADDRINUSE:
        return ConfigError(f"{where} is already in use (another station, or another program): "
                           f"stop it, or choose another port with --port {port + 1} "
                           f"(with make run: make run PORT={port + 1})")
    if exc.errno == errno.EACCES:
        return ConfigError(f"{where} needs administrator rights (ports below 1024 do): "
                           "choose a port from 1024 up with --port, e.g. --port 8080")
    if exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT) or isinstance(exc, socket.gaierror):
        return ConfigError(f"{host} is not an address of this machine: use 127.0.0.1 (this "
                           "machine only) or 0.0.0.0 (every network it is on) with --host")
    return ConfigError(f"cannot listen on {where}: {exc.strerror or exc}")


@click.command()
@pass_ctx
def status(obj: Context) -> None:
    """Counts, never contents: reports held (follow-ups included), recipients, sites,
    chain check."""
    with obj.store() as store:
        identity = load_identity(store)
        head = store.verify_chain(identity.station_id)
        click.echo(f"Station id:       {identity.station_id_text}")
        click.echo(f"Signing key:      {identity.signing_key.verify_key.fingerprint()}")
        # First reports and follow-ups together: the station cannot tell them apart
        # and keeps no count of either (SECURITY.md, "The station database").
        click.echo(f"Reports held:     {store.report_count()} (first reports and follow-ups "
                   "together: the station cannot tell them apart; reviewers' 'review stats' "
                   "counts them apart)")
        click.echo(f"Reports purged:   {store.purged_count()}")
        written = [b for b in store.bundles() if b.written]
        click.echo(f"Bundles exported: {len(written)}"
                   + (f" (last: {written[-1].number}, up to report {written[-1].last_seq})"
                      if written else ""))
        click.echo(f"Ciphertext bytes: {store.stored_bytes()}")
        if blobs_path(obj.instance).exists():
            with BlobStore.open(obj.instance, obj.key()) as blobs:
                click.echo(f"Attachments:      {blobs.upload_count()} "
                           f"({plural(blobs.total_bytes(), 'byte')} of ciphertext)")
        config = load_config(obj.instance, obj.key())
        room = DiskSpace(obj.instance, config.min_free_bytes, config.disk_size_file)
        free = room.free_bytes()
        click.echo(f"Free disk space:  {'unknown' if free is None else mib(free)}"
                   + ("" if room.off else f" (files refused below {mib(room.min_free)}, "
                                          f"every report below {mib(room.reserve)})"))
        if room.room() is not Room.PLENTY:
            click.echo(f"WARNING: {low_space(room)}")
        click.echo(f"Recipients:       {len(store.recipients())}")
        click.echo(f"Mine sites:       {len(store.sites())}")
        click.echo(f"Schema version:   {store.schema_version}")
        click.echo(f"Hash chain:       verified, head {head.hex()[:16]}")
        for restore in store.restores():
            click.echo(f"Restored:         on {restore.restored} from a backup of "
                       f"{restore.backup} (history {restore.id.hex()[:8]}, after bundle "
                       f"{restore.bundle} and report {restore.seq})")
