"""The monitor-facing pages: the report form, the receipt, the follow-up.

Thin views: parse the form, call ``intake.accept``, render. A failed
submission re-renders the form with everything the monitor typed, so nothing
they wrote is lost, and the store is left exactly as it was (attachments
already received are deleted by the request's teardown, ``attachments.py``).

Every form page carries a token (``formtoken.py``); the receipt is derived
from it, and the ledger (``ledger.py``) remembers which tokens were used, so
the same form sent twice (a double tap, a reload, a retry on a slow link)
stores one report and shows the same receipt both times.

A submission the station cannot take now (the station-wide rate limit, or
too little disk space: ``admission.py``) comes back the same way, with what
was typed and the same token, unused: sending the page again later works.
"""

from __future__ import annotations

import logging
import struct

from flask import Blueprint, abort, current_app, make_response, render_template, request
from werkzeug.wrappers import Response

from reporter.errors import InvalidReceipt, NoRecipients, StoreError, TooManyRecipients
from reporter.formats.receipt import parse_receipt
from reporter.formats.report import Report
from reporter.i18n.languages import current_language
from reporter.station.diskspace import Room
from reporter.station.forms import NO_ROOM_FOR_FILES, FollowUpForm, IncidentForm, megabytes
from reporter.station.formtoken import Token
from reporter.station.intake import accept, build_report
from reporter.station.ledger import Claim
from reporter.station.uploads import ATTACHMENTS, TOO_MANY_FILES, body_problems
from reporter.station.web import admission
from reporter.station.web.attachments import current_draft
from reporter.station.web.context import station
from reporter.station.web.db import connections, get_store

bp = Blueprint("intake", __name__)
log = logging.getLogger("reporter")

Page = str | tuple[str, int] | Response
AnyForm = IncidentForm | FollowUpForm
REPORT_PAGE = "report.html"
FOLLOW_UP_PAGE = "follow_up.html"
# The language menu of a form page: submit buttons of the form itself, so
# the page comes back in the chosen language with everything typed.
SWITCH = "switch_lang"


def _accept(report: Report) -> int:
    recipients = [r.public_key for r in get_store().recipients()]
    try:
        return accept(report, recipients, connections().commits.append, draft=current_draft())
    except (StoreError, NoRecipients, TooManyRecipients) as exc:
        # The operator must learn why monitors were turned away. The message is
        # ours (errors.py: never report content), and names no client.
        log.warning("a report could not be stored: %s", exc)
        raise


def _valid(form: AnyForm) -> bool:
    """Every field and every file; if anything fails, the files must be chosen again."""
    draft = current_draft()
    ok = bool(form.validate())
    ok = form.check_attachments(draft, TOO_MANY_FILES in body_problems()) and ok
    if not ok:
        form.files_dropped(draft)
    return ok


def _limits() -> dict[str, object]:
    config = station(current_app).config
    return {"attachments_on": config.max_attachment_bytes > 0,
            "max_mb": megabytes(config.max_attachment_bytes),
            "max_files": config.max_attachments}


def _new_token(form: AnyForm) -> None:
    form.form_token.data = station(current_app).tokens.issue()


def _verified(form: AnyForm) -> Token | None:
    context = station(current_app)
    return context.tokens.verify(form.form_token.data or "",
                                 context.config.form_token_lifetime)


def _incident_form() -> IncidentForm:
    form = IncidentForm(sites=get_store().sites())
    form.lang.data = current_language()
    return form


def _follow_up_form() -> FollowUpForm:
    form = FollowUpForm()
    form.lang.data = current_language()
    return form


def _form_page(template: str, form: AnyForm, status: int = 200, **state: bool) -> Page:
    return render_template(template, form=form, **state, **_limits()), status


def _receipt_page(receipt: str | None, follow_up: bool) -> Page:
    return render_template("receipt.html", receipt=receipt, follow_up=follow_up)


def _files_sent() -> bool:
    """Whether the body carried files (chosen in the file field), taken or not."""
    return any(f.filename for f in request.files.getlist(ATTACHMENTS))


def _turned_away(form: AnyForm, template: str, token: Token) -> Page | None:
    """The page for a submission the station cannot take now, or None to go on.

    Shed by the rate limit: 429, with ``Retry-After``. No room on the disk:
    507 (WebDAV's Insufficient Storage, RFC 4918: the server cannot store
    what the request needs; browsers show the page like any other). Either
    way nothing was stored, the token stays unused, the page keeps what was
    typed and says the files must be chosen again. A resend of a form already
    stored still gets its receipt: nothing is lost by a busy station.
    """
    gate = admission.admission()
    files = _files_sent()
    text_only = gate.room is Room.TEXT_ONLY
    if gate.shed_for is None and (gate.room is Room.PLENTY or (text_only and not files)):
        return None
    context = station(current_app)
    follow_up = isinstance(form, FollowUpForm)
    admission.refund()
    if context.ledger.stored(context.tokens.ledger_name(token)):
        return _receipt_page(_shown_receipt(form, token), follow_up)
    if gate.shed_for is not None:
        admission.count(admission.SHED)
        form.files_dropped(current_draft(), sent=files)
        response = make_response(_form_page(template, form, 429, shed=True))
        response.headers["Retry-After"] = str(gate.shed_for)
        return response
    if gate.room is Room.FULL:
        admission.count(admission.FULL)
        form.files_dropped(current_draft(), sent=files)
        return _form_page(template, form, 507, full=True)
    admission.count(admission.NO_FILES)
    form.attachments.errors = [*form.attachments.errors, NO_ROOM_FOR_FILES]
    return _form_page(template, form, 507, no_room=True)


def _shown_receipt(form: AnyForm, token: Token) -> str | None:
    """The code the receipt page shows: a report's own, or the one a follow-up added to.

    For a follow-up sent again, that is the code in the body sent again: the
    station keeps no code, not even in the ledger. A resend is the same body
    (a double tap, a reload); a body edited under the same token after it
    was stored would show its own code, which the monitor typed.
    """
    if isinstance(form, IncidentForm):
        return station(current_app).tokens.receipt(token)
    try:
        return parse_receipt(form.receipt.data or "")
    except InvalidReceipt:
        return None  # a resend whose code was edited: the page says only "received"


def _switch_language(form: AnyForm, template: str, token: Token | None) -> Page:
    """The same form in the language chosen (in the URL): nothing checked, stored or refused."""
    if token is None:
        _new_token(form)  # quietly: nothing was being sent
    form.files_left_behind(current_draft(), request.form.getlist(ATTACHMENTS))
    return _form_page(template, form)


def _submit(form: AnyForm, template: str) -> Page:
    """Store what ``form`` carries once, however many times its page is sent."""
    context = station(current_app)
    token = _verified(form)
    if SWITCH in request.form:
        admission.refund()  # not a submission: nothing is sent
        return _switch_language(form, template, token)
    if token is not None and (turned := _turned_away(form, template, token)) is not None:
        return turned
    claim = Claim.EXPIRED if token is None else \
        context.ledger.claim(context.tokens.ledger_name(token), token.issued)
    if token is None or claim is Claim.EXPIRED:
        # Made by an earlier run of the station, or too long ago: it cannot be
        # told from a form already stored. Shown again, with a new token and
        # what was typed, and a word for anyone who already saw a receipt.
        _new_token(form)
        form.files_dropped(current_draft(), sent=_files_sent())
        return _form_page(template, form, 400, expired=True)
    if claim is Claim.DONE:
        admission.refund()  # a resend: nothing new is stored
        return _receipt_page(_shown_receipt(form, token), isinstance(form, FollowUpForm))
    if claim is Claim.BUSY:
        form.files_dropped(current_draft())
        return _form_page(template, form, 503, busy=True)
    name = context.tokens.ledger_name(token)
    stored = False
    try:
        if not _valid(form):
            draft = current_draft()
            if draft is not None and draft.out_of_room:  # the disk filled up mid-upload
                admission.count(admission.STOPPED)
                return _form_page(template, form, 507, no_room=True)
            return _form_page(template, form, 400)
        follows = form.receipt.data if isinstance(form, FollowUpForm) else None
        report = build_report(form.to_fields(), current_language(), follows=follows,
                              receipt=context.tokens.receipt(token))
        try:
            _accept(report)
        except (StoreError, NoRecipients, TooManyRecipients):
            form.files_dropped(current_draft())
            return _form_page(template, form, 503, unavailable=True)
        context.ledger.done(name)
        stored = True
    finally:
        if not stored:
            context.ledger.release(name)
    return _receipt_page(_shown_receipt(form, token), isinstance(form, FollowUpForm))


@bp.post("/receipt")
def receipt_again() -> Page:
    """The receipt page again, in the language chosen from its menu.

    The menu is a small form carrying the code in a hidden field: a receipt
    is never put in a URL (browser history). Nothing is stored or checked
    against anything: the page only shows the code it was given.
    """
    try:
        code = parse_receipt(request.form.get("receipt", "", type=str))
    except InvalidReceipt:
        abort(400)
    return _receipt_page(code, request.form.get("follow_up", "", type=str) == "1")


@bp.get("/")
def report_form() -> Page:
    form = _incident_form()
    _new_token(form)
    return _form_page(REPORT_PAGE, form)


@bp.post("/")
def submit_report() -> Page:
    return _submit(_incident_form(), REPORT_PAGE)


@bp.get("/follow-up")
def follow_up_form() -> Page:
    form = _follow_up_form()
    _new_token(form)
    return _form_page(FOLLOW_UP_PAGE, form)


@bp.post("/follow-up")
def submit_follow_up() -> Page:
    return _submit(_follow_up_form(), FOLLOW_UP_PAGE)


def _icon() -> bytes:
    """A 1x1 transparent icon (70 bytes): browsers ask for one on every page."""
    image = struct.pack("<IiiHHIIiiII", 40, 1, 2, 1, 32, 0, 8, 0, 0, 0, 0)
    image += bytes(4)  # one pixel, blue-green-red-alpha, alpha 0: transparent
    image += bytes(4)  # the AND mask: one row, padded to 4 bytes
    entry = struct.pack("<BBBBHHII", 1, 1, 0, 0, 1, 32, len(image), 6 + 16)
    return struct.pack("<HHH", 0, 1, 1) + entry + image


ICON = _icon()


@bp.get("/favicon.ico")
def favicon() -> Response:
    """Served, not a 404 on every page load (with every security header, like any page)."""
    return Response(ICON, mimetype="image/x-icon")
