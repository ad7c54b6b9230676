"""The station's address for people: a QR code in the terminal, a printable card.

The card is an SVG (a browser prints it; Inkscape or ``rsvg-convert`` turn
it into a PDF) of A6 size: the QR code of the address, the address itself
in groups of four characters so it can be read aloud and typed, how to open
it, and a warning about carrying it. The QR code is drawn as one path of
squares from segno's matrix: no script, font file, image or link inside, so
the file loads nothing from anywhere.
"""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

import segno

WIDTH_MM = 105
HEIGHT_MM = 148
QR_MM = 62
QR_BORDER = 4  # the quiet zone scanners need, in modules
WRAP = 50  # characters a line of the 3.1 mm text holds on the card

TITLE = "Send a report safely"
HOW = ("Open this address in Tor Browser (Android, computers) or Onion Browser (iPhone). "
       "It works only through Tor.")
WARNING = ("Carrying this card, or this address on your phone, can show that you know "
           "about the station. Learn the address if you can, keep the card hidden, and "
           "destroy it if you may be searched.")


def qr_code(url: str) -> segno.QRCode:
    # Level M (15 % of the code may be damaged): a folded, worn card still scans.
    return segno.make(url, error="m", micro=False)


def terminal_qr(url: str) -> str:
    """The QR code in Unicode half blocks, for a terminal with a dark background."""
    out = io.StringIO()
    qr_code(url).terminal(out=out, compact=True)
    return out.getvalue()


def _qr_path(url: str) -> tuple[str, int]:
    """An SVG path of the dark modules (one unit per module), and the side in modules."""
    rows = [list(row) for row in qr_code(url).matrix_iter(border=QR_BORDER)]
    parts = []
    for y, row in enumerate(rows):
        x = 0
        while x < len(row):
            if row[x]:
                start = x
                while x < len(row) and row[x]:
                    x += 1
                parts.append(f"M{start} {y}h{x - start}v1h{start - x}z")
            else:
                x += 1
    return "".join(parts), len(rows)


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def address_groups(service_id: str) -> list[str]:
    """The 56-character service id as lines of four groups of four, then ``.onion``."""
    groups = [service_id[i:i + 4] for i in range(0, len(service_id), 4)]
    lines = [" ".join(groups[i:i + 4]) for i in range(0, len(groups), 4)]
    lines[-1] += ".onion"
    return lines


def card_svg(service_id: str, title: str = TITLE) -> str:
    """The printable card for ``http://SERVICE_ID.onion/`` (``title`` on top: a coalition
    may prefer a neutral one)."""
    url = f"http://{service_id}.onion/"
    path, side = _qr_path(url)
    scale = QR_MM / side
    qr_x = (WIDTH_MM - QR_MM) / 2
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH_MM}mm" '
        f'height="{HEIGHT_MM}mm" viewBox="0 0 {WIDTH_MM} {HEIGHT_MM}">',
        f"<title>{escape(title)}: {escape(url)}</title>",
        f'<rect width="{WIDTH_MM}" height="{HEIGHT_MM}" fill="#fff"/>',
        f'<rect x="1" y="1" width="{WIDTH_MM - 2}" height="{HEIGHT_MM - 2}" fill="none" '
        'stroke="#000" stroke-width="0.3" stroke-dasharray="2 1.5"/>',
        '<g font-family="DejaVu Sans, Arial, sans-serif" fill="#000" text-anchor="middle">',
        f'<text x="{WIDTH_MM / 2}" y="12" font-size="6" font-weight="bold">{escape(title)}</text>',
        "</g>",
        f'<g transform="translate({qr_x:.3f} 16) scale({scale:.5f})">'
        f'<path d="{path}" fill="#000" shape-rendering="crispEdges"/></g>',
        '<g font-family="DejaVu Sans Mono, Courier New, monospace" font-size="4.6" '
        'fill="#000" text-anchor="middle">',
    ]
    y = 16.0 + QR_MM + 7
    for line in address_groups(service_id):
        out.append(f'<text x="{WIDTH_MM / 2}" y="{y:.1f}">{escape(line)}</text>')
        y += 5.6
    out.append("</g>")
    out.append('<g font-family="DejaVu Sans, Arial, sans-serif" font-size="3.1" fill="#000">')
    y += 2
    for line in _wrap(HOW, WRAP):
        out.append(f'<text x="8" y="{y:.1f}">{escape(line)}</text>')
        y += 4
    y += 1.5
    out.append(f'<text x="8" y="{y:.1f}" font-weight="bold">Warning</text>')
    for line in _wrap(WARNING, WRAP):
        y += 4
        out.append(f'<text x="8" y="{y:.1f}">{escape(line)}</text>')
    out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"
