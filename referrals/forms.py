"""Forms of the manager's referral pages: the pipeline's filters (a bad value is ignored
with a message, never a 500), a program's referral settings, the coupon upload and the
reason of a rejection."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from django import forms
from django.utils import timezone

from advocacy.forms import DateRangeMixin
from programs.models import Program

from .models import ReferralSettings, ReferralState

PERIODS = [("7", "Last 7 days"), ("30", "Last 30 days"), ("90", "Last 90 days"), ("365", "Last 12 months"),
           ("all", "All time"), ("custom", "From … to …")]
DEFAULT_PERIOD = "30"


class PipelineFilterForm(DateRangeMixin, forms.Form):
    period = forms.ChoiceField(choices=PERIODS, required=False)
    since = forms.DateField(required=False, label="From")
    until = forms.DateField(required=False, label="To (included)")
    state = forms.ChoiceField(choices=[("", "Any state"), *ReferralState.choices], required=False)
    flagged = forms.ChoiceField(choices=[("", "Flagged or not"), ("yes", "Flagged, to decide"), ("no", "Not flagged")], required=False)
    program = forms.ModelChoiceField(queryset=Program.objects.none(), required=False, empty_label="Every program")
    q = forms.CharField(required=False, max_length=254, label="Referee email")

    def __init__(self, data, *, workspace):
        super().__init__(data)
        self.fields["program"].queryset = Program.objects.filter(workspace=workspace).order_by("name", "id")

    def clean_q(self):
        q = self.cleaned_data["q"].strip()
        if "\x00" in q:
            raise forms.ValidationError("The search may not contain NUL characters.")
        return q

    def values(self) -> dict:
        """The understood filters (a field that did not validate counts as empty)."""
        data = self.cleaned_data if self.is_bound and hasattr(self, "cleaned_data") else {}
        period = data.get("period") or DEFAULT_PERIOD
        since = until = None
        today = timezone.localdate()
        zone = timezone.get_current_timezone()
        if period == "custom":
            if data.get("since"):
                since = datetime.combine(data["since"], time.min, tzinfo=zone)
            if data.get("until"):
                until = datetime.combine(data["until"] + timedelta(days=1), time.min, tzinfo=zone)
        elif period != "all":
            since = datetime.combine(today - timedelta(days=int(period) - 1), time.min, tzinfo=zone)
        return {"period": period, "since": since, "until": until, "state": data.get("state") or "",
                "flagged": data.get("flagged") or "", "program": data.get("program"), "q": data.get("q") or ""}


class ReferralSettingsForm(forms.ModelForm):
    referrer_points = forms.IntegerField(min_value=0, max_value=1_000_000, label="Referrer points",
                                         help_text="Points the advocate earns when their referral converts.")
    referee_points = forms.IntegerField(min_value=0, max_value=1_000_000, label="Referee points",
                                        help_text="When the referee reward is points (the referee must be an advocate).")
    attribution_window_days = forms.IntegerField(min_value=1, max_value=365, required=False, label="Attribution window (days)",
                                                 help_text="1 to 365. Empty: the workspace's window (90 days unless changed).")
    hold_days = forms.IntegerField(min_value=0, max_value=365, label="Hold period (days)",
                                   help_text="Days before referral points become spendable.")

    class Meta:
        model = ReferralSettings
        fields = ["referrer_points", "referee_reward", "referee_points", "attribution_window_days", "hold_days"]
        labels = {"referee_reward": "Referee reward"}


SETTINGS_FIELDS = ReferralSettingsForm.Meta.fields

MAX_COUPON_LINES = 10_000
COUPON_MAX_LENGTH = 100
_COUPON_RE = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no spaces


@dataclass
class ParsedCoupons:
    codes: list[str] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)  # code → its line
    problems: list[str] = field(default_factory=list)


def parse_coupon_lines(text: str) -> ParsedCoupons:
    """One code per line (a CSV's first column counts as the line): blank lines, bad codes
    and repeats are reported by line number and left out."""
    parsed = ParsedCoupons()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if "," in line:
            line = line.split(",", 1)[0].strip().strip('"').strip()
        if not line:
            parsed.problems.append(f"Line {number} is blank.")
        elif len(line) > COUPON_MAX_LENGTH:
            parsed.problems.append(f"Line {number} is longer than {COUPON_MAX_LENGTH} characters.")
        elif not _COUPON_RE.match(line):
            parsed.problems.append(f"Line {number} has spaces or characters a coupon code cannot hold.")
        elif line in parsed.lines:
            parsed.problems.append(f"Line {number} repeats line {parsed.lines[line]} ({line}).")
        else:
            parsed.lines[line] = number
            parsed.codes.append(line)
    return parsed


class CouponUploadForm(forms.Form):
    codes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 8}), label="Codes, one per line")
    file = forms.FileField(required=False, label="Or a CSV file (the first column)")

    def clean(self):
        data = super().clean()
        text = data.get("codes") or ""
        upload = data.get("file")
        if upload is not None:
            if upload.size > 2_000_000:
                raise forms.ValidationError("The file is larger than 2 MB.")
            try:
                text = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                raise forms.ValidationError("The file is not UTF-8 text.") from None
        if "\x00" in text:
            raise forms.ValidationError("The codes may not contain NUL characters.")
        if not text.strip():
            raise forms.ValidationError("Paste at least one code or choose a file.")
        if len(text.splitlines()) > MAX_COUPON_LINES:
            raise forms.ValidationError(f"At most {MAX_COUPON_LINES:,} lines at a time.")
        data["parsed"] = parse_coupon_lines(text)
        return data


class RejectForm(forms.Form):
    reason = forms.CharField(max_length=300, label="Reason", help_text="The advocate sees it.")

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if "\x00" in reason:
            raise forms.ValidationError("The reason may not contain NUL characters.")
        if not reason:
            raise forms.ValidationError("Give a reason.")
        return reason
