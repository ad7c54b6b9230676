"""Security headers, no cookie, and page weight, asserted on every monitor-facing page."""

from __future__ import annotations

import re

import pytest

from tests.conftest import form_token, valid_report

PAGES = ["/", "/follow-up", "/?lang=fr", "/no-such-page", "/recipe"]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_sends_the_strict_headers(client, path: str) -> None:  # type: ignore[no-untyped-def]
    response = client.get(path)
    csp = response.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["style-src"].startswith("'sha256-")
    assert "script-src" not in directives  # falls back to 'none'
    assert directives["form-action"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["base-uri"] == "'none'"
    assert "no-store" in response.headers["Cache-Control"]
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_the_style_hash_matches_the_inline_style(client) -> None:  # type: ignore[no-untyped-def]
    import base64
    import hashlib

    response = client.get("/")
    [css] = re.findall(r"<style>(.*?)</style>", response.get_data(as_text=True), re.S)
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize("path", ["/", "/follow-up"])
def test_pages_load_nothing_from_anywhere_and_need_no_script(client, path: str) -> None:  # type: ignore[no-untyped-def]
    page = client.get(path).get_data(as_text=True)
    assert "<script" not in page.lower()
    assert not re.search(r"\son[a-z]+\s*=", page), "inline event handler"
    assert not re.search(r"(src|href|action)=\"(https?:)?//", page), "absolute URL"
    assert "<link" not in page and "<img" not in page and "<iframe" not in page
    assert "@import" not in page and "url(" not in page


@pytest.mark.parametrize("path", ["/", "/follow-up"])
def test_pages_are_small(client, path: str) -> None:  # type: ignore[no-untyped-def]
    assert len(client.get(path).get_data()) < 30 * 1024


def test_no_cookie(client) -> None:  # type: ignore[no-untyped-def]
    """The form's token is in the form: nothing ties a phone's visits together.

    Every route and answer, through a real server: tests/e2e/test_no_cookie.py.
    """
    page = client.get("/")
    token = form_token(page.get_data(as_text=True))
    sent = client.post("/", data={"form_token": token, **valid_report()})
    for response in (page, sent):
        assert "Set-Cookie" not in response.headers
    assert not client.get_cookie("csrf") and not client.get_cookie("session")


def test_forms_ask_the_browser_not_to_remember_answers(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/").get_data(as_text=True)
    assert re.search(r'<form [^>]*autocomplete="off"', page)


def test_the_receipt_page_is_not_cached(client) -> None:  # type: ignore[no-untyped-def]
    token = form_token(client.get("/").get_data(as_text=True))
    response = client.post("/", data={"form_token": token, **valid_report()})
    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]


def test_the_favicon_is_served_with_every_header(client) -> None:  # type: ignore[no-untyped-def]
    """Browsers ask for it on every page: a tiny icon, not a 404 each time."""
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.mimetype == "image/x-icon"
    assert response.get_data()[:4] == b"\x00\x00\x01\x00" and len(response.get_data()) < 200
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert "no-store" in response.headers["Cache-Control"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize("path", ["/", "/follow-up", "/?lang=fr", "/no-such-page"])
def test_every_monitor_page_starts_with_leave_quickly(client, path: str) -> None:  # type: ignore[no-untyped-def]
    """The first link of the page, to the station's own harmless page (web/neutral.py).

    In a browser, every language, and Back: tests/e2e/test_leave_quickly.py.
    """
    page = client.get(path).get_data(as_text=True)
    first = re.search(r"<a [^>]*>", page)
    assert first and 'href="/recipe?lang=' in first.group(0)
    assert page.index('class="leave"') < page.index("<main>")


def test_the_page_behind_leave_quickly_asks_the_browser_to_drop_the_station_s_data(
        client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/recipe?lang=sw")
    assert response.status_code == 200
    assert response.headers["Clear-Site-Data"] == '"cache", "cookies", "storage"'
    page = response.get_data(as_text=True)
    assert "<style" not in page and "<form" not in page and "<a " not in page
    for word in ("reporter", "incident", "report", "ripoti", "kituo"):
        assert word not in page.lower(), word
