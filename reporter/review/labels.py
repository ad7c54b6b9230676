"""The words reviewers read for each field and code of a report.

One list for both faces of the review database: ``reporter review show``
prints them as they are (reviewer CLI messages are English), and the review
desk (``review/desk/``) shows each through gettext in the ``reviewer``
domain, so a reviewer in Kinshasa reads "Qui l'a fait". ``N_`` only marks a
string for extraction (``make translations``); it translates nothing.

The codes are the report's own (``formats/report.py``): stable English words
that never change with the language of the form the monitor used.
"""

from __future__ import annotations

from reporter.formats import report


def N_(text: str) -> str:
    """Mark ``text`` for the reviewer catalogue; translate it where it is shown."""
    return text


TYPE_LABELS = {
    "shooting": N_("Shooting or other violence"),
    "beating-torture": N_("Beating or torture"),
    "sexual-violence": N_("Sexual violence"),
    "killing": N_("Killing"),
    "forced-labour": N_("Forced labour"),
    "child-labour": N_("Child labour"),
    "eviction-destruction": N_("Eviction or destruction of homes"),
    "smuggling": N_("Smuggling or illicit trade"),
    "environmental-harm": N_("Environmental harm (water, land, air)"),
    "intimidation-of-monitors": N_("Threats or intimidation against monitors"),
    "other": N_("Something else"),
}
PERPETRATOR_LABELS = {
    "state-security": N_("Army or other state security forces"),
    "police": N_("Police"),
    "private-security": N_("Private security guards"),
    "armed-group": N_("Armed group or militia"),
    "mine-operator": N_("Mine company or its staff"),
    "unknown": N_("Unknown"),
    "other": N_("Someone else"),
}
SOURCE_LABELS = {"witnessed": N_("The monitor saw it"),
                 "heard": N_("Someone told the monitor")}
CONTACT_LABELS = {"none": N_("Do not contact the monitor"),
                  "contact": N_("The monitor may be contacted")}
KIND_LABELS = {"incident": N_("first report"), "follow-up": N_("follow-up")}
CODE_LABELS: dict[str, dict[str, str]] = {
    "incident_types": TYPE_LABELS, "perpetrators": PERPETRATOR_LABELS,
    "source": SOURCE_LABELS, "contact": CONTACT_LABELS,
}
FIELD_LABELS = {
    "incident_types": N_("What happened"),
    "incident_date": N_("Incident date"),
    "date_approximate": N_("Approximate date"),
    "site": N_("Mine site"),
    "site_other": N_("Site (not in the list)"),
    "location": N_("Where exactly"),
    "people_affected": N_("People affected"),
    "children_affected": N_("Children affected"),
    "women_affected": N_("Women or girls affected"),
    "perpetrators": N_("Who did it"),
    "perpetrator_other": N_("Someone else (who)"),
    "source": N_("How the monitor knows"),
    "monitor_code": N_("Monitor code"),
    "contact": N_("Contact"),
    "contact_details": N_("Contact details"),
    "description": N_("Description"),
}
NOT_GIVEN = N_("(not given)")

assert list(TYPE_LABELS) == list(report.INCIDENT_TYPES)  # noqa: S101
assert list(PERPETRATOR_LABELS) == list(report.PERPETRATORS)  # noqa: S101
assert list(SOURCE_LABELS) == list(report.SOURCES)  # noqa: S101
assert list(CONTACT_LABELS) == list(report.CONTACT_CHOICES)  # noqa: S101


def field_names(report_: report.Report) -> list[str]:
    """The fields ``show`` lists, in order: every known field of a first report (an
    empty one shows as not given), only those a follow-up has, then any field this
    version does not know (from a newer or a modified station), sorted."""
    fields = report_.fields
    names = [n for n in FIELD_LABELS if n in fields or report_.kind == "incident"]
    return names + sorted(n for n in fields if n not in FIELD_LABELS)
