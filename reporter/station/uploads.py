"""Request bodies never reach disk in plaintext.

Werkzeug's default stream factory writes any multipart file part above
500 KB to a temporary file, in plaintext. ``MemoryOnlyRequest`` replaces it:
each file part goes to the request's ``submission.Draft``, which encrypts it
chunk by chunk as the parser reads it from the socket and writes only
ciphertext (``attachments.db``). Only file parts named ``attachments`` (the
form's file field) are attachments: a file part under any other name (a
text field sent as a file, ``lang``, an unknown name), or one that arrives
where no draft is wanted (attachments switched off), is counted and dropped,
never stored. Text fields stay in memory, each bounded by
``MAX_FORM_MEMORY_SIZE``.

The server (``serve.py``, Cheroot) hands over the socket as a stream, so no
layer below this one buffers or spools the body either.
"""

from __future__ import annotations

from typing import IO, Any
from urllib.parse import parse_qsl

from flask import Request, current_app
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser, MultiPartParser
from werkzeug.sansio.multipart import File

# Read the body in pieces of up to 256 KiB (Werkzeug's default is 64 KiB):
# fewer, larger calls into the parser and the cipher. Werkzeug refuses a
# piece that, with what its decoder still holds, exceeds the text-field limit
# (``max_form_memory_size``), so a piece is at most a quarter of that.
PARSE_BUFFER = 256 * 1024
DRAFT = "reporter_draft"
# The form's file field: the only name under which a file part is an attachment.
ATTACHMENTS = "attachments"


class Discard:
    """A file part nobody asked for: its bytes are read and dropped."""

    def __init__(self) -> None:
        self.size = 0

    def write(self, data: bytes) -> int:
        self.size += len(data)
        return len(data)

    def seek(self, *_args: object) -> int:
        return 0

    def read(self, *_args: object) -> bytes:
        return b""

    def close(self) -> None:
        pass


class _MultiPartParser(MultiPartParser):
    """Werkzeug's multipart parser, handing only ``attachments`` file parts to the draft."""

    def start_file_streaming(self, event: File, total_content_length: int | None) -> IO[bytes]:
        if event.name != ATTACHMENTS:
            return Discard()  # type: ignore[return-value]
        return super().start_file_streaming(event, total_content_length)


class _Parser(FormDataParser):
    """Werkzeug's parser, reading multipart bodies in ``PARSE_BUFFER`` pieces.

    A URL-encoded body (a browser sends one only for a form without files)
    is read whole by Werkzeug, bounded only by the request limit, which is
    large to allow attachments: here it is held to the text limit instead.
    """

    def _parse_urlencoded(self, stream: IO[bytes], mimetype: str, content_length: int | None,
                          options: dict[str, str]) -> Any:
        limit = self.max_form_memory_size
        if limit is not None and content_length is not None and content_length > limit:
            raise RequestEntityTooLarge()
        body = stream.read(limit + 1) if limit is not None else stream.read()
        if limit is not None and len(body) > limit:
            raise RequestEntityTooLarge()
        items = parse_qsl(body.decode(), keep_blank_values=True, errors="werkzeug.url_quote")
        return stream, self.cls(items), self.cls()

    def _parse_multipart(self, stream: IO[bytes], mimetype: str, content_length: int | None,
                         options: dict[str, str]) -> Any:
        parser = _MultiPartParser(
            stream_factory=self.stream_factory,
            max_form_memory_size=self.max_form_memory_size,
            max_form_parts=self.max_form_parts,
            buffer_size=min(PARSE_BUFFER, (self.max_form_memory_size or PARSE_BUFFER) // 4),
            cls=self.cls,
        )
        boundary = options.get("boundary", "").encode("ascii")
        if not boundary:
            raise ValueError("Missing boundary")
        form, files = parser.parse(stream, boundary, content_length)
        return stream, form, files


class MemoryOnlyRequest(Request):
    form_data_parser_class = _Parser

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        factory: Any = current_app.extensions.get(DRAFT)
        draft = factory() if factory is not None else None
        target: Any = Discard() if draft is None else draft.incoming(filename)
        return target  # type: ignore[no-any-return]

