"""Aligned tables on the reviewer's terminal, and text cut to a column.

Report text comes from monitors (and anyone who found the form): every cell is
shown through ``terminal.clean`` so it cannot send escape sequences to the
reviewer's terminal or reorder a line with bidirectional overrides. Apart from
the commands that print tables and aligned fields (``review_list.py``,
``review_show.py``) so that the width rules (wide East Asian characters take
two columns) are written once.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

import click

from reporter.cli.terminal import clean as _clean


def text_width(text: str) -> int:
    """Columns a string takes in a terminal (wide East Asian characters take two)."""
    return sum(0 if unicodedata.combining(c) else
               2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]],
                right: frozenset[int] = frozenset()) -> None:
    """Print an aligned table; columns in ``right`` are right-aligned (numbers).
    Every cell goes through ``_clean``: any of them may come from a report."""
    table = [[_clean(cell) for cell in row] for row in [headers, *rows]]
    widths = [max(text_width(r[i]) for r in table) for i in range(len(headers))]
    for row in table:
        cells = []
        for i, cell in enumerate(row):
            pad = " " * (widths[i] - text_width(cell))
            last = i == len(row) - 1
            cells.append(pad + cell if i in right else cell + ("" if last else pad))
        click.echo("  ".join(cells).rstrip())


def cut(text: str | None, limit: int) -> str:
    line = _clean(text or "")
    return line if len(line) <= limit else line[: limit - 1] + "…"
