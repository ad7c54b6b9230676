"""The desk's session cookie and the CSRF token of every form.

One random secret, made when the desk starts and held only in its memory,
keys everything here; a restart makes every cookie and every form token of
before worthless (the desk starts locked anyway).

* **Session id**: 32 random bytes (``secrets.token_urlsafe``), in the cookie
  ``reporter_desk_<port>``, ``HttpOnly; SameSite=Strict; Path=/``. Not
  ``Secure``: the desk is plain HTTP on the loopback interface, where there
  is no TLS to require, and a browser would not send a ``Secure`` cookie back
  over plain HTTP. Nothing else is in the cookie: whether the session may read
  reports is the vault's (``vault.py``), and the language it chose is kept
  here in memory.
* **CSRF token**: ``HMAC-SHA256(secret, "reporter/desk/csrf/v1" || session
  id)``, in a hidden field of every form, checked on every POST with
  ``hmac.compare_digest``. SameSite=Strict already keeps the cookie off
  requests from other *sites*, but another program's page on 127.0.0.1 at
  another port is the same site; the token is what it cannot know.
* **Rotation**: unlocking gives the browser a new session id (the old one
  may have been planted by another page on 127.0.0.1 before the reviewer
  came), with the language it chose.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
from collections import OrderedDict

SECRET_BYTES = 32
CTX_CSRF = b"reporter/desk/csrf/v1"
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{43}")
MAX_LANGUAGES = 1024  # sessions whose language choice is remembered


class Sessions:
    def __init__(self) -> None:
        self._secret = secrets.token_bytes(SECRET_BYTES)
        self._languages: OrderedDict[bytes, str] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def new_id() -> str:
        return secrets.token_urlsafe(SECRET_BYTES)

    @staticmethod
    def well_formed(value: str | None) -> str | None:
        """The cookie's value if it can be a session id of ours, else ``None``."""
        return value if value is not None and _SESSION_ID.fullmatch(value) else None

    def csrf_token(self, session_id: str) -> str:
        return hmac.new(self._secret, CTX_CSRF + session_id.encode("ascii"),
                        hashlib.sha256).hexdigest()

    def csrf_ok(self, session_id: str | None, token: str | None) -> bool:
        if session_id is None or not token:
            return False
        return hmac.compare_digest(self.csrf_token(session_id).encode("ascii"),
                                   token.encode("utf-8", "replace"))

    def _key(self, session_id: str) -> bytes:
        return hmac.new(self._secret, b"reporter/desk/language/v1" + session_id.encode("ascii"),
                        hashlib.sha256).digest()

    def language(self, session_id: str | None) -> str | None:
        if session_id is None:
            return None
        with self._lock:
            return self._languages.get(self._key(session_id))

    def set_language(self, session_id: str, language: str) -> None:
        with self._lock:
            key = self._key(session_id)
            self._languages[key] = language
            self._languages.move_to_end(key)
            while len(self._languages) > MAX_LANGUAGES:
                self._languages.popitem(last=False)

    def rotate(self, old: str | None) -> str:
        """A new session id that keeps the language ``old`` chose."""
        new = self.new_id()
        language = self.language(old)
        if language is not None:
            self.set_language(new, language)
        return new
