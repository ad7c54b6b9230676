"""The station's last line of defence (``reporter/web/guard.py``): its fixed page.

The station's answers are small pages, so the guard reads each whole
(``buffer=True``): an exception while a body is produced still becomes this
page, never a traceback whose message could quote what a monitor typed.
"""

from __future__ import annotations

from reporter.web.guard import Guard, WSGIApp, where

__all__ = ["FALLBACK", "guarded", "where"]

FALLBACK = (
    '<!doctype html><html><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    "<title>Error / Erreur</title></head><body>"
    '<p><a href="/recipe">Leave quickly / Partir vite</a></p>'
    "<h1>The station had a problem</h1><p>Nothing was saved. Please go back and try again.</p>"
    '<h1 lang="fr">La station a eu un problème</h1><p lang="fr">Rien n\'a été enregistré. '
    "Revenez en arrière et réessayez.</p></body></html>"
).encode()


def guarded(app: WSGIApp) -> Guard:
    return Guard(app, FALLBACK, buffer=True)
