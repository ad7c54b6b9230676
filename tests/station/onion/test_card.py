"""The QR codes of the address: the terminal's is the same code as segno's matrix.

(The printed card is scanned back from a Chromium rendering in
tests/cli/test_onion_cli.py.)
"""

from __future__ import annotations

from reporter.station.onion.card import QR_BORDER, address_groups, qr_code, terminal_qr
from reporter.station.onion.keys import OnionKey

# Half blocks: the top and bottom module of each character; a block is light
# (segno draws for a dark terminal, light on dark).
HALVES = {"█": (False, False), " ": (True, True), "▀": (False, True), "▄": (True, False)}


def test_the_terminal_qr_is_the_address_code() -> None:
    url = OnionKey.generate().url
    lines = [line for line in terminal_qr(url).split("\n") if line]
    dark: list[list[bool]] = []
    for line in lines:
        top, bottom = zip(*(HALVES[c] for c in line), strict=True)
        dark += [list(top), list(bottom)]
    expected = [[bool(m) for m in row] for row in qr_code(url).matrix_iter(border=QR_BORDER)]
    # An odd number of rows: the last character row's bottom half is the terminal's
    # background, outside the quiet zone.
    assert dark[:len(expected)] == expected
    assert len(dark) - len(expected) == len(expected) % 2


def test_the_address_is_grouped_for_reading_aloud() -> None:
    key = OnionKey.generate()
    lines = address_groups(key.service_id)
    assert len(lines) == 4 and lines[-1].endswith(".onion")
    assert "".join(lines).replace(" ", "") == key.address
    assert all(len(group) == 4 for line in lines for group in line.removesuffix(".onion").split())
