"""Which submissions the station takes now: the rate limit and the disk guard.

Decided for each POST of a form, **before a byte of its body is read**: the
body's files are sealed into ``attachments.db`` as the parser reads them
(``attachments.py``), so a submission turned away must be known before that.
A submission turned away has its files read and dropped (``uploads.Discard``:
no encryption, nothing written), its text fields parsed so that the form
comes back with what was typed, and its form token left unused (the ledger
is never claimed), so sending the same page again later works.

* ``ratelimit.TokenBucket``: the station-wide limit (``--max-submissions-per-
  minute``). A submission takes a token here; a language change or a resend
  of a form already stored gives it back (``refund``): neither stores anything.
* ``diskspace.DiskSpace``: the disk guard (``--min-free-mib``). Below the
  reserve, nothing is taken (and no token is spent on it); below the
  threshold, or when the announced body would cross it, files are not taken.

Nothing is logged per request: what the view turns away is counted in the
app's ``Incidents`` (``count``: one summary line a minute at most, kinds and
counts only).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app, g, request

from reporter.station.diskspace import Room
from reporter.station.ratelimit import retry_after
from reporter.station.web.context import station
from reporter.web.server.wsgi import FRONT_ERROR

ADMISSION = "reporter_admission"
SUBMIT_ENDPOINTS = ("intake.submit_report", "intake.submit_follow_up")
SHED = "submissions shed by the station-wide limit (--max-submissions-per-minute)"
FULL = "submissions refused: free disk space under the reserve (--min-free-mib / 4)"
NO_FILES = "submissions with files refused: free disk space under --min-free-mib"
STOPPED = "uploads stopped: free disk space fell under --min-free-mib while they came in"


@dataclass
class Admission:
    # Seconds until the limit takes a submission again, when this one was shed.
    shed_for: int | None = None
    room: Room = Room.PLENTY
    # A token of the limit was taken for this request (given back by ``refund``).
    charged: bool = False

    @property
    def files_taken(self) -> bool:
        """Whether the body's files may be sealed and stored at all."""
        return self.shed_for is None and self.room is Room.PLENTY


def admission() -> Admission:
    """The current request's admission; outside a form POST, everything is taken."""
    decision: Admission | None = g.get(ADMISSION)
    return decision if decision is not None else Admission()


def refund() -> None:
    """This request turned out to store nothing (a language change, a resend): its
    token goes back to the limit."""
    decision: Admission | None = g.get(ADMISSION)
    if decision is not None and decision.charged:
        decision.charged = False
        station(current_app).submissions.give_back()


def count(kind: str) -> None:
    station(current_app).incidents.count(kind)


def init_app(app: Flask) -> None:
    """Register after ``refusals``: a request the server or the cross-site check
    refuses never spends a token."""

    @app.before_request
    def _admit() -> None:
        if request.method != "POST" or request.endpoint not in SUBMIT_ENDPOINTS \
                or request.environ.get(FRONT_ERROR) is not None:
            return
        context = station(app)
        decision = Admission(room=context.disk.room(request.content_length or 0))
        if decision.room is not Room.FULL:
            wait = context.submissions.take()
            if wait:
                decision.shed_for = retry_after(wait)
            else:
                decision.charged = True
        setattr(g, ADMISSION, decision)
