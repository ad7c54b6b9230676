"""The security headers every answer of the station and of the review desk carries.

Each side adds its own ``Content-Security-Policy`` for its pages (the station
names its one inline style sheet by hash; the desk allows its own style sheet
and media): ``COMMON`` is everything else. ``BARE_POLICY`` is for a page with
no style sheet and no form, such as the guard's fixed fallback page.
"""

from __future__ import annotations

COMMON = {
    "Cache-Control": "no-store, max-age=0",
    "Pragma": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}
BARE_POLICY = "default-src 'none'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"


def fallback_headers(page: bytes) -> list[tuple[str, str]]:
    """The headers of a fixed HTML ``page`` answered when nothing else can be."""
    return [
        ("Content-Type", "text/html; charset=utf-8"),
        ("Content-Length", str(len(page))),
        ("Content-Security-Policy", BARE_POLICY),
        *COMMON.items(),
    ]
