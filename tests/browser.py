"""Headless Chromium for browser tests, or a clear reason it is missing.

On a user's machine without Chromium or Playwright the browser tests skip and
say why; under CI (``REPORTER_CI=1``, set by ``.ci/run``) a missing browser is
a failure, because CI installs both.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/lib/chromium/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def _unavailable(reason: str) -> None:
    if os.environ.get("REPORTER_CI") == "1":
        pytest.fail(f"browser tests cannot run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed (pip install playwright; "
                     "never 'playwright install')")
    executable = CHROMIUM if CHROMIUM.exists() else None
    if executable is None and shutil.which("chromium") is None:
        _unavailable("Chromium is not installed (apt-get install chromium)")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(executable or shutil.which("chromium")), args=ARGS)
        yield instance
        instance.close()


def artifact(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name
