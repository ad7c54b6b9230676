"""``python -m bench.formtokens``: the cost of form tokens and of a full ledger.

Issues, verifies and claims 100,000 submissions (the ledger's capacity) in
one process and prints the time per submission and the memory the full
ledger holds (RSS before and after). docs/benchmarks.md, "Form tokens".
"""

from __future__ import annotations

import time

from reporter.station.formtoken import DEFAULT_LIFETIME, FormTokens
from reporter.station.ledger import DEFAULT_CAPACITY, Claim, Ledger


def rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main() -> int:
    tokens = FormTokens()
    ledger = Ledger(DEFAULT_LIFETIME, tokens.now)
    before = rss_mib()
    started = time.perf_counter()
    for _ in range(DEFAULT_CAPACITY):
        token = tokens.verify(tokens.issue(), DEFAULT_LIFETIME)
        assert token is not None
        name = tokens.ledger_name(token)
        assert ledger.claim(name, token.issued) is Claim.NEW
        ledger.done(name)
    seconds = time.perf_counter() - started
    print(f"{len(ledger):,} submissions: {1e6 * seconds / DEFAULT_CAPACITY:.1f} µs each "
          f"(issue + verify + claim + done); the full ledger holds "
          f"{rss_mib() - before:.1f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
