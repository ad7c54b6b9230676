"""Realistic report submissions (standard library only).

A report the way a monitor would fill in the form: two incident types, a
date, a site from the station's list, a location, counts, a perpetrator and
a description of about 2,000 characters. Form-urlencoded, that is about
2.5 KB per request. Descriptions vary from request to request.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from urllib.parse import urlencode

SITE = "Marange"
DESCRIPTION_CHARS = 2000

_SENTENCES = (
    "Early in the morning a group of soldiers arrived at the diggings near the river.",
    "They ordered everyone to leave the pits and lie on the ground.",
    "Some of the diggers tried to run towards the village and shots were fired.",
    "Two young men were hit, one in the leg and one in the shoulder.",
    "The wounded were carried to the clinic in a wheelbarrow because no car came.",
    "The soldiers took the gravel bags and the sieves and loaded them on a truck.",
    "A woman who sells food at the site was beaten when she asked for her money back.",
    "Several children were working at the washing pools when this happened.",
    "The guards from the company watched from the fence and did nothing.",
    "Later the same afternoon the men came back and burned three shelters.",
    "People say the same unit has come every week since the rains started.",
    "Nobody dared to go to the police post because the officers were there too.",
    "The water downstream has turned grey and the goats that drank it are sick.",
    "A monitor who took photographs was threatened and told to delete them.",
    "The village chief says he has written to the district office twice.",
    "Families are now sleeping at the church because their houses are gone.",
    "One of the diggers is still missing and his brother is looking for him.",
    "The trucks leave at night towards the border without stopping at the checkpoint.",
)


def description(rng: random.Random, chars: int = DESCRIPTION_CHARS) -> str:
    parts: list[str] = []
    length = 0
    while length < chars:
        sentence = rng.choice(_SENTENCES)
        parts.append(sentence)
        length += len(sentence) + 1
    return " ".join(parts)[:chars].rstrip()


def report_fields(rng: random.Random) -> list[tuple[str, str]]:
    """The form fields of one submission, in form order (without the form token)."""
    incident = date.today() - timedelta(days=rng.randint(1, 60))
    people = rng.randint(5, 40)
    return [
        ("lang", "en"),
        ("incident_types", "shooting"),
        ("incident_types", "beating-torture"),
        ("incident_day", str(incident.day)),
        ("incident_month", str(incident.month)),
        ("incident_year", str(incident.year)),
        ("date_approximate", ""),
        ("site", SITE),
        ("site_other", ""),
        ("location", "Near the river crossing below pit 7, on the road to the market"),
        ("people_affected", str(people)),
        ("children_affected", str(rng.randint(0, people // 3))),
        ("women_affected", str(rng.randint(0, people // 2))),
        ("perpetrators", "state-security"),
        ("perpetrator_other", ""),
        ("description", description(rng)),
        ("source", "witnessed"),
        ("monitor_code", ""),
        ("contact", "none"),
        ("contact_details", ""),
    ]


def form_body(form_token: str, rng: random.Random) -> bytes:
    """One urlencoded POST body, carrying ``form_token`` (one form, one report)."""
    return urlencode([("form_token", form_token), *report_fields(rng)]).encode("ascii")


def report_fields_dict(rng: random.Random) -> dict[str, object]:
    """The same answers as plain data, as ``IncidentForm.to_fields`` would give them."""
    fields = dict(report_fields(rng))
    return {
        "incident_types": ["shooting", "beating-torture"],
        "incident_date": date(int(fields["incident_year"]), int(fields["incident_month"]),
                              int(fields["incident_day"])).isoformat(),
        "date_approximate": "",
        "site": SITE,
        "site_other": "",
        "location": fields["location"],
        "people_affected": int(fields["people_affected"]),
        "children_affected": int(fields["children_affected"]),
        "women_affected": int(fields["women_affected"]),
        "perpetrators": ["state-security"],
        "perpetrator_other": "",
        "description": fields["description"],
        "source": "witnessed",
        "monitor_code": "",
        "contact": "none",
        "contact_details": "",
    }
