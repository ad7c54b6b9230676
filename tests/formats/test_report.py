"""reporter.formats.report: the report and its canonical JSON body (schema 2; schema 1 read)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reporter.errors import InvalidReport
from reporter.formats.attachment import ciphertext_size
from reporter.formats.report import Report

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
        '{"attachments":[],'
        '"fields":{"count":4,"description":"Tirs près de la rivière","site":"Marange"},'
        '"follows":null,"form":"incident/1","kind":"incident","locale":"fr",'
        '"receipt":"7KQM-3XHD-9TWA-R25V","schema":2,"submitted":"2026-11-02"}'
    ).encode()


def test_a_schema_1_body_is_still_read() -> None:
    body = (
        b'{"fields":{"site":"Marange"},"follows":null,"form":"incident/1","kind":"incident",'
        b'"locale":"fr","receipt":"7KQM-3XHD-9TWA-R25V","schema":1,"submitted":"2026-11-02"}'
    )
    report = Report.from_body(body)
    assert report.attachments == () and report.fields == {"site": "Marange"}


def attachment_json(**overrides: object) -> dict[str, object]:
    values: dict[str, object] = {
        "index": 0, "name": "wounds.jpg", "type": "image/jpeg", "size": 5000,
        "sha256": "ab" * 32, "ciphertext_size": ciphertext_size(5000),
        "ciphertext_hash": "cd" * 32,
    }
    values.update(overrides)
    return values


def with_attachments(*items: dict[str, object]) -> bytes:
    document = json.loads(incident().to_body())
    document["attachments"] = list(items)
    return json.dumps(document).encode()


def test_attachments_round_trip() -> None:
    report = Report.from_body(with_attachments(attachment_json(),
                                               attachment_json(index=1, name="note.ogg",
                                                               type="audio/ogg")))
    assert [a.name for a in report.attachments] == ["wounds.jpg", "note.ogg"]
    assert report.attachments[0].sha256 == bytes.fromhex("ab" * 32)
    assert Report.from_body(report.to_body()) == report


@pytest.mark.parametrize("bad", [
    {"index": 1},
    {"name": ""},
    {"name": "x" * 256},
    {"type": "not a type"},
    {"size": 0},
    {"size": True},
    {"size": 2 ** 41},
    {"ciphertext_size": 1},
    {"sha256": "AB" * 32},
    {"ciphertext_hash": "cd"},
])
def test_an_invalid_attachment_entry_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(InvalidReport, match="attachment 1"):
        Report.from_body(with_attachments(attachment_json(**bad)))


def test_too_many_attachments_are_refused() -> None:
    items = [attachment_json(index=i) for i in range(256)]
    with pytest.raises(InvalidReport, match="attachment list"):
        Report.from_body(with_attachments(*items))


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
                             "submitted", "fields", "attachments"}
    assert document["schema"] == 2


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
    body(schema=3),
    body(schema=True),
    body(attachments={}),
    body(attachments=[1]),
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
    from reporter.formats.receipt import new_receipt
    from reporter.formats.report import Report

    body = Report(kind="incident", receipt=new_receipt(), locale="en", submitted="2026-11-02",
                  fields={"incident_date": bad}).to_body()
    with pytest.raises(InvalidReport, match=r"incident date|out of range"):
        Report.from_body(body)
