"""``reporter review serve`` refuses, before it listens, what it must not do: listen
where others can reach it without being told to, listen on every address, serve a
review database that is not there, lock after no time at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from reporter.cli.main import main
from tests.reviewing import new_review_db


def serve(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    try:
        code = main(["review", *args]) or 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    return code, capsys.readouterr().err


@pytest.fixture
def review_db(tmp_path: Path) -> Path:
    return new_review_db(tmp_path / "review.db")


@pytest.mark.parametrize("host", ["192.168.1.20", "10.0.0.5", "fe80::1"])
def test_another_address_is_refused_with_the_reason(capsys: pytest.CaptureFixture[str],
                                                    review_db: Path, host: str) -> None:
    code, err = serve(capsys, "--review-db", str(review_db), "serve", "--host", host)
    assert code == 1
    assert "decrypted reports" in err and "--allow-remote-host" in err and "SSH" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])  # noqa: S104
def test_every_address_is_refused_even_when_forced(capsys: pytest.CaptureFixture[str],
                                                   review_db: Path, host: str) -> None:
    code, err = serve(capsys, "--review-db", str(review_db), "serve", "--host", host,
                      "--allow-remote-host")
    assert code == 1 and "never listens on every address" in err


def test_a_name_is_refused(capsys: pytest.CaptureFixture[str], review_db: Path) -> None:
    code, err = serve(capsys, "--review-db", str(review_db), "serve", "--host",
                      "desk.example", "--allow-remote-host")
    assert code == 1 and "not an IP address" in err


def test_a_forced_address_that_is_not_this_computers_is_named(
        capsys: pytest.CaptureFixture[str], review_db: Path) -> None:
    code, err = serve(capsys, "--review-db", str(review_db), "serve", "--host",
                      "192.0.2.1", "--allow-remote-host", "--port", "1")
    assert code == 1
    assert "not an address of this computer" in err or "administrator" in err


def test_no_review_database(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, err = serve(capsys, "--review-db", str(tmp_path / "none.db"), "serve")
    assert code == 1 and "no review database" in err


@pytest.mark.parametrize("minutes", ["0", "-1", "1441", "soon"])
def test_idle_lock_must_be_a_sensible_number_of_minutes(capsys: pytest.CaptureFixture[str],
                                                        review_db: Path, minutes: str) -> None:
    code, err = serve(capsys, "--review-db", str(review_db), "serve", "--idle-lock", minutes)
    assert code == 2 and "--idle-lock" in err
