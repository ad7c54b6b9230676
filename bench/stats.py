"""Rates and latency percentiles."""

from __future__ import annotations

import math
from typing import Any


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of already sorted values (None when empty)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def summarize(latencies: list[float], duration: float, *, errors: dict[str, int],
              server_cpu: float | None, client_cpu: float | None,
              machine_busy: float | None = None) -> dict[str, Any]:
    """One scenario's numbers: ``*_cpu`` are CPU-seconds used in the window."""
    values = sorted(latencies)
    ok = len(values)

    def ms(v: float | None) -> float | None:
        return None if v is None else round(v * 1000, 3)

    return {
        "ok": ok,
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "duration_s": duration,
        "rate_per_s": round(ok / duration, 1) if duration > 0 else 0.0,
        "p50_ms": ms(percentile(values, 0.50)),
        "p90_ms": ms(percentile(values, 0.90)),
        "p99_ms": ms(percentile(values, 0.99)),
        "max_ms": ms(values[-1] if values else None),
        # CPU used in the window, as a percentage of one core.
        "server_cpu_pct": None if server_cpu is None else round(100 * server_cpu / duration, 1),
        "client_cpu_pct": None if client_cpu is None else round(100 * client_cpu / duration, 1),
        "client_cpu_us_per_req": None if client_cpu is None or not ok
        else round(1e6 * client_cpu / ok, 1),
        "machine_busy_pct": machine_busy,
    }
