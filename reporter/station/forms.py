"""The monitor-facing forms: the incident report and the follow-up.

Validated on the server only (the pages work with JavaScript off). Every
label, choice and error message goes through our own gettext catalogue,
including WTForms' built-in messages (see ``_CatalogueTranslations``), so a
language we ship is complete even where WTForms has no translation of its own.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import flask_babel
from babel.dates import get_month_names
from flask import request
from flask_babel import lazy_gettext as _l
from wtforms import (
    Field,
    Form,
    HiddenField,
    IntegerField,
    MultipleFileField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Optional, Regexp, ValidationError

from reporter.errors import InvalidReceipt
from reporter.formats import report
from reporter.formats.receipt import parse_receipt
from reporter.station import submission

MAX_DESCRIPTION = 20_000
MAX_SHORT = 200
MAX_LOCATION = 500
MAX_PEOPLE = 1_000_000
OTHER_SITE = "other"

INCIDENT_TYPE_LABELS = {
    "shooting": _l("Shooting or other violence"),
    "beating-torture": _l("Beating or torture"),
    "sexual-violence": _l("Sexual violence"),
    "killing": _l("Killing"),
    "forced-labour": _l("Forced labour"),
    "child-labour": _l("Child labour"),
    "eviction-destruction": _l("Eviction or destruction of homes"),
    "smuggling": _l("Smuggling or illicit trade"),
    "environmental-harm": _l("Environmental harm (water, land, air)"),
    "intimidation-of-monitors": _l("Threats or intimidation against monitors"),
    "other": _l("Something else"),
}
PERPETRATOR_LABELS = {
    "state-security": _l("Army or other state security forces"),
    "police": _l("Police"),
    "private-security": _l("Private security guards"),
    "armed-group": _l("Armed group or militia"),
    "mine-operator": _l("Mine company or its staff"),
    "unknown": _l("Unknown"),
    "other": _l("Someone else"),
}
SOURCE_LABELS = {
    "witnessed": _l("I saw it myself"),
    "heard": _l("Someone told me about it"),
}
CONTACT_LABELS = {
    "none": _l("Do not contact me"),
    "contact": _l("You may contact me (say how below)"),
}
assert set(INCIDENT_TYPE_LABELS) == set(report.INCIDENT_TYPES)  # noqa: S101
assert set(PERPETRATOR_LABELS) == set(report.PERPETRATORS)  # noqa: S101

# WTForms' own messages that our fields can still produce, listed so the
# extractor puts them in our catalogue; they are looked up by their English
# text at run time.
_BUILTIN_MESSAGES = (_l("Not a valid choice."),)

REQUIRED = _l("Please fill in this field.")


class MaxChars:
    """At most ``limit`` characters, the number written the monitor's way."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.field_flags = {"maxlength": limit}  # rendered as the maxlength attribute

    def __call__(self, form: Any, field_: Field) -> None:
        if field_.data and len(field_.data) > self.limit:
            raise ValidationError(flask_babel.gettext(
                "Please use at most %(max)s characters.",
                max=flask_babel.format_number(self.limit)))


class CountField(IntegerField):  # type: ignore[misc]
    """A number of people: a whole number from 0 to ``MAX_PEOPLE``."""

    def process_formdata(self, valuelist: list[str]) -> None:
        if not valuelist or not valuelist[0].strip():
            self.data = None
            return
        try:
            self.data = int(valuelist[0].strip())
        except ValueError:
            self.data = None
            raise ValueError(_l("Please write a number, for example 3.")) from None

    def pre_validate(self, form: Any) -> None:
        if self.data is not None and not 0 <= self.data <= MAX_PEOPLE:
            raise ValidationError(flask_babel.gettext(
                "Please enter a number between %(min)s and %(max)s.",
                min=flask_babel.format_number(0), max=flask_babel.format_number(MAX_PEOPLE)))


def month_choices() -> list[SelectChoice]:
    """The months in the page's language (Babel's names, as a calendar lists them).

    A date control that does not depend on the browser's locale: a phone's
    ``<input type="date">`` shows its own format (``mm/dd/yyyy``) whatever
    the page's language, and no hint can agree with every phone.
    """
    names = get_month_names("wide", context="stand-alone", locale=flask_babel.get_locale())
    return [SelectChoice("", "–"), *[SelectChoice(str(n), names[n]) for n in range(1, 13)]]


class _CatalogueTranslations:
    """Routes WTForms' internal messages through the app's gettext catalogue."""

    def gettext(self, string: str) -> str:
        return str(flask_babel.gettext(string))

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return str(flask_babel.ngettext(singular, plural, n))


def megabytes(size: int) -> str:
    """A size in MB (10^6 bytes), in the page's language: "500", "0.4", "2,5"."""
    value = size / 1_000_000
    return str(flask_babel.format_decimal(round(value, 1) if value < 10 else round(value)))


def too_many_files(limits: submission.Limits) -> str:
    """Said once, however many files over the limit were chosen (a phone's "select all")."""
    return str(flask_babel.gettext(
        "Too many files were chosen: at most %(max)s can be sent with one report.",
        max=flask_babel.format_number(limits.max_count)))


NO_ROOM_FOR_FILES = _l("Files cannot be received now: the station is running out of storage "
                       "space.")


def attachment_problem(problem: str, name: str, limits: submission.Limits) -> str:
    """The sentence shown beside the file field for one refused file."""
    if problem == submission.PROBLEM_TOO_LARGE:
        return str(flask_babel.gettext(
            "‘%(name)s’ was not accepted: all files together may be at most %(max)s MB.",
            name=name, max=megabytes(limits.max_bytes)))
    return str(flask_babel.gettext(
        "‘%(name)s’ was not accepted: only photos, sound, video, PDF and documents can be "
        "sent.", name=name))


def _text_fields() -> Any:
    """What a submitted form is read from: the body's text fields, and nothing else.

    Flask-WTF (used until the form tokens) read ``request.files`` too (so a
    text field sent as a file part reached a validator as a ``FileStorage``:
    a 500) and a JSON body (whose values may be numbers, lists or objects: a
    500 too). A browser sends neither; both leave the field empty, and the
    form says so beside it. Files are read by the request's stream factory instead
    (``uploads.py``), never by WTForms.
    """
    if request.method != "POST":
        return None
    return request.form


class _Form(Form):  # type: ignore[misc]
    class Meta:
        def get_translations(self, form: Any) -> _CatalogueTranslations:
            return _CatalogueTranslations()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formdata", _text_fields())
        super().__init__(*args, **kwargs)

    # Carries the chosen language through a submission without a cookie.
    lang = HiddenField()
    # This form page's token (formtoken.py): checked by the view, never by WTForms.
    form_token = HiddenField()
    # Read by the request's stream factory, not by WTForms: the files go
    # through encryption as they arrive (uploads.py, submission.py), and
    # ``check_attachments`` reports what was refused. Its name is
    # ``uploads.ATTACHMENTS``: file parts under any other name are dropped.
    attachments = MultipleFileField(_l("Photos, sound or video (optional)"))

    def check_attachments(self, draft: submission.Draft | None,
                          too_many: bool = False) -> bool:
        """Add a message beside the file field for each refused file; False if any.

        Files over the count are named in one message, not one each;
        ``too_many`` says the body had more file parts than were even read
        (``uploads.TOO_MANY_FILES``).
        """
        if draft is None:
            return True
        problems = draft.problems
        said_once = (submission.PROBLEM_COUNT, submission.PROBLEM_NO_ROOM)
        messages: list[Any] = [attachment_problem(problem, name, draft.limits)
                               for name, problem in problems if problem not in said_once]
        if too_many or any(p == submission.PROBLEM_COUNT for _name, p in problems):
            messages.append(too_many_files(draft.limits))
        if draft.out_of_room:
            messages.append(NO_ROOM_FOR_FILES)
        self.attachments.errors = [*self.attachments.errors, *messages]
        return not messages

    def files_dropped(self, draft: submission.Draft | None, sent: bool = False) -> None:
        """The form failed: say that the files that were accepted must be chosen again.

        Beside the field, and in the banner at the top (``dropped_files``).
        ``sent``: files came that were never taken at all (the station was busy
        or short of disk space, ``web/admission.py``): they must be chosen
        again too.
        """
        if sent or (draft is not None and draft.accepted()):
            self.dropped_files = True
            self.attachments.errors = [*self.attachments.errors, _l(
                "Your files were not kept because of the problems marked on this page. "
                "Please choose them again.")]

    dropped_files = False
    # The page was drawn again in another language (``switch_lang``): nothing
    # was checked or sent; files chosen are not kept (``files_left_behind``).
    switched = False

    def files_left_behind(self, draft: submission.Draft | None, names: list[str]) -> None:
        """The language changed: say that the files chosen must be chosen again.

        The language buttons send the form URL-encoded (``formenctype``), so a
        switch uploads no file, only its name (``names``); a browser that
        sent the files anyway has them dropped by the request's teardown.
        """
        self.switched = True
        if any(name.strip() for name in names) or (draft is not None and draft.accepted()):
            self.dropped_files = True
            self.attachments.errors = [_l(
                "Files are not kept when the language changes. Please choose them again.")]


class MultiCheckboxField(SelectMultipleField):  # type: ignore[misc]
    """Check boxes: usable with JavaScript off, unlike a multi-select list."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()

    def pre_validate(self, form: Any) -> None:
        allowed = {choice.value for choice in self.choices}
        if any(value not in allowed for value in self.data or ()):
            raise ValidationError(_l("Please choose from the list."))


def _choices(labels: dict[str, Any]) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in labels.items()]


def _short(label: Any, max_chars: int = MAX_SHORT) -> StringField:
    return StringField(label, validators=[Optional(), MaxChars(max_chars)])


def _count(label: Any) -> CountField:
    return CountField(label, validators=[Optional()])


# The form asks the date as three answers; the sealed report holds one ``incident_date``.
DATE_PARTS = ("incident_day", "incident_month", "incident_year")


class IncidentForm(_Form):
    incident_types = MultiCheckboxField(
        _l("What happened? Tick everything that applies."),
        choices=_choices(INCIDENT_TYPE_LABELS),
        validators=[InputRequired(message=_l("Please tick at least one kind of incident."))],
    )
    # The date as three answers (day, month from a list, year), read by ``incident_date``.
    incident_day = StringField(_l("Day"), validators=[Optional()])
    incident_month = SelectField(_l("Month"), validators=[Optional()], validate_choice=True)
    incident_year = StringField(_l("Year"), validators=[Optional()])
    date_approximate = _short(_l("If you do not know the exact date: roughly when?"))
    site = SelectField(_l("Mine site"), validators=[Optional()], validate_choice=True)
    site_other = _short(_l("Name of the site, if it is not in the list"))
    location = TextAreaField(_l("Where exactly? (village, pit, road, landmark)"),
                             validators=[Optional(), MaxChars(MAX_LOCATION)])
    people_affected = _count(_l("How many people were affected?"))
    children_affected = _count(_l("How many of them were children?"))
    women_affected = _count(_l("How many of them were women or girls?"))
    perpetrators = MultiCheckboxField(
        _l("Who did it? Tick everything that applies."),
        choices=_choices(PERPETRATOR_LABELS),
        validators=[Optional()],
    )
    perpetrator_other = _short(_l("If someone else, who?"))
    description = TextAreaField(
        _l("Describe what happened"),
        validators=[InputRequired(message=REQUIRED),
                    MaxChars(MAX_DESCRIPTION)],
    )
    source = RadioField(
        _l("How do you know about it?"),
        choices=_choices(SOURCE_LABELS),
        validators=[InputRequired(message=_l("Please choose one answer."))],
    )
    monitor_code = StringField(_l("Your monitor code, if you were given one (optional)"),
                               validators=[
        Optional(),
        MaxChars(64),
        Regexp(r"^[A-Za-z0-9][A-Za-z0-9 _.-]*$",
               message=_l("A monitor code has only letters, digits and dashes.")),
    ])
    contact = RadioField(_l("May the coalition contact you?"), choices=_choices(CONTACT_LABELS),
                         default="none", validators=[InputRequired(message=REQUIRED)])
    contact_details = _short(_l("How to reach you safely (optional)"), 300)

    # The four answers a report needs (marked on the page before sending);
    # "when" is the date or roughly when.
    REQUIRED = ("incident_types", "when", "description", "source")

    def __init__(self, *args: Any, sites: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.incident_month.choices = month_choices()
        self.incident_date: date | None = None
        self.date_errors: list[Any] = []
        self.site.choices = [
            SelectChoice("", _l("Choose a site")),
            *[SelectChoice(s, s) for s in sites or []],
            SelectChoice(OTHER_SITE, _l("Another site, not in the list")),
        ]

    def validate(self, extra_validators: Any = None) -> bool:
        ok = bool(super().validate(extra_validators))
        problems: list[tuple[Field, Any]] = []
        self.date_errors = self._read_date()
        if self.incident_date is None and not self.date_errors \
                and not (self.date_approximate.data or "").strip():
            self.date_errors = [_l("Please give the date, or say roughly when it happened.")]
        if self.incident_date and self.incident_date > date.today() + timedelta(days=1):
            self.date_errors = [_l("This date is in the future.")]
        self.date_errors = [*self.incident_month.errors, *self.date_errors]
        ok = ok and not self.date_errors
        if self.site.data == OTHER_SITE and not (self.site_other.data or "").strip():
            problems.append((self.site_other, _l("Please write the name of the site.")))
        total = self.people_affected.data
        for part in (self.children_affected, self.women_affected):
            if total is not None and part.data is not None and part.data > total:
                problems.append((part, _l("This is more than the number of people affected.")))
        if self.contact.data == "contact" and not (self.contact_details.data or "").strip():
            problems.append((self.contact_details, _l("Please say how we can reach you.")))
        for field_, message in problems:
            field_.errors = [*field_.errors, message]
        return ok and not problems

    @property
    def errors(self) -> dict[str, Any]:
        """WTForms' errors, and the date's (which belong to no single field)."""
        errors = dict(super().errors)
        if self.date_errors:
            errors["incident_date"] = list(self.date_errors)
        return errors

    def _read_date(self) -> list[Any]:
        """Set ``incident_date`` from the three answers; the problems with them, if any."""
        self.incident_date = None
        day = (self.incident_day.data or "").strip()
        month = self.incident_month.data or ""
        year = (self.incident_year.data or "").strip()
        if not (day or month or year):
            return []
        if not (day and month and year):
            return [_l("Please give the day, the month and the year, or leave all three "
                       "empty and say below roughly when.")]
        if not (day.isascii() and day.isdigit() and len(day) <= 2
                and year.isascii() and year.isdigit() and len(year) == 4):
            return [_l("Please write the day and the year in digits, for example 14 and "
                       "2026.")]
        try:
            self.incident_date = date(int(year), int(month), int(day))
        except ValueError:
            return [_l("This date does not exist: please check the day and the month.")]
        if self.incident_date.year < 1900:
            self.incident_date = None
            return [_l("Please check the year.")]
        return []

    def to_fields(self) -> dict[str, Any]:
        """The answers as plain data for the sealed report (stable English codes)."""
        def text(field_: Field) -> str:
            return str(field_.data or "").strip()

        return {
            "incident_types": list(self.incident_types.data or []),
            "incident_date": self.incident_date.isoformat() if self.incident_date else None,
            "date_approximate": text(self.date_approximate),
            "site": self.site.data if self.site.data not in ("", OTHER_SITE) else None,
            "site_other": text(self.site_other) if self.site.data in ("", OTHER_SITE) else "",
            "location": text(self.location),
            "people_affected": self.people_affected.data,
            "children_affected": self.children_affected.data,
            "women_affected": self.women_affected.data,
            "perpetrators": list(self.perpetrators.data or []),
            "perpetrator_other": text(self.perpetrator_other),
            "description": str(self.description.data or ""),
            "source": self.source.data,
            "monitor_code": text(self.monitor_code),
            "contact": self.contact.data,
            "contact_details": text(self.contact_details) if self.contact.data == "contact"
            else "",
        }


def _receipt_check(form: Any, field_: Field) -> None:
    try:
        field_.data = parse_receipt(field_.data or "")
    except InvalidReceipt:
        raise ValidationError(_l(
            "This receipt code is not right: please check each character."
        )) from None


class FollowUpForm(_Form):
    receipt = StringField(_l("Your receipt code"), validators=[
        InputRequired(message=REQUIRED), MaxChars(40), _receipt_check])
    description = TextAreaField(
        _l("What do you want to add?"),
        validators=[InputRequired(message=REQUIRED),
                    MaxChars(MAX_DESCRIPTION)],
    )

    def to_fields(self) -> dict[str, Any]:
        return {"description": str(self.description.data or "")}

