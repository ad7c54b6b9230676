"""Parsing JSON that came from outside: never anything but ``ValueError``.

``json.loads`` raises ``RecursionError`` on deeply nested input (``[[[[...``),
which no caller expects; a crafted key file, manifest or report body must be
refused like any other malformed input.
"""

from __future__ import annotations

import json
from typing import Any


def loads(data: bytes | str) -> Any:
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("the JSON is nested too deeply") from None
