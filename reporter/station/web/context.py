"""What the app knows about its station, attached once at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask

from reporter.station.config import Config
from reporter.station.connections import Connections
from reporter.station.diskspace import DiskSpace
from reporter.station.formtoken import FormTokens
from reporter.station.instance import StationIdentity
from reporter.station.ledger import Ledger
from reporter.station.ratelimit import TokenBucket
from reporter.web.server.limits import Incidents

EXTENSION = "reporter"


@dataclass(frozen=True)
class StationContext:
    config: Config
    identity: StationIdentity
    style: str  # the inline style sheet, hashed into the CSP
    connections: Connections
    tokens: FormTokens  # its key lives in this process's memory only
    ledger: Ledger  # which tokens were used (idempotent submissions)
    submissions: TokenBucket  # the station-wide submission limit (ratelimit.py)
    disk: DiskSpace  # the disk guard (diskspace.py)
    incidents: Incidents  # what the app turned away, counted and logged once a minute


def station(app: Flask) -> StationContext:
    context: StationContext = app.extensions[EXTENSION]
    return context
