"""Security headers on every response, asserted by tests/station/test_headers.py.

The content security policy allows nothing but the page itself, its one
inline style sheet (by hash), same-origin images and form posts to this
origin: no script at all, no frames, nothing from another origin. Every page
is ``no-store`` so a shared or seized phone keeps no copy of a report. The
headers besides the policy are the review desk's too (``reporter/web/headers.py``).
"""

from __future__ import annotations

import base64
import hashlib

from flask import Flask, Response

from reporter.web.headers import BARE_POLICY, COMMON

__all__ = ["BARE_POLICY", "COMMON", "init_app", "policy", "style_hash"]


def style_hash(css: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(css.encode()).digest()).decode() + "'"


def policy(css: str) -> str:
    return "; ".join([
        "default-src 'none'",
        f"style-src {style_hash(css)}",
        "img-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ])


def init_app(app: Flask, css: str) -> None:
    headers = {"Content-Security-Policy": policy(css), **COMMON}

    @app.after_request
    def _secure(response: Response) -> Response:
        response.headers.update(headers)
        return response
