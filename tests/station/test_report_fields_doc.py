"""What the station seals in ``fields`` is what docs/envelope-format.md says.

A report and a follow-up go through the real form (the app's test client);
their envelopes are opened with the reviewer's key, and their ``fields`` are
compared with the tables *`fields` of `incident/1`* and *`fields` of
`follow-up/1`*: the same keys, and values of the documented kinds.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from reporter.formats import envelope
from reporter.formats.report import INCIDENT_TYPES, PERPETRATORS, Report
from tests.conftest import Station, form_token, valid_report

DOC = Path(__file__).resolve().parents[2] / "docs" / "envelope-format.md"


def documented_keys(form: str) -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    start = text.index(f"### `fields` of `{form}`")
    end = text.index("\n### ", start + 1)
    return re.findall(r"^\| `([a-z_]+)` \|", text[start:end], re.MULTILINE)


def sealed(station: Station) -> list[Report]:
    with station.store() as store:
        return [Report.from_body(envelope.open_envelope(r.envelope, station.reviewer))
                for r in store.reports()]


def post(client: Any, path: str, data: dict[str, Any]) -> None:
    token = form_token(client.get(path).get_data(as_text=True))
    assert client.post(path, data={"form_token": token, **data}).status_code == 200


def test_the_sealed_fields_are_the_documented_ones(client: Any, station: Station) -> None:
    post(client, "/", valid_report(perpetrators=["police"], people_affected="4",
                                   children_affected="1", location=" pit 4 "))
    [first] = sealed(station)
    post(client, "/follow-up", {"receipt": first.receipt.lower(), "description": "Encore."})
    first, second = sealed(station)
    keys = documented_keys("incident/1")
    assert len(keys) == 16
    assert first.form == "incident/1" and sorted(first.fields) == sorted(keys)
    fields = first.fields
    assert set(fields["incident_types"]) <= set(INCIDENT_TYPES)
    assert set(fields["perpetrators"]) <= set(PERPETRATORS)
    assert fields["location"] == "pit 4"  # stripped, as documented
    assert (fields["people_affected"], fields["children_affected"],
            fields["women_affected"]) == (4, 1, None)
    assert fields["site"] == "Marange" and fields["site_other"] == ""
    assert fields["contact"] == "none" and fields["contact_details"] == ""
    assert second.form == "follow-up/1" and list(second.fields) == documented_keys("follow-up/1")
    assert second.follows == first.receipt  # canonical form, whatever was typed
