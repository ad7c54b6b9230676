"""Exports of the inbox's filter (CSV, JSON Lines, spreadsheet) and evidence packages.

Both are POST forms (the CSRF token of the session, like every form): an
export is an action that puts reports in a file outside the encrypted
database, and no other page may start one.

* ``POST /export``: the filter of the inbox (its fields, as hidden fields)
  and ``format``; the rows are those ``reporter review export`` writes for
  the same filter, by the same writers (``export.write_csv``,
  ``export.write_jsonl``, ``spreadsheet.write_xlsx``), run in a thread and
  streamed (``pipe.py``): no file is written.
* ``POST /evidence``: ``report`` once per chosen report; one zip
  (``review/evidence.py``, ``docs/evidence-package.md``), streamed.

Sensitive reports (``review/sensitivity.py``, its ``reasons`` is the only
predicate) are not sent until confirmed: the first POST answers a page that
names each sensitive report and why, whose button sends the same form
again with ``confirm`` set to a digest of exactly that set of reports and
reasons. A POST whose ``confirm`` is not that digest (none, or the set
changed since: an import added one) gets the page again, and nothing else.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

from flask import Blueprint, Response, render_template, request, stream_with_context
from flask_babel import gettext
from werkzeug.datastructures import MultiDict

from reporter.review import evidence, sensitivity
from reporter.review.desk import inbox as form
from reporter.review.desk import pipe
from reporter.review.desk.security import FILE_POLICY
from reporter.review.desk.web.context import desk
from reporter.review.desk.web.errors import page
from reporter.review.desk.web.files import DECODER_WAIT, DECODERS
from reporter.review.export import export_rows, export_rows_of, write_csv, write_jsonl
from reporter.review.labels import TYPE_LABELS
from reporter.web.headers import content_disposition

bp = Blueprint("exports", __name__)
log = logging.getLogger("reporter")

FORMATS = {
    "csv": ("text/csv; charset=utf-8", ".csv"),
    "jsonl": ("application/x-ndjson; charset=utf-8", ".jsonl"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx"),
}


def _(text: str, **variables: object) -> str:
    return str(gettext(text, **variables))


def reason_label(code: str) -> str:
    """A reason code of ``sensitivity.reasons``, in the reviewer's words."""
    if code == sensitivity.CONTACT:
        return _("it carries the monitor's contact details")
    if code.startswith(sensitivity.TYPE_PREFIX):
        kind = code[len(sensitivity.TYPE_PREFIX):]
        return _("incident type: %(type)s", type=_(TYPE_LABELS.get(kind, kind)))
    if code == sensitivity.MARKED:
        return _("a reviewer marked it sensitive")
    return code


def _download(body: Iterator[bytes], media: str, name: str) -> Response:
    response = Response(body, mimetype=None, content_type=media, direct_passthrough=True)
    response.headers["Content-Security-Policy"] = FILE_POLICY
    response.headers["Content-Disposition"] = content_disposition(name)
    return response


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def _confirm(sensitive: sensitivity.Sensitive, what: str,
             hidden: list[tuple[str, str]]) -> tuple[str, int]:
    return render_template(
        "confirm_export.html", sensitive=sensitive, what=what, hidden=hidden,
        reason_label=reason_label), 200


# --- exports of the filter ------------------------------------------------------------


@bp.post("/export")
def export() -> Response | tuple[str, int]:
    fmt = request.form.get("format", "")
    if fmt not in FORMATS:
        return page(400)
    asked = form.parse(MultiDict({k: request.form.get(k, "") for k in form.FIELDS}))
    if asked.filters is None:
        return page(400, _("Check the filters"), _("A filter of the inbox is not valid: "
                                                     "go back to the inbox and check it."))
    filters = asked.filters
    vault = desk().vault
    generation = vault.generation
    with vault.open() as db:
        sensitive = sensitivity.find(db, export_rows(db, filters))
    if sensitive and request.form.get("confirm") != sensitive.digest:
        hidden = [(k, v) for k, v in asked.values.items() if v] + [("format", fmt)]
        return _confirm(sensitive, "export", hidden)

    def write(out: pipe.Pipe) -> None:
        with vault.open() as db:
            rows = export_rows(db, filters)
            if fmt == "xlsx":
                from reporter.review.spreadsheet import write_xlsx

                write_xlsx(rows, out)  # type: ignore[arg-type]
                return
            text = io.TextIOWrapper(out, encoding="utf-8", newline="")  # type: ignore[type-var]
            (write_csv if fmt == "csv" else write_jsonl)(rows, text)
            text.flush()
            text.detach()

    body = pipe.start(write, lambda: vault.current(generation))
    media, extension = FORMATS[fmt]
    return _download(body, media, f"reports-{_stamp()}{extension}")


# --- evidence packages ------------------------------------------------------------------


def _chosen() -> list[int] | None:
    ids: list[int] = []
    for value in request.form.getlist("report"):
        if not value.isascii() or not value.isdigit() or len(value) > 18:
            return None
        ids.append(int(value))
    return list(dict.fromkeys(ids))


class _Slot:
    """The desk's limit on picture decoders at once (``files.DECODERS``)."""

    def __enter__(self) -> None:
        if not DECODERS.acquire(timeout=DECODER_WAIT):
            from reporter.review.strip import StripError

            raise StripError("the picture decoder is busy")

    def __exit__(self, *exc: object) -> None:
        DECODERS.release()


@bp.post("/evidence")
def package() -> Response | tuple[str, int]:
    ids = _chosen()
    if ids is None:
        return page(400)
    if not ids:
        return page(400, _("No report chosen"),
                    _("Tick the reports to put in the evidence package, then press the "
                      "button again."))
    if len(ids) > evidence.MAX_REPORTS:
        return page(413, _("Too many reports"),
                    _("An evidence package holds at most %(max)s reports: choose fewer.",
                      max=evidence.MAX_REPORTS))
    vault = desk().vault
    generation = vault.generation
    with vault.open() as db:
        sensitive = sensitivity.find(db, export_rows_of(db, ids))
    if sensitive and request.form.get("confirm") != sensitive.digest:
        return _confirm(sensitive, "evidence", [("report", str(i)) for i in ids])
    made = evidence.new_package()

    def summary(built: evidence.Package) -> str:
        return render_template("evidence_summary.html", package=built,
                               reason_label=reason_label, evidence=evidence)

    db = vault.open()

    def stream() -> Iterator[bytes]:
        try:
            yield from evidence.build(db, ids, summary, package=made,
                                      going=lambda: vault.current(generation),
                                      decoder_slot=_Slot)
        except Exception as exc:
            # The type only (a message could quote a report); the connection is
            # dropped, so the browser keeps an unfinished download.
            log.error("review desk: an evidence package stopped half way: %s",
                      type(exc).__name__)
            raise
        finally:
            db.close()

    return _download(stream_with_context(stream()), "application/zip", made.file_name)
