"""The monitor-facing pages: the report form, the receipt, the follow-up.

Thin views: parse the form, call ``intake.accept``, render. A failed
submission re-renders the form with everything the monitor typed, so nothing
they wrote is lost, and the store is left exactly as it was (attachments
already received are deleted by the request's teardown, ``attachments.py``).
"""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, render_template
from werkzeug.wrappers import Response

from reporter.errors import NoRecipients, StoreError, TooManyRecipients
from reporter.formats.report import Report
from reporter.i18n.languages import current_language
from reporter.station.forms import FollowUpForm, IncidentForm, megabytes
from reporter.station.intake import accept, build_report
from reporter.station.uploads import TOO_MANY_FILES, body_problems
from reporter.station.web.attachments import current_draft
from reporter.station.web.context import station
from reporter.station.web.db import connections, get_store

bp = Blueprint("intake", __name__)
log = logging.getLogger("reporter")

Page = str | tuple[str, int] | Response


def _accept(report: Report) -> int:
    recipients = [r.public_key for r in get_store().recipients()]
    try:
        return accept(report, recipients, connections().commits.append, draft=current_draft())
    except (StoreError, NoRecipients, TooManyRecipients) as exc:
        # The operator must learn why monitors were turned away. The message is
        # ours (errors.py: never report content), and names no client.
        log.warning("a report could not be stored: %s", exc)
        raise


def _valid(form: IncidentForm | FollowUpForm) -> bool:
    """Every field and every file; if anything fails, the files must be chosen again."""
    draft = current_draft()
    ok = bool(form.validate_on_submit())
    ok = form.check_attachments(draft, TOO_MANY_FILES in body_problems()) and ok
    if not ok:
        form.files_dropped(draft)
    return ok


def _limits() -> dict[str, object]:
    config = station(current_app).config
    return {"attachments_on": config.max_attachment_bytes > 0,
            "max_mb": megabytes(config.max_attachment_bytes),
            "max_files": config.max_attachments}


def _incident_form() -> IncidentForm:
    form = IncidentForm(sites=get_store().sites())
    form.lang.data = current_language()
    return form


def _follow_up_form() -> FollowUpForm:
    form = FollowUpForm()
    form.lang.data = current_language()
    return form


@bp.get("/")
def report_form() -> Page:
    return render_template("report.html", form=_incident_form(), **_limits())


@bp.post("/")
def submit_report() -> Page:
    form = _incident_form()
    if not _valid(form):
        return render_template("report.html", form=form, **_limits()), 400
    report = build_report(form.to_fields(), current_language())
    try:
        _accept(report)
    except (StoreError, NoRecipients, TooManyRecipients):
        form.files_dropped(current_draft())
        return render_template("report.html", form=form, unavailable=True, **_limits()), 503
    return render_template("receipt.html", receipt=report.receipt, follow_up=False)


@bp.get("/follow-up")
def follow_up_form() -> Page:
    return render_template("follow_up.html", form=_follow_up_form(), **_limits())


@bp.post("/follow-up")
def submit_follow_up() -> Page:
    form = _follow_up_form()
    if not _valid(form):
        return render_template("follow_up.html", form=form, **_limits()), 400
    report = build_report(form.to_fields(), current_language(), follows=form.receipt.data)
    try:
        _accept(report)
    except (StoreError, NoRecipients, TooManyRecipients):
        form.files_dropped(current_draft())
        return render_template("follow_up.html", form=form, unavailable=True, **_limits()), 503
    return render_template("receipt.html", receipt=form.receipt.data, follow_up=True)
