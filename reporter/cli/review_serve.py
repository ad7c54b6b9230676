"""``reporter review serve``: the review desk, a web face over the review database.

It needs no passphrase to start: the desk starts locked, and the reviewer
unlocks it on its page (``reporter/review/desk/``); ``REPORTER_REVIEW_PASSPHRASE``
and ``--review-passphrase-file`` are not used, and the variable is wiped from
the process's environment. It listens on 127.0.0.1
unless ``--host`` names another address and ``--allow-remote-host`` says so
(``desk/config.py`` says why).
"""

from __future__ import annotations

import errno
import sys
from pathlib import Path

import click

from reporter.cli.process import forget_environment_variable
from reporter.cli.review import ReviewContext, pass_review
from reporter.cli.terminal import echo
from reporter.errors import ConfigError, ReporterError
from reporter.formats import keyfile
from reporter.review.db import ReviewDB
from reporter.review.desk import config as desk_config


def _refuse_bind(exc: OSError, host: str, port: int) -> ConfigError:
    where = f"port {port} on {host}"
    if exc.errno == errno.EADDRINUSE:
        return ConfigError(f"{where} is already in use (another desk, a station, or another "
                           f"program): stop it, or choose another port with --port {port + 1}")
    if exc.errno == errno.EACCES:
        return ConfigError(f"{where} needs administrator rights (ports below 1024 do): "
                           "choose a port from 1024 up with --port")
    if exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
        return ConfigError(f"{host} is not an address of this computer; the default, "
                           "127.0.0.1, is")
    return ConfigError(f"cannot listen on {where}: {exc.strerror or exc}")


@click.command("serve")
@click.option("--host", default=desk_config.DEFAULT_HOST, show_default=True,
              help="Address to listen on. Only this computer's own (127.0.0.1, ::1) "
                   "unless --allow-remote-host.")
@click.option("--port", type=click.IntRange(1, 65535), default=desk_config.DEFAULT_PORT,
              show_default=True)
@click.option("--idle-lock", "idle_lock", type=click.FloatRange(min=0, min_open=True,
                                                                max=desk_config.MAX_IDLE_MINUTES),
              default=desk_config.DEFAULT_IDLE_MINUTES, show_default=True, metavar="MINUTES",
              help="Lock the desk (drop the key) after this many minutes without use.")
@click.option("--allow-remote-host", is_flag=True,
              help="Listen on an address other computers can reach. Anyone on that network "
                   "could reach the desk, over plain HTTP: prefer an SSH tunnel.")
@click.option("--threads", type=click.IntRange(2, 64), default=8, show_default=True,
              help="Requests served at once.")
@click.option("--key", "key_path", type=click.Path(path_type=Path, dir_okay=False),
              default=None,
              help="Your reviewer key file, to import bundles from the desk's page (its "
                   "passphrase is asked there, for each import).")
@click.option("--max-import-mb", type=click.IntRange(1, 1 << 20),
              default=desk_config.DEFAULT_MAX_IMPORT_MB, show_default=True,
              help="Largest upload of bundles on the import page, in MiB.")
@pass_review
def review_serve(obj: ReviewContext, host: str, port: int, idle_lock: float,
                 allow_remote_host: bool, threads: int, key_path: Path | None,
                 max_import_mb: int) -> None:
    """Serve the review desk: read reports in a browser (locked until you type the
    review database's passphrase on its page)."""
    from reporter.review.desk.app import create_app
    from reporter.review.desk.serving import bound_port, make_server

    # The desk is unlocked on its page, never from the environment: a passphrase
    # exported for the other review commands must not sit in /proc/PID/environ for
    # as long as the desk runs.
    forget_environment_variable("REPORTER_REVIEW_PASSPHRASE")
    address = desk_config.check_host(host, allow_remote_host)
    idle = desk_config.idle_seconds(idle_lock)
    ReviewDB.check_exists(obj.path)  # fail now, not on the unlock page
    if not desk_config.is_loopback(address):
        echo(f"WARNING: the review desk listens on {address}: anyone on that network can "
             "reach its unlock page, and what it shows travels unencrypted.", err=True)
    if key_path is not None:  # fail now, not at the first import
        try:
            keyfile.public_key_of(keyfile.read(key_path))
        except ReporterError as exc:
            raise ConfigError(f"--key {key_path}: {exc}") from None
    max_import = max_import_mb * 1024 * 1024
    try:
        server = make_server(lambda environ, start: [], address, port, threads, max_import)
    except OSError as exc:
        raise _refuse_bind(exc, address, port) from None
    config = desk_config.DeskConfig(review_db=obj.path, host=address, port=bound_port(server),
                                    idle_seconds=idle, key_file=key_path,
                                    max_import_bytes=max_import)
    app = create_app(config)
    server.app = app
    vault = app.extensions["reporter_desk"].vault
    vault.start_watch()
    shown = f"[{address}]" if ":" in address else address
    echo(f"Review desk for {obj.path} on http://{shown}:{config.port}/ (locked: open it in "
         f"your browser and type the passphrase; it locks itself after {idle_lock:g} "
         "minutes without use; Ctrl+C to stop)", err=True)
    sys.stdout.flush()
    try:
        server.run()
    except KeyboardInterrupt:
        click.echo("Stopped.", err=True)
    finally:
        vault.lock("stopped")
        vault.stop_watch()
        server.close()
