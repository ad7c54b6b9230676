"""``reporter onion ...``: the address, its card, and a restricted station's clients.

The onion key and the restricted station's clients live in the encrypted
station database, so every verb here asks for the station passphrase.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from reporter.cli.station import Context, pass_ctx
from reporter.cli.terminal import echo
from reporter.errors import ConfigError
from reporter.station.onion import stored
from reporter.station.onion.card import TITLE, card_svg
from reporter.storage.durable import write_atomic

MAX_TITLE = 40


@click.group()
def onion() -> None:
    """The station's onion address, its printable card, and restricted-station clients."""


@onion.command("address")
@pass_ctx
def onion_address(obj: Context) -> None:
    """Print the station's onion address (made now if the station has none yet)."""
    with obj.store() as store:
        key, new = stored.ensure_onion_key(store)
        restricted = len(stored.clients(store))
    if new:
        click.echo("This station had no onion address: one was made now and stored in its "
                   "database. 'reporter serve --onion' publishes it.", err=True)
    click.echo(key.url)
    if restricted:
        click.echo(f"Restricted: only the {restricted} client(s) with a key can reach it "
                   "('reporter onion clients list').", err=True)


@onion.command("rotate")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_ctx
def onion_rotate(obj: Context, yes: bool) -> None:
    """Give the station a new onion address; the old one stops working."""
    with obj.store() as store:
        old = stored.onion_key(store)
        if old is not None and not yes:
            click.echo(f"The current address is {old.url}", err=True)
            if not sys.stdin.isatty():
                raise ConfigError("rotating the address cannot be undone: run it in a terminal "
                                  "to confirm, or add --yes")
            click.confirm("Make a new address? Every monitor, card and bookmark with the old "
                          "one will stop reaching the station", abort=True, err=True)
        _, new = stored.rotate_onion_key(store)
    click.echo(new.url)
    if old is not None:
        click.echo(f"The old address {old.address} stops working when the station next "
                   "starts (restart 'reporter serve --onion' now). Give monitors the new one "
                   "in person, and destroy the old cards ('reporter onion card').", err=True)


@onion.command("card")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="Where to write the card (an SVG file; never overwritten).")
@click.option("--title", default=TITLE, show_default=True,
              help="The line above the QR code (a neutral one may be safer to carry).")
@pass_ctx
def onion_card(obj: Context, out: Path, title: str) -> None:
    """Write a printable card (SVG, A6): the address as a QR code and as text, and a warning."""
    title = " ".join(title.split())
    if not title or len(title) > MAX_TITLE or not title.isprintable():
        raise ConfigError(f"--title: one line of 1 to {MAX_TITLE} characters")
    if out.exists():
        raise ConfigError(f"{out} already exists; choose another --out or move it")
    with obj.store() as store:
        key, _ = stored.ensure_onion_key(store)
    try:
        write_atomic(out, card_svg(key.service_id, title).encode("utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot write {out}: {exc.strerror}") from None
    echo(f"Card written to {out} for {key.url}")
    click.echo("Print it at A6 (or scale it); a browser prints SVG. Whoever carries it can be "
               "linked to the station: hand cards out only in person, to those who need one.")


@onion.group("clients")
def onion_clients() -> None:
    """Restricted station: only monitors holding a client key can reach the form at all."""


@onion_clients.command("add")
@click.argument("name")
@pass_ctx
def clients_add(obj: Context, name: str) -> None:
    """Admit a monitor (or a phone) NAME; prints the key to give them, once."""
    with obj.store() as store:
        key, _ = stored.ensure_onion_key(store)
        client, private = stored.add_client(store, name)
        count = len(stored.clients(store))
    echo(f"Client {client.name} added. Give this key to them alone, in person:", err=True)
    click.echo(f"Key for Tor Browser: {private.to_text()}")
    click.echo(f"For Orbot or a torrc ClientOnionAuthDir file: {private.auth_line(key.service_id)}")
    click.echo(f"Tor Browser asks for the key when it opens {key.url} ", err=True)
    click.echo("The station keeps only the public half: if the key is lost, remove the client "
               "and add it again.", err=True)
    if count == 1:
        click.echo("The station is now restricted: only clients with a key can reach it.",
                   err=True)
    click.echo("This takes effect when 'reporter serve --onion' next starts.", err=True)


@onion_clients.command("list")
@pass_ctx
def clients_list(obj: Context) -> None:
    """List the clients a restricted station admits (names and public keys)."""
    with obj.store() as store:
        found = stored.clients(store)
    if not found:
        click.echo("No clients: the station is open to anyone with its onion address.")
    for client in found:
        echo(f"{client.name}\t{client.public_key.to_tor()}")


@onion_clients.command("remove")
@click.argument("name")
@pass_ctx
def clients_remove(obj: Context, name: str) -> None:
    """Stop admitting client NAME (from the next start of 'reporter serve --onion')."""
    with obj.store() as store:
        stored.remove_client(store, name)
        left = len(stored.clients(store))
    echo(f"Removed {name}. This takes effect when 'reporter serve --onion' next starts.")
    if left == 0:
        click.echo("No client is left: the station is open again to anyone with its address.")
