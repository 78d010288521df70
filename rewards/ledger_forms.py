"""Forms of the ledger and reward-settings pages (input only: the rules live in services)."""

from __future__ import annotations

import uuid

from django import forms
from django.forms import formset_factory

from advocacy.models import Advocate

from .models import EntryKind, RewardSettings
from .services import MAX_AMOUNT


class AdjustmentForm(forms.Form):
    amount = forms.IntegerField(
        min_value=-MAX_AMOUNT, max_value=MAX_AMOUNT, label="Points",
        help_text="Positive to add, negative to take away.",
    )
    reason = forms.CharField(max_length=300, label="Reason", help_text="Required; the advocate sees it in their history.")
    # A fresh key per rendered form: a resubmission (double click, reload, back button)
    # carries the same key, and the ledger writes the adjustment once.
    idempotency_key = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("idempotency_key", uuid.uuid4())
        super().__init__(*args, **kwargs)

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if amount == 0:
            raise forms.ValidationError("Give a non-zero number of points.")
        return amount


class LedgerFilterForm(forms.Form):
    kind = forms.ChoiceField(choices=[("", "Any kind"), *EntryKind.choices], required=False)
    advocate = forms.IntegerField(required=False, min_value=1, max_value=10**18, label="Advocate id")

    def apply(self, entries):
        if not self.is_valid():
            return entries
        if self.cleaned_data.get("kind"):
            entries = entries.filter(kind=self.cleaned_data["kind"])
        if self.cleaned_data.get("advocate"):
            entries = entries.filter(advocate_id=self.cleaned_data["advocate"])
        return entries

    def selected_advocate(self):
        if self.is_valid() and self.cleaned_data.get("advocate"):
            return Advocate.objects.filter(pk=self.cleaned_data["advocate"]).first()
        return None


class RewardSettingsForm(forms.ModelForm):
    class Meta:
        model = RewardSettings
        fields = ["points_expire_after_months", "yearly_value_cap", "referral_hold_days"]
        labels = {
            "points_expire_after_months": "Points expire after (months)",
            "yearly_value_cap": "Yearly reward value cap per advocate",
            "referral_hold_days": "Referral hold (days)",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["points_expire_after_months"].widget.attrs["max"] = 120
        self.fields["points_expire_after_months"].validators.append(_at_most(120))
        self.fields["referral_hold_days"].validators.append(_at_most(365))
        self.fields["yearly_value_cap"].min_value = 0
        self.fields["yearly_value_cap"].validators.append(_not_negative)


def _at_most(limit):
    def check(value):
        if value is not None and value > limit:
            raise forms.ValidationError(f"At most {limit}.")
    return check


def _not_negative(value):
    if value is not None and value < 0:
        raise forms.ValidationError("Must not be negative.")


class TierForm(forms.Form):
    name = forms.CharField(max_length=40, required=False)
    threshold = forms.IntegerField(min_value=0, max_value=2_000_000_000, required=False, label="Lifetime points")
    perks = forms.CharField(max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        filled = data.get("name", "").strip() or data.get("threshold") is not None or data.get("perks", "").strip()
        if filled and not data.get("name", "").strip():
            self.add_error("name", "Give the tier a name.")
        if filled and data.get("threshold") is None:
            self.add_error("threshold", "Give the lifetime points that reach this tier.")
        return data


class BaseTierFormSet(forms.BaseFormSet):
    def tiers(self) -> list[dict]:
        out = []
        for form in self.forms:
            data = getattr(form, "cleaned_data", None) or {}
            if data.get("DELETE") or not data.get("name", "").strip():
                continue
            out.append({"name": data["name"].strip(), "threshold": data["threshold"], "perks": data.get("perks", "")})
        return out


TierFormSet = formset_factory(TierForm, formset=BaseTierFormSet, extra=2, can_delete=True, max_num=20, validate_max=True)
