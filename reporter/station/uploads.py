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

The server (``reporter/web/server/``) hands over the socket as a stream, so no
layer below this one buffers or spools the body either.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any
from urllib.parse import parse_qsl

from flask import Request, current_app, request
from werkzeug.datastructures import FileStorage, Headers, MultiDict
from werkzeug.exceptions import ClientDisconnected, HTTPException, RequestEntityTooLarge
from werkzeug.formparser import FormDataParser, MultiPartParser
from werkzeug.sansio.multipart import (
    Data,
    Epilogue,
    Field,
    File,
    MultipartDecoder,
    NeedData,
)

from reporter.web.server.body import BodyCut

# Read the body in pieces of up to 256 KiB (Werkzeug's default is 64 KiB):
# fewer, larger calls into the parser and the cipher. Werkzeug refuses a
# piece that, with what its decoder still holds, exceeds the text-field limit
# (``max_form_memory_size``), so a piece is at most a quarter of that.
PARSE_BUFFER = 256 * 1024
DRAFT = "reporter_draft"
# The form's file field: the only name under which a file part is an attachment.
ATTACHMENTS = "attachments"
# A body with more parts than the form allows, the parts over the limit being files.
TOO_MANY_FILES = "too-many-files"


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


class _LenientDecoder(MultipartDecoder):
    """Werkzeug's multipart decoder, reading part headers as UTF-8 with replacement.

    Werkzeug decodes them strictly: one byte that is not UTF-8 in a file name
    made the whole body an error, and the form came back empty (everything the
    monitor typed, lost). A name is only a label: the file is kept, and the
    byte becomes U+FFFD in the name the reviewers see. The boundary is found in
    bytes, never in decoded text, so this cannot change where a part ends.
    """

    def _parse_headers(self, data: bytes | bytearray) -> Headers:
        readable = bytes(data).decode("utf-8", "replace").encode("utf-8")
        return super()._parse_headers(readable)


class _MultiPartParser(MultiPartParser):
    """Werkzeug's multipart parser, changed where a browser's body would be lost.

    * Only ``attachments`` file parts go to the draft; any other file part is
      read and dropped.
    * Too many parts (``max_form_parts``): if the part over the limit is a
      file, parsing stops there, the rest of the body is read and dropped, and
      ``problems`` says ``too-many-files``; the form keeps every text field
      before it (the page puts the file input last, so that is all of them).
      Before, the error threw away the whole form. A text field over the
      limit is still a 413: no browser sends 200 text fields to this form.
    """

    def __init__(self, *args: Any, problems: set[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.problems = problems

    def start_file_streaming(self, event: File, total_content_length: int | None) -> IO[bytes]:
        if event.name != ATTACHMENTS:
            return Discard()  # type: ignore[return-value]
        return super().start_file_streaming(event, total_content_length)

    def parse(self, stream: IO[bytes], boundary: bytes, content_length: int | None
              ) -> tuple[MultiDict[str, str], MultiDict[str, FileStorage]]:
        decoder = _LenientDecoder(boundary, max_form_memory_size=self.max_form_memory_size)
        fields: list[tuple[str, str]] = []
        files: list[tuple[str, FileStorage]] = []
        part: Field | File | None = None
        text: list[bytes] = []
        container: Any = None
        parts = 0
        chunks = _chunks(stream, self.buffer_size)
        for data in chunks:
            decoder.receive_data(data)
            event = decoder.next_event()
            while not isinstance(event, (Epilogue, NeedData)):
                if isinstance(event, (Field, File)):
                    parts += 1
                    if self.max_form_parts is not None and parts > self.max_form_parts:
                        if isinstance(event, Field):
                            raise RequestEntityTooLarge()
                        self.problems.add(TOO_MANY_FILES)
                        for _rest in chunks:  # read and dropped, so the answer is seen
                            pass
                        return self.cls(fields), self.cls(files)
                    part, text = event, []
                    if isinstance(event, File):
                        container = self.start_file_streaming(event, content_length)
                elif isinstance(event, Data) and part is not None:
                    if isinstance(part, Field):
                        text.append(event.data)
                        if self.max_form_memory_size is not None and \
                                sum(map(len, text)) > self.max_form_memory_size:
                            raise RequestEntityTooLarge()
                    else:
                        container.write(event.data)
                    if not event.more_data:
                        if isinstance(part, Field):
                            value = b"".join(text).decode(self.get_part_charset(part.headers),
                                                          "replace")
                            fields.append((part.name, value))
                        else:
                            container.seek(0)
                            files.append((part.name, FileStorage(
                                container, part.filename, part.name, headers=part.headers)))
                        part = None
                event = decoder.next_event()
        return self.cls(fields), self.cls(files)


def _chunks(stream: IO[bytes], size: int) -> Iterator[bytes | None]:
    """The body in pieces of up to ``size`` bytes, then ``None`` (Werkzeug's convention)."""
    while data := stream.read(size):
        yield data
    yield None


class _Parser(FormDataParser):
    """Werkzeug's parser, reading multipart bodies in ``PARSE_BUFFER`` pieces.

    A URL-encoded body (a browser sends one only for a form without files)
    is read whole by Werkzeug, bounded only by the request limit, which is
    large to allow attachments: here it is held to the text limit instead.
    What went wrong in a body that was still parsed is added to ``problems``
    (the request's ``body_problems``), for the form to say.
    """

    problems: set[str]

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
            problems=self.problems,
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
    """A request whose body is parsed once, whatever happens.

    Werkzeug parses the body on the first read of ``form`` or ``files``. If
    that fails (a 413), nothing is cached, and the next read parses again
    from a stream already consumed: an empty form, as if the monitor had
    typed nothing. The language selection reads the form first, and ignores
    the error so that an error page can still be drawn in the right language;
    the form read next then had every field empty ("please fill in this
    field"). Here the failure is kept and raised again on every later read, so
    the view answers it (a 413 page) instead of an empty form.
    """

    form_data_parser_class = _Parser

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # What the parser met in a body it could still read (``TOO_MANY_FILES``).
        self.body_problems: set[str] = set()
        self._body_failure: HTTPException | None = None

    def make_form_data_parser(self) -> FormDataParser:
        parser = super().make_form_data_parser()
        assert isinstance(parser, _Parser)  # noqa: S101 (form_data_parser_class)
        parser.problems = self.body_problems
        return parser

    def _load_form_data(self) -> None:
        if self._body_failure is not None:
            raise self._body_failure
        try:
            super()._load_form_data()
        except BodyCut:
            # The server's word for an upload that stopped (closed, or too slow):
            # werkzeug's, so the view answers it as any broken body.
            self._body_failure = ClientDisconnected()
            raise self._body_failure from None
        except HTTPException as exc:
            self._body_failure = exc
            raise

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



def body_problems() -> set[str]:
    """What the parser met in the current request's body (empty if it was read whole)."""
    problems: set[str] = getattr(request, "body_problems", set())
    return problems
