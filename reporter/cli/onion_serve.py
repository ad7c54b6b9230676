"""The ``--onion`` options of ``reporter serve``, and what it prints when it publishes.

Kept apart from ``station.py`` (which only adds the options and makes one
call) so that serving without Tor does not import stem or segno.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from reporter.cli.common import read_passphrase
from reporter.cli.process import forget_environment_variable
from reporter.cli.terminal import echo

if TYPE_CHECKING:
    from reporter.station.onion.run import OnionOptions, Running


def onion_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add the ``--onion`` options to ``serve``; they reach it as one ``onion`` argument
    (an ``OnionOptions``, or None when the station is not published over Tor)."""

    @functools.wraps(command)
    def wrapper(*args: Any, onion: bool, tor_control: str | None,
                tor_password_file: Path | None, bridges: Path | None, tor_binary: str | None,
                tor_config: Path | None, **kwargs: Any) -> Any:
        wanted = onion or any(v is not None for v in (tor_control, tor_password_file, bridges,
                                                       tor_binary, tor_config))
        options = None
        if wanted:
            from reporter.station.onion.run import OnionOptions

            password = None
            if tor_password_file is not None or os.environ.get("REPORTER_TOR_PASSWORD"):
                password = read_passphrase(file=tor_password_file, env="REPORTER_TOR_PASSWORD",
                                           prompt="Tor control password", confirm=False,
                                           option="--tor-password-file")
                forget_environment_variable("REPORTER_TOR_PASSWORD")
            options = OnionOptions(tor_control, password, bridges, tor_binary, tor_config)
        return command(*args, onion=options, **kwargs)

    file = click.Path(path_type=Path, dir_okay=False)
    decorators = [
        click.option("--onion", is_flag=True,
                     help="Also publish the station as a Tor onion service: starts tor, "
                          "prints the address (docs/onion.md)."),
        click.option("--tor-control", metavar="PORT|SOCKET", default=None,
                     help="Use the tor already running with this control port (on "
                          "127.0.0.1) or socket, instead of starting one."),
        click.option("--tor-password-file", type=file, default=None,
                     help="The control port's password, if it wants one (first line; or "
                          "$REPORTER_TOR_PASSWORD)."),
        click.option("--bridges", type=file, default=None,
                     help="Reach Tor through the bridges in FILE (obfs4, snowflake or plain "
                          "lines), where Tor is blocked."),
        click.option("--tor-binary", metavar="PATH", default=None,
                     help="The tor program (default: tor on PATH, or in /usr/sbin)."),
        click.option("--tor-config", type=file, default=None,
                     help="Extra torrc lines for the tor reporter starts (a proxy, a test "
                          "network); not the options reporter sets itself."),
    ]
    for decorate in reversed(decorators):
        wrapper = decorate(wrapper)
    return wrapper


def start_onion(instance: Path, key: bytes, host: str, port: int,
                options: OnionOptions) -> Running:
    """Publish the station and tell the operator its address (with a QR code on a terminal)."""

    from reporter.station.onion.run import start

    def say(line: str) -> None:
        echo(line, err=True)

    running = start(instance, key, host, port, options, say)
    published = running.published
    if running.new_key:
        say("This station had no onion address: one was made now and stored in its database.")
    say("")
    say("Onion address (the same at every start; give it to monitors in person):")
    say(f"  {published.url}")
    if sys.stderr.isatty():
        from reporter.station.onion.card import terminal_qr

        click.echo(terminal_qr(published.url), err=True, nl=False)
    if published.clients:
        say(f"Restricted: only the {published.clients} client(s) with a key can reach it.")
    say(f"Through {running.tor.description}; DoS defences: "
        + ("proof of work on, " if published.pow else "")
        + "at most 20 streams per circuit. Publishing on the Tor network can take a minute "
        "or two.")
    for warning in running.warnings:
        say(f"warning: {warning}")
    return running
