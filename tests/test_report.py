"""reporter.report: the report and its canonical JSON body (schema 1)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reporter.errors import InvalidReport
from reporter.report import Report

RECEIPT = "7KQM-3XHD-9TWA-R25V"
FIRST = "0PEN-1NGR-EP0R-T5DK"


def incident(**overrides: object) -> Report:
    values: dict[str, object] = {
        "kind": "incident",
        "receipt": RECEIPT,
        "locale": "fr",
        "submitted": "2026-11-02",
        "fields": {"site": "Marange", "description": "Tirs près de la rivière", "count": 4},
    }
    values.update(overrides)
    return Report(**values)  # type: ignore[arg-type]


def test_the_canonical_body_is_exactly_this() -> None:
    assert incident().to_body() == (
        '{"fields":{"count":4,"description":"Tirs près de la rivière","site":"Marange"},'
        '"follows":null,"form":"incident/1","kind":"incident","locale":"fr",'
        '"receipt":"7KQM-3XHD-9TWA-R25V","schema":1,"submitted":"2026-11-02"}'
    ).encode()


def test_canonical_json_rules() -> None:
    body = incident().to_body()
    document = json.loads(body)
    # Sorted keys at every level, no insignificant white space, UTF-8 without \\u escapes.
    assert body == json.dumps(document, sort_keys=True, separators=(",", ":"),
                              ensure_ascii=False).encode("utf-8")
    assert "près".encode() in body
    assert b"\\u" not in body
    assert b" " not in body.replace("Tirs près de la rivière".encode(), b"")
    assert set(document) == {"schema", "kind", "form", "receipt", "follows", "locale",
                             "submitted", "fields"}
    assert document["schema"] == 1


def test_same_report_same_bytes_whatever_the_key_order() -> None:
    a = incident(fields={"a": 1, "b": {"y": [1, 2], "x": "é"}})
    b = incident(fields={"b": {"x": "é", "y": [1, 2]}, "a": 1})
    assert a.to_body() == b.to_body()
    assert a.to_body() == incident(fields={"a": 1, "b": {"y": [1, 2], "x": "é"}}).to_body()


def test_round_trip() -> None:
    report = incident()
    assert Report.from_body(report.to_body()) == report
    follow_up = incident(kind="follow-up", follows=FIRST, form="follow-up/1", fields={})
    assert Report.from_body(follow_up.to_body()) == follow_up


@given(fields=st.dictionaries(
    st.text(max_size=10),
    st.one_of(st.text(max_size=20), st.integers(), st.booleans(), st.none(),
              st.lists(st.text(max_size=5), max_size=3)),
    max_size=6))
def test_round_trip_of_arbitrary_fields(fields: dict[str, object]) -> None:
    report = incident(fields=fields)
    body = report.to_body()
    assert Report.from_body(body) == report
    assert Report.from_body(body).to_body() == body


def test_receipt_codes_are_normalised_when_read() -> None:
    body = incident(receipt=RECEIPT.lower().replace("-", " ")).to_body()
    assert Report.from_body(body).receipt == RECEIPT


def body(**changes: object) -> bytes:
    document = json.loads(incident().to_body())
    for key, value in changes.items():
        if value is ...:
            del document[key]
        else:
            document[key] = value
    return json.dumps(document).encode()


@pytest.mark.parametrize("data", [
    b"",
    b"not json",
    b"\xff\xfe",
    b"[]",
    b'"report"',
    b"null",
    body(schema=2),
    body(schema="1"),
    body(schema=...),
    body(kind="complaint"),
    body(kind=None),
    body(kind=...),
    body(fields=[]),
    body(fields="text"),
    body(fields=...),
    body(receipt="7KQM-3XHD-9TWA-R25W"),  # one character off: the check fails
    body(receipt="7KQM-3XHD"),
    body(receipt=...),
    body(follows=FIRST),  # an incident names no first report
    body(kind="follow-up"),  # a follow-up without follows
    body(kind="follow-up", follows="0PEN-1NGR-EP0R-T5DX"),  # bad receipt in follows
    body(submitted="yesterday"),
    body(submitted="2026-02-30"),
    body(submitted=...),
], ids=lambda d: d[:60].decode("utf-8", "replace"))
def test_from_body_refusals(data: bytes) -> None:
    with pytest.raises(InvalidReport):
        Report.from_body(data)


@pytest.mark.parametrize("bad", ["20261102", "2026-W44-1", "2026-02-30", 20261102, "yesterday"])
def test_a_malformed_incident_date_is_refused(bad: object) -> None:
    from reporter.errors import InvalidReport
    from reporter.receipt import new_receipt
    from reporter.report import Report

    body = Report(kind="incident", receipt=new_receipt(), locale="en", submitted="2026-11-02",
                  fields={"incident_date": bad}).to_body()
    with pytest.raises(InvalidReport, match=r"incident date|out of range"):
        Report.from_body(body)
