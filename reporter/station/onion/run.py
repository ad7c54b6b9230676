"""``reporter serve --onion``: tor launched or attached, the station's service published.

The order: the station's server is already listening (so tor never sends a
visitor to a closed port); the key and the clients are read from the
encrypted database (the key made on first use); tor is started or reached;
``ADD_ONION`` publishes the service; tor's ``HS_DESC`` events tell the
operator when the address can be reached. ``close()`` withdraws the service
and, for a tor the station started, stops it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reporter.errors import ConfigError
from reporter.station.instance import open_store
from reporter.station.onion import stored
from reporter.station.onion.bridges import read_bridges
from reporter.station.onion.service import (
    Published,
    Say,
    loopback_target,
    publish,
    watch_publication,
    withdraw,
)
from reporter.station.onion.tor import Tor, attach, launch, read_extra_config


@dataclass(frozen=True)
class OnionOptions:
    """How to reach tor; every field is optional (the default launches ``tor``)."""

    tor_control: str | None = None      # attach to this port or socket instead
    password: str | None = None         # for a control port that wants one
    bridges: Path | None = None
    tor_binary: str | None = None
    tor_config: Path | None = None      # extra torrc lines for the launched tor

    def check(self) -> None:
        if self.tor_control is not None:
            for given, name in ((self.bridges, "--bridges"), (self.tor_binary, "--tor-binary"),
                                (self.tor_config, "--tor-config")):
                if given is not None:
                    raise ConfigError(
                        f"{name} configures the tor reporter starts; with --tor-control, "
                        "set it in that tor's own torrc instead")


@dataclass
class Running:
    tor: Tor
    published: Published
    new_key: bool
    warnings: tuple[str, ...]

    def close(self) -> None:
        try:
            withdraw(self.tor.controller, self.published.key.service_id)
        finally:
            self.tor.close()


def start(instance: Path, db_key: bytes, host: str, port: int, options: OnionOptions,
          say: Say) -> Running:
    """Publish the station listening on ``host:port`` as its onion service."""
    options.check()
    target = loopback_target(host, port)
    bridges = read_bridges(options.bridges) if options.bridges is not None else None
    extra = read_extra_config(options.tor_config) if options.tor_config is not None else []
    with open_store(instance, db_key) as store:
        key, new_key = stored.ensure_onion_key(store)
        clients = [client.public_key for client in stored.clients(store)]
    if options.tor_control is not None:
        tor = attach(options.tor_control, password=options.password, say=say)
    else:
        tor = launch(instance, binary=options.tor_binary, bridges=bridges, extra=extra, say=say)
    try:
        published = publish(tor.controller, tor.version, key, target, clients)
        watch_publication(tor.controller, key.service_id, say)
    except BaseException:
        tor.close()
        raise
    warnings = []
    if not published.pow:
        warnings.append(
            f"{tor.description} cannot turn on the proof-of-work defence for a service made "
            "through its control port (tor 0.4.9.2 or newer can): upgrade tor, or publish the "
            "station with the static setup in deploy/torrc (HiddenServicePoWDefensesEnabled)")
    elif tor.pow_module is False:
        warnings.append(f"{tor.description} was built without its proof-of-work module, so "
                        "that defence is off: install Debian's or the Tor Project's package")
    return Running(tor, published, new_key, tuple(warnings))
