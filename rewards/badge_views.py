"""Manager pages for badges and leaderboards under /w/<slug>/rewards/."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count
from django.shortcuts import redirect
from django.template.response import TemplateResponse

from advocacy.errors import DomainError
from advocacy.web import ManagerView

from .badges import (
    FACT_CHOICES,
    MAX_RULE_NUMBER,
    create_badge,
    describe_rule,
    ensure_default_badges,
    update_badge,
)
from .leaderboards import PERIODS, leaderboard, leaderboard_program_ids
from .models import Badge, BadgeAward


class BadgeForm(forms.Form):
    name = forms.CharField(max_length=80)
    description = forms.CharField(max_length=300, required=False, help_text="What the advocate did to earn it.")
    rule_kind = forms.ChoiceField(
        label="Awarded for", choices=[("fact", "Something they did, a number of times"), ("tenure", "Time in the program")],
        widget=forms.RadioSelect, initial="fact",
    )
    fact = forms.ChoiceField(choices=FACT_CHOICES, required=False)
    at_least = forms.IntegerField(label="At least", min_value=1, max_value=MAX_RULE_NUMBER, required=False, initial=1)
    days = forms.IntegerField(label="Days in the program", min_value=1, max_value=MAX_RULE_NUMBER, required=False, initial=365)
    points = forms.IntegerField(min_value=0, max_value=1_000_000, initial=0, help_text="Points credited with the badge (0 for none).")
    active = forms.BooleanField(required=False, initial=True, help_text="Inactive badges are not awarded any more; awards already given stay.")

    def clean(self):
        data = super().clean()
        if data.get("rule_kind") == "tenure":
            if not data.get("days"):
                self.add_error("days", "How many days in the program?")
        elif data.get("rule_kind") == "fact":
            if not data.get("fact"):
                self.add_error("fact", "Choose what they did.")
            if not data.get("at_least"):
                self.add_error("at_least", "How many times?")
        return data

    def rule(self) -> dict:
        d = self.cleaned_data
        if d["rule_kind"] == "tenure":
            return {"days_in_program": d["days"]}
        return {"fact": d["fact"], "at_least": d["at_least"]}

    @classmethod
    def initial_for(cls, badge: Badge) -> dict:
        rule = badge.rule or {}
        tenure = "days_in_program" in rule
        return {
            "name": badge.name, "description": badge.description, "points": badge.points, "active": badge.active,
            "rule_kind": "tenure" if tenure else "fact", "days": rule.get("days_in_program", 365),
            "fact": rule.get("fact"), "at_least": rule.get("at_least", 1),
        }


class BadgeListView(ManagerView):
    def get(self, request):
        badges = list(Badge.objects.filter(workspace=self.workspace).annotate(award_count=Count("awards")).order_by("-active", "name"))
        for b in badges:
            b.rule_text = describe_rule(b.rule)
        return TemplateResponse(request, "manager/rewards/badges.html", self.get_context_data(badges=badges))


class BadgeDefaultsView(ManagerView):
    def post(self, request):
        created = ensure_default_badges(self.workspace)
        if created:
            messages.success(request, f"Added {created} example badge{'s' if created != 1 else ''}. Advocates who already qualify receive them shortly.")
        else:
            messages.info(request, "The example badges are all here already.")
        return redirect("badge_list", self.workspace.slug)


class BadgeFormView(ManagerView):
    badge: Badge | None = None

    def load(self, badge_id):
        if badge_id is not None:
            self.badge = self.get_for_workspace(Badge, pk=badge_id)

    def render(self, form, status=200):
        return TemplateResponse(self.request, "manager/rewards/badge_form.html", self.get_context_data(form=form, badge=self.badge), status=status)

    def get(self, request, badge_id: int | None = None):
        self.load(badge_id)
        return self.render(BadgeForm(initial=BadgeForm.initial_for(self.badge) if self.badge else None))

    def post(self, request, badge_id: int | None = None):
        self.load(badge_id)
        form = BadgeForm(request.POST)
        if form.is_valid():
            d = form.cleaned_data
            fields = {"actor": request.user, "name": d["name"], "description": d["description"], "rule": form.rule(),
                      "points": d["points"], "active": d["active"]}
            try:
                if self.badge is None:
                    badge = create_badge(workspace=self.workspace, **fields)
                else:
                    badge = update_badge(badge=self.badge, **fields)
            except DomainError as exc:
                for field, errors in (getattr(exc, "fields", None) or {}).items():
                    if field in form.fields:
                        form.add_error(field, errors)
                form.add_error(None, exc.message)
            else:
                messages.success(request, f"Badge “{badge.name}” saved.")
                return redirect("badge_list", self.workspace.slug)
        return self.render(form, status=400)


class BadgeAwardsView(ManagerView):
    def get(self, request, badge_id: int):
        badge = self.get_for_workspace(Badge, pk=badge_id)
        awards = BadgeAward.objects.filter(workspace=self.workspace, badge=badge).select_related("advocate", "entry").order_by("-awarded_at", "-id")
        page = Paginator(awards, 50).get_page(request.GET.get("page"))
        return TemplateResponse(request, "manager/rewards/badge_awards.html",
                                self.get_context_data(badge=badge, rule_text=describe_rule(badge.rule), page=page))


def _period(request) -> str:
    period = request.GET.get("period")
    return period if period in PERIODS else "month"


class LeaderboardView(ManagerView):
    def get(self, request):
        period = _period(request)
        program_ids = leaderboard_program_ids(self.workspace)
        program = request.GET.get("program") or ""
        program_id = int(program) if program.isascii() and program.isdigit() and int(program) in program_ids else None
        rows = leaderboard(workspace=self.workspace, period=period, program_id=program_id, limit=50)
        return TemplateResponse(request, "manager/rewards/leaderboard.html", self.get_context_data(
            rows=rows, period=period, periods=PERIODS, program_ids=program_ids, program_id=program_id,
        ))
