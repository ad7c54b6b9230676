"""The inbox's filter form: the query string of ``GET /``, read into ``filters.Filters``.

The filters are those of ``reporter review list`` (``docs/review.md``,
"Filters"), with the same meaning, since they become the same ``Filters``;
the form is a GET form, so a filtered inbox is a link a reviewer can
bookmark. Every value is checked here, and a wrong one is named beside its
field in the reviewer's language (the page shows what was typed, escaped,
and no reports), never a 500. ``after`` / ``before`` are keyset positions
(``listing.PageKey``); a malformed one is ignored (the newest page is shown).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import urlencode

from flask_babel import lazy_gettext as _l

from reporter.formats.report import INCIDENT_TYPES, ISO_DAY, KINDS, PERPETRATORS, SOURCES
from reporter.review.filters import STATION_HEX, Filters, InvalidFilter
from reporter.review.listing import PageKey
from reporter.review.workflow_schema import STATUSES

PAGE_SIZE = 50
MAX_TEXT = 200  # characters in a text filter
# The names in the query string, in the form's order.
FIELDS = ("q", "site", "type", "perpetrator", "source", "kind", "station", "from", "to",
          "files", "status", "tag", "sensitive")
_CHOICES = {"type": INCIDENT_TYPES, "perpetrator": PERPETRATORS, "source": SOURCES,
            "kind": KINDS, "status": STATUSES, "sensitive": ("1", "0")}


@dataclass(frozen=True)
class InboxQuery:
    values: dict[str, str]  # every filter as typed (to fill the form again)
    filters: Filters | None  # None when a value is wrong
    errors: dict[str, str] = field(default_factory=dict)  # field -> message, translated
    after: PageKey | None = None
    before: PageKey | None = None

    def link(self, **position: str) -> str:
        """The query string of this filter (and a page position: ``after=`` or
        ``before=``): for the pages' links, so paging keeps the filter."""
        pairs = [(k, v) for k, v in self.values.items() if v]
        pairs += [(k, v) for k, v in position.items() if v]
        return urlencode(pairs)


def _day(text: str) -> str | None:
    if not ISO_DAY.fullmatch(text):
        return None
    try:
        date.fromisoformat(text)
    except ValueError:
        return None
    return text


def parse(args: Mapping[str, str]) -> InboxQuery:
    """The filters in ``args`` (a request's query string), each checked."""
    values = {name: str(args.get(name, "") or "").strip() for name in FIELDS}
    errors: dict[str, str] = {}
    for name in ("q", "site", "tag"):
        if len(values[name]) > MAX_TEXT:
            errors[name] = str(_l("Use at most %(max)s characters.", max=MAX_TEXT))
    for name, codes in _CHOICES.items():
        if values[name] and values[name] not in codes:
            errors[name] = str(_l("Choose one of the list."))
    station = values["station"].lower()
    if station and not STATION_HEX.fullmatch(station):
        errors["station"] = str(_l("Choose one of the list."))
    for name in ("from", "to"):
        if values[name] and _day(values[name]) is None:
            errors[name] = str(_l("Write a date as YYYY-MM-DD, for example 2026-03-14."))
    if (values["from"] and values["to"] and not errors.keys() & {"from", "to"}
            and values["from"] > values["to"]):
        errors["to"] = str(_l("The end date is before the start date."))
    values["files"] = "1" if values["files"] == "1" else ""
    after = _position(args.get("after"))
    before = None if after is not None else _position(args.get("before"))
    if errors:
        return InboxQuery(values, None, errors)
    try:
        filters = Filters(
            site=values["site"] or None, incident_type=values["type"] or None,
            date_from=values["from"] or None, date_to=values["to"] or None,
            search=values["q"] or None, kind=values["kind"] or None,
            station=station or None, perpetrator=values["perpetrator"] or None,
            source=values["source"] or None, with_attachments=values["files"] == "1",
            status=values["status"] or None, tag=values["tag"] or None,
            sensitive={"1": True, "0": False}.get(values["sensitive"]))
    except InvalidFilter:  # everything was checked above; kept as a last guard
        return InboxQuery(values, None, {"q": str(_l("Check the filters."))})
    return InboxQuery(values, filters, {}, after, before)


def _position(value: str | None) -> PageKey | None:
    if not value:
        return None
    try:
        return PageKey.parse(value)
    except InvalidFilter:
        return None
