"""Every answer a monitor can meet, scored by the MDN HTTP Observatory's published rules.

The Observatory (``mdn/mdn-http-observatory``: ``src/analyzer/tests/*.js``,
``src/grader/charts.js``, ``src/scanner/index.js``) scores a page from 100:
each test adds its modifier; bonuses count only if the penalties alone leave
at least 90; 100 or more is A+. It scores one page; here every page is
scored, error pages, the page behind "Leave quickly" and the captive-portal
redirects included, through a real ``reporter serve`` read from raw sockets
(every header line as sent, duplicates and all). The rules checked, as the
Observatory's code has them (the two that need HTTPS, redirection to HTTPS
and Strict-Transport-Security, are left out: a hotspot station is plain HTTP
and an onion service has no certificate):

* **content-security-policy**: the ``Content-Security-Policy`` headers and
  ``<meta http-equiv>`` policies, comma-split into policies; a repeated
  directive makes it invalid (-25); none at all -25. ``script-src``,
  ``object-src`` and ``style-src`` fall back to ``default-src``, then to
  ``*``. ``'unsafe-inline'`` or ``data:`` or a broad source (``*``, ``http:``,
  ``https:``, ...) in ``script-src``, or a broad one in ``object-src``: -20;
  ``'unsafe-eval'`` in script or style: -10; ``'unsafe-inline'``, ``data:``
  or broad in ``style-src``: 0 (a hash beside ``'unsafe-inline'`` cancels
  it); otherwise ``default-src 'none'`` alone: +10, else +5.
* **cookies**: no ``Set-Cookie``: 0. A cookie without ``Secure`` over HTTP:
  -20; a session cookie (``login``/``sess`` in its name) without ``Secure``
  -40, without ``HttpOnly`` -30; a ``csrf`` cookie without ``SameSite`` -20;
  ``SameSite`` not Strict/Lax/None: -20.
* **cross-origin-resource-sharing**: asked with an ``Origin`` header; an
  ``Access-Control-Allow-Origin`` echoing it with credentials allowed: -50;
  otherwise 0.
* **referrer-policy**: the last valid policy among the headers:
  ``no-referrer``, ``same-origin``, ``strict-origin``,
  ``strict-origin-when-cross-origin``: +5; ``origin``,
  ``origin-when-cross-origin``, ``unsafe-url``, ``no-referrer-when-downgrade``
  or an unknown value: -5; none: 0.
* **subresource-integrity**: HTML with no ``<script>``: 0; a script from
  another origin without ``integrity``: -50 over HTTP.
* **x-content-type-options**: ``nosniff``: 0; missing or other: -5.
* **x-frame-options**: ``frame-ancestors`` in the CSP header: +5; else
  ``DENY``/``SAMEORIGIN``: 0; missing or invalid: -20.
* **cross-origin-resource-policy**: ``same-origin`` or ``same-site``: +10;
  ``cross-origin`` or none: 0; invalid: -5.

The station's best on each (what this test requires of every page): CSP
``default-src 'none'`` with no unsafe source (+10), no cookie, no CORS, a
private referrer policy (+5), no script, ``nosniff``, ``frame-ancestors``
(+5), CORP ``same-origin`` (+10): 130, A+. A control shows the scorer
failing the station's headers with one cookie (B+, the grade the issue
recorded before cookies went).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from reporter.i18n.languages import shipped_languages
from tests.conftest import Server, Station, form_token, raw_request, start_server, valid_report
from tests.e2e.test_e2e import multipart

pytestmark = pytest.mark.slow
ORIGIN = "https://http-observatory.security.mozilla.org"  # what the Observatory sends
BROAD = {"ftp:", "http:", "https:", "*", "http://*", "http://*.*", "https://*", "https://*.*"}
UNSAFE_INLINE = {"'unsafe-inline'", "data:"}
HASHES = ("'sha256-", "'sha384-", "'sha512-", "'nonce-")
BEST = {"content-security-policy": "csp-implemented-with-no-unsafe-default-src-none",
        "cookies": "cookies-not-found",
        "cross-origin-resource-sharing": "cross-origin-resource-sharing-not-implemented",
        "referrer-policy": "referrer-policy-private",
        "subresource-integrity": "sri-not-implemented-but-no-scripts-loaded",  # or not HTML
        "x-content-type-options": "x-content-type-options-nosniff",
        "x-frame-options": "x-frame-options-implemented-via-csp",
        "cross-origin-resource-policy": "cross-origin-resource-policy-implemented-with-same-origin"}
MODIFIERS = {
    "csp-implemented-with-no-unsafe-default-src-none": 10, "csp-implemented-with-no-unsafe": 5,
    "csp-implemented-with-unsafe-inline-in-style-src-only": 0,
    "csp-implemented-with-unsafe-eval": -10, "csp-implemented-with-unsafe-inline": -20,
    "csp-header-invalid": -25, "csp-not-implemented": -25,
    "cookies-not-found": 0, "cookies-secure-with-httponly-sessions": 0,
    "cookies-secure-with-httponly-sessions-and-samesite": 5,
    "cookies-without-secure-flag": -20, "cookies-samesite-flag-invalid": -20,
    "cookies-anticsrf-without-samesite-flag": -20, "cookies-session-without-httponly-flag": -30,
    "cookies-session-without-secure-flag": -40,
    "cross-origin-resource-sharing-not-implemented": 0,
    "cross-origin-resource-sharing-implemented-with-public-access": 0,
    "cross-origin-resource-sharing-implemented-with-restricted-access": 0,
    "cross-origin-resource-sharing-implemented-with-universal-access": -50,
    "referrer-policy-private": 5, "referrer-policy-not-implemented": 0,
    "referrer-policy-unsafe": -5, "referrer-policy-header-invalid": -5,
    "sri-not-implemented-response-not-html": 0, "sri-not-implemented-but-no-scripts-loaded": 0,
    "sri-not-implemented-but-all-scripts-loaded-from-secure-origin": 0,
    "sri-not-implemented-and-external-scripts-not-loaded-securely": -50,
    "x-content-type-options-nosniff": 0, "x-content-type-options-not-implemented": -5,
    "x-content-type-options-header-invalid": -5,
    "x-frame-options-implemented-via-csp": 5, "x-frame-options-sameorigin-or-deny": 0,
    "x-frame-options-not-implemented": -20, "x-frame-options-header-invalid": -20,
    "cross-origin-resource-policy-implemented-with-same-origin": 10,
    "cross-origin-resource-policy-implemented-with-same-site": 10,
    "cross-origin-resource-policy-implemented-with-cross-origin": 0,
    "cross-origin-resource-policy-not-implemented": 0,
    "cross-origin-resource-policy-header-invalid": -5,
}
GRADES = [(100, "A+"), (90, "A"), (85, "A-"), (80, "B+"), (70, "B"), (65, "B-"), (60, "C+"),
          (50, "C"), (45, "C-"), (40, "D+"), (30, "D"), (25, "D-"), (0, "F")]


@dataclass
class Answer:
    what: str
    status: int
    headers: list[tuple[str, str]]
    body: str

    def values(self, name: str) -> list[str]:
        return [v for n, v in self.headers if n.lower() == name]


@dataclass
class Score:
    results: dict[str, str] = field(default_factory=dict)

    @property
    def score(self) -> int:
        modifiers = [MODIFIERS[r] for r in self.results.values()]
        uncurved = 100 + sum(m for m in modifiers if m < 0)
        return 100 + sum(modifiers) if uncurved >= 90 else uncurved

    @property
    def grade(self) -> str:
        return next(grade for floor, grade in GRADES if max(self.score, 0) >= floor)


def _parse_csp(policies: list[str]) -> dict[str, set[str]] | None:
    """The Observatory's parser, for one policy (the station sends one: ``assert_best``
    checks): None when invalid."""
    csp: dict[str, set[str]] = {}
    for policy in policies:
        policy = policy.replace("\r", "").replace("\n", "").strip()
        if len(policy) < len("img-src") - 1:
            return None
        seen: set[str] = set()
        for entry in policy.split(";"):
            directive, *sources = entry.strip().split()
            if not directive:
                continue
            directive = directive.lower()
            if directive in seen and directive not in ("report-uri", "report-to"):
                return None
            seen.add(directive)
            values = {s.lower() for s in sources} or ({"'none'"} if directive.endswith("-src")
                                                      else set())
            csp.setdefault(directive, set()).update(values)
    return csp


def _csp(answer: Answer) -> tuple[str, dict[str, set[str]]]:
    headers = [p.strip() for v in answer.values("content-security-policy") for p in v.split(",")]
    meta = [p.strip() for v in re.findall(
        r'<meta[^>]+http-equiv="content-security-policy"[^>]+content="([^"]*)"',
        answer.body, re.I) for p in v.split(",")]
    if not headers and not meta:
        return "csp-not-implemented", {}
    csp = _parse_csp(headers + meta)
    if csp is None:
        return "csp-header-invalid", {}
    default = csp.get("default-src")
    script = set(csp.get("script-src") or default or {"*"})
    objects = set(csp.get("object-src") or default or {"*"})
    style = set(csp.get("style-src") or default or {"*"})
    for sources in (script, style):
        if any(s.startswith(HASHES) for s in sources):
            sources.discard("'unsafe-inline'")
    if script & (BROAD | UNSAFE_INLINE) or objects & BROAD:
        return "csp-implemented-with-unsafe-inline", csp
    if "'unsafe-eval'" in script | style:
        return "csp-implemented-with-unsafe-eval", csp
    if style & (BROAD | UNSAFE_INLINE):
        return "csp-implemented-with-unsafe-inline-in-style-src-only", csp
    if default == {"'none'"}:
        return "csp-implemented-with-no-unsafe-default-src-none", csp
    return "csp-implemented-with-no-unsafe", csp


def _cookies(answer: Answer) -> str:
    cookies = answer.values("set-cookie")
    if not cookies:
        return "cookies-not-found"
    worst = "cookies-secure-with-httponly-sessions-and-samesite"
    for cookie in cookies:
        name, *attributes = [part.strip() for part in cookie.split(";")]
        flags = {a.split("=", 1)[0].lower(): a.partition("=")[2].lower() for a in attributes}
        key = name.split("=", 1)[0].lower()
        session = "login" in key or "sess" in key
        found = []
        if "samesite" in flags and flags["samesite"] not in ("lax", "strict", "none"):
            found.append("cookies-samesite-flag-invalid")
        if "secure" not in flags:
            found.append("cookies-session-without-secure-flag" if session
                         else "cookies-without-secure-flag")
        if "csrf" in key and "samesite" not in flags:
            found.append("cookies-anticsrf-without-samesite-flag")
        if session and "httponly" not in flags:
            found.append("cookies-session-without-httponly-flag")
        if not found and "samesite" not in flags:
            found.append("cookies-secure-with-httponly-sessions")
        for result in found:
            if MODIFIERS[result] < MODIFIERS[worst]:
                worst = result
    return worst


def _cors(answer: Answer) -> str:
    allow = answer.values("access-control-allow-origin")
    if not allow:
        return "cross-origin-resource-sharing-not-implemented"
    value = allow[0].strip().lower()
    if value == "*":
        return "cross-origin-resource-sharing-implemented-with-public-access"
    credentials = answer.values("access-control-allow-credentials")
    if allow[0] == ORIGIN and credentials and credentials[0].strip().lower() == "true":
        return "cross-origin-resource-sharing-implemented-with-universal-access"
    return "cross-origin-resource-sharing-implemented-with-restricted-access"


def _referrer(answer: Answer) -> str:
    good = {"no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"}
    bad = {"origin", "origin-when-cross-origin", "unsafe-url", "no-referrer-when-downgrade"}
    values = answer.values("referrer-policy")
    if not values:
        return "referrer-policy-not-implemented"
    valid = [p.strip().lower() for p in ", ".join(values).split(",")
             if p.strip().lower() in good | bad]
    if valid and valid[-1] in good:
        return "referrer-policy-private"
    return "referrer-policy-unsafe" if valid else "referrer-policy-header-invalid"


def _sri(answer: Answer) -> str:
    kind = (answer.values("content-type") or [""])[0].split(";")[0].strip().lower()
    if kind and kind not in ("text/html", "application/xhtml+xml"):
        return "sri-not-implemented-response-not-html"
    scripts = re.findall(r"<script\b([^>]*)>", answer.body, re.I)
    if not scripts:
        return "sri-not-implemented-but-no-scripts-loaded"
    foreign = [s for s in scripts if re.search(r'src="(https?:)?//', s)
               and "integrity=" not in s]
    return ("sri-not-implemented-and-external-scripts-not-loaded-securely" if foreign
            else "sri-not-implemented-but-all-scripts-loaded-from-secure-origin")


def _xcto(answer: Answer) -> str:
    values = answer.values("x-content-type-options")
    if not values:
        return "x-content-type-options-not-implemented"
    return ("x-content-type-options-nosniff" if values[0].strip().lower() == "nosniff"
            else "x-content-type-options-header-invalid")


def _xfo(answer: Answer, csp_from_headers: dict[str, set[str]]) -> str:
    if "frame-ancestors" in csp_from_headers:
        return "x-frame-options-implemented-via-csp"
    values = answer.values("x-frame-options")
    if not values:
        return "x-frame-options-not-implemented"
    return ("x-frame-options-sameorigin-or-deny"
            if values[0].strip().lower() in ("deny", "sameorigin")
            else "x-frame-options-header-invalid")


def _corp(answer: Answer) -> str:
    values = answer.values("cross-origin-resource-policy")
    if not values:
        return "cross-origin-resource-policy-not-implemented"
    return {"same-origin": "cross-origin-resource-policy-implemented-with-same-origin",
            "same-site": "cross-origin-resource-policy-implemented-with-same-site",
            "cross-origin": "cross-origin-resource-policy-implemented-with-cross-origin",
            }.get(values[0][:256].strip().lower(), "cross-origin-resource-policy-header-invalid")


def observatory(answer: Answer) -> Score:
    csp_result, _csp_all = _csp(answer)
    header_only = _parse_csp([p.strip() for v in answer.values("content-security-policy")
                              for p in v.split(",")]) or {}
    return Score({"content-security-policy": csp_result, "cookies": _cookies(answer),
                  "cross-origin-resource-sharing": _cors(answer),
                  "referrer-policy": _referrer(answer), "subresource-integrity": _sri(answer),
                  "x-content-type-options": _xcto(answer),
                  "x-frame-options": _xfo(answer, header_only),
                  "cross-origin-resource-policy": _corp(answer)})


# --- the pages -----------------------------------------------------------------------------


def fetch(server: Server, what: str, method: str, path: str, body: bytes | None = None,
          headers: dict[str, str] | None = None, host: str | None = None) -> Answer:
    """One request on its own connection, as the Observatory asks (with an Origin)."""
    status, pairs, rest = raw_request(server.url, method, path, body,
                                      {"Origin": ORIGIN, **(headers or {})}, host)
    return Answer(what, status, pairs, rest.decode("utf-8", "replace"))


def flat(data: dict[str, object]) -> dict[str, str]:
    return {k: v if isinstance(v, str) else str(v[0]) for k, v in data.items()}  # type: ignore[index]


def token(server: Server, path: str = "/") -> str:
    return form_token(requests.get(server.url + path, timeout=10).text)


def form_post(server: Server, what: str, fields: dict[str, str], path: str = "/",
              files: list[tuple[str, str, bytes]] | None = None) -> Answer:
    body, content_type = multipart(fields, files or [("attachments", "", b"")])
    return fetch(server, what, "POST", path, body, {"Content-Type": content_type})


def every_page(server: Server) -> list[Answer]:
    pages = [fetch(server, f"form {lang}", "GET", f"/?lang={lang}")
             for lang in shipped_languages()]
    pages += [
        fetch(server, "follow-up form", "GET", "/follow-up"),
        fetch(server, "HEAD of the form", "HEAD", "/"),
        fetch(server, "leave quickly", "GET", "/recipe?lang=sw"),
        fetch(server, "favicon", "GET", "/favicon.ico"),
        fetch(server, "404", "GET", "/no-such-page"),
        fetch(server, "405", "PUT", "/", b""),
        form_post(server, "form errors", {"form_token": token(server), "description": ""}),
        form_post(server, "expired form", {"form_token": "x" * 55, **flat(valid_report())}),
        form_post(server, "receipt", {"form_token": token(server), **flat(valid_report())}),
        form_post(server, "follow-up errors", {"form_token": token(server, "/follow-up"),
                                               "receipt": "nope"}, "/follow-up"),
        fetch(server, "receipt again", "POST", "/receipt",
              b"receipt=7KQM-3XHD-9TWA-R2PC&lang=fr",
              {"Content-Type": "application/x-www-form-urlencoded"}),
        fetch(server, "cross-site 403", "POST", "/", b"description=x",
              {"Content-Type": "application/x-www-form-urlencoded",
               "Sec-Fetch-Site": "cross-site"}),
        fetch(server, "413 (announced too large)", "POST", "/", None,
              {"Content-Type": "multipart/form-data; boundary=x",
               "Content-Length": str(1 << 40)}),
        fetch(server, "431 (head too large)", "GET", "/", None, {"X-Big": "a" * 20_000}),
        fetch(server, "400 (malformed head)", "GET", "/", None, {"Bad Header": "x"}),
    ]
    return pages


def best(test: str, result: str) -> bool:
    return result == BEST[test] or result == "sri-not-implemented-response-not-html"


def assert_best(pages: list[Answer]) -> None:
    problems = []
    for answer in pages:
        if len([p for v in answer.values("content-security-policy") for p in v.split(",")]) != 1:
            problems.append(f"{answer.what}: not exactly one CSP policy")
        score = observatory(answer)
        worse = {test: result for test, result in score.results.items() if not best(test, result)}
        if worse or score.grade != "A+":
            problems.append(f"{answer.what} ({answer.status}): {score.grade} {score.score} "
                            f"{worse}")
    assert problems == []


def test_every_monitor_page_scores_a_plus(server: Server) -> None:
    pages = every_page(server)
    statuses = {a.what: a.status for a in pages}
    assert statuses["receipt"] == 200 and statuses["404"] == 404
    assert statuses["413 (announced too large)"] == 413
    assert statuses["431 (head too large)"] == 431 and statuses["cross-site 403"] == 403
    assert {s for s in statuses.values()} >= {200, 400, 403, 404, 405, 413, 431}
    assert_best(pages)
    assert [score.score for score in map(observatory, pages)] == [130] * len(pages)


def test_pages_of_a_busy_or_full_station_score_a_plus(station: Station, tmp_path: Path) -> None:
    size_file = tmp_path / "disk-size"
    size_file.write_text(str(10**12))
    server = start_server(station, tmp_path, extra_args=[
        "--max-submissions-per-minute", "1", "--submission-window", "3600",
        "--min-free-mib", "64"], env={"REPORTER_TEST_DISK_SIZE_FILE": str(size_file)})
    try:
        used = sum(p.stat().st_size for p in station.path.rglob("*") if p.is_file())
        size_file.write_text(str(used + 32 * 1024 * 1024))
        pages = [form_post(server, "507 no room for files",
                           {"form_token": token(server), **flat(valid_report())},
                           files=[("attachments", "a.pdf", b"%PDF-1.7\n" + bytes(100))])]
        size_file.write_text(str(used + 1024 * 1024))
        pages.append(form_post(server, "507 full", {"form_token": token(server),
                                                    **flat(valid_report())}))
        size_file.write_text(str(10**12))
        pages.append(form_post(server, "taken", {"form_token": token(server),
                                                 **flat(valid_report())}))
        pages.append(form_post(server, "429 shed", {"form_token": token(server),
                                                    **flat(valid_report())}))
        assert [a.status for a in pages] == [507, 507, 200, 429]
        assert_best(pages)
    finally:
        server.stop()


def test_captive_portal_answers_score_a_plus(station: Station, tmp_path: Path) -> None:
    server = start_server(station, tmp_path, extra_args=["--hotspot"])
    try:
        pages = [fetch(server, f"{host}{path}", "GET", path, host=host) for host, path in (
            ("connectivitycheck.gstatic.com", "/generate_204"),
            ("captive.apple.com", "/hotspot-detect.html"),
            ("www.msftconnecttest.com", "/connecttest.txt"),
            ("detectportal.firefox.com", "/success.txt"))]
        assert {a.status for a in pages} == {302}
        assert_best(pages)
    finally:
        server.stop()


def test_the_scorer_fails_what_the_observatory_fails(server: Server) -> None:
    """The control: the station's own headers, changed as the Observatory would mind."""
    page = fetch(server, "form", "GET", "/")
    assert observatory(page).grade == "A+"

    def changed(drop: str = "", add: tuple[str, str] | None = None) -> Score:
        headers = [(n, v) for n, v in page.headers if n.lower() != drop]
        return observatory(Answer("changed", 200, headers + ([add] if add else []), page.body))

    # A cookie without Secure over HTTP: what the issue recorded before cookies went.
    with_cookie = changed(add=("Set-Cookie", "session=x; HttpOnly; SameSite=Lax; Path=/"))
    assert with_cookie.results["cookies"] == "cookies-session-without-secure-flag"
    assert with_cookie.grade == "C+"
    assert changed(add=("Set-Cookie", "csrf=x; HttpOnly; SameSite=Lax")).grade == "B+"
    assert changed(drop="cross-origin-resource-policy").score == 120
    assert changed(drop="x-content-type-options").grade == "A+"  # 125: still A+, not best
    assert changed(drop="x-content-type-options").results["x-content-type-options"] != \
        BEST["x-content-type-options"]
    assert changed(drop="content-security-policy").grade == "B"  # no CSP, and no XFO bonus
    unsafe = ("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'")
    assert observatory(Answer("changed", 200, [*[(n, v) for n, v in page.headers
                                                 if n.lower() != "content-security-policy"],
                                               unsafe], page.body)).results[
        "content-security-policy"] == "csp-implemented-with-unsafe-inline"
    assert changed(add=("Access-Control-Allow-Origin", ORIGIN)).results[
        "cross-origin-resource-sharing"] != BEST["cross-origin-resource-sharing"]
    assert changed(drop="referrer-policy").score == 125
