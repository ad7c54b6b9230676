"""Unlock, lock, and the language of the desk.

The passphrase travels only in the body of the unlock form's POST: never in
a URL (the form's method is POST, and a GET of ``/unlock`` ignores any
``passphrase`` in its query), never in a log line (a failure is logged as
its kind only), never in a page (the field is not filled in again).
"""

from __future__ import annotations

import logging

from flask import Blueprint, g, redirect, render_template, request, url_for
from flask_babel import gettext
from werkzeug.wrappers import Response

from reporter.errors import (
    DatabaseUnreadable,
    InstanceError,
    ReporterError,
    SchemaTooNew,
    WrongPassphrase,
)
from reporter.i18n.reviewer import normalise
from reporter.review import workflow
from reporter.review.desk.vault import BUTTON, IDLE, Busy, Throttled
from reporter.review.desk.web.context import desk
from reporter.review.desk.web.gate import authorised, safe_next, session_id, set_session_cookie

bp = Blueprint("unlock", __name__)


def _(text: str, **variables: object) -> str:
    return str(gettext(text, **variables))
log = logging.getLogger("reporter")


def _state_message() -> str | None:
    vault = desk().vault
    if vault.unlocked:
        return _("The desk is open in another browser window. Unlocking it here closes "
                 "it there.")
    if vault.reason == IDLE:
        minutes = round(vault.idle_seconds / 60) or 1
        return _("The desk locked itself after %(minutes)s minutes without use.",
                 minutes=minutes)
    if vault.reason == BUTTON:
        return _("The desk is locked.")
    return None


def _page(error: str | None = None, status: int = 200,
          name_error: str | None = None) -> tuple[str, int]:
    return render_template(
        "unlock.html", error=error, state=_state_message(), name_error=name_error,
        reviewer=request.form.get("reviewer", "")[:workflow.MAX_NAME * 2]
        if request.method == "POST" else "",
        next=safe_next(request.values.get("next")), database=desk().config.review_db.name,
    ), status


@bp.get("/unlock")
def page() -> Response | tuple[str, int]:
    if authorised():
        return redirect(safe_next(request.args.get("next")) or url_for("inbox.inbox"), 303)
    return _page()


def _failure(exc: ReporterError) -> str:
    if isinstance(exc, WrongPassphrase):
        return _("Wrong passphrase. Type the passphrase of this review database.")
    if isinstance(exc, Throttled):
        return _("Too many wrong passphrases in a row: wait %(seconds)s seconds, then try "
                 "again.", seconds=max(1, round(exc.wait)))
    if isinstance(exc, Busy):
        return _("Another unlock is being checked. Try again in a moment.")
    if isinstance(exc, DatabaseUnreadable):
        return _("The review database is damaged or was altered. Restore it from a backup "
                 "(keep the damaged copy: it may be evidence).")
    if isinstance(exc, SchemaTooNew):
        return _("This review database was made by a newer version of reporter. "
                 "Upgrade reporter.")
    if isinstance(exc, InstanceError):
        return _("The review database or one of the files beside it is missing or "
                 "cannot be read.")
    return _("The review database could not be opened.")


@bp.post("/unlock")
def unlock() -> Response | tuple[str, int]:
    passphrase = request.form.get("passphrase", "")
    if not passphrase:
        return _page(_("Type the passphrase of the review database."), 400)
    typed = request.form.get("reviewer", "")
    name = None
    if typed.strip():
        try:
            name = workflow.clean_name(typed)
        except workflow.WorkflowError as exc:
            return _page(None, 400, name_error=name_problem(exc.problem))
    context = desk()
    new_session = context.sessions.rotate(session_id())
    try:
        context.vault.unlock(passphrase, new_session)
    except ReporterError as exc:
        # Never the passphrase, never what the exception quotes: its kind is enough.
        # Of the unlocks refused unchecked during a wait, only the first: another
        # local program could otherwise fill the reviewer's terminal.
        if not isinstance(exc, Throttled):
            log.warning("review desk: an unlock failed (%s)", type(exc).__name__)
        elif exc.first:
            log.warning("review desk: an unlock failed (Throttled: too many wrong "
                        "passphrases; the others refused during this wait are not logged)")
        status = (403 if isinstance(exc, WrongPassphrase) else
                  429 if isinstance(exc, Throttled) else 503)
        return _page(_failure(exc), status)
    finally:
        del passphrase
    with context.vault.open() as db:
        name = (workflow.remember_reviewer(db, name) if name is not None
                else workflow.remembered_reviewer(db))
    context.vault.set_reviewer(name)
    response = redirect(safe_next(request.form.get("next")) or url_for("inbox.inbox"), 303)
    set_session_cookie(response, new_session)
    g.pop("new_session", None)
    return response


def name_problem(problem: str) -> str:
    """What is wrong with a reviewer's name, in the reviewer's language."""
    if problem == workflow.TOO_LONG:
        return _("Use at most %(max)s characters.", max=workflow.MAX_NAME)
    if problem == workflow.CONTROL:
        return _("Use letters, digits and punctuation only.")
    return _("Type your name.")


@bp.post("/lock")
def lock() -> Response:
    if authorised():
        desk().vault.lock(BUTTON)
    return redirect(url_for("unlock.page"), 303)


@bp.post("/language")
def language() -> Response:
    chosen = normalise(request.form.get("lang"))
    sid = session_id()
    if chosen is not None and sid is not None:
        desk().sessions.set_language(sid, chosen)
    target = safe_next(request.form.get("next")) or url_for("inbox.inbox")
    return redirect(target, 303)


@bp.get("/idle.css")
def idle_css() -> Response:
    """What takes an open page off the screen when the desk locks itself: a page of the
    unlocked desk links this style sheet, whose animation hides the page's content and
    shows "locked" once the idle period has passed since it was loaded (each page
    loaded starts the idle period again). CSS, not a refresh: no JavaScript, and no
    timed refresh (a WCAG failure that axe-core counts as critical). It does not empty
    the tab's memory: close the tab, or press Lock the desk, when you leave."""
    seconds = int(desk().vault.idle_seconds) + 1
    css = (f".desk-page{{animation:desk-idle-hide 1ms step-end {seconds}s forwards}}"
           "@keyframes desk-idle-hide{from,to{visibility:hidden}}"
           f".idle-notice{{display:block;visibility:hidden;animation:desk-idle-show 1ms "
           f"step-end {seconds}s forwards}}"
           "@keyframes desk-idle-show{from,to{visibility:visible}}\n")
    return Response(css, mimetype="text/css")
