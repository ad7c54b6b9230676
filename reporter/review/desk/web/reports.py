"""``GET /reports/<id>``: one report, its thread of follow-ups, its attachments, its custody."""

from __future__ import annotations

from flask import Blueprint, render_template

from reporter.review import query
from reporter.review.custody import custody
from reporter.review.desk.present import attachment_views, field_views
from reporter.review.desk.web.context import desk
from reporter.review.recipients import pending

bp = Blueprint("reports", __name__)


@bp.get("/reports/<int:report_id>")
def report(report_id: int) -> str:
    with desk().vault.open() as db:
        detail = query.get_report(db, report_id)
        chain = custody(db, report_id)
        changed = pending(db)
    return render_template(
        "report.html", detail=detail, record=detail.record, custody=chain, changed=changed,
        field_views=field_views, attachment_views=attachment_views,
        receipt_code=query.receipt_code,
    )
