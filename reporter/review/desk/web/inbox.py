"""``GET /``: the inbox, newest first, a page at a time, with the filters of ``review list``."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from reporter.review import facets, listing, workflow
from reporter.review.desk import inbox as form
from reporter.review.desk.web.context import desk
from reporter.review.recipients import pending

bp = Blueprint("inbox", __name__)


@bp.get("/")
def inbox() -> tuple[str, int]:
    asked = form.parse(request.args)
    page = count = None
    counts: facets.Facets = {}
    tags: dict[int, tuple[workflow.Tag, ...]] = {}
    with desk().vault.open() as db:
        stations = [sid.hex() for sid, _key in db.stations()]
        total = db.report_count()
        if asked.filters is not None:
            count = total if not asked.filters.active else listing.count_reports(
                db, asked.filters)
            page = listing.page(db, asked.filters, form.PAGE_SIZE, after=asked.after,
                              before=asked.before, matches=count)
            tags = workflow.tags_for(db, (s.id for s in page.reports))
            filters = asked.filters
            counts = desk().vault.remembered(
                ("facets", facets.state(db), filters),
                lambda: facets.facet_counts(db, filters))
        changed = pending(db)
    return render_template(
        "inbox.html", asked=asked, page=page, count=count, total=total, stations=stations,
        changed=changed, tags=tags, counts=counts,
    ), 200 if asked.filters is not None else 400
