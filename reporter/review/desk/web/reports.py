"""``GET /reports/<id>``: one report, its thread of follow-ups, its attachments, its custody,
and its verification (status, tags, notes, sensitive mark, incident, history)."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from reporter.review import incidents as ri  # "incidents" is a variable here
from reporter.review import records, review_history, workflow
from reporter.review.custody import custody
from reporter.review.desk.present import attachment_views, field_views
from reporter.review.desk.web.context import desk
from reporter.review.desk.web.verify import MAX_LISTED, done_message, problem_message
from reporter.review.recipients import pending

bp = Blueprint("reports", __name__)


@bp.get("/reports/<rowid:report_id>")
def report(report_id: int) -> str:
    with desk().vault.open() as db:
        detail = records.get_report(db, report_id)
        chain = custody(db, report_id)
        changed = pending(db)
        state = workflow.state(db, report_id)
        entries = review_history.history(db, report=report_id)
        incidents = ri.list_incidents(db, MAX_LISTED)
        linked = (ri.get_incident(db, state.incident)
                  if state.incident is not None else None)
    return render_template(
        "report.html", detail=detail, record=detail.record, custody=chain, changed=changed,
        field_views=field_views, attachment_views=attachment_views,
        receipt_code=records.receipt_code, state=state, entries=entries, incidents=incidents,
        linked=linked, reviewer=desk().vault.reviewer,
        problem=problem_message(request.args.get("problem")),
        done=done_message(request.args.get("done")),
    )
