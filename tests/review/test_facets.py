"""reporter.review.facets: the inbox's count beside each choice of a filter.

The oracle is ``count_reports``: a choice's count is the number of reports the
inbox holds once that choice is made, the other filters kept as they are.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reporter.formats.report import INCIDENT_TYPES, KINDS, PERPETRATORS, SOURCES
from reporter.review import facets, workflow
from reporter.review.db import ReviewDB
from reporter.review.filters import Filters
from reporter.review.listing import count_reports
from reporter.review.workflow_schema import STATUSES
from tests.review.test_reviewquery import REVIEW_PASSPHRASE, Sample, populate

# The ``Filters`` field behind each list, and the value a choice gives it.
CHOICES: dict[str, tuple[str, Any]] = {
    "type": ("incident_type", lambda c: c), "perpetrator": ("perpetrator", lambda c: c),
    "source": ("source", lambda c: c), "kind": ("kind", lambda c: c),
    "station": ("station", lambda c: c), "status": ("status", lambda c: c),
    "sensitive": ("sensitive", lambda c: c == "1"), "files": ("with_attachments", lambda c: True),
}


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    sample = populate(tmp_path_factory.mktemp("facets") / "review.db")
    with ReviewDB.open(sample.path, REVIEW_PASSPHRASE) as db:
        ids = sorted(sample.ids.values())
        workflow.set_status(db, ids[0], "verified", "Ada")
        workflow.set_status(db, ids[1], "duplicate", "Ada")
        workflow.set_status(db, ids[2], "verified", "Ada")
        workflow.set_sensitive(db, ids[2], True, "Ada")
        workflow.set_sensitive(db, ids[3], True, "Ada")
    return sample


@pytest.fixture
def db(sample: Sample) -> Iterator[ReviewDB]:
    with ReviewDB.open(sample.path, REVIEW_PASSPHRASE) as opened:
        yield opened


def every_choice(db: ReviewDB) -> dict[str, list[str]]:
    stations = [sid.hex() for sid, _key in db.stations()]
    return {"type": list(INCIDENT_TYPES), "perpetrator": list(PERPETRATORS),
            "source": list(SOURCES), "kind": list(KINDS), "station": stations,
            "status": list(STATUSES), "sensitive": ["1", "0"], "files": ["1"]}


FILTERS = [
    Filters(),
    Filters(incident_type="shooting"),
    Filters(search="soldiers"),
    Filters(site="marange"),
    Filters(source="heard"),
    Filters(status="verified", sensitive=True),
    Filters(kind="incident", perpetrator="police"),
    Filters(date_from="2026-03-01"),
    Filters(date_from="2026-03-01", date_to="2026-03-31", incident_type="child-labour"),
    Filters(search="zzzz-nothing"),
]


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: repr(f)[8:60])
def test_each_count_is_what_the_inbox_would_hold_with_that_choice(
        db: ReviewDB, filters: Filters) -> None:
    counts = facets.facet_counts(db, filters)
    assert set(counts) == set(facets.FACETS)
    checked = 0
    for name, choices in every_choice(db).items():
        field, value = CHOICES[name]
        for choice in choices:
            chosen = dataclasses.replace(filters, **{field: value(choice)})
            expected = count_reports(db, chosen)
            assert counts[name].get(choice, 0) == expected, (name, choice, filters)
            checked += expected
    assert checked > 0 or filters.search == "zzzz-nothing"


def test_a_lists_own_choice_does_not_empty_its_other_choices(db: ReviewDB) -> None:
    """Choosing 'police' leaves every other perpetrator's count as it was: the list
    shows what each choice would hold, not what the current one does."""
    unfiltered = facets.facet_counts(db, Filters())
    chosen = facets.facet_counts(db, Filters(perpetrator="police"))
    assert chosen["perpetrator"] == unfiltered["perpetrator"]
    assert chosen["perpetrator"]["state-security"] > 0
    assert sum(chosen["kind"].values()) == count_reports(db, Filters(perpetrator="police"))


def test_the_state_changes_with_an_import_or_a_workflow_change(sample: Sample,
                                                                 tmp_path: Path) -> None:
    with ReviewDB.open(sample.path, REVIEW_PASSPHRASE) as db:
        before = facets.state(db)
        workflow.set_status(db, max(sample.ids.values()), "under-review", "Ada")
        after = facets.state(db)
        assert after[0] == before[0] and after[1] > before[1]
        counts = facets.facet_counts(db, Filters())
        assert counts["status"]["under-review"] >= 1
    fresh = populate(tmp_path / "other.db")
    with ReviewDB.open(fresh.path, REVIEW_PASSPHRASE) as db:
        assert facets.state(db) == (max(fresh.ids.values()), 0)
