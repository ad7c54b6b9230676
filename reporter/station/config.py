"""The station's runtime configuration: one frozen dataclass, loaded once.

Sources, in order: defaults, then the environment (``REPORTER_*``), then
what the caller passes (the CLI's options, or a test's overrides). Nothing is
read at import time. A bad value raises ``ConfigError`` naming the setting.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from reporter.errors import ConfigError

DEFAULT_INSTANCE = "instance"
# A text-only report is at most ~80 KB of UTF-8 after form encoding (20,000
# characters of up to 4 bytes, percent-encoded): 1 MiB leaves ample room while
# keeping every request body in memory (see SECURITY.md, "temporary files").
DEFAULT_MAX_BODY = 1024 * 1024
# Attachments of one report together: 500 MB, as SecureDrop. They stream
# through encryption (``submission.py``), so this bounds disk, not memory.
DEFAULT_MAX_ATTACHMENT_BYTES = 500 * 1000 * 1000
DEFAULT_MAX_ATTACHMENTS = 20
# A body up to this much above the limits is still read, so a file slightly
# too large gets its message beside the field and the typed text is kept;
# beyond it, the request is refused from its Content-Length before reading.
UPLOAD_SLACK = 64 * 1024 * 1024
DEFAULT_FORM_TOKEN_LIFETIME = 4 * 3600
# Submissions the whole station takes a minute (ratelimit.py): 60 at once, then
# one a second. A field day of a coalition's monitors never comes near it;
# a flood is held to about 86,000 junk reports a day instead of millions,
# and cannot fill the form ledger (100,000 forms in 4 hours).
DEFAULT_MAX_SUBMISSIONS_PER_MINUTE = 60
# The disk guard (diskspace.py): files refused below this, everything below a quarter.
DEFAULT_MIN_FREE_MIB = 512
# Settings that no longer exist. The station sets no cookie, so
# REPORTER_SECURE_COOKIES has nothing left to protect and is ignored; a lifetime
# chosen under the old name must not be silently replaced by the default.
# diskspace.TEST_HOOK: fault injection for tests, documented there.
TEST_DISK_HOOK = "REPORTER_TEST_DISK_SIZE_FILE"
RENAMED = {"REPORTER_CSRF_TIME_LIMIT": "REPORTER_FORM_TOKEN_LIFETIME"}


@dataclass(frozen=True)
class Config:
    instance_path: Path
    db_key: bytes = field(repr=False)
    max_body_bytes: int = DEFAULT_MAX_BODY  # the text of a report (form fields)
    max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES  # 0: no attachments
    max_attachments: int = DEFAULT_MAX_ATTACHMENTS
    # How long a form page can be used to send (formtoken.py): a monitor on a
    # slow Tor circuit may take a long time over a report, and its upload too.
    form_token_lifetime: int = DEFAULT_FORM_TOKEN_LIFETIME
    # Also serve the in-progress catalogues (not in translations/LINGUAS), so
    # a translator can see unfinished work. Never on a station in the field.
    preview_languages: bool = False
    # Submissions the whole station takes per ``submission_window`` seconds; 0: no limit.
    max_submissions_per_minute: int = DEFAULT_MAX_SUBMISSIONS_PER_MINUTE
    submission_window: float = 60.0  # seconds; changed only by tests
    # Free space kept on the instance's file system (diskspace.py); 0: no guard.
    min_free_mib: int = DEFAULT_MIN_FREE_MIB
    # Answer phones' captive-portal checks with the form (web/hotspot.py).
    hotspot: bool = False
    # Fault injection for tests only (diskspace.TEST_HOOK): a simulated disk size.
    disk_size_file: Path | None = None
    testing: bool = False

    def __post_init__(self) -> None:
        if len(self.db_key) != 32:
            raise ConfigError("db_key must be the 32-byte key derived from the passphrase")
        if not 64 * 1024 <= self.max_body_bytes <= 16 * 1024 * 1024:
            raise ConfigError(
                "REPORTER_MAX_BODY_BYTES must be between 65536 and 16777216 bytes"
            )
        if not 0 <= self.max_attachment_bytes <= 64 * 1024 ** 3:
            raise ConfigError("REPORTER_MAX_ATTACHMENT_BYTES must be between 0 (no "
                              "attachments) and 68719476736 bytes")
        if not 1 <= self.max_attachments <= 255:
            raise ConfigError("REPORTER_MAX_ATTACHMENTS must be between 1 and 255")
        if not 600 <= self.form_token_lifetime <= 86_400:
            raise ConfigError("REPORTER_FORM_TOKEN_LIFETIME must be between 600 and 86400 "
                              "seconds (10 minutes to a day)")
        if not 0 <= self.max_submissions_per_minute <= 1_000_000:
            raise ConfigError("REPORTER_MAX_SUBMISSIONS_PER_MINUTE (--max-submissions-per-"
                              "minute) must be between 0 (no limit) and 1000000")
        if not 0 < self.submission_window <= 3600:
            raise ConfigError("the submission window must be between 0 and 3600 seconds")
        if not 0 <= self.min_free_mib <= 16 * 1024 * 1024:
            raise ConfigError("REPORTER_MIN_FREE_MIB (--min-free-mib) must be between 0 (no "
                              "disk guard) and 16777216 MiB")

    @property
    def min_free_bytes(self) -> int:
        return self.min_free_mib * 1024 * 1024

    @property
    def max_request_bytes(self) -> int:
        """The largest request body read at all (text, attachments and slack)."""
        slack = UPLOAD_SLACK if self.max_attachment_bytes else 0
        return self.max_body_bytes + self.max_attachment_bytes + slack


def instance_from_env(explicit: str | os.PathLike[str] | None = None,
                      environ: Mapping[str, str] | None = None) -> Path:
    """``--instance`` if given, else ``REPORTER_INSTANCE``, else ``./instance``."""
    env = os.environ if environ is None else environ
    return Path(explicit or env.get("REPORTER_INSTANCE") or DEFAULT_INSTANCE).absolute()


def _int_setting(env: Mapping[str, str], name: str) -> int | None:
    raw = env.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None


def _bool_setting(env: Mapping[str, str], name: str) -> bool | None:
    raw = env.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}")


def load_config(instance_path: Path, db_key: bytes, *,
                environ: Mapping[str, str] | None = None, **overrides: Any) -> Config:
    env = os.environ if environ is None else environ
    for old, new in RENAMED.items():
        if env.get(old):
            raise ConfigError(f"{old} is now {new} (the form's lifetime, in seconds): "
                              "rename it")
    values: dict[str, Any] = {}
    for attr, name, parse in (
        ("max_body_bytes", "REPORTER_MAX_BODY_BYTES", _int_setting),
        ("max_attachment_bytes", "REPORTER_MAX_ATTACHMENT_BYTES", _int_setting),
        ("max_attachments", "REPORTER_MAX_ATTACHMENTS", _int_setting),
        ("form_token_lifetime", "REPORTER_FORM_TOKEN_LIFETIME", _int_setting),
        ("preview_languages", "REPORTER_PREVIEW_LANGUAGES", _bool_setting),
        ("max_submissions_per_minute", "REPORTER_MAX_SUBMISSIONS_PER_MINUTE", _int_setting),
        ("min_free_mib", "REPORTER_MIN_FREE_MIB", _int_setting),
        ("hotspot", "REPORTER_HOTSPOT", _bool_setting),
    ):
        value = parse(env, name)
        if value is not None:
            values[attr] = value
    if env.get(TEST_DISK_HOOK):
        values["disk_size_file"] = Path(env[TEST_DISK_HOOK])
    config = Config(instance_path=instance_path, db_key=db_key, **values)
    return replace(config, **overrides) if overrides else config
