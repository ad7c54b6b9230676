"""The review desk: ``reporter review serve``, a web face over the review database.

Reviewers who are not command-line users read what bundles brought in a
browser, on their own offline laptop: an inbox of reports with the filters
of ``review list``, and each report with its follow-ups, its attachments
(pictures shown from a metadata-free copy made in memory, sound and video
playable, originals downloadable) and its chain of custody. It reads the
same review database as the CLI, through the same modules (``filters.py``,
``listing.py``, ``records.py``, ``export.py``, ``files.py``, ``strip.py``,
``custody.py``); nothing here holds SQL or crypto, and the CLI keeps working on
the database beside it.

The desk shows decrypted reports, so it is built like a lock:

* it listens on 127.0.0.1 only unless told otherwise (``config.py``) and
  answers only requests whose ``Host`` is the address it listens on (a DNS
  rebinding page cannot read it) and that do not come from another site;
* it starts locked; the review database's passphrase, typed on its unlock
  page, derives the key, which is held in memory only (``vault.py``) and
  dropped when the reviewer locks it or after an idle period;
* one session cookie (``HttpOnly; SameSite=Strict; Path=/``), a CSRF token
  on every form, bound to the session and checked in constant time
  (``sessions.py``);
* every answer carries the station's security headers and a CSP that lets
  the page load nothing but this origin's style sheet, pictures and media,
  and run no script (``security.py``); every file is sent as an attachment
  with a type from the project's fixed map, except the metadata-free
  previews, which are re-encoded pictures under a sandbox CSP.

Layout: ``app.py`` (the factory), ``config.py``, ``vault.py``,
``sessions.py``, ``security.py``, ``inbox.py`` (the inbox's form), ``text.py``
(how report text is shown), ``serving.py`` (the WSGI server), ``web/`` (thin
views), ``templates/``, ``static/``. Decisions: SECURITY.md, "The review desk";
the guide: docs/review.md, "Review desk".
"""
