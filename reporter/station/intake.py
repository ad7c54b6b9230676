"""Accepting a monitor's submission: build the report, seal it, append it.

The web views call only ``accept``. The plaintext report exists in this
process's memory while it is sealed, and nowhere else: it is never logged,
never written to a file, never passed to another process.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from reporter.errors import NoRecipients
from reporter.formats import envelope
from reporter.formats.crypto import RecipientPublicKey
from reporter.formats.receipt import new_receipt
from reporter.formats.report import FOLLOW_UP_FORM_VERSION, FORM_VERSION, Report
from reporter.station.store import check_recipient_count
from reporter.station.submission import Draft


def arrival_date() -> str:
    """Today's date in UTC: the only trace of *when* a report arrived."""
    return datetime.now(UTC).date().isoformat()


def build_report(fields: dict[str, Any], locale: str, follows: str | None = None,
                 receipt: str | None = None) -> Report:
    """A new report (or follow-up to ``follows``) with ``receipt``, else a fresh receipt code.

    The web form passes the receipt derived from its token (``formtoken.py``),
    so a resend of the same form would carry the same code.
    """
    return Report(
        kind="incident" if follows is None else "follow-up",
        receipt=receipt if receipt is not None else new_receipt(),
        locale=locale,
        submitted=arrival_date(),
        fields=fields,
        follows=follows,
        form=FORM_VERSION if follows is None else FOLLOW_UP_FORM_VERSION,
    )


def accept(report: Report, recipients: Sequence[RecipientPublicKey],
           append: Callable[[bytes], int], draft: Draft | None = None) -> int:
    """Seal ``report`` to every recipient and ``append`` it; return its sequence number.

    With a ``draft``, the report carries the draft's attachments: the envelope
    is sealed under the draft's file key and the attachments are linked to it
    (durably) before ``append``, so an acknowledged report never lacks them.

    ``append`` is ``GroupCommit.append`` in the server (or ``Store.append_report``
    bound to a station id): it returns once the envelope is durable. Raises
    ``NoRecipients`` (nothing is stored) when the station has no reviewer key,
    ``TooManyRecipients`` when it has more than a report can be sealed to,
    and ``StoreUnavailable`` when the database cannot be written.
    """
    if not recipients:
        raise NoRecipients(
            "the station has no reviewer key; add one with 'reporter recipients add'"
        )
    check_recipient_count(len(recipients))
    if draft is not None:
        report = replace(report, attachments=draft.attachments())
        return append(draft.seal(report, recipients))
    return append(envelope.seal(report.to_body(), list(recipients)))
