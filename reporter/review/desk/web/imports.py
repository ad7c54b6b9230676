"""Import bundles from the desk's page: upload, progress, result.

What ``reporter review import --key FILE BUNDLE...`` does, over the same
database, with the same code (``importer.import_bundle``):

* the key file is the one ``review serve --key FILE`` names (the desk never
  asks for a key file over HTTP); its passphrase is typed on the import page,
  sent in the upload's body, used once by the import's thread to open the key
  (Argon2id) and dropped with it when the import ends. Without ``--key`` the
  page says how to start the desk with one;
* the upload is read from the socket by this module, never by Werkzeug (which
  would spool a large body to the temporary folder): ``Content-Length`` is
  required and at most ``config.max_import_bytes`` (``--max-import-mb``),
  checked before a byte is read; the multipart body is parsed incrementally
  (``MultipartDecoder``); the CSRF token must come before the first file, and
  is checked before anything is written. Each bundle is written, mode 0600, to
  a staging folder beside the review database (``<review.db>.import``, mode
  0700): bundles are ciphertext (and signed), as they are on the USB stick
  they came on; the file is deleted as soon as it is imported or refused, and
  whatever a crash left there is deleted at the next upload;
* the import runs in a thread, one at a time; the page ``/import/<job>``
  refreshes itself (``<meta http-equiv="refresh" content="0">``, no script;
  the desk answers each refresh when the import moved on, or after a second)
  and says
  which bundle of how many is being imported, then shows the result of each:
  a new station pinned (its key's fingerprint), reports added, reports not
  readable with this key, recipient changes that need accepting, what is
  still missing (``importer.gaps``), or the importer's own message for a
  bundle it refused (altered, replayed, foreign...), of which nothing is kept
  (one transaction per bundle). Its address is random; like every page, only
  the session that unlocked the desk can open it (unlocked again after the
  idle lock, the new session still sees it).
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext
from werkzeug.exceptions import HTTPException
from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData
from werkzeug.wrappers import Response as WerkzeugResponse

from reporter.errors import DatabaseUnreadable, ReporterError, WrongPassphrase
from reporter.formats import keyfile
from reporter.formats.crypto import RecipientPrivateKey
from reporter.review import importer
from reporter.review.desk.vault import Locked, Vault
from reporter.review.desk.web.context import desk
from reporter.review.desk.web.errors import page
from reporter.review.desk.web.gate import CsrfRefused, session_id
from reporter.review.recipients import PINNED

bp = Blueprint("imports", __name__)
log = logging.getLogger("reporter")

EXTENSION = "reporter_desk_imports"
STAGING_SUFFIX = ".import"
MAX_FILES = 50  # bundles in one upload
MAX_FIELD = 4096  # bytes of a text field (token, passphrase)
READ = 256 * 1024
REFRESH_SECONDS = 0
POLL_SECONDS = 1.0
KEPT_JOBS = 20


def _(text: str, **variables: object) -> str:
    return str(gettext(text, **variables))


# --- what an import did ------------------------------------------------------------------


@dataclass
class Outcome:
    """One bundle of an import: its result, or the importer's message."""

    name: str  # as the browser sent it (hostile text: escaped when shown)
    result: importer.ImportResult | None = None
    refused: str | None = None


@dataclass
class Job:
    id: str
    names: list[str]
    state: str = "waiting"  # waiting, running, done
    current: int = 0  # the bundle being imported, from 1
    done_reports: int = 0
    total_reports: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    failure: str | None = None  # why the whole import stopped (wrong passphrase...)
    gaps: list[importer.StationGaps] = field(default_factory=list)
    own_key: str | None = None  # the key file's public key, as text


class Imports:
    """The import jobs of this desk (memory only) and the one-at-a-time lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = threading.Lock()
        self.jobs: dict[str, Job] = {}

    def add(self, job: Job) -> None:
        with self.lock:
            self.jobs[job.id] = job
            while len(self.jobs) > KEPT_JOBS:
                del self.jobs[next(iter(self.jobs))]

    def get(self, job_id: str) -> Job | None:
        with self.lock:
            return self.jobs.get(job_id)


def imports() -> Imports:
    found: Imports = current_app.extensions.setdefault(EXTENSION, Imports())
    return found


# --- the staging folder -------------------------------------------------------------------


def staging_dir(review_db: Path) -> Path:
    """``<review.db>.import``, mode 0700, emptied of what an earlier run left."""
    path = review_db.with_name(review_db.name + STAGING_SUFFIX)
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        info = os.lstat(path)
    except OSError as exc:
        raise ReporterError(f"cannot create the staging folder {path}: {exc.strerror}") from None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise ReporterError(f"{path} is not a folder of this user")
    os.chmod(path, 0o700)
    return path


def sweep(folder: Path) -> None:
    for leftover in folder.iterdir():
        if leftover.name.endswith(".bundle"):
            leftover.unlink(missing_ok=True)


@dataclass
class Staged:
    name: str
    path: Path
    size: int = 0


class UploadRefused(Exception):
    def __init__(self, code: int, title: str, message: str) -> None:
        super().__init__(title)
        self.code, self.title, self.message = code, title, message


def receive(environ: dict[str, Any], boundary: bytes, length: int, folder: Path,
            check_token: Callable[[str | None], bool], job_id: str,
            ) -> tuple[dict[str, str], list[Staged]]:
    """Read the multipart body from the socket: its text fields and the bundles, each
    written to ``folder``. The token is checked before the first file is written."""
    stream = environ["wsgi.input"]
    # No max_form_memory_size: it bounds each chunk read (READ), not a field; fields are
    # bounded below (MAX_FIELD), files go to the staging folder as they come.
    decoder = MultipartDecoder(boundary, max_parts=MAX_FILES + 8)
    fields: dict[str, str] = {}
    staged: list[Staged] = []
    current_field: tuple[str, bytearray] | None = None
    out: Any = None
    checked = False
    left = length
    try:
        while True:
            event = decoder.next_event()
            if isinstance(event, NeedData):
                if left <= 0:
                    decoder.receive_data(None)
                    continue
                data = stream.read(min(READ, left))
                if not data:
                    raise UploadRefused(400, _("The upload did not finish"),
                                        _("The browser stopped sending the files. Try again."))
                left -= len(data)
                decoder.receive_data(data)
            elif isinstance(event, File):
                if out is not None:
                    out.close()
                    out = None
                if not checked:
                    if not check_token(fields.get("csrf_token")):
                        raise CsrfRefused()
                    checked = True
                if event.name != "bundle":
                    raise UploadRefused(400, _("Something was wrong with that request"),
                                        _("Go back and try again."))
                if len(staged) >= MAX_FILES:
                    raise UploadRefused(413, _("Too many files"),
                                        _("Import at most %(max)s bundles at once.",
                                          max=MAX_FILES))
                path = folder / f"{job_id}-{len(staged) + 1}.bundle"
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
                             | getattr(os, "O_NOFOLLOW", 0), 0o600)
                out = os.fdopen(fd, "wb")
                staged.append(Staged(event.filename or "", path))
                current_field = None
            elif isinstance(event, Field):
                if out is not None:
                    out.close()
                    out = None
                current_field = (event.name, bytearray())
            elif isinstance(event, Data):
                if out is not None:
                    out.write(event.data)
                    staged[-1].size += len(event.data)
                elif current_field is not None:
                    current_field[1].extend(event.data)
                    if len(current_field[1]) > MAX_FIELD:
                        raise UploadRefused(413, _("Too large"), _("Go back and try again."))
                    if not event.more_data:
                        fields[current_field[0]] = current_field[1].decode("utf-8", "replace")
                        current_field = None
                if out is not None and not event.more_data:
                    out.close()
                    out = None
            elif isinstance(event, Epilogue):
                break
        if not checked and not check_token(fields.get("csrf_token")):
            raise CsrfRefused()
    except BaseException:
        if out is not None:
            out.close()
        for item in staged:
            item.path.unlink(missing_ok=True)
        raise
    if out is not None:
        out.close()
    chosen = []
    for item in staged:
        if item.size == 0 and not item.name:  # a file field left empty
            item.path.unlink(missing_ok=True)
        else:
            chosen.append(item)
    return fields, chosen


# --- the views ----------------------------------------------------------------------------


def _key_file() -> Path | None:
    return desk().config.key_file


@bp.get("/import")
def form() -> tuple[str, int]:
    key = _key_file()
    public = None
    if key is not None:
        try:
            public = keyfile.public_key_of(keyfile.read(key)).to_text()
        except ReporterError:
            public = None
    return render_template("import.html", key_file=key, public=public,
                           max_mb=desk().config.max_import_bytes // (1024 * 1024)), 200


@bp.post("/import")
def upload() -> WerkzeugResponse | tuple[str, int]:
    context = desk()
    if context.config.key_file is None:
        return page(409, _("No key file"), _("Start the desk with your key file to import "
                                             "from here: reporter review serve --key "
                                             "YOUR-KEY-FILE."))
    length = request.content_length
    if length is None:
        return page(411, _("Something was wrong with that request"),
                    _("Go back and try again."))
    if length > context.config.max_import_bytes:
        return page(413, _("Too large"),
                    _("These files are larger than the desk accepts at once (%(max)s MiB). "
                      "Import fewer at a time, or start the desk with a larger "
                      "--max-import-mb.",
                      max=context.config.max_import_bytes // (1024 * 1024)))
    mimetype, options = parse_options_header(request.headers.get("Content-Type", ""))
    boundary = options.get("boundary", "")
    if mimetype != "multipart/form-data" or not boundary or len(boundary) > 200:
        return page(400)
    registry = imports()
    if not registry.running.acquire(blocking=False):
        return page(409, _("An import is running"),
                    _("Wait until it has finished, then import these bundles."))
    sid = session_id()
    job_id = secrets.token_hex(16)
    try:
        folder = staging_dir(context.config.review_db)
        sweep(folder)
        fields, staged = receive(
            request.environ, boundary.encode("latin-1"), length, folder,
            lambda token: context.sessions.csrf_ok(sid, token), job_id)
    except UploadRefused as refused:
        registry.running.release()
        return page(refused.code, refused.title, refused.message)
    except (HTTPException, ReporterError, OSError, ValueError) as exc:
        registry.running.release()
        if isinstance(exc, HTTPException):
            raise
        log.warning("review desk: an upload failed (%s)", type(exc).__name__)
        return page(400, _("The upload did not finish"), _("Go back and try again."))
    passphrase = fields.get("key_passphrase", "")
    if not staged:
        registry.running.release()
        return page(400, _("No bundle chosen"), _("Choose one or more bundle files."))
    if not passphrase:
        for item in staged:
            item.path.unlink(missing_ok=True)
        registry.running.release()
        return page(400, _("Type the passphrase of your key file"),
                    _("The import needs your key file's passphrase, to open the reports."))
    job = Job(job_id, [s.name for s in staged])
    registry.add(job)
    vault = context.vault
    thread = threading.Thread(
        target=_run, args=(job, staged, context.config.key_file, passphrase, vault,
                           vault.generation, registry),
        name="desk-import", daemon=True)
    del passphrase, fields
    thread.start()
    return redirect(url_for("imports.progress", job_id=job_id), 303)


@bp.get("/import/<job_id>")
def progress(job_id: str) -> tuple[str, int]:
    job = imports().get(job_id)
    if job is None:
        abort(404)
    # The page asks again at once (``refresh`` 0: a delayed refresh is what WCAG 2.2.1
    # and axe's meta-refresh rule forbid), and is answered when the import has moved on,
    # or after ``POLL_SECONDS``: the same pace, without a timer in the page.
    before = (job.state, job.current, job.done_reports)
    deadline = time.monotonic() + POLL_SECONDS
    while (job.state != "done" and (job.state, job.current, job.done_reports) == before
           and time.monotonic() < deadline):
        time.sleep(0.05)
    with desk().vault.open() as db:
        stations = {s.hex() for s, _key in db.stations()}
    return render_template("import_progress.html", job=job, refresh=REFRESH_SECONDS,
                           stations=stations, pinned=PINNED), 200


# --- the import's thread --------------------------------------------------------------------


def _run(job: Job, staged: list[Staged], key_file: Path, passphrase: str, vault: Vault,
         generation: int, registry: Imports) -> None:
    try:
        job.state = "running"
        try:
            key: RecipientPrivateKey | None = keyfile.load(keyfile.read(key_file), passphrase)
        except WrongPassphrase:
            job.failure = "passphrase"
            return
        except ReporterError as exc:
            log.warning("review desk: the key file could not be read (%s)", type(exc).__name__)
            job.failure = "key"
            return
        finally:
            del passphrase
        assert key is not None  # noqa: S101 (for the type checker)
        job.own_key = key.public_key.to_text()
        with vault.open() as db:
            for number, item in enumerate(staged, 1):
                job.current, job.done_reports, job.total_reports = number, 0, 0
                if not vault.current(generation):
                    job.failure = "locked"
                    return
                outcome = Outcome(item.name)
                job.outcomes.append(outcome)

                def step(done: int, total: int) -> None:
                    job.done_reports, job.total_reports = done, total

                try:
                    outcome.result = importer.import_bundle(db, item.path, key, progress=step)
                except DatabaseUnreadable:
                    job.failure = "database"
                    return
                except ReporterError as exc:
                    # The importer's own message, with the staging file's path replaced
                    # by the name the reviewer chose.
                    outcome.refused = str(exc).replace(str(item.path), item.name or "bundle")
                finally:
                    item.path.unlink(missing_ok=True)
            job.gaps = importer.gaps(db)
        del key
    except Locked:
        job.failure = job.failure or "locked"
    except ReporterError as exc:
        log.warning("review desk: an import stopped (%s)", type(exc).__name__)
        job.failure = job.failure or "database"
    finally:
        for item in staged:
            item.path.unlink(missing_ok=True)
        job.state = "done"
        registry.running.release()
