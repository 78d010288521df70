"""Forms of the programs manager pages. They check shapes (types, lengths, choices) and
hand plain data to programs.services / programs.invitations, which apply the rules."""

from __future__ import annotations

from django import forms

from advocacy.models import AdvocateType, Expressiveness, Motivation

from .models import (
    DEFAULT_POINTS,
    OBJECTIVE_METRICS,
    POINTS_RANGE,
    AskKind,
    AskStatus,
    DealStatus,
    Effort,
    Goal,
    OutcomeKind,
    ProgramStatus,
)

MAX_TARGET = 10**12


def objective_field(metric: str) -> str:
    return f"objective_{metric}"


class ProgramForm(forms.Form):
    name = forms.CharField(max_length=120)
    goal = forms.ChoiceField(choices=Goal.choices, initial=Goal.MIXED)
    status = forms.ChoiceField(choices=ProgramStatus.choices, initial=ProgramStatus.ACTIVE)
    description = forms.CharField(required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3}),
                                  help_text="What the program is for; advocates see it.")
    landing_url = forms.URLField(required=False, max_length=500, assume_scheme="https", label="Landing URL",
                                 help_text="Where referral links land.")
    onboarding_steps = forms.CharField(
        required=False, max_length=3000, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One step per line (e.g. “Accept the program terms”); advocates confirm each before their first ask.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for metric, label in OBJECTIVE_METRICS.items():
            self.fields[objective_field(metric)] = forms.IntegerField(
                required=False, min_value=1, max_value=MAX_TARGET, label=label,
                widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
            )

    @classmethod
    def initial_for(cls, program) -> dict:
        initial = {f: getattr(program, f) for f in ("name", "goal", "status", "description", "landing_url")}
        initial["onboarding_steps"] = "\n".join(program.onboarding_steps or [])
        for metric, target in (program.objectives or {}).items():
            initial[objective_field(metric)] = target
        return initial

    def objective_fields(self):
        return [self[objective_field(m)] for m in OBJECTIVE_METRICS]

    def main_fields(self):
        return [self[f] for f in ("name", "goal", "status", "description", "landing_url", "onboarding_steps")]

    def service_data(self) -> dict:
        data = {f: self.cleaned_data[f] for f in ("name", "goal", "status", "description", "landing_url")}
        data["onboarding_steps"] = self.cleaned_data["onboarding_steps"]
        data["objectives"] = {
            m: self.cleaned_data[objective_field(m)] for m in OBJECTIVE_METRICS if self.cleaned_data.get(objective_field(m))
        }
        return data


def _choices_without_unknown(choices) -> list[tuple[str, str]]:
    return [(v, label) for v, label in choices if v != "unknown"]


class AskForm(forms.Form):
    """The ask form. ``status`` only when creating (afterwards: the open/close actions)."""

    kind = forms.ChoiceField(choices=AskKind.choices)
    title = forms.CharField(max_length=200)
    instructions = forms.CharField(required=False, max_length=10_000, widget=forms.Textarea(attrs={"rows": 5}),
                                   help_text="What to do, step by step; advocates read this.")
    effort = forms.ChoiceField(choices=Effort.choices, initial=Effort.SMALL,
                               help_text="Suggested points: " + "; ".join(
                                   f"{Effort(e).label.lower()} {lo} to {hi}" for e, (lo, hi) in POINTS_RANGE.items()) + ".")
    points = forms.IntegerField(min_value=0, max_value=100_000, initial=DEFAULT_POINTS[Effort.SMALL],
                                widget=forms.NumberInput(attrs={"inputmode": "numeric"}))
    capacity = forms.IntegerField(min_value=1, max_value=100_000, initial=1, help_text="How many completions are wanted.")
    overbook = forms.IntegerField(min_value=1, max_value=10, initial=2,
                                  help_text="Offers per open place (people decline or let offers expire).")
    deadline = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
                                   input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"])
    needs_approval = forms.BooleanField(required=False, initial=True, label="A manager approves the proof before points are credited")
    status = forms.ChoiceField(choices=[(AskStatus.OPEN, "Open: rotation offers it now"), (AskStatus.DRAFT, "Draft: not offered yet")],
                               initial=AskStatus.OPEN)
    tags = forms.CharField(required=False, max_length=1000, label="Audience tags",
                           help_text="Any of these tags, separated by commas. Empty: everybody.")
    audience_types = forms.MultipleChoiceField(required=False, choices=AdvocateType.choices, widget=forms.CheckboxSelectMultiple,
                                               label="Types", help_text="None ticked: every type.")
    audience_motivations = forms.MultipleChoiceField(required=False, choices=_choices_without_unknown(Motivation.choices),
                                                     widget=forms.CheckboxSelectMultiple, label="Motivations")
    audience_expressiveness = forms.MultipleChoiceField(required=False, choices=_choices_without_unknown(Expressiveness.choices),
                                                        widget=forms.CheckboxSelectMultiple, label="Expressiveness")
    min_tier = forms.ChoiceField(required=False, label="Minimum tier", choices=[("", "Any tier")])
    tenure_min_days = forms.IntegerField(required=False, min_value=0, max_value=36_500, label="Customer for at least (days)")
    tenure_max_days = forms.IntegerField(required=False, min_value=0, max_value=36_500, label="Customer for at most (days)")
    prospect_industry = forms.CharField(required=False, max_length=80, label="Prospect's industry")
    prospect_company_size = forms.CharField(required=False, max_length=80, label="Prospect's company size")
    prospect_use_case = forms.CharField(required=False, max_length=80, label="Prospect's use case")

    SECTIONS = {
        "what": ["kind", "title", "instructions"],
        "reward": ["effort", "points", "capacity", "overbook", "deadline", "needs_approval", "status"],
        "audience": ["tags", "audience_types", "audience_motivations", "audience_expressiveness", "min_tier",
                     "tenure_min_days", "tenure_max_days"],
        "prospect": ["prospect_industry", "prospect_company_size", "prospect_use_case"],
    }
    SERVICE_FIELDS = [
        "kind", "title", "instructions", "effort", "points", "capacity", "overbook", "deadline", "needs_approval",
        "audience_types", "audience_motivations", "audience_expressiveness", "min_tier", "tenure_min_days",
        "tenure_max_days", "prospect_industry", "prospect_company_size", "prospect_use_case",
    ]

    def __init__(self, *args, tiers: list[str] = (), creating: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["min_tier"].choices = [("", "Any tier")] + [(t, t) for t in tiers]
        if not creating:
            del self.fields["status"]

    @classmethod
    def initial_for(cls, ask, tag_names: list[str]) -> dict:
        initial = {f: getattr(ask, f) for f in cls.SERVICE_FIELDS}
        initial["tags"] = ", ".join(tag_names)
        return initial

    @property
    def sections(self) -> dict[str, list]:
        return {name: [self[f] for f in fields if f in self.fields] for name, fields in self.SECTIONS.items()}

    def tag_names(self) -> list[str]:
        return [t.strip() for t in self.cleaned_data.get("tags", "").split(",") if t.strip()]

    def service_data(self) -> dict:
        data = {f: self.cleaned_data.get(f) for f in self.SERVICE_FIELDS}
        for f in ("instructions", "min_tier", "prospect_industry", "prospect_company_size", "prospect_use_case"):
            data[f] = data[f] or ""
        if "status" in self.fields:
            data["status"] = self.cleaned_data["status"]
        return data


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=300, required=False)


class OutcomeForm(forms.Form):
    """What an approved assignment achieved. Which fields a kind needs is the service's rule."""

    kind = forms.ChoiceField(choices=OutcomeKind.choices, label="What it achieved")
    deal_name = forms.CharField(required=False, max_length=200, label="Deal name")
    amount = forms.DecimalField(required=False, min_value=0, max_digits=14, decimal_places=2, label="Deal amount")
    deal_status = forms.ChoiceField(required=False, choices=[("", "—"), *DealStatus.choices], label="Deal status")
    url = forms.URLField(required=False, max_length=500, assume_scheme="https", label="Published review URL")
    reach = forms.IntegerField(required=False, min_value=1, max_value=2_147_483_647, label="People reached",
                               help_text="Views, readers or attendees.")
    note = forms.CharField(required=False, max_length=500, label="A line for the advocate",
                           help_text="They see it in their impact feed and the email.")

    FIELDS = ["kind", "deal_name", "amount", "deal_status", "url", "reach", "note"]

    def service_data(self) -> dict:
        return {f: self.cleaned_data.get(f) for f in self.FIELDS}


class InviteForm(forms.Form):
    program = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Program",
                                     help_text="They are enrolled in it when they accept.")
    inviter_name = forms.CharField(max_length=120, label="From", help_text="The named person the note comes from.")
    note = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 5}), label="Personal note")
    why_chosen = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}),
                                 label="Why we chose you")
    whats_in_it = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}),
                                  label="What's in it for you")
    what_taking_part_looks_like = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}),
                                                  label="What taking part looks like")

    MESSAGE_FIELDS = ["note", "why_chosen", "whats_in_it", "what_taking_part_looks_like"]

    def __init__(self, *args, programs=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["program"].choices = [("", "No program")] + [(p.pk, p.name) for p in programs]

    def message(self) -> dict:
        return {f: self.cleaned_data.get(f, "") for f in self.MESSAGE_FIELDS}

