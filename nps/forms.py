"""Forms of the NPS manager pages. They check shapes (types, lengths, choices) and hand
plain data to nps.services, which applies the rules (a tag for a tag audience, an interval
for a recurring survey, a unique name) and answers with per-field messages."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django import forms
from django.utils import timezone

from advocacy.forms import AsciiDateField, DateRangeMixin
from advocacy.models import AdvocateType, Stage, Tag

from .models import (
    DEFAULT_FOLLOW_UP,
    DEFAULT_QUESTION,
    Audience,
    Category,
    Schedule,
    SurveyChannel,
    SurveyStatus,
)

SERVICE_FIELDS = ["name", "question", "follow_up_question", "audience", "audience_tag", "audience_type", "audience_stage",
                  "channels", "schedule", "every_days", "auto_invite_promoters"]


def _no_nul(value: str, what: str) -> str:
    if "\x00" in value:
        raise forms.ValidationError(f"The {what} may not contain NUL characters.")
    return value


class AsciiIntegerField(forms.IntegerField):
    """Digits 0-9 only: Python's int() would read other scripts' digits ("١٢") as 12."""

    def to_python(self, value):
        if isinstance(value, str) and value.strip() and not value.strip().isascii():
            raise forms.ValidationError("Type the number with the digits 0 to 9.", code="invalid")
        return super().to_python(value)


class SurveyForm(forms.Form):
    name = forms.CharField(max_length=120, help_text="For you; people do not see it.")
    question = forms.CharField(max_length=300, initial=DEFAULT_QUESTION,
                               help_text="{company} is replaced by the workspace's name. People answer from 0 to 10.")
    follow_up_question = forms.CharField(max_length=300, required=False, initial=DEFAULT_FOLLOW_UP,
                                         help_text="Asked after the score; leave empty to ask for no comment.")
    audience = forms.ChoiceField(choices=Audience.choices, initial=Audience.ALL, widget=forms.RadioSelect,
                                 help_text="Opted-out and erased people are never surveyed.")
    audience_tag = forms.ModelChoiceField(queryset=Tag.objects.none(), required=False, label="Tag", empty_label="Choose a tag")
    audience_type = forms.ChoiceField(choices=[("", "Choose a type"), *AdvocateType.choices], required=False, label="Type")
    audience_stage = forms.ChoiceField(choices=[("", "Choose a stage"), *[c for c in Stage.choices if c[0] != Stage.OPTED_OUT]],
                                       required=False, label="Stage", help_text="People who opted out are never surveyed.")
    channels = forms.MultipleChoiceField(
        choices=SurveyChannel.choices, initial=[c.value for c in SurveyChannel], widget=forms.CheckboxSelectMultiple,
        help_text="Email when the person accepts email; otherwise the portal when they use it; otherwise they are held back.",
    )
    schedule = forms.ChoiceField(choices=Schedule.choices, initial=Schedule.ONCE, widget=forms.RadioSelect)
    every_days = AsciiIntegerField(required=False, min_value=1, max_value=730, label="Every (days)",
                                    widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
                                    help_text="Days between rounds. Nobody is surveyed more than once in 90 days, whatever the survey.")
    auto_invite_promoters = forms.BooleanField(required=False, label="Invite candidates who answer 9 or 10 to the advocacy program")
    status = forms.ChoiceField(
        choices=[(SurveyStatus.DRAFT, "Draft: not sent yet"), (SurveyStatus.ACTIVE, "Active: send the first round within the hour")],
        initial=SurveyStatus.DRAFT, label="Start as", widget=forms.RadioSelect,
    )

    SECTIONS = {
        "what": ["name", "question", "follow_up_question"],
        "audience": ["audience", "audience_tag", "audience_type", "audience_stage"],
        "how": ["channels", "schedule", "every_days", "auto_invite_promoters", "status"],
    }

    def __init__(self, *args, workspace, survey=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["audience_tag"].queryset = Tag.objects.filter(workspace=workspace).order_by("name")
        if survey is not None:
            del self.fields["status"]  # afterwards: the activate / pause actions

    @classmethod
    def initial_for(cls, survey) -> dict:
        initial = {f: getattr(survey, f) for f in SERVICE_FIELDS}
        initial["audience_tag"] = survey.audience_tag_id
        return initial

    def sections(self) -> dict:
        return {name: [self[f] for f in fields if f in self.fields] for name, fields in self.SECTIONS.items()}

    def clean_name(self):
        return _no_nul(self.cleaned_data["name"].strip(), "name")

    def clean_question(self):
        return _no_nul(self.cleaned_data["question"].strip(), "question")

    def clean_follow_up_question(self):
        return _no_nul(self.cleaned_data["follow_up_question"].strip(), "follow-up question")

    def clean(self):
        data = super().clean()
        audience = data.get("audience")
        needed = {Audience.TAG: "audience_tag", Audience.TYPE: "audience_type", Audience.STAGE: "audience_stage"}
        for kind, field in needed.items():
            if audience == kind and not data.get(field) and field not in self.errors:
                self.add_error(field, "Choose one for this audience.")
        if data.get("schedule") == Schedule.RECURRING and data.get("every_days") is None and "every_days" not in self.errors:
            self.add_error("every_days", "A recurring survey needs the number of days between rounds.")
        return data

    def service_data(self) -> dict:
        data = {f: self.cleaned_data.get(f) for f in SERVICE_FIELDS}
        audience = data["audience"]
        # Only the chosen audience's criterion is kept; the others are cleared.
        data["audience_tag"] = data["audience_tag"] if audience == Audience.TAG else None
        data["audience_type"] = data["audience_type"] if audience == Audience.TYPE else ""
        data["audience_stage"] = data["audience_stage"] if audience == Audience.STAGE else ""
        if data["schedule"] == Schedule.ONCE:
            data["every_days"] = None
        data["channels"] = list(data["channels"] or [])
        if "status" in self.fields:
            data["status"] = self.cleaned_data["status"]
        return data


class ResponseFilterForm(forms.Form):
    category = forms.ChoiceField(choices=[("", "Every answer"), *Category.choices], required=False)
    q = forms.CharField(required=False, max_length=200, label="Name or email")

    def clean_q(self):
        return " ".join(self.cleaned_data["q"].replace("\x00", "").split())

    def values(self) -> dict:
        data = self.cleaned_data if self.is_bound and hasattr(self, "cleaned_data") else {}
        return {"category": data.get("category") or "", "q": data.get("q") or ""}


PERIODS = [("all", "All time"), ("30", "Last 30 days"), ("90", "Last 90 days"), ("365", "Last 12 months"),
           ("custom", "From … to …")]


class PeriodForm(DateRangeMixin, forms.Form):
    """The period of the figures: a preset or days from … to … (both included), in the
    workspace's time zone. A value that does not validate counts as empty (with a message)."""

    period = forms.ChoiceField(choices=PERIODS, required=False)
    since = AsciiDateField(required=False, label="From", input_formats=["%Y-%m-%d"])
    until = AsciiDateField(required=False, label="To (included)", input_formats=["%Y-%m-%d"])

    def values(self) -> dict:
        data = self.cleaned_data if self.is_bound and hasattr(self, "cleaned_data") else {}
        period = data.get("period") or "all"
        zone = timezone.get_current_timezone()
        start = end = None
        if period == "custom":
            if data.get("since"):
                start = datetime.combine(data["since"], time.min, tzinfo=zone)
            if data.get("until"):
                end = datetime.combine(data["until"] + timedelta(days=1), time.min, tzinfo=zone)
            if start and end and end <= start:
                start, end = end - timedelta(days=1), start + timedelta(days=1)
        elif period != "all":
            start = datetime.combine(timezone.localdate() - timedelta(days=int(period) - 1), time.min, tzinfo=zone)
        return {"period": period, "start": start, "end": end, "since": data.get("since"), "until": data.get("until")}
