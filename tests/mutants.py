"""Mutation checks: switch off one security check at a time and see which tests fail.

    .venv/bin/python -m tests.mutants --list                  # every mutant, one line each
    .venv/bin/python -m tests.mutants seal-first-only ...     # these mutants
    .venv/bin/python -m tests.mutants --group recipients      # one group
    .venv/bin/python -m tests.mutants --all --json out.json   # all of them (an hour or more)
    .venv/bin/python -m tests.mutants NAME -- -x tests/e2e    # pytest options and paths

A mutant is an exact text replacement in a file under ``reporter/`` (each
``old`` must occur exactly once, else the mutant is reported as stale: the
code moved, update it). The tool applies it, runs pytest, lists the tests
that failed, and writes the file back in a ``finally`` (Ctrl+C, SIGTERM and
SIGHUP included; not SIGKILL: then run ``git checkout reporter/``). It
refuses to start while ``reporter/`` has uncommitted changes, so restoring
can never lose work, and checks ``git diff reporter/`` is empty after each
mutant. A mutant no test catches is a check the suite would let vanish.
Results and the reasons for each mutant: ``docs/testing.md`` ("Mutation checks").

Not part of ``make test``: each mutant runs the suite (about two minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Everything but the browser, accessibility, packaging and translation tests, which
# check no security property mutated here and take a third of the time.
DEFAULT_TESTS = ("tests", "--ignore=tests/e2e/test_browser.py",
                 "--ignore=tests/e2e/test_accessibility.py",
                 "--ignore=tests/e2e/test_packaging.py", "--ignore=tests/i18n")


Edits = tuple[tuple[str, str], ...]  # (old, new), each old exactly once


@dataclass(frozen=True)
class Mutant:
    """One check switched off. ``variants`` are (file, edits) for successive versions of
    the code, tried in order: the first that applies is used, so one mutant outlives a
    move of the code it edits (add a variant rather than replace the old one)."""

    name: str
    group: str
    check: str  # what is switched off, in words
    variants: tuple[tuple[str, Edits], ...]

    def alt(self, path: str, *edits: tuple[str, str]) -> Mutant:
        return Mutant(self.name, self.group, self.check, (*self.variants, (path, edits)))

    def variant(self) -> tuple[str, Edits] | None:
        """The first (file, edits) that applies here and compiles, else None (stale)."""
        for path, edits in self.variants:
            try:
                text = (ROOT / path).read_text(encoding="utf-8")
            except FileNotFoundError:
                continue
            if not all(text.count(old) == 1 for old, _new in edits):
                continue
            for old, new in edits:
                text = text.replace(old, new)
            try:
                compile(text, path, "exec")
            except SyntaxError:
                continue
            return path, edits
        return None


def m(name: str, group: str, check: str, path: str, *edits: tuple[str, str]) -> Mutant:
    return Mutant(name, group, check, ((path, edits),))


INTAKE = "reporter/station/intake.py"
TERMINAL = "reporter/cli/terminal.py"  # where the terminal cleaning moved (issue 10, item 13)
TERMINAL_TEST = '        elif ch in BIDI_CONTROLS or unicodedata.category(ch) in ("Cc", "Cs"):\n'
ACCEPT_BRANCH = "    if draft is not None:\n        report = replace(report, attachments="
SEAL_STANZAS = "        *(r.seal(file_key) for r in recipients),\n"
DESK_GATE = "reporter/review/desk/web/gate.py"
DESK_UNLOCK = "reporter/review/desk/web/unlock.py"
DESK_VAULT = "reporter/review/desk/vault.py"
DESK_FILES = "reporter/review/desk/web/files.py"
# The review desk's tests (the browser's take a minute more: add tests/e2e/test_desk_browser.py).
WORKFLOW = "reporter/review/workflow.py"
REVIEW_HISTORY = "reporter/review/review_history.py"
WORKFLOW_SCHEMA = "reporter/review/workflow_schema.py"
WORKFLOW_TESTS = ("tests/review/test_workflow.py", "tests/e2e/test_desk_workflow_server.py",
                  "tests/cli/test_review_workflow_cli.py")
DESK_TESTS = ("tests/review/test_desk_views.py", "tests/review/test_desk_parts.py",
              "tests/e2e/test_desk_server.py", "tests/cli/test_review_serve.py")
CHARTS = "reporter/review/charts.py"
CHARTS_WEB = "reporter/review/desk/web/charts.py"
# (The charts' mutants: run them with tests/review/test_charts.py tests/e2e/test_desk_charts.py.)

MUTANTS: tuple[Mutant, ...] = (
    # --- who reports are sealed to ---------------------------------------------------------
    m("seal-first-only", "recipients",
      "accept seals each report to the first recipient only (recipients[:1])", INTAKE,
      (ACCEPT_BRANCH, "    recipients = list(recipients)[:1]\n" + ACCEPT_BRANCH)),
    m("seal-sorted-truncated", "recipients",
      "accept seals to the recipients sorted by key, cut to two", INTAKE,
      (ACCEPT_BRANCH,
       "    recipients = sorted(recipients, key=lambda r: r.raw)[:2]\n" + ACCEPT_BRANCH)),
    m("seal-drop-last", "recipients",
      "accept drops the last recipient (unless it is the only one)", INTAKE,
      (ACCEPT_BRANCH,
       "    recipients = list(recipients)[:-1] or list(recipients)\n" + ACCEPT_BRANCH)),
    m("seal-first-only-without-files", "recipients",
      "a report without attachments is sealed to the first recipient only", INTAKE,
      ("return append(envelope.seal(report.to_body(), list(recipients)))",
       "return append(envelope.seal(report.to_body(), list(recipients)[:1]))")),
    m("seal-first-only-with-files", "recipients",
      "a report with attachments (their file key) is sealed to one stanza only",
      "reporter/station/submission.py",
      ("envelope.seal(report.to_body(), list(recipients), self.file_key)",
       "envelope.seal(report.to_body(), list(recipients)[:1], self.file_key)")),
    m("view-first-only", "recipients",
      "the web view passes only the first recipient to accept",
      "reporter/station/web/intake.py",
      ("recipients = [r.public_key for r in get_store().recipients()]",
       "recipients = [r.public_key for r in get_store().recipients()][:1]")),
    m("view-caches-recipients", "recipients",
      "the web view reads the recipient list once and keeps it (changes need a restart)",
      "reporter/station/web/intake.py",
      ("recipients = [r.public_key for r in get_store().recipients()]",
       "recipients = _accept.__dict__.setdefault(\n"
       "        'cached', [r.public_key for r in get_store().recipients()])")),
    m("store-lists-one-recipient", "recipients",
      "the store's recipient list stops after the first name",
      "reporter/station/store.py",
      ('"SELECT name, public_key FROM recipients ORDER BY name"',
       '"SELECT name, public_key FROM recipients ORDER BY name LIMIT 1"')),
    m("envelope-first-stanza-only", "recipients",
      "envelope.seal writes a stanza for the first recipient only",
      "reporter/formats/envelope.py",
      ("    padded = padded_size(len(body))\n    if file_key is None:",
       "    recipients = list(recipients)[:1]\n"
       "    padded = padded_size(len(body))\n    if file_key is None:")),
    m("bundle-first-stanza-only", "recipients",
      "export seals the bundle to the first recipient only", "reporter/station/export.py",
      ("write_bundle(fh, manifest, identity.signing_key, reports(), recipients)",
       "write_bundle(fh, manifest, identity.signing_key, reports(), recipients[:1])")),
    m("manifest-lists-one-recipient", "recipients",
      "the signed manifest lists the first recipient only", "reporter/station/export.py",
      ("recipients=tuple(recipient_id(r) for r in recipients),",
       "recipients=tuple(recipient_id(r) for r in recipients[:1]),"))
    .alt("reporter/station/export.py",  # bundle version 3: recipients named
         ("named=tuple(NamedRecipient(r.public_key, r.name) for r in listed),",
          "named=tuple(NamedRecipient(r.public_key, r.name) for r in listed[:1]),")),
    m("manifest-recipient-check", "recipients",
      "a reader does not check that its key is among the manifest's recipients",
      "reporter/formats/bundle/reader.py",
      ("if recipient_id(key.public_key) not in self.manifest.recipients:", "if False:")),
    # --- bundles -----------------------------------------------------------------------
    m("signature", "bundles", "the bundle's signature is not verified",
      "reporter/formats/bundle/reader.py",
      ("            station_key.verify(CTX_SIGNATURE, manifest_json, signature)\n",
       "            pass\n")),
    m("chain-head", "bundles", "the recomputed hash chain is not compared with the signed head",
      "reporter/formats/bundle/reader.py", ("if chain != m.chain_head:", "if False:")),
    m("cross-bundle-chain", "bundles",
      "import does not check that a bundle continues the chain of its neighbours",
      "reporter/review/importer.py",
      ("if other.last_seq == manifest.first_seq - 1 and other.chain_head != "
       "manifest.chain_before:", "if False:"),
      ("if manifest.last_seq == other.first_seq - 1 and manifest.chain_head != "
       "other.chain_before:", "if False:")),
    m("chain-genesis", "bundles", "bundle 1 need not start from the station's genesis value",
      "reporter/review/importer.py",
      ("if manifest.first_seq == 1 and manifest.chain_before != genesis(sid):", "if False:")),
    m("previous-bundle", "bundles",
      "import does not check the previous bundle's hash (or the next one's link)",
      "reporter/review/importer.py",
      ("if before is not None and before.hash != manifest.previous:", "if False:"),
      ("if after is not None and after.previous != manifest_hash:", "if False:")),
    m("replay-conflict", "bundles",
      "a bundle number already imported with other contents is taken as a repeat",
      "reporter/review/importer.py",
      ("if existing.hash != reader.manifest_hash:", "if False:")),
    m("report-conflict", "bundles",
      "a report already imported with other contents is counted as already present",
      "reporter/review/importer.py", ("if known != h:", "if False:")),
    m("key-pinning", "bundles", "import accepts another signing key for a pinned station",
      "reporter/review/importer.py", ("elif pinned != m.station_key.raw:", "elif False:")),
    m("verify-station-key", "bundles", "verify --station-key is not compared",
      "reporter/review/importer.py",
      ("if station_key is not None and reader.manifest.station_key != station_key:",
       "if False:")),
    # --- backups and restores (issue 12) ------------------------------------------------
    m("restore-fork-point", "backups",
      "a restore's fork point is not compared with the bundles imported (either way)",
      "reporter/review/histories.py",
      ("        for bundle in held:\n            problem = _fork_conflict(restore, bundle)\n",
       "        for bundle in held:\n            problem = None\n"),
      ("        problem = _fork_conflict(record.restore, bundle)\n",
       "        problem = None\n")),
    m("restore-id-reuse", "backups", "another restore under an id already recorded is accepted",
      "reporter/review/histories.py",
      ("if known.restore != restore or known.parent != parent.history:", "if False:")),
    m("restore-chain-inside", "backups",
      "the chain after a restore's last report is not checked inside a bundle's range",
      "reporter/formats/bundle/reader.py",
      ("if seq in forks and not constant_time_equal(chain, forks[seq]):", "if False:")),
    m("restore-rules", "backups", "a manifest's restores are not checked against it",
      "reporter/formats/manifest.py",
      ("        problem = restores_problem(self)\n", "        problem = None\n")),
    m("restore-new-history", "backups",
      "a restore does not start a new history (the station goes on in the old one)",
      "reporter/station/backup.py", ("        store.add_restore(restore)\n", "")),
    m("restore-integrity", "backups",
      "a restore does not check every page of the restored database",
      "reporter/station/backup.py",
      ("        problem = store.integrity_problem()\n", "        problem = None\n")),
    m("restore-attachments-integrity", "backups",
      "a restore does not check every page of the restored attachment store",
      "reporter/station/backup.py",
      ("            problem = blobs.integrity_problem()\n", "            problem = None\n")),
    m("restore-in-use", "backups", "--replace moves a station aside while it runs",
      "reporter/station/backup.py",
      ("        if sqlc.in_use(db_path(instance)):", "        if False:")),
    m("backup-sha256", "backups", "a file whose SHA-256 is not the manifest's is restored",
      "reporter/formats/backup.py", ("if got.sha256 != entry.sha256:", "if False:")),
    m("backup-end", "backups", "a backup cut after its manifest (or with bytes after) is read",
      "reporter/formats/backup.py",
      ("    _check_end(source, start + end, start)\n", "")),
    m("backup-purge", "backups", "a purge during the backup goes unnoticed",
      "reporter/station/backup.py", ("if live.purged_count() != purged:", "if False:")),
    # --- lengths, points, key files ------------------------------------------------------
    m("envelope-trailing-bytes", "lengths", "an envelope may have bytes after its end",
      "reporter/formats/envelope.py", ("    if len(envelope) > total:\n",
                                        "    if False:\n")),
    m("envelope-truncated", "lengths", "an envelope shorter than its header says is read",
      "reporter/formats/envelope.py", ("    if len(envelope) < total:\n",
                                        "    if False:\n")),
    m("envelope-recipient-count", "lengths", "an envelope's recipient count is not bounded",
      "reporter/formats/envelope.py", ("    if not 1 <= count <= MAX_RECIPIENTS:\n"
                                        "        raise Malformed(f\"the envelope",
                                        "    if False:\n        raise Malformed(f\"the envelope")),
    m("envelope-padding", "lengths", "an envelope's padding need not be zero",
      "reporter/formats/envelope.py",
      ("if padding.count(0) != len(padding):", "if False:")),
    m("bundle-trailing-bytes", "lengths", "a bundle file may have bytes after its end",
      "reporter/formats/bundle/reader.py", ("    if file_size > total:\n", "    if False:\n")),
    m("bundle-truncated", "lengths", "a bundle file shorter than its header says is read",
      "reporter/formats/bundle/reader.py", ("    if file_size < total:\n", "    if False:\n")),
    m("public-key-length", "lengths", "a public key of the wrong length is accepted",
      "reporter/formats/crypto.py",
      ("        if len(self.raw) != KEY_BYTES:\n            raise InvalidPublicKey(f\"a public",
       "        if False:\n            raise InvalidPublicKey(f\"a public")),
    m("low-order-points", "keys", "a low-order X25519 point is accepted as a reviewer key",
      "reporter/formats/crypto.py", ("        if not _usable_point(self.raw):\n",
                                      "        if False:\n")),
    m("key-file-aad", "keys", "a key file's header is not bound to its ciphertext",
      "reporter/formats/keyfile.py",
      ('    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")',
       '    return b""')),
    # --- the station's web side -----------------------------------------------------------
    m("form-token", "web", "forms accept a POST whose form token this station did not make",
      "reporter/station/formtoken.py",
      ("        if not hmac.compare_digest(raw[-TAG_BYTES:], self._tag(nonce, issued_bytes)):\n"
       "            return None\n", "")),
    m("idempotent", "web", "a form sent twice is stored twice (the ledger forgets it was stored)",
      "reporter/station/ledger.py",
      ("                if entry[0] == _DONE:\n                    return Claim.DONE\n",
       "                if entry[0] == _DONE:\n                    return Claim.NEW\n")),
    m("no-spool-factory", "web",
      "Werkzeug's own stream factory: file parts over 500 KB spooled to disk, unsealed",
      "reporter/station/uploads.py",
      ("        factory: Any = current_app.extensions.get(DRAFT)\n",
       "        return super()._get_file_stream(total_content_length, content_type, filename,"
       " content_length)\n        factory: Any = current_app.extensions.get(DRAFT)\n")),
    m("plain-request-class", "web",
      "the app uses Flask's own Request class (Werkzeug's stream factory: spooled, unsealed)",
      "reporter/station/app.py",
      ("    request_class = MemoryOnlyRequest\n",
       "    request_class = __import__('flask').Request\n")),
    m("spool-copy", "web",
      "each file part is sealed as before but also copied, in plaintext, to a temp file",
      "reporter/station/uploads.py",
      ("        return target  # type: ignore[no-any-return]",
       "        import tempfile\n"
       "        spool = tempfile.NamedTemporaryFile(prefix='spool-')  # noqa: SIM115\n"
       "        write = target.write\n"
       "        def tee(data, write=write, spool=spool):\n"
       "            spool.write(data)\n"
       "            spool.flush()\n"
       "            return write(data)\n"
       "        target.write = tee\n"
       "        target.spool = spool\n"
       "        return target  # type: ignore[no-any-return]")),
    m("secure-delete", "storage", "SQLCipher's secure_delete is off",
      "reporter/storage/sqlc.py",
      ('db.execute("PRAGMA secure_delete = ON")', 'db.execute("PRAGMA secure_delete = OFF")')),
    m("blob-last-page", "storage",
      "a segment is read without the page read that surfaces a failed HMAC",
      "reporter/storage/blobs.py",
      ('        db.execute("SELECT count(*) FROM uploads WHERE id = ?", (upload,)).fetchone()\n',
       ""))
    .alt("reporter/storage/blob_file.py",
         ('        db.execute("SELECT count(*) FROM uploads WHERE id = ?", (upload,)).fetchone()\n',
          "")),
    m("search-index-phrase", "review",
      "a search through the full-text index matches its words anywhere, not as a substring",
      "reporter/review/filters.py",
      ("""    return '"' + needle.replace('"', '""') + '"'""",
       """    return " ".join('"' + w.replace('"', '""') + '"' """
       """for w in needle.split()) or '""'""")),
    m("station-file-name-folders", "names", "the station keeps the folders of a file name",
      "reporter/station/submission.py",
      ('    text = (name or "").replace("\\\\", "/").rsplit("/", 1)[-1]\n',
       '    text = name or ""\n')),
    m("station-file-name-controls", "names",
      "the station keeps control characters in a file name",
      "reporter/station/submission.py",
      ('    text = "".join(c for c in text if unicodedata.category(c)[0] != "C").strip(" .")\n',
       '    text = text.strip(" .")\n')),
    m("review-file-name", "names",
      "the reviewer's side writes a file under the name it came with",
      "reporter/review/files.py",
      ('    text = unicodedata.normalize("NFC", name)\n',
       '    return name or fallback\n    text = unicodedata.normalize("NFC", name)\n'))
    .alt("reporter/review/files.py",
         ('    text = unicodedata.normalize("NFKC", name)\n',
          '    return name or fallback\n    text = unicodedata.normalize("NFKC", name)\n')),
    m("csv-guard", "review", "CSV cells starting with = + - @ are written as they are",
      "reporter/review/export.py",
      ("""    return "'" + text if text.startswith(FORMULA_START) else text""",
       "    return text"))
    .alt("reporter/review/export.py",  # every place a cell can start, any separator
         (r"""    guarded = _CELL_STARTS.sub(r"\1\2'", text)""" + "\n",
          "    return text\n")),
    m("terminal-cleaning", "review", "report text reaches the terminal with its controls",
      "reporter/cli/review.py",
      ('        elif unicodedata.category(ch) == "Cc" or ch in _BIDI_CONTROLS:\n',
       "        elif False:\n"))
    .alt(TERMINAL, (TERMINAL_TEST, "        elif False:\n")),
    m("terminal-c1", "review", "only C0 controls are cleaned (C1, e.g. U+009B CSI, pass)",
      "reporter/cli/review.py",
      ('        elif unicodedata.category(ch) == "Cc" or ch in _BIDI_CONTROLS:\n',
       '        elif ord(ch) < 0x20 or ch == "\\x7f" or ch in _BIDI_CONTROLS:\n'))
    .alt(TERMINAL, (TERMINAL_TEST,
                    '        elif ch in BIDI_CONTROLS or ord(ch) < 0x20 or ch == "\\x7f"'
                    ' or unicodedata.category(ch) == "Cs":\n')),
    m("terminal-bidi", "review", "bidi overrides reach the terminal",
      "reporter/cli/review.py",
      ('        elif unicodedata.category(ch) == "Cc" or ch in _BIDI_CONTROLS:\n',
       '        elif unicodedata.category(ch) == "Cc":\n'))
    .alt(TERMINAL, (TERMINAL_TEST, '        elif unicodedata.category(ch) in ("Cc", "Cs"):\n')),
    # --- the station under load or short of disk, and on a hotspot (issue 12) ---------------
    m("submission-limit", "guard", "the station-wide submission limit never sheds",
      "reporter/station/web/admission.py",
      ("            wait = context.submissions.take()\n", "            wait = 0.0\n")),
    m("shed-seals-files", "guard",
      "a shed submission's files are still sealed and written (only the view refuses it)",
      "reporter/station/web/attachments.py",
      ("    if not admission().files_taken:\n", "    if False:\n")),
    m("shed-spends-token", "guard",
      "a shed form comes back with a new token (the page sent again is a new report)",
      "reporter/station/web/intake.py",
      ("        admission.count(admission.SHED)\n",
       "        admission.count(admission.SHED)\n        _new_token(form)\n")),
    m("disk-guard", "guard", "the free disk space is not looked at before a submission",
      "reporter/station/web/admission.py",
      ("Admission(room=context.disk.room(request.content_length or 0))",
       "Admission(room=Room.PLENTY)")),
    m("disk-guard-announced", "guard",
      "an upload's Content-Length is not weighed against the room left",
      "reporter/station/web/admission.py",
      ("context.disk.room(request.content_length or 0)", "context.disk.room(0)")),
    m("disk-guard-streaming", "guard", "an upload is not stopped when the disk fills under it",
      "reporter/station/web/attachments.py",
      ("room=None if context.disk.off else context.disk.files_fit)", "room=None)")),
    m("hotspot-host", "guard", "captive-portal redirects go where the Host header says",
      "reporter/station/web/hotspot.py",
      ("            return _answer(station_url(local))\n",
       '            return _answer("http://" + request.headers.get("Host", "") + "/")\n')),
    m("hotspot-onion", "guard", "captive-portal answers are given over Tor too",
      "reporter/station/web/hotspot.py",
      ('        if host.endswith(".onion"):\n', "        if False:\n")),
    m("hotspot-posts", "guard", "a POST under a foreign Host is redirected (and lost)",
      "reporter/station/web/hotspot.py",
      ('        if request.method not in ("GET", "HEAD"):\n',
       '        if request.method not in ("GET", "HEAD", "POST"):\n')),
    m("leave-clear-site-data", "guard", "the page behind Leave quickly clears nothing",
      "reporter/station/web/neutral.py",
      ('    response.headers["Clear-Site-Data"] = CLEAR_SITE_DATA\n', "")),
    # --- the review desk (issue 13): run with --group desk -- DESK_TESTS ------------------
    m("desk-host-check", "desk", "the desk answers any Host (DNS rebinding)", DESK_GATE,
      ("        if not host_allowed(", "        if False and not host_allowed(")),
    m("desk-fetch-site", "desk", "the desk answers requests another page makes (Sec-Fetch-Site)",
      DESK_GATE, ("        if not fetch_site_allowed(",
                  "        if False and not fetch_site_allowed(")),
    m("desk-csrf", "desk", "a POST without this session's CSRF token is obeyed", DESK_GATE,
      ('        if request.method == "POST" and not context.sessions.csrf_ok(',
       '        if False and not context.sessions.csrf_ok(')),
    m("desk-csrf-any-token", "desk", "any well-formed CSRF token is accepted (not bound to the "
      "session)", "reporter/review/desk/sessions.py",
      ("        if session_id is None or not token:\n            return False\n",
       "        if session_id is None or not token:\n            return False\n"
       "        return len(token) == 64\n")),
    m("desk-cookie-httponly", "desk", "the session cookie is readable by scripts", DESK_GATE,
      ("httponly=True,", "httponly=False,")),
    m("desk-cookie-samesite", "desk", "the session cookie is SameSite=Lax", DESK_GATE,
      ('samesite="Strict"', 'samesite="Lax"')),
    m("desk-no-rotation", "desk", "unlocking keeps the session id it was given (fixation)",
      DESK_UNLOCK, ("    new_session = context.sessions.rotate(session_id())\n",
                    "    new_session = session_id() or context.sessions.rotate(None)\n")),
    m("desk-any-session", "desk", "once unlocked, any session may read", DESK_VAULT,
      ("            if self._session is None or not hmac.compare_digest(self._session, digest):",
       "            if self._key is None:")),
    m("desk-no-idle-lock", "desk", "the desk never locks itself", DESK_VAULT,
      ("            idle = self._key is not None and self._clock() - self._last >= "
       "self.idle_seconds", "            idle = False")),
    m("desk-lock-keeps-key", "desk", "locking forgets the session but keeps the key", DESK_VAULT,
      ("            self._key = None\n            self._session = None\n",
       "            self._session = None\n")),
    m("desk-stream-after-lock", "desk", "a file keeps streaming after the desk is locked",
      DESK_FILES, ("            if not vault.current(generation):",
                   "            if False:")),
    m("desk-inline-files", "desk", "originals are sent inline, not as attachments", DESK_FILES,
      ('    response.headers["Content-Disposition"] = content_disposition(name)',
       '    response.headers["Content-Disposition"] = "inline;" + content_disposition(name)'
       '.split(";", 1)[1]')),
    m("desk-type-from-name", "desk", "a file is sent with the type its sent name claims",
      DESK_FILES, ("    media = media_type(opened.detected)",
                   "    import mimetypes\n"
                   "    media = mimetypes.guess_type(opened.info.name)[0] or 'text/html'")),
    m("desk-file-csp", "desk", "files get the pages' CSP (no sandbox)",
      "reporter/review/desk/security.py",
      ('FILE_POLICY = "default-src \'none\'; sandbox"', "FILE_POLICY = PAGE_POLICY")),
    m("desk-preview-original", "desk", "the preview is the original file, metadata and all",
      DESK_FILES, ("    return _file_response(made.data, media=made.media_type)\n",
                   "    return _file_response(bytes(data), media=made.media_type)\n")),
    m("desk-no-autoescape", "desk", "templates do not escape what they insert",
      "reporter/review/desk/app.py",
      ('    app.jinja_env.filters["shown"] = text.shown\n',
       '    app.jinja_env.filters["shown"] = text.shown\n    app.jinja_env.autoescape = False\n')),
    m("desk-bidi", "desk", "bidi overrides and control characters reach the page",
      "reporter/review/desk/text.py",
      ("    return _HIDDEN.sub(REPLACEMENT, text)", "    return text")),
    m("desk-remote-host", "desk", "serve listens on another address without being forced",
      "reporter/review/desk/config.py",
      ("    if not allow_remote:\n", "    if False:\n")),
    m("desk-open-redirect", "desk", "unlock returns to any address it is given",
      DESK_GATE, ("    if value and _SAFE_NEXT.fullmatch(value):", "    if value:")),
    # --- the verification workflow (issue 13): --group workflow -- WORKFLOW_TESTS ---------
    m("workflow-history-update", "workflow", "the database lets the history be rewritten",
      WORKFLOW_SCHEMA, ("        BEGIN SELECT RAISE(ABORT, 'the review history is append-only'); "
                        "END\"\"\",\n    \"\"\"CREATE TRIGGER review_history_no_delete",
                        "        BEGIN SELECT 1; END\"\"\",\n    \"\"\"CREATE TRIGGER "
                        "review_history_no_delete")),
    m("workflow-chain-unchecked", "workflow", "verify_history trusts each entry's hash",
      REVIEW_HISTORY, ("        if entry_id != expected_id or bytes(row[7]) != previous or "
                 "bytes(row[8]) != digest:", "        if entry_id != expected_id:")),
    m("workflow-name-unchecked", "workflow", "a reviewer's name is recorded as typed",
      WORKFLOW, ('    return clean_text(text, MAX_NAME, "reviewer\'s name")',
                 '    return text or "?"')),
    m("workflow-tag-case", "workflow", "tags match only as typed (no folding)",
      "reporter/review/filters.py",
      ("    return unicodedata.normalize(\"NFC\", collapsed.casefold())",
       "    return collapsed")),
    # --- the desk's charts (issue 13): --group charts -- tests/review/test_charts.py \
    #     tests/e2e/test_desk_charts.py
    m("charts-label-controls", "charts", "controls and bidi controls reach a chart's labels",
      CHARTS, ('                   if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", '
               '"Cn")\n', "                   if True\n")),
    m("charts-label-length", "charts", "a chart draws a label of any length", CHARTS,
      ('    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"',
       "    return line")),
    m("charts-no-fold", "charts", "every category is drawn, none folds into Others", CHARTS,
      ("    keep = order if len(order) <= MAX_SERIES else order[: MAX_SERIES - 1]",
       "    keep = order")),
    m("charts-random-salt", "charts", "the SVG's ids are salted at random (not the same "
      "bytes)", CHARTS, ('"svg.hashsalt": SALT', '"svg.hashsalt": None')),
    m("charts-follow-ups", "charts", "follow-ups are counted as reports", CHARTS,
      ('        filters = replace(filters, kind="incident")', "        pass")),
    m("charts-csv-guard", "charts", "a chart's CSV is written without the formula guard",
      CHARTS, ("        writer.writerow([row.month, export.guard_cell(row.key or \"\"),\n"
               "                         export.guard_cell(label), row.count])",
               "        writer.writerow([row.month, row.key or \"\", label, row.count])")),
    m("charts-svg-csp", "charts", "an SVG opened alone gets no sandbox", CHARTS_WEB,
      ('SVG_POLICY = "default-src \'none\'; style-src \'unsafe-inline\'; sandbox"',
       'SVG_POLICY = "default-src \'none\'; style-src \'unsafe-inline\'"')),
    m("charts-svg-type", "charts", "an SVG is sent as a page (text/html)", CHARTS_WEB,
      ('    response = Response(body, mimetype="image/svg+xml")',
       '    response = Response(body, mimetype="text/html")')),
    # --- desk exports, evidence packages, import (issue 13): --group desk-exports --
    # tests/e2e/test_desk_exports.py tests/e2e/test_desk_import.py tests/review/test_sensitivity.py
    m("desk-export-no-confirmation", "desk-exports", "sensitive reports are exported unasked",
      "reporter/review/sensitivity.py", ("    return tuple(found)\n", "    return ()\n")),
    m("evidence-sent-names", "desk-exports", "archive paths are the names the phone sent",
      "reporter/review/evidence.py",
      ("    if bad:\n        raise UnsafeName", "    if False:\n        raise UnsafeName"),
      ('path = f"{packaged.path}/originals/{files.file_name(info, opened.detected)}"',
       'path = f"{packaged.path}/originals/{info.name}"')),
    m("evidence-after-lock", "desk-exports", "an evidence package keeps streaming after the "
      "desk is locked", "reporter/review/evidence.py",
      ("                    if not going():", "                    if False:")),
    m("desk-import-csrf", "desk-exports", "an upload without this session's CSRF token is "
      "imported", "reporter/review/desk/web/imports.py",
      ('                    if not check_token(fields.get("csrf_token")):',
       "                    if False:"),
      ('        if not checked and not check_token(fields.get("csrf_token")):',
       "        if False:")),
)


def _terminated(signum: int, _frame: object) -> None:
    raise SystemExit(f"stopped by signal {signum}; the mutated file was written back")


def _git_clean() -> bool:
    done = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "reporter/"],
                          cwd=ROOT, check=False)
    return done.returncode == 0


def _failed(junit: Path) -> tuple[list[str], int]:
    """(ids of failed or erroring tests, tests run) from pytest's junit XML."""
    if not junit.exists():
        return ["(pytest wrote no report)"], 0
    failed, total = [], 0
    for case in ET.parse(junit).iter("testcase"):  # noqa: S314 (our own file)
        total += 1
        if case.find("failure") is not None or case.find("error") is not None:
            module = case.get("classname", "").replace(".", "/")
            failed.append(f"{module}.py::{case.get('name')}")
    return failed, total


def applies(mutant: Mutant) -> bool:
    """Some variant's ``old`` texts are each there once, and the result compiles."""
    return mutant.variant() is not None


def run_mutant(mutant: Mutant, pytest_args: list[str]) -> dict[str, object]:
    chosen = mutant.variant()
    if chosen is None:
        return {"name": mutant.name, "stale": True, "failed": [], "ran": 0}
    path, edits = chosen
    target = ROOT / path
    original = target.read_bytes()
    text = original.decode("utf-8")
    for old, new in edits:
        text = text.replace(old, new)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "junit.xml"
        try:
            target.write_text(text, encoding="utf-8")
            tests = subprocess.Popen(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                 f"--junitxml={junit}", *(pytest_args or DEFAULT_TESTS)],
                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                # PYTHONPATH: servers and CLIs the tests start import this tree's
                # (mutated) reporter, whatever their working folder or install.
                env={**os.environ, "PYTHONPATH": str(ROOT),
                     "REPORTER_CI": os.environ.get("REPORTER_CI", "1")})
            try:
                tests.wait()
            except BaseException as stop:
                # pytest stops on Ctrl+C (and runs its teardown: the servers it started
                # are stopped); a terminal's Ctrl+C reached it already, a kill did not.
                if not isinstance(stop, KeyboardInterrupt):
                    tests.send_signal(signal.SIGINT)
                try:
                    tests.wait(30)
                except subprocess.TimeoutExpired:
                    tests.kill()
                    tests.wait()
                raise
        finally:
            target.write_bytes(original)
        failed, ran = _failed(junit)
    if not _git_clean():
        raise SystemExit(f"{path} differs from HEAD after restoring it: check "
                         "'git diff reporter/'")
    return {"name": mutant.name, "stale": False, "failed": failed, "ran": ran,
            "seconds": round(time.monotonic() - started)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.mutants", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="mutants to run (see --list)")
    parser.add_argument("--list", action="store_true", help="list the mutants")
    parser.add_argument("--all", action="store_true", help="run every mutant")
    parser.add_argument("--group", action="append", default=[], help="run a group")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--check", action="store_true",
                        help="only check that every mutant still applies")
    argv = sys.argv[1:] if argv is None else argv
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    pytest_args = argv[split + 1:]
    by_name = {mutant.name: mutant for mutant in MUTANTS}
    if args.list:
        for mutant in MUTANTS:
            print(f"{mutant.name:32} {mutant.group:11} {mutant.check}")
        return 0
    if args.check:
        stale = [mu.name for mu in MUTANTS if not applies(mu)]
        print("stale: " + ", ".join(stale) if stale else f"all {len(MUTANTS)} mutants apply")
        return 1 if stale else 0
    unknown = [n for n in args.names if n not in by_name]
    if unknown:
        parser.error(f"unknown mutants: {', '.join(unknown)} (see --list)")
    chosen = [mu for mu in MUTANTS if args.all or mu.name in args.names
              or mu.group in args.group]
    if not chosen:
        parser.error("name mutants, a --group or --all")
    if not _git_clean():
        parser.error("reporter/ has uncommitted changes: commit or stash them first")
    # A plain `kill` would skip the `finally` that writes the mutated file back.
    signal.signal(signal.SIGTERM, _terminated)
    signal.signal(signal.SIGHUP, _terminated)
    results = []
    for mutant in chosen:
        result = run_mutant(mutant, pytest_args)
        results.append(result)
        failed = result["failed"]
        assert isinstance(failed, list)
        verdict = ("STALE (the code changed: update the mutant)" if result["stale"]
                   else f"caught by {len(failed)} of {result['ran']}" if failed
                   else f"NOT CAUGHT ({result['ran']} tests passed)")
        print(f"{mutant.name}: {verdict}", flush=True)
        for test in failed:
            print(f"    {test}", flush=True)
        if args.json:
            args.json.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return 0 if all(r["failed"] and not r["stale"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
