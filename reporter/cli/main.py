"""The ``reporter`` command: set up, run and inspect a station.

Every failure a user can act on is a ``ReporterError``: it is printed as one
line (``error: ...``) with exit status 1. Usage mistakes exit with 2.
Tracebacks are shown only with ``REPORTER_DEBUG=1``.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click

from reporter import __version__
from reporter.cli.backup import backup, restore
from reporter.cli.bundles import export, purge, review_gaps, review_import, station_key, verify
from reporter.cli.common import read_passphrase
from reporter.cli.i18n import i18n
from reporter.cli.onion import onion
from reporter.cli.process import harden
from reporter.cli.review import review
from reporter.cli.review_export import review_export
from reporter.cli.review_list import review_list, review_stats
from reporter.cli.review_recipients import review_recipients
from reporter.cli.review_serve import review_serve
from reporter.cli.review_show import review_attachments, review_show
from reporter.cli.station import Context, init, recipients, serve, sites, status
from reporter.cli.terminal import clean, echo
from reporter.errors import KeyFileError, ReporterError
from reporter.formats import keyfile
from reporter.formats.crypto import (
    KDF_PROFILES,
    KdfParams,
    RecipientPrivateKey,
    check_new_passphrase,
)
from reporter.station.config import instance_from_env

EXIT_ERROR = 1
EXIT_INTERNAL = 70


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
    echo(f"Private key written to {out} (keep it offline; it cannot be recovered).", err=True)
    if sys.stdout.isatty():
        click.echo("Public key (give this line to station operators):", err=True)
    else:
        click.echo("Public key: written to standard output (give that line to station "
                   "operators).", err=True)
    click.echo(public.to_text())
    click.echo(f"Fingerprint (check it over the phone): {public.fingerprint()}", err=True)


# --- recipients ---------------------------------------------------------------


def _fail(message: str, code: int) -> NoReturn:
    """One line on standard error: messages quote paths and names, so it is cleaned."""
    echo(f"error: {message}", err=True)
    sys.exit(code)


def main(argv: list[str] | None = None) -> Any:
    """Entry point: turn every known failure into one clear line."""
    runner: Callable[..., Any] = cli.main
    # Reports and keys pass through this process's memory: no core file, no
    # ptrace by other processes of the same user (reporter/cli/process.py).
    harden()
    try:
        return runner(args=argv, prog_name="reporter", standalone_mode=False)
    except click.exceptions.Abort:
        _fail("cancelled", EXIT_ERROR)
    except click.ClickException as exc:
        shown = io.StringIO()  # the message may quote what was typed (a file name)
        exc.show(file=shown)
        click.echo(clean(shown.getvalue(), multiline=True, tabs=True), err=True, nl=False)
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


cli.add_command(init)
cli.add_command(recipients)
cli.add_command(sites)
cli.add_command(serve)
cli.add_command(status)
cli.add_command(review)
cli.add_command(export)
cli.add_command(i18n)
cli.add_command(purge)
cli.add_command(station_key)
cli.add_command(verify)
cli.add_command(onion)
cli.add_command(backup)
cli.add_command(restore)
review.add_command(review_list)
review.add_command(review_show)
review.add_command(review_attachments)
review.add_command(review_export)
review.add_command(review_stats)
review.add_command(review_import)
review.add_command(review_gaps)
review.add_command(review_recipients)
review.add_command(review_serve)
