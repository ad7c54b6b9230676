"""What the ``reporter`` command prints: text from outside is made safe for a terminal.

Report fields come from monitors (and anyone who found the form), bundle file
names from whoever carried or named the file, recipient and site names from
an operator, and error messages quote any of them. A terminal obeys what it
is sent: ``ESC ] 0;... BEL`` sets the window title, ``ESC ] 52;...`` fills the
clipboard (through tmux too), ``ESC [ 2J`` clears the screen, and U+009B is a
one-character CSI on some terminals; bidirectional controls reorder a line
so that it reads as something else. ``clean`` replaces each of these with
U+FFFD (a visible mark: the reader sees that something was there).

Every value the CLI prints that it did not write itself goes through
``clean`` (or ``echo``, which cleans a whole message); report layout code
(``review_show.py``) cleans each field on one line first.
"""

from __future__ import annotations

import os
import unicodedata

import click

REPLACEMENT = "\ufffd"
# Explicit bidirectional formatting characters: the embeddings and overrides
# (LRE, RLE, PDF, LRO, RLO), the isolates (LRI, RLI, FSI, PDI) and the marks
# (ALM U+061C, LRM U+200E, RLM U+200F). Other format characters (category Cf)
# are kept: zero-width joiners are needed to write Persian, Indic scripts and
# emoji, and they cannot move text.
BIDI_CONTROLS = frozenset(
    "\u202a\u202b\u202c\u202d\u202e"
    "\u2066\u2067\u2068\u2069"
    "\u061c\u200e\u200f")
_LINE_BREAKS = "\n\u2028\u2029\v\f"


def clean(text: str, *, multiline: bool = False, tabs: bool = False) -> str:
    """``text`` safe for a terminal: control characters (C0, DEL, C1), bidi controls
    and lone surrogates (undecodable bytes of a file name) become U+FFFD; line breaks
    are kept only when ``multiline`` (else each becomes a space), and a tab becomes
    spaces unless ``tabs``."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    out = []
    for ch in text:
        if ch in _LINE_BREAKS:
            out.append("\n" if multiline else " ")
        elif ch == "\t":
            out.append("\t" if tabs else "    " if multiline else " ")
        elif ch in BIDI_CONTROLS or unicodedata.category(ch) in ("Cc", "Cs"):
            out.append(REPLACEMENT)
        else:
            out.append(ch)
    return "".join(out)


def path(value: str | os.PathLike[str]) -> str:
    """A file name or path, on one line, safe to print."""
    return clean(os.fspath(value))


def echo(message: str = "", *, err: bool = False) -> None:
    """``click.echo`` of one line that may quote outside text (paths, names, errors),
    cleaned: a line break inside it (a file name can hold one) becomes a space, so
    nothing it quotes can forge a line of its own."""
    click.echo(clean(message, tabs=True), err=err)
