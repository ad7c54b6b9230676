"""Every request passes here first: Host, where it comes from, session, CSRF, unlocked.

In this order, each refusal a translated page with every security header:

1. ``Host`` is the address the desk listens on, else 421 (DNS rebinding);
2. ``Sec-Fetch-Site`` is ``same-origin`` or ``none`` (or absent), else 403;
3. the session: the cookie's id if it is well formed, else a new one, set on
   the answer (``sessions.py``);
4. a POST carries the session's CSRF token, else 403 and nothing is done;
5. any page but the unlock page, the lock and language buttons and the style
   sheet needs the session that unlocked the desk (``vault.py``): else a
   redirect to the unlock page, which comes back here once unlocked.
"""

from __future__ import annotations

import re

from flask import Flask, abort, g, redirect, request, url_for
from werkzeug.exceptions import Forbidden
from werkzeug.wrappers import Response

from reporter.review.desk.security import fetch_site_allowed, host_allowed, secure
from reporter.review.desk.sessions import Sessions
from reporter.review.desk.vault import Vault
from reporter.review.desk.web.context import desk

PUBLIC = frozenset({"unlock.page", "unlock.unlock", "unlock.lock", "unlock.language",
                    "unlock.idle_css", "static"})
# POSTs that check the CSRF token themselves, from the body they stream (imports.py):
# reading ``request.form`` here would make Werkzeug spool an upload.
SELF_CHECKED = frozenset({"imports.upload"})
_SAFE_NEXT = re.compile(r"/(?![/\\])[\x21-\x7e]{0,2000}")


class CsrfRefused(Forbidden):
    """A form sent without this session's token (another page's, or an old one)."""


def _session_cookie(name: str, vault: Vault) -> str | None:
    """The session id among the cookies the browser sent under ``name``: the unlocked
    session's if one of them is it, else the first well-formed one. Another page on
    127.0.0.1 (another port shares the cookies) can plant a cookie of the same name with
    a longer path, which the browser sends first: taking the first would lock the
    reviewer out of every page under that path."""
    ids = [sid for sid in map(Sessions.well_formed, request.cookies.getlist(name)) if sid]
    for sid in ids:
        if vault.authorised(sid, use=False):
            return sid
    return ids[0] if ids else None


def safe_next(value: str | None) -> str | None:
    """A path of this desk to come back to, or ``None``: never another origin (``//x``,
    ``/\\x``) and never a scheme, so the unlock page is no open redirect."""
    if value and _SAFE_NEXT.fullmatch(value):
        return value
    return None


def session_id() -> str | None:
    value: str | None = g.get("session_id")
    return value


def csrf_token() -> str:
    """The hidden field of every form (templates)."""
    sid = session_id()
    return desk().sessions.csrf_token(sid) if sid else ""


def authorised() -> bool:
    return bool(g.get("authorised"))


def init_app(app: Flask) -> None:
    @app.before_request
    def _gate() -> Response | None:
        context = desk()
        if not host_allowed(request.headers.get("Host"), context.config.allowed_hosts):
            abort(421)
        if not fetch_site_allowed(request.headers.get("Sec-Fetch-Site")):
            abort(403)
        sid = _session_cookie(context.config.cookie_name, context.vault)
        if sid is None:
            sid = g.new_session = Sessions.new_id()
        g.session_id = sid
        if request.endpoint not in SELF_CHECKED:
            if request.method == "POST" and not context.sessions.csrf_ok(
                    sid, request.form.get("csrf_token")):
                raise CsrfRefused()
        g.authorised = context.vault.authorised(sid, use=request.endpoint not in PUBLIC)
        if request.endpoint in PUBLIC or request.endpoint is None or g.authorised:
            return None
        back = request.full_path.rstrip("?") if request.method == "GET" else None
        return redirect(url_for("unlock.page", next=safe_next(back)), 303)

    @app.after_request
    def _finish(response: Response) -> Response:
        new = g.get("new_session")
        if new:
            set_session_cookie(response, new)
        return secure(response)


def set_session_cookie(response: Response, sid: str) -> None:
    """``HttpOnly; SameSite=Strict; Path=/``, for the browser's session only. Not
    ``Secure``: plain HTTP on the loopback interface (``sessions.py``)."""
    response.set_cookie(desk().config.cookie_name, sid, path="/", httponly=True,
                        samesite="Strict", secure=False)
