"""Publishing the station as a v3 onion service, with tor's DoS defences on.

The service is *ephemeral* (``ADD_ONION``): tor is handed the station's key
at each start and never writes it to disk; the key lives only in the
encrypted station database (``stored.py``). The command is built here rather
than by stem's ``create_ephemeral_hidden_service``, which it otherwise
mirrors, because stem 1.8.2 predates two things the station needs: the
proof-of-work arguments (tor 0.4.9.2) and more than one ``ClientAuthV3``.
Every value in it is the station's own, checked data (base64, base32,
numbers), so nothing can add a word to the command. It never waits for
publication (``await_publication=False`` in stem's terms): the address is
known at once, and publication is reported when tor's ``HS_DESC UPLOADED``
event says so.

What is set, and why (docs/onion.md has the longer story):

* ``PoWDefensesEnabled=1``: tor's proof-of-work defence (proposal 327). With
  no attack, the puzzle's effort is zero and clients notice nothing; under a
  flood of introductions, clients that solve harder puzzles are served first,
  so a flood costs the attacker CPU instead of costing monitors the station.
  Needs tor 0.4.9.2 or newer to be set through ``ADD_ONION`` (older tor
  refuses the word: the station then publishes without it and says so; the
  static torrc in deploy/torrc sets ``HiddenServicePoWDefensesEnabled 1``,
  which tor 0.4.8 accepts) and a tor built with its ``pow`` module.
* ``MaxStreams=20`` with ``Flags=MaxStreamsCloseCircuit``: a rendezvous
  circuit (one visitor's Tor Browser) may hold 20 streams at once; one more
  and tor closes the whole circuit. The form needs one or two; what a
  circuit opening thousands of streams wants is the station's connection
  table. 20 is SecureDrop's choice for its source interface.
* ``ClientAuthV3=`` for each client of a restricted station (and the
  ``V3Auth`` flag): without a client key, tor cannot even decrypt the
  service's descriptor, so the form cannot be reached at all.
* ``Port=80,127.0.0.1:PORT``: visitors type no port; the station listens on
  loopback.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import stem
import stem.control
import stem.response
import stem.version

from reporter.errors import TorError
from reporter.station.onion.keys import ClientPublicKey, OnionKey

Say = Callable[[str], None]

VIRTUAL_PORT = 80
MAX_STREAMS = 20
POW_IN_ADD_ONION = stem.version.Version("0.4.9.2")


@dataclass(frozen=True)
class Published:
    """An onion service tor has accepted (it may not have reached the network yet)."""

    key: OnionKey
    target: str
    clients: int
    pow: bool

    @property
    def address(self) -> str:
        return self.key.address

    @property
    def url(self) -> str:
        return self.key.url


def add_onion_command(key: OnionKey, target: str, clients: list[ClientPublicKey], *,
                      pow_defence: bool) -> str:
    """The ``ADD_ONION`` line for the station's service (the key included: never log it)."""
    host, _, port = target.rpartition(":")
    if host not in ("127.0.0.1", "[::1]") or not port.isdigit():
        raise ValueError("the service points at the station on loopback only")
    flags = ["MaxStreamsCloseCircuit"] + (["V3Auth"] if clients else [])
    words = ["ADD_ONION", key.to_tor(), "Flags=" + ",".join(flags),
             f"MaxStreams={MAX_STREAMS}"]
    if pow_defence:
        words.append("PoWDefensesEnabled=1")
    words.append(f"Port={VIRTUAL_PORT},{target}")
    words.extend(f"ClientAuthV3={client.to_tor()}" for client in clients)
    return " ".join(words)


def loopback_target(host: str, port: int) -> str:
    """Where tor sends visitors: the station's listener, reached over loopback."""
    if host in ("", "0.0.0.0", "127.0.0.1", "localhost") or host.startswith("127."):  # noqa: S104
        return f"127.0.0.1:{port}"
    if host in ("::", "::1"):
        return f"[::1]:{port}"
    raise TorError(f"--onion needs the station to listen on this machine's loopback: use "
                   f"--host 127.0.0.1 (onion only) or 0.0.0.0 (onion and a local network), "
                   f"not {host}")


def publish(controller: Any, version: stem.version.Version, key: OnionKey, target: str,
            clients: list[ClientPublicKey]) -> Published:
    """Ask tor for the station's onion service; ``TorError`` if tor refuses."""
    pow_defence = version >= POW_IN_ADD_ONION
    try:
        response = controller.msg(add_onion_command(key, target, clients,
                                                    pow_defence=pow_defence))
        if not response.is_ok():
            reason = "; ".join(content for _, _, content in response.content())
            raise TorError(f"tor {version} refused the onion service: {reason}")
        stem.response.convert("ADD_ONION", response)
    except stem.ControllerError as exc:
        raise TorError(f"tor {version} could not make the onion service: {exc}") from None
    if response.service_id != key.service_id:
        # Our address computation and tor's disagree: never show an address tor does not serve.
        controller.msg(f"DEL_ONION {response.service_id}")
        raise TorError(f"tor made {response.service_id}.onion for the station's key, not "
                       f"{key.address}; this tor does not read keys as reporter does")
    return Published(key, target, len(clients), pow_defence)


def watch_publication(controller: Any, service_id: str, say: Say) -> None:
    """Tell the operator once tor has uploaded the service's descriptor (it is reachable)."""
    told: list[bool] = []

    def on_event(event: Any) -> None:
        if told or getattr(event, "address", None) != service_id:
            return
        if event.action == stem.HSDescAction.UPLOADED:
            told.append(True)
            say(f"The onion service is published: http://{service_id}.onion/ can be reached "
                "through Tor now.")

    controller.add_event_listener(on_event, stem.control.EventType.HS_DESC)


def withdraw(controller: Any, service_id: str) -> None:
    """Remove the service (best effort: tor removes it anyway when we disconnect)."""
    try:
        controller.remove_ephemeral_hidden_service(service_id)
    except stem.ControllerError:
        pass
