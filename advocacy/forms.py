"""Forms of the manager pages and the portal. They check shapes; services apply rules."""

from __future__ import annotations

import zoneinfo
from datetime import date

from django import forms
from django.utils.text import slugify

from .models import Advocate, Channel, Role, Stage, Workspace

ASK_KINDS = [
    ("review", "Reviews"),
    ("social_share", "Social posts"),
    ("community_answer", "Community answers"),
    ("beta_feedback", "Beta feedback"),
    ("survey", "Surveys"),
    ("testimonial", "Testimonials"),
    ("referral", "Referrals"),
    ("reference_call", "Reference calls"),
    ("case_study", "Case studies"),
    ("speaking", "Speaking"),
]

CURRENCIES = ["USD", "EUR", "GBP", "CAD", "AUD", "CHF", "JPY", "SEK", "NOK", "DKK", "INR", "BRL", "SGD", "NZD"]


# Dates a manager may filter by: anything outside is a typo, and Python's date arithmetic
# near year 1 or 9999 overflows.
EARLIEST_DATE, LATEST_DATE = date(2000, 1, 1), date(2100, 12, 31)


class AsciiDateField(forms.DateField):
    """YYYY-MM-DD with the digits 0 to 9 (strptime would read other scripts' digits too)."""

    def to_python(self, value):
        if isinstance(value, str) and not value.strip().isascii():
            raise forms.ValidationError("Give the date as YYYY-MM-DD.", code="invalid")
        return super().to_python(value)


class DateRangeMixin:
    """A filter form's ``since`` and ``until`` dates, refused outside EARLIEST_DATE..LATEST_DATE."""

    def _bounded(self, name: str):
        value = self.cleaned_data[name]
        if value is not None and not (EARLIEST_DATE <= value <= LATEST_DATE):
            raise forms.ValidationError(f"Choose a date between {EARLIEST_DATE:%Y} and {LATEST_DATE:%Y}.")
        return value

    def clean_since(self):
        return self._bounded("since")

    def clean_until(self):
        return self._bounded("until")

class SignupWorkspaceForm(forms.Form):
    """Extra fields on allauth's sign-up: every sign-up creates a workspace and its owner."""

    workspace_name = forms.CharField(max_length=120, label="Company or workspace name")
    workspace_slug = forms.SlugField(
        max_length=50, required=False, label="Workspace address",
        help_text="Lower-case letters, digits and hyphens; used in your URLs (/w/<address>/). Leave empty to derive it from the name.",
    )

    def clean(self):
        from .errors import DomainError
        from .services.workspaces import validate_slug

        data = super().clean()
        slug = data.get("workspace_slug") or slugify(data.get("workspace_name") or "")[:50].strip("-")
        try:
            slug = validate_slug(slug)
        except DomainError as exc:
            self.add_error("workspace_slug", exc.message)
            return data
        if Workspace.objects.filter(slug=slug).exists():
            self.add_error("workspace_slug", f"The address “{slug}” is taken; choose another.")
        data["workspace_slug"] = slug
        return data

    def signup(self, request, user):
        from .services.workspaces import create_workspace

        workspace = create_workspace(slug=self.cleaned_data["workspace_slug"], name=self.cleaned_data["workspace_name"], owner=user)
        request.session["new_workspace_slug"] = workspace.slug


class NewWorkspaceForm(forms.Form):
    name = forms.CharField(max_length=120)
    slug = forms.SlugField(max_length=50, required=False, help_text="Leave empty to derive it from the name.")


class AdvocateForm(forms.ModelForm):
    tags = forms.CharField(required=False, help_text="Separate tags with commas.", max_length=1000)

    class Meta:
        model = Advocate
        fields = [
            "name", "email", "company", "title", "type", "external_id", "customer_since", "renewal_date",
            "motivation", "expressiveness",
        ]
        widgets = {
            "customer_since": forms.DateInput(attrs={"type": "date"}),
            "renewal_date": forms.DateInput(attrs={"type": "date"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["tags"] = ", ".join(t.name for t in self.instance.tags.all())

    def validate_unique(self):  # the service checks uniqueness within the workspace
        pass

    def tag_names(self) -> list[str]:
        return [t for t in self.cleaned_data.get("tags", "").split(",") if t.strip()]

    def field_data(self) -> dict:
        return {f: self.cleaned_data.get(f) for f in self.Meta.fields}


class StageForm(forms.Form):
    stage = forms.ChoiceField(choices=Stage.choices)
    reason = forms.CharField(max_length=200, required=False)


class BulkTagForm(forms.Form):
    ids = forms.CharField(widget=forms.HiddenInput, required=False)
    advocate = forms.TypedMultipleChoiceField(coerce=int, required=False, choices=())
    tag = forms.CharField(max_length=50)
    mode = forms.ChoiceField(choices=[("add", "Add tag"), ("remove", "Remove tag")])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Any integers are accepted here; the view keeps only this workspace's advocates.
        self.fields["advocate"].valid_value = lambda value: True


class ImportUploadForm(forms.Form):
    file = forms.FileField(label="CSV file", help_text="UTF-8 CSV with a header row, up to 10 MB.")


class WorkspaceSettingsForm(forms.ModelForm):
    timezone = forms.ChoiceField(choices=[(z, z) for z in sorted(zoneinfo.available_timezones())])
    currency = forms.ChoiceField(choices=[(c, c) for c in CURRENCIES])

    class Meta:
        model = Workspace
        fields = [
            "name", "timezone", "currency", "max_contacts_per_30_days", "min_days_between_offers",
            "rest_days_after_large_ask", "max_reference_calls_per_90_days", "detractor_quiet_days",
            "attribution_window_days",
        ]


class StaffInviteForm(forms.Form):
    email = forms.EmailField()
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MANAGER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What it is for, e.g. “Salesforce sync”.")


class PortalLoginForm(forms.Form):
    email = forms.EmailField(widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}))


class PreferencesForm(forms.Form):
    max_asks_per_month = forms.IntegerField(
        min_value=0, max_value=30, required=False, label="At most this many asks a month",
        help_text="Leave empty to let the program decide. The stricter of this and the program's limit applies.",
    )
    channels = forms.MultipleChoiceField(
        choices=Channel.choices, required=False, widget=forms.CheckboxSelectMultiple,
        label="How we may reach you",
    )
    preferred_ask_kinds = forms.MultipleChoiceField(
        choices=ASK_KINDS, required=False, widget=forms.CheckboxSelectMultiple,
        label="What you like to do",
    )
    show_on_leaderboards = forms.BooleanField(required=False, label="Show me on leaderboards")
