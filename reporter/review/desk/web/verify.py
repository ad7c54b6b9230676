"""The verification workflow on the desk: a report's status, tags, notes, sensitive
mark, incident and duplicate mark; incidents; the reviewer's name.

Every change is a POST form (its CSRF token checked by ``gate.py`` before this
runs) answered by a redirect to a page that shows the result (POST-redirect-GET:
reloading repeats nothing). What went wrong travels in that redirect as a
code of ``workflow`` (``?problem=too-long``), which the page names in the
reviewer's language; nothing typed is put in a URL. Each change is recorded
with the reviewer's name (``vault.reviewer``); without one, the change is not
made and the reviewer is sent to ``/reviewer`` to give it first.
"""

from __future__ import annotations

import re

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from reporter.review import incidents as ri  # "incidents" is a view here
from reporter.review import listing, records, review_history, workflow
from reporter.review.desk.web.context import desk
from reporter.review.desk.web.gate import safe_next
from reporter.review.desk.web.unlock import name_problem
from reporter.review.filters import Filters
from reporter.review.recipients import pending

bp = Blueprint("verify", __name__)
MAX_LISTED = 500  # incidents offered in a report's "link to" list (the newest)
RECENT = 200  # changes listed on the history page


def _(text: str, **variables: object) -> str:
    return str(gettext(text, **variables))


def problem_message(problem: str | None) -> str | None:
    """A ``workflow`` problem code as the reviewer reads it (None: no problem shown)."""
    messages = {
        workflow.EMPTY: _("Nothing was saved: the field was empty."),
        workflow.TOO_LONG: _("Nothing was saved: the text was too long."),
        workflow.CONTROL: _("Nothing was saved: the text held control characters."),
        workflow.UNKNOWN_STATUS: _("Nothing was saved: choose a status of the list."),
        workflow.SAME_REPORT: _("Nothing was saved: a report cannot duplicate itself."),
        workflow.UNKNOWN_INCIDENT: _("Nothing was saved: there is no such incident."),
        workflow.BAD_DATE: _("Nothing was saved: write dates as YYYY-MM-DD, the end "
                             "after the start."),
        workflow.BAD_NUMBER: _("Nothing was saved: people affected is a whole number, "
                               "0 or more."),
        workflow.UNKNOWN_TYPE: _("Nothing was saved: choose incident types of the list."),
        workflow.TOO_MANY_TAGS: _("Nothing was saved: a report has at most %(max)s tags.",
                                  max=workflow.MAX_TAGS),
        "no-report": _("Nothing was saved: there is no report with that number."),
    }
    return messages.get(problem or "")


def done_message(done: str | None) -> str | None:
    return _("Saved.") if done == "saved" else (
        _("Nothing to change.") if done == "same" else None)


def _reviewer() -> str | None:
    return desk().vault.reviewer


def _need_name(back: str) -> Response:
    return redirect(url_for("verify.reviewer", next=back), 303)


def _back(report_id: int, outcome: str, *, problem: bool = False) -> Response:
    target = (url_for("reports.report", report_id=report_id, problem=outcome) if problem
              else url_for("reports.report", report_id=report_id, done=outcome))
    return redirect(target + "#verification", 303)


def _number(name: str) -> int | None:
    text = request.form.get(name, "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        return None
    return int(text)


def _change(report_id: int, action: str) -> Response:
    """Run one change of report ``report_id`` and send the browser back to it."""
    name = _reviewer()
    if name is None:
        return _need_name(url_for("reports.report", report_id=report_id))
    form = request.form
    try:
        with desk().vault.open() as db:
            workflow.state(db, report_id)  # 404 for a report that does not exist
            if action == "status":
                changed = workflow.set_status(db, report_id, form.get("status", ""), name)
            elif action == "tag":
                changed = workflow.add_tag(db, report_id, form.get("tag", ""), name)
            elif action == "untag":
                changed = workflow.remove_tag(db, report_id, form.get("tag", ""), name)
            elif action == "note":
                workflow.add_note(db, report_id, form.get("note", ""), name)
                changed = True
            elif action == "sensitive":
                changed = workflow.set_sensitive(db, report_id, form.get("sensitive") == "1",
                                                 name)
            elif action == "unlink":
                changed = ri.unlink(db, report_id, name)
            elif action == "link":
                incident = _number("incident")
                if incident is None:
                    return _back(report_id, workflow.UNKNOWN_INCIDENT, problem=True)
                changed = ri.link(db, report_id, incident, name)
            elif action == "new-incident":
                fields = ri.IncidentFields(title=form.get("title", ""))
                ri.create_incident(db, fields, name, link=[report_id])
                changed = True
            elif action == "duplicate":
                of = _number("of")
                if of is None or of >= 2**63:
                    return _back(report_id, "no-report", problem=True)
                try:
                    workflow.state(db, of)
                except records.UnknownReport:
                    return _back(report_id, "no-report", problem=True)
                ri.mark_duplicate(db, report_id, of, name)
                changed = True
            else:  # pragma: no cover - the routes below name every action
                raise NotFound()
    except workflow.WorkflowError as exc:
        return _back(report_id, exc.problem, problem=True)
    return _back(report_id, "saved" if changed else "same")


@bp.post("/reports/<rowid:report_id>/status")
def status(report_id: int) -> Response:
    return _change(report_id, "status")


@bp.post("/reports/<rowid:report_id>/tags")
def tag(report_id: int) -> Response:
    return _change(report_id, "tag")


@bp.post("/reports/<rowid:report_id>/tags/remove")
def untag(report_id: int) -> Response:
    return _change(report_id, "untag")


@bp.post("/reports/<rowid:report_id>/notes")
def note(report_id: int) -> Response:
    return _change(report_id, "note")


@bp.post("/reports/<rowid:report_id>/sensitive")
def sensitive(report_id: int) -> Response:
    return _change(report_id, "sensitive")


@bp.post("/reports/<rowid:report_id>/incident")
def link(report_id: int) -> Response:
    return _change(report_id, "new-incident" if request.form.get("incident") == "new"
                   else "link")


@bp.post("/reports/<rowid:report_id>/unlink")
def unlink(report_id: int) -> Response:
    return _change(report_id, "unlink")


@bp.post("/reports/<rowid:report_id>/duplicate")
def duplicate(report_id: int) -> Response:
    return _change(report_id, "duplicate")


# --- incidents ---------------------------------------------------------------------------


@bp.get("/incidents")
def incidents() -> str:
    with desk().vault.open() as db:
        found = ri.list_incidents(db)
        counted = ri.count_incidents(db, Filters())
        total = db.report_count()
        changed = pending(db)
    return render_template("incidents.html", incidents=found, counted=counted, total=total,
                           changed=changed)


def _incident_fields() -> ri.IncidentFields:
    form = request.form
    people = form.get("people_affected", "").strip()
    if people and not (people.isascii() and people.isdigit() and len(people) <= 9):
        raise workflow.WorkflowError(workflow.BAD_NUMBER, "not a number")
    return ri.IncidentFields(
        title=form.get("title", ""), date_from=form.get("date_from", "").strip() or None,
        date_to=form.get("date_to", "").strip() or None, site=form.get("site", ""),
        types=tuple(form.getlist("types"))[:50],
        people_affected=int(people) if people else None, note=form.get("note", ""))


@bp.get("/incidents/<rowid:incident_id>")
def incident(incident_id: int) -> str:
    with desk().vault.open() as db:
        try:
            found = ri.get_incident(db, incident_id)
        except ri.UnknownIncident:
            raise NotFound() from None
        reports = list(listing.list_reports(db, Filters(incident=incident_id)))
        entries = review_history.history(db, incident=incident_id)
        changed = pending(db)
    return render_template(
        "incident.html", incident=found, reports=reports, entries=entries, changed=changed,
        problem=problem_message(request.args.get("problem")),
        done=done_message(request.args.get("done")))


@bp.post("/incidents/<rowid:incident_id>")
def edit_incident(incident_id: int) -> Response:
    here = url_for("verify.incident", incident_id=incident_id)
    name = _reviewer()
    if name is None:
        return _need_name(here)
    try:
        with desk().vault.open() as db:
            try:
                ri.get_incident(db, incident_id)
            except ri.UnknownIncident:
                raise NotFound() from None
            changed = ri.update_incident(db, incident_id, _incident_fields(), name)
    except workflow.WorkflowError as exc:
        return redirect(url_for("verify.incident", incident_id=incident_id,
                                problem=exc.problem) + "#edit", 303)
    return redirect(url_for("verify.incident", incident_id=incident_id,
                            done="saved" if changed else "same"), 303)


@bp.get("/history")
def whole_history() -> str:
    """The last changes of the whole review database, and its hash chain checked now."""
    asked = request.args.get("hash", "").strip().lower()
    digest = bytes.fromhex(asked) if re.fullmatch(r"[0-9a-f]{64}", asked) else None
    with desk().vault.open() as db:
        check = review_history.verify_history(db)
        entries = review_history.recent(db, RECENT)
        found = review_history.entry_with_hash(db, digest) if digest is not None else None
        changed = pending(db)
    return render_template("history.html", check=check, entries=entries, changed=changed,
                           recent=RECENT, asked=asked[:64] if asked else None,
                           valid=digest is not None, found=found)


# --- the reviewer's name -----------------------------------------------------------------


@bp.get("/reviewer")
def reviewer() -> str:
    return render_template("reviewer.html", name=_reviewer() or "", error=None,
                           next=safe_next(request.args.get("next")), changed=None)


@bp.post("/reviewer")
def set_reviewer() -> Response | tuple[str, int]:
    back = safe_next(request.form.get("next"))
    try:
        name = workflow.clean_name(request.form.get("reviewer", ""))
    except workflow.WorkflowError as exc:
        return render_template(
            "reviewer.html", name=request.form.get("reviewer", "")[:workflow.MAX_NAME * 2],
            error=name_problem(exc.problem), next=back, changed=None), 400
    with desk().vault.open() as db:
        workflow.remember_reviewer(db, name)
    desk().vault.set_reviewer(name)
    return redirect(back or url_for("inbox.inbox"), 303)
