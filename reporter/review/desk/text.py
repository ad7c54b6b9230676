"""How text from a report is shown on the desk's pages.

Everything in a report was typed by whoever found the form, or sealed by a
station that may run modified software. Jinja escapes it (``<script>`` is
text), and this module adds what escaping does not do, as the CLI does for
the terminal (``cli/terminal.py``):

* control characters (C0 but tab and line break, DEL, C1: the pieces of an
  ANSI escape sequence) become ``�``, so a copied value carries no escape
  sequence into a terminal or a document;
* bidirectional controls (embeddings, overrides, isolates and the marks
  U+061C, U+200E, U+200F) become ``�``: U+202E would show ``gpj.exe`` as
  ``exe.jpg``, or reorder a sentence against its meaning. Text in a
  right-to-left script needs none of them: templates put every value in a
  ``<bdi>`` (its own direction, isolated from the page around it).

The stored report is never changed; this is only what a page shows.
"""

from __future__ import annotations

import re

REPLACEMENT = "\ufffd"
_HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e"
                     "\u2066-\u2069]")


def shown(value: object) -> str:
    """``value`` as text fit to show: controls and bidi controls made visible as ``�``;
    line breaks and tabs kept (a ``\\r`` alone or in ``\\r\\n`` becomes a line break)."""
    text = "" if value is None else str(value)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _HIDDEN.sub(REPLACEMENT, text)


def one_line(value: object) -> str:
    """``shown``, on one line (line breaks and tabs become spaces)."""
    return " ".join(shown(value).split())
