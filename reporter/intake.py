"""Accepting a monitor's submission: build the report, seal it, append it.

The web views call only ``accept``. The plaintext report exists in this
process's memory while it is sealed, and nowhere else: it is never logged,
never written to a file, never passed to another process.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from . import envelope
from .crypto import RecipientPublicKey
from .errors import NoRecipients
from .receipt import new_receipt
from .report import FOLLOW_UP_FORM_VERSION, FORM_VERSION, Report


def arrival_date() -> str:
    """Today's date in UTC: the only trace of *when* a report arrived."""
    return datetime.now(UTC).date().isoformat()


def build_report(fields: dict[str, Any], locale: str, follows: str | None = None) -> Report:
    """A new report (or follow-up to ``follows``) with a fresh receipt code."""
    return Report(
        kind="incident" if follows is None else "follow-up",
        receipt=new_receipt(),
        locale=locale,
        submitted=arrival_date(),
        fields=fields,
        follows=follows,
        form=FORM_VERSION if follows is None else FOLLOW_UP_FORM_VERSION,
    )


def accept(report: Report, recipients: Sequence[RecipientPublicKey],
           append: Callable[[bytes], int]) -> int:
    """Seal ``report`` to every recipient and ``append`` it; return its sequence number.

    ``append`` is ``GroupCommit.append`` in the server (or ``Store.append_report``
    bound to a station id): it returns once the envelope is durable. Raises
    ``NoRecipients`` (nothing is stored) when the station has no reviewer key,
    and ``StoreUnavailable`` when the database cannot be written.
    """
    if not recipients:
        raise NoRecipients(
            "the station has no reviewer key; add one with 'reporter recipients add'"
        )
    return append(envelope.seal(report.to_body(), list(recipients)))
