"""What the desk app holds for its life, attached once at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from reporter.review.desk.config import DeskConfig
from reporter.review.desk.sessions import Sessions
from reporter.review.desk.vault import Vault

EXTENSION = "reporter_desk"


@dataclass(frozen=True)
class DeskContext:
    config: DeskConfig
    vault: Vault  # the key, while unlocked (memory only)
    sessions: Sessions  # the session and CSRF secret (memory only)


def desk() -> DeskContext:
    context: DeskContext = current_app.extensions[EXTENSION]
    return context
