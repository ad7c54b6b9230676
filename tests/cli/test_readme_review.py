"""The README's reviewer commands, run as written against a station set up as
``make run``'s demo sets one up (deploy/demo-station.sh): what a newcomer types
must find what the demo holds (issue 11, section 4)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from reporter.station.intake import accept, build_report
from tests.conftest import Station, valid_report

ROOT = Path(__file__).resolve().parents[2]


def readme_command(start: str) -> list[str]:
    """The README line that starts with ``start``, its comment dropped, as argv."""
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        if line.startswith(start):
            return shlex.split(line, comments=True)
    raise AssertionError(f"the README has no line starting {start!r}")


def demo_sites() -> list[str]:
    script = (ROOT / "deploy" / "demo-station.sh").read_text(encoding="utf-8")
    match = re.search(r"^\s*for site in (.+); do$", script, re.M)
    assert match, "deploy/demo-station.sh no longer adds its sites in one loop"
    return shlex.split(match.group(1))


def test_the_readme_list_example_finds_the_demo_report(run, station: Station,  # type: ignore[no-untyped-def]
                                                       key_file: Path, tmp_path: Path) -> None:
    sites = demo_sites()
    with station.store() as store:
        for site in sites:
            store.add_site(site)
        # What a newcomer sends first from the demo's form: the first site of its list.
        report = build_report(valid_report(site=sites[0]), "en")
        accept(report, [r.public_key for r in store.recipients()],
               lambda e: store.append_report(e, station.station_id))
    assert run("export", "--out", str(tmp_path / "bundle-1.rptr"))[0] == 0
    code, _, err = run("review", "import", str(tmp_path / "bundle-1.rptr"),
                       "--key", str(key_file))
    assert code == 0, err

    argv = readme_command("reporter review list --site")
    assert argv[:3] == ["reporter", "review", "list"]
    code, out, err = run(*argv[1:])
    assert code == 0, err
    assert out != "No reports match.\n", (argv, sites[0])
    [_header, row] = out.splitlines()
    assert report.receipt in row and "Soldiers fired" in row
