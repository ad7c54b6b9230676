"""The monitor-facing pages: the report form, the receipt, the follow-up.

Thin views: parse the form, call ``intake.accept``, render. A failed
submission re-renders the form with everything the monitor typed, so nothing
they wrote is lost, and the store is left exactly as it was.
"""

from __future__ import annotations

from flask import Blueprint, render_template
from werkzeug.wrappers import Response

from ..errors import NoRecipients, StoreUnavailable
from ..forms import FollowUpForm, IncidentForm
from ..i18n import current_language
from ..intake import accept, build_report
from ..report import Report
from .db import connections, get_store

bp = Blueprint("intake", __name__)

Page = str | tuple[str, int] | Response


def _accept(report: Report) -> int:
    recipients = [r.public_key for r in get_store().recipients()]
    return accept(report, recipients, connections().commits.append)


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
    return render_template("report.html", form=_incident_form())


@bp.post("/")
def submit_report() -> Page:
    form = _incident_form()
    if not form.validate_on_submit():
        return render_template("report.html", form=form), 400
    report = build_report(form.to_fields(), current_language())
    try:
        _accept(report)
    except (StoreUnavailable, NoRecipients):
        return render_template("report.html", form=form, unavailable=True), 503
    return render_template("receipt.html", receipt=report.receipt, follow_up=False)


@bp.get("/follow-up")
def follow_up_form() -> Page:
    return render_template("follow_up.html", form=_follow_up_form())


@bp.post("/follow-up")
def submit_follow_up() -> Page:
    form = _follow_up_form()
    if not form.validate_on_submit():
        return render_template("follow_up.html", form=form), 400
    report = build_report(form.to_fields(), current_language(), follows=form.receipt.data)
    try:
        _accept(report)
    except (StoreUnavailable, NoRecipients):
        return render_template("follow_up.html", form=form, unavailable=True), 503
    return render_template("receipt.html", receipt=form.receipt.data, follow_up=True)
