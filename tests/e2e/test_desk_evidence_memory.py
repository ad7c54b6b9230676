"""An evidence package with large videos is streamed: the desk's memory does not
grow with it (a real ``review serve``, real bundles, real sizes; bench/evidence.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.evidence import GROWTH_TARGET_MIB, make_review_db, measure

pytestmark = pytest.mark.slow


def test_a_package_of_large_videos_keeps_the_desk_small(tmp_path: Path) -> None:
    review_db = make_review_db(tmp_path, videos=2, size_mib=80)
    result = measure(review_db, tmp_path, keep=True)
    assert result["package_bytes"] > 160 * (1 << 20)
    growth_mib = (result["package_hwm_kib"] - result["baseline_rss_kib"]) / 1024
    # Less than either video alone: neither was ever held whole.
    assert growth_mib < GROWTH_TARGET_MIB < 80 + 20, result
