"""What the app knows about its station, attached once at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import Flask

from ..config import Config
from ..instance import StationIdentity

if TYPE_CHECKING:
    from .db import Connections

EXTENSION = "reporter"


@dataclass(frozen=True)
class StationContext:
    config: Config
    identity: StationIdentity
    style: str  # the inline style sheet, hashed into the CSP
    connections: Connections


def station(app: Flask) -> StationContext:
    context: StationContext = app.extensions[EXTENSION]
    return context
