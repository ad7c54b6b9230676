"""The soak: a compressed field day against a real station, checked end to end.

``bench/soak.py`` drives ``reporter serve`` with concurrent monitors doing
everything monitors do (reports with 0 to 5 attachments of every accepted
kind, follow-ups, cut-off uploads, slow clients, double taps, form errors
with files, every language), idle and trickling sockets, an operator who
exports and purges meanwhile, and a ``kill -9`` of the server with a
restart. Then two reviewers import every bundle, and every acknowledged
report is compared field by field and byte for byte. ``python -m bench.soak
--minutes 30`` is the long run recorded in docs/benchmarks.md.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.soak import run

pytestmark = pytest.mark.slow


def test_a_compressed_field_day(tmp_path: Path) -> None:
    seconds = float(os.environ.get("REPORTER_SOAK_SECONDS", "75"))
    result = run(seconds / 60, monitors=4, threads=8, big=6 * 1024 * 1024,
                 kill_every=seconds / 2, export_every=seconds / 4, idle=60, trickling=10,
                 extract=60, work=tmp_path / "soak",
                 seed=int(os.environ.get("REPORTER_SOAK_SEED", "0")) or None)
    print(result.summary())
    log = (tmp_path / "soak" / "server.log").read_text(errors="replace").splitlines()
    said = [line for line in log if line.startswith(("WARNING", "ERROR"))]
    assert not result.problems, "\n".join([*result.problems[:30], "server log:", *said[-30:]])
    ledger = result.ledger
    assert result.kills >= 1, "the run never killed the server"
    assert len(ledger.acknowledged) >= 20, "too few reports went through to prove anything"
    assert ledger.requests["report"] and ledger.requests["upload cut off"]
    assert result.peak_rss_mib < 400, f"server peak RSS {result.peak_rss_mib:.0f} MiB"
