"""reporter.station.config: the form's lifetime, and the settings that went with the cookie."""

from __future__ import annotations

from pathlib import Path

import pytest

from reporter.errors import ConfigError
from reporter.station.config import load_config

KEY = bytes(32)


def config(**env: str):  # type: ignore[no-untyped-def]
    return load_config(Path("/nonexistent"), KEY, environ=env)


def test_a_form_lives_four_hours_unless_the_operator_says_otherwise() -> None:
    assert config().form_token_lifetime == 4 * 3600
    assert config(REPORTER_FORM_TOKEN_LIFETIME="7200").form_token_lifetime == 7200


@pytest.mark.parametrize("value", ["599", "86401", "-1"])
def test_the_lifetime_is_ten_minutes_to_a_day(value: str) -> None:
    with pytest.raises(ConfigError, match="REPORTER_FORM_TOKEN_LIFETIME must be between 600"):
        config(REPORTER_FORM_TOKEN_LIFETIME=value)


def test_the_old_lifetime_setting_is_named_not_ignored() -> None:
    with pytest.raises(ConfigError, match="REPORTER_CSRF_TIME_LIMIT is now "
                                          "REPORTER_FORM_TOKEN_LIFETIME"):
        config(REPORTER_CSRF_TIME_LIMIT="21600")


def test_the_cookie_setting_is_gone_with_the_cookie() -> None:
    loaded = config(REPORTER_SECURE_COOKIES="1")
    assert not hasattr(loaded, "secure_cookies")
