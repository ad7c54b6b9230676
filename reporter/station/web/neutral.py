"""Where "Leave quickly" leads: a plain recipe page, served by the station itself.

Every monitor page has a "Leave quickly" link at its top (``base.html``),
for a monitor who must hide the page at once. Its target is here because a
station often has no internet to send anyone elsewhere. Why a recipe (maize
porridge: sadza, ugali, fufu, funge): it is harmless, timeless (a weather
page or news would be stale or plainly fake), plausible on any phone in the
places monitors live, and says nothing about what the station is for; it
has none of the station's header, menus or footer, and the words "report"
or "incident" appear nowhere in it.

What it can and cannot do without JavaScript: a link cannot replace the
current entry of the browser's history, so Back returns to the station. What
Back then shows holds nothing: every station page is ``no-store`` (no copy
in the cache to show, and browsers keep such pages out of their back-forward
caches), and the forms are ``autocomplete="off"``, without which Chromium
puts the ticked boxes back into the form fetched again (measured). So Back
brings an empty form, and after a receipt, Chromium's "confirm form
resubmission" page (``ERR_CACHE_MISS``), not the code. Tested in Chromium
with JavaScript off (``tests/e2e/test_leave_quickly.py``).

``Clear-Site-Data: "cache", "cookies", "storage"`` on this page asks the
browser to drop whatever it holds for the station's origin. The station
stores nothing in a browser (no cookie, no storage, every page ``no-store``),
so this is a second line: it would clear what a browser kept against those
headers (a cache or back-forward cache entry). Browsers honour it only in a
secure context (an ``.onion`` in Tor Browser, ``localhost``), not on a plain
``http://`` hotspot address, where it is ignored. ``"executionContexts"`` is
not asked for: it would reload the station's other tabs, and a form being
written in one would lose what was typed.
"""

from __future__ import annotations

from flask import Blueprint, make_response, render_template
from werkzeug.wrappers import Response

bp = Blueprint("neutral", __name__)
CLEAR_SITE_DATA = '"cache", "cookies", "storage"'


@bp.get("/recipe")
def recipe() -> Response:
    response = make_response(render_template("recipe.html"))
    response.headers["Clear-Site-Data"] = CLEAR_SITE_DATA
    return response
