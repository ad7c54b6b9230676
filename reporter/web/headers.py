"""The security headers every answer of the station and of the review desk carries.

Each side adds its own ``Content-Security-Policy`` for its pages (the station
names its one inline style sheet by hash; the desk allows its own style sheet
and media): ``COMMON`` is everything else. ``BARE_POLICY`` is for a page with
no style sheet and no form, such as the guard's fixed fallback page.
"""

from __future__ import annotations

import re
from urllib.parse import quote

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
# RFC 9110 token characters, without "%" (which some browsers percent-decode).
_TOKEN = re.compile(r"[A-Za-z0-9!#$&'*+.^_`|~-]{1,200}")
BARE_POLICY = "default-src 'none'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"


def fallback_headers(page: bytes) -> list[tuple[str, str]]:
    """The headers of a fixed HTML ``page`` answered when nothing else can be."""
    return [
        ("Content-Type", "text/html; charset=utf-8"),
        ("Content-Length", str(len(page))),
        ("Content-Security-Policy", BARE_POLICY),
        *COMMON.items(),
    ]


def content_disposition(name: str) -> str:
    """``attachment`` with ``name`` as RFC 6266 says a browser reads it: an ASCII
    ``filename`` (anything else, and ``%``, ``"`` and ``\\``, made ``_``) for old
    clients, and the whole name in ``filename*`` (UTF-8, percent-encoded), which every
    current browser prefers. The header is ASCII whatever the name, so a server that
    writes headers as Latin-1 never fails half way through them; the caller cleans the
    name first (controls and bidi controls: ``review/files.py``)."""
    if _TOKEN.fullmatch(name):  # a plain name (``report-3.csv``): nothing to encode
        return f"attachment; filename={name}"
    fallback = "".join(ch if " " <= ch <= "~" and ch not in '%"\\' else "_" for ch in name)
    return (f'attachment; filename="{fallback or "file"}"; '
            f"filename*=UTF-8''{quote(name, safe='')}")
