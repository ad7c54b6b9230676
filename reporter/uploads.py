"""Request bodies stay in memory: nothing a monitor sends is spooled to disk.

Werkzeug's default stream factory writes any multipart file part above 500 KB
to a temporary file, in plaintext. ``MemoryOnlyRequest`` replaces it with an
in-memory buffer; ``MAX_CONTENT_LENGTH`` bounds how large that buffer can get,
and ``serve.py`` sets Waitress's own buffers so that it never spools a request
or response to disk either. (Attachments, a later issue, will replace this
with a factory that encrypts each chunk as it arrives.)
"""

from __future__ import annotations

import io
from typing import IO

from flask import Request


class MemoryOnlyRequest(Request):
    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        return io.BytesIO()
