"""Forms of the insights pages: a program cost (shapes only; insights/costs.py applies the
rules) and the filter of the cost list."""

from __future__ import annotations

from django import forms

from programs.models import Program

from .costs import EARLIEST, LATEST, MAX_AMOUNT
from .models import CostCategory


class CostForm(forms.Form):
    program = forms.ModelChoiceField(queryset=Program.objects.none(), empty_label=None)
    category = forms.ChoiceField(choices=CostCategory.choices)
    amount = forms.DecimalField(min_value=0, max_value=MAX_AMOUNT, max_digits=14, decimal_places=2,
                                widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
                                help_text="In the workspace's currency.")
    incurred_on = forms.DateField(label="Day", widget=forms.DateInput(attrs={"type": "date"}),
                                  help_text="The day the money was spent (YYYY-MM-DD); it counts in the periods that include it.")
    note = forms.CharField(required=False, max_length=300, help_text="What it was, e.g. “Q3 swag order”.")

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["program"].queryset = Program.objects.filter(workspace=workspace).order_by("name", "id")

    def clean_amount(self):
        if not str(self.data.get(self.add_prefix("amount"), "")).isascii():
            raise forms.ValidationError("Write the amount with the digits 0-9.")
        return self.cleaned_data["amount"]

    def clean_incurred_on(self):
        value = self.cleaned_data["incurred_on"]
        if not (EARLIEST <= value <= LATEST):
            raise forms.ValidationError("Choose a day between 2000 and 2100.")
        return value

    def clean_note(self):
        note = self.cleaned_data["note"].strip()
        if "\x00" in note:
            raise forms.ValidationError("Remove the NUL characters.")
        return note


class CostFilterForm(forms.Form):
    program = forms.ModelChoiceField(queryset=Program.objects.none(), required=False, empty_label="Every program")

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["program"].queryset = Program.objects.filter(workspace=workspace).order_by("name", "id")
