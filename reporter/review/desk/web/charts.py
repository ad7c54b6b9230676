"""``GET /charts``: the charts of the reports the inbox's filters select, each an SVG
drawn on this machine (``review/charts.py``) with its data as CSV beside it.

The page takes the inbox's query string as it is (the same ``inbox.parse``), so
"Charts" from a filtered inbox charts that filter; ``unit=incidents`` (the
default) or ``unit=reports`` says what is counted, and every chart, caption and
CSV names it. Each chart is an ``<img>`` of
``/charts/<name>.svg`` with the same query string: in an ``<img>``, an SVG never
runs a script, and opened on its own it is sent as ``image/svg+xml`` with
``nosniff`` and a CSP of ``default-src 'none'; style-src 'unsafe-inline';
sandbox`` (matplotlib's SVG styles itself inline), so nothing in it runs there
either. The CSV is a download (``Content-Disposition: attachment``), every text
cell through the formula guard. No JavaScript; the page prints (``desk.css``).
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request
from flask_babel import gettext

from reporter.review import charts
from reporter.review.desk import inbox as form
from reporter.review.desk.security import FILE_POLICY
from reporter.review.desk.web.context import desk
from reporter.web.headers import content_disposition

bp = Blueprint("charts", __name__)
SVG_POLICY = "default-src 'none'; style-src 'unsafe-inline'; sandbox"


def _translate(text: str) -> str:
    return str(gettext(text))  # the reviewer's language, as the page's


def _unit() -> charts.Unit:
    """What the charts count: ``?unit=reports`` or ``incidents`` (the default)."""
    return charts.UNITS.get(request.args.get("unit", ""), charts.INCIDENTS)


def _asked() -> form.InboxQuery:
    asked = form.parse(request.args)
    if asked.filters is None:
        abort(400)
    return asked


@bp.get("/charts")
def page() -> tuple[str, int]:
    asked = form.parse(request.args)  # the page reads nothing: each picture counts its own
    return render_template(
        "charts.html", asked=asked, names=charts.CHARTS, titles=charts.TITLES,
        unit=_unit(), units=charts.UNITS,
    ), 200 if asked.filters is not None else 400


@bp.get("/charts/<name>.svg")
def svg(name: str) -> Response:
    if name not in charts.CHARTS:
        abort(404)
    asked = _asked()
    assert asked.filters is not None  # noqa: S101 (_asked aborts otherwise)
    with desk().vault.open() as db:
        table = charts.count(db, asked.filters, name, _unit())
    body = charts.draw(table, _translate)
    response = Response(body, mimetype="image/svg+xml")
    response.headers["Content-Security-Policy"] = SVG_POLICY
    return response


@bp.get("/charts/<name>.csv")
def data(name: str) -> Response:
    if name not in charts.CHARTS:
        abort(404)
    asked = _asked()
    assert asked.filters is not None  # noqa: S101
    with desk().vault.open() as db:
        table = charts.count(db, asked.filters, name, _unit())
    response = Response(charts.csv_text(table, _translate), mimetype="text/csv")
    response.headers["Content-Security-Policy"] = FILE_POLICY
    unit = table.unit.column.replace("_", "-")
    response.headers["Content-Disposition"] = content_disposition(f"chart-{name}-{unit}.csv")
    return response
