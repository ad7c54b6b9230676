"""The ``reporter`` command: set up, run and inspect a station.

Every failure a user can act on is a ``ReporterError``: it is printed as one
line (``error: ...``) with exit status 1. Usage mistakes exit with 2.
Tracebacks are shown only with ``REPORTER_DEBUG=1``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

import click

from . import __version__, keyfile
from .blobs import BlobStore, blobs_path
from .bundle_cli import export, purge, review_gaps, review_import, station_key, verify
from .cli_common import read_passphrase
from .config import instance_from_env, load_config
from .crypto import (
    KDF_PROFILES,
    KdfParams,
    RecipientPrivateKey,
    RecipientPublicKey,
    check_new_passphrase,
)
from .errors import KeyFileError, NoRecipients, ReporterError
from .i18n_cli import i18n
from .instance import init_instance, load_identity, open_store, unlock
from .review_cli import review
from .store import Store

EXIT_ERROR = 1
EXIT_INTERNAL = 70


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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reporter")
@click.option("--instance", type=click.Path(path_type=Path), default=None,
              help="Station folder (default: $REPORTER_INSTANCE or ./instance).")
@click.option("--passphrase-file", type=click.Path(path_type=Path, dir_okay=False),
              default=None,
              help="Read the station passphrase from this file's first line "
                   "(for unattended boots). Otherwise $REPORTER_PASSPHRASE, or a prompt.")
@click.pass_context
def cli(ctx: click.Context, instance: Path | None, passphrase_file: Path | None) -> None:
    """Secure incident reporting: run a station, manage its reviewers."""
    ctx.obj = Context(instance_from_env(instance), passphrase_file)


@cli.command()
@click.option("--kdf", "kdf_profile", type=click.Choice(sorted(KDF_PROFILES)),
              default="moderate", show_default=True,
              help="Cost of deriving the database key. Use 'interactive' on a "
                   "Raspberry Pi with 512 MB of memory.")
@pass_ctx
def init(obj: Context, kdf_profile: str) -> None:
    """Create a new station (encrypted database, signing key) in the instance folder."""
    passphrase = obj.station_passphrase(new=True)
    identity = init_instance(obj.instance, passphrase, kdf_profile=kdf_profile)
    click.echo(f"Station created in {obj.instance}")
    click.echo(f"Station id:          {identity.station_id_text}")
    click.echo(f"Station signing key: {identity.signing_key.verify_key.to_text()}")
    click.echo(f"Fingerprint:         {identity.signing_key.verify_key.fingerprint()}")
    click.echo("Next: add a reviewer's public key with 'reporter recipients add NAME KEY'.")


@cli.command()
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="Where to write the new private key file (never overwritten).")
@click.option("--kdf", "kdf_profile", type=click.Choice(sorted(KDF_PROFILES)),
              default="moderate", show_default=True,
              help="Cost of deriving the key that protects the file.")
@click.option("--key-passphrase-file", type=click.Path(path_type=Path, dir_okay=False),
              default=None, help="Read the key's passphrase from this file "
                                 "(otherwise $REPORTER_KEY_PASSPHRASE, or a prompt).")
def keygen(out: Path, kdf_profile: str, key_passphrase_file: Path | None) -> None:
    """Make a reviewer key pair. Run it on the reviewer's own (offline) machine."""
    if out.exists():
        raise KeyFileError(f"{out} already exists; choose another --out or move it")
    if not out.parent.is_dir():
        raise KeyFileError(f"the folder {out.parent} does not exist")
    passphrase = read_passphrase(file=key_passphrase_file, env="REPORTER_KEY_PASSPHRASE",
                                 prompt="Passphrase for the new key", confirm=True,
                                 option="--key-passphrase-file")
    check_new_passphrase(passphrase)
    private_key = RecipientPrivateKey.generate()
    keyfile.write_new(out, keyfile.dump(private_key, passphrase, KdfParams.new(kdf_profile)))
    public = private_key.public_key
    click.echo(f"Private key written to {out} (keep it offline; it cannot be recovered).", err=True)
    click.echo("Public key (give this line to station operators):", err=True)
    click.echo(public.to_text())
    click.echo(f"Fingerprint (check it over the phone): {public.fingerprint()}", err=True)


# --- recipients ---------------------------------------------------------------


@cli.group()
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
    click.echo(f"Added {name}. Fingerprint: {key.fingerprint()}")
    click.echo("Check this fingerprint with the reviewer over another channel.")


@recipients.command("list")
@pass_ctx
def recipients_list(obj: Context) -> None:
    """List the reviewers, with fingerprints."""
    with obj.store() as store:
        found = store.recipients()
    if not found:
        click.echo("No recipients yet. Add one with 'reporter recipients add NAME KEY'.")
    for r in found:
        click.echo(f"{r.name}\t{r.public_key.fingerprint()}\t{r.public_key.to_text()}")


@recipients.command("remove")
@click.argument("name")
@pass_ctx
def recipients_remove(obj: Context, name: str) -> None:
    """Stop sealing new reports to reviewer NAME (reports already sealed stay as they are)."""
    with obj.store() as store:
        store.remove_recipient(name)
    click.echo(f"Removed {name}. New reports are no longer sealed to that key.")


# --- sites ---------------------------------------------------------------------


@cli.group()
def sites() -> None:
    """The mine sites monitors can choose from on the form."""


@sites.command("add")
@click.argument("name")
@pass_ctx
def sites_add(obj: Context, name: str) -> None:
    """Add a mine site to the form's list."""
    with obj.store() as store:
        store.add_site(name)
    click.echo(f"Added site {name}.")


@sites.command("list")
@pass_ctx
def sites_list(obj: Context) -> None:
    """List the mine sites on the form."""
    with obj.store() as store:
        for site in store.sites():
            click.echo(site)


@sites.command("remove")
@click.argument("name")
@pass_ctx
def sites_remove(obj: Context, name: str) -> None:
    """Remove a mine site from the form's list."""
    with obj.store() as store:
        store.remove_site(name)
    click.echo(f"Removed site {name}.")


# --- serving and status --------------------------------------------------------


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0 to serve a local Wi-Fi).")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@click.option("--threads", type=click.IntRange(1, 256), default=16, show_default=True,
              help="Requests served at once; a slow upload holds one for its whole length.")
@click.option("--preview-languages", is_flag=True,
              help="Also show in-progress translations (for translators, never in the field).")
@pass_ctx
def serve(obj: Context, host: str, port: int, threads: int, preview_languages: bool) -> None:
    """Serve the report form (Cheroot). Refuses to start with no reviewer key."""
    from .app import create_app
    from .serve import make_server
    from .web.attachments import recover

    key = obj.key()
    with open_store(obj.instance, key) as store:
        if not store.recipients():
            raise NoRecipients(
                "no reviewer key is configured, so reports could not be sealed. Add one "
                "first: 'reporter recipients add NAME KEY' (the key comes from "
                "'reporter keygen' on the reviewer's machine)"
            )
    dropped = recover(obj.instance, key)
    if dropped:
        click.echo(f"Deleted {dropped} unfinished upload(s) left by an interrupted "
                   "submission (never acknowledged to a monitor).", err=True)
    config = load_config(obj.instance, key)
    if preview_languages:
        config = replace(config, preview_languages=True)
    server = make_server(create_app(config), config, host, port, threads)
    click.echo(f"Serving the station on http://{host}:{server.effective_port}/ "
               "(Ctrl+C to stop)", err=True)
    sys.stdout.flush()
    try:
        server.run()
    except KeyboardInterrupt:
        click.echo("Stopped.", err=True)


@cli.command()
@pass_ctx
def status(obj: Context) -> None:
    """Counts, never contents: reports held, recipients, sites, chain check."""
    with obj.store() as store:
        identity = load_identity(store)
        head = store.verify_chain(identity.station_id)
        click.echo(f"Station id:       {identity.station_id_text}")
        click.echo(f"Signing key:      {identity.signing_key.verify_key.fingerprint()}")
        click.echo(f"Reports held:     {store.report_count()}")
        click.echo(f"Reports purged:   {store.purged_count()}")
        written = [b for b in store.bundles() if b.written]
        click.echo(f"Bundles exported: {len(written)}"
                   + (f" (last: {written[-1].number}, up to report {written[-1].last_seq})"
                      if written else ""))
        click.echo(f"Ciphertext bytes: {store.stored_bytes()}")
        if blobs_path(obj.instance).exists():
            with BlobStore.open(obj.instance, obj.key()) as blobs:
                click.echo(f"Attachments:      {blobs.upload_count()} "
                           f"({blobs.total_bytes()} bytes of ciphertext)")
        click.echo(f"Recipients:       {len(store.recipients())}")
        click.echo(f"Mine sites:       {len(store.sites())}")
        click.echo(f"Schema version:   {store.schema_version}")
        click.echo(f"Hash chain:       verified, head {head.hex()[:16]}")


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def main(argv: list[str] | None = None) -> Any:
    """Entry point: turn every known failure into one clear line."""
    runner: Callable[..., Any] = cli.main
    try:
        return runner(args=argv, prog_name="reporter", standalone_mode=False)
    except click.exceptions.Abort:
        _fail("cancelled", EXIT_ERROR)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ReporterError as exc:
        _fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except BrokenPipeError:
        # The output was piped into something that stopped reading (| head):
        # not an error. Point stdout at /dev/null so the exit flush is quiet.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)
    except Exception as exc:
        if os.environ.get("REPORTER_DEBUG") == "1":
            raise
        _fail(f"unexpected {type(exc).__name__}; run again with REPORTER_DEBUG=1 and "
              "report the traceback", EXIT_INTERNAL)


cli.add_command(review)
cli.add_command(export)
cli.add_command(i18n)
cli.add_command(purge)
cli.add_command(station_key)
cli.add_command(verify)
review.add_command(review_import)
review.add_command(review_gaps)
