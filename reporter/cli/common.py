"""Helpers shared by the station and reviewer commands."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from reporter.errors import PassphraseError


def read_passphrase(*, file: Path | None, env: str, prompt: str, confirm: bool,
                    option: str = "--passphrase-file") -> str:
    """From a file (first line), the environment, or an interactive prompt."""
    if file is not None:
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise PassphraseError(f"cannot read the passphrase file {file}: {exc}") from None
        if not lines or not lines[0]:
            raise PassphraseError(f"the passphrase file {file} is empty")
        return lines[0]
    value = os.environ.get(env)
    if value:
        return value
    if not sys.stdin.isatty():
        raise PassphraseError(
            f"no passphrase: run in a terminal to be asked, set {env}, "
            f"or use {option}"
        )
    entered: str = click.prompt(prompt, hide_input=True, confirmation_prompt=confirm)
    return entered


def noun(count: int, singular: str, many: str | None = None) -> str:
    """The English noun for ``count`` things: ``singular`` for exactly one, else
    ``many`` (by default ``singular + "s"``). Reviewer and operator CLI messages are
    English; a monitor's page never uses this (pages are translated with gettext)."""
    return singular if count == 1 else (many or singular + "s")


def plural(count: int, singular: str, many: str | None = None, *, grouped: bool = False) -> str:
    """``1 report``, ``3 reports``, ``0 reports`` (``grouped``: ``1,024 bytes``)."""
    shown = f"{count:,}" if grouped else str(count)
    return f"{shown} {noun(count, singular, many)}"
