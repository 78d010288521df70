"""Insights (PRODUCT.md "Advocacy score" and "Metrics, rollups and ROI").

``DailyMetric`` holds one row per workspace, program and day with every metric, computed
in SQL by ``insights/rollups.py`` (``INSERT … SELECT … GROUP BY … ON CONFLICT … DO
UPDATE``), each day recomputed whole. The row with ``program`` empty is the workspace's
total for that day (every metric, program or not); rows with a program hold what can be
attributed to it. ``AdvocateDay`` is the per-person daily rollup behind active advocates,
retention and top advocates. ``ProgramCost`` is what a manager records a program cost.
The dashboard reads these tables only.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.timezone import now

from advocacy.models import Advocate, Workspace, WorkspaceScopedManager
from programs.models import Program


class DailyMetric(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    program = models.ForeignKey(Program, null=True, blank=True, on_delete=models.CASCADE, related_name="+",
                                help_text="Empty: the workspace's total for the day.")
    day = models.DateField(help_text="A calendar day in the workspace's time zone.")

    # People
    active_advocates = models.PositiveIntegerField(default=0, help_text="Anyone with activity in the 90 days up to this day.")
    new_advocates = models.PositiveIntegerField(default=0, help_text="Became active this day.")
    # Asks
    offers = models.PositiveIntegerField(default=0)
    accepts = models.PositiveIntegerField(default=0)
    completions = models.PositiveIntegerField(default=0, help_text="Assignments approved.")
    declines = models.PositiveIntegerField(default=0)
    expiries = models.PositiveIntegerField(default=0)
    proof_by_kind = models.JSONField(default=dict, blank=True, help_text='Approved proof by ask kind: {"review": 3}.')
    # Referrals
    referral_clicks = models.PositiveIntegerField(default=0)
    referral_leads = models.PositiveIntegerField(default=0)
    referral_conversions = models.PositiveIntegerField(default=0)
    referral_revenue = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    # NPS
    nps_promoters = models.PositiveIntegerField(default=0)
    nps_passives = models.PositiveIntegerField(default=0)
    nps_detractors = models.PositiveIntegerField(default=0)
    surveys_sent = models.PositiveIntegerField(default=0)
    # Points
    points_earned = models.PositiveIntegerField(default=0)
    points_redeemed = models.PositiveIntegerField(default=0)
    points_outstanding = models.BigIntegerField(default=0, help_text="Spendable balances at the end of the day (workspace row).")
    # Money (the workspace's currency)
    pipeline_influenced = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    revenue_won = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    program_costs = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    # Activity events posted by integrations
    events = models.PositiveIntegerField(default=0)

    computed_at = models.DateTimeField(default=now)

    objects = WorkspaceScopedManager()

    class Meta:
        ordering = ["day", "program_id"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "day"], condition=Q(program__isnull=True),
                                    name="dailymetric_unique_workspace_day"),
            models.UniqueConstraint(fields=["workspace", "program", "day"], condition=Q(program__isnull=False),
                                    name="dailymetric_unique_program_day"),
        ]
        indexes = [models.Index(fields=["workspace", "day"])]

    def __str__(self) -> str:
        return f"{self.day} {self.program_id or 'all'}"


class AdvocateDay(models.Model):
    """One person's activity on one day (rolled up with DailyMetric): what makes them
    active, and what top advocates are ranked by.

    Derived data, rewritten by every rollup: its foreign keys are not database constraints
    (Django still deletes the rows with their workspace or person), because checking two
    keys for each of a day's tens of thousands of rows at commit was a quarter of a first
    rollup's time (bench/rollup.py)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    advocate = models.ForeignKey(Advocate, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    day = models.DateField()
    actions = models.PositiveIntegerField(default=0, help_text="Everything they did this day.")
    completions = models.PositiveIntegerField(default=0)
    conversions = models.PositiveIntegerField(default=0)
    points_earned = models.PositiveIntegerField(default=0)

    objects = WorkspaceScopedManager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "day", "advocate"], name="advocateday_unique")]
        indexes = [models.Index(fields=["workspace", "advocate", "day"])]

    def __str__(self) -> str:
        return f"{self.advocate_id} on {self.day}"


class CostCategory(models.TextChoices):
    SOFTWARE = "software", "Software"
    STAFF = "staff", "Staff"
    REWARDS = "rewards", "Rewards fulfilled"
    CONTENT = "content", "Content"
    EVENTS = "events", "Events"
    OTHER = "other", "Other"


class ProgramCost(models.Model):
    """Money spent on a program, entered by a manager (the denominator of ROI)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="costs")
    category = models.CharField(max_length=10, choices=CostCategory.choices)
    amount = models.DecimalField(max_digits=14, decimal_places=2, validators=[MinValueValidator(0)])
    incurred_on = models.DateField()
    note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=now)

    objects = WorkspaceScopedManager()

    class Meta:
        ordering = ["-incurred_on", "-id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gte=0), name="programcost_amount_not_negative")]
        indexes = [models.Index(fields=["workspace", "incurred_on"]), models.Index(fields=["workspace", "program", "incurred_on"])]

    def __str__(self) -> str:
        return f"{self.category} {self.amount}"


class RollupDirtyDay(models.Model):
    """A past day whose source rows changed after it was rolled up (a back-dated event, a
    late conversion, a deal decided, a cost entered): the hourly rollup recomputes it, then
    deletes the mark (insights/dirty.py)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    day = models.DateField(help_text="A calendar day in the workspace's time zone.")
    marked_at = models.DateTimeField(default=now)

    objects = WorkspaceScopedManager()

    class Meta:
        ordering = ["day"]
        constraints = [models.UniqueConstraint(fields=["workspace", "day"], name="rollupdirtyday_unique")]

    def __str__(self) -> str:
        return f"{self.workspace_id} {self.day}"
