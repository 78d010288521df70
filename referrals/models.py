"""Referrals: codes, clicks, referred people (leads), conversions, coupons, and each
program's referral settings (PRODUCT.md "Referrals").

Codes are unique across all workspaces (the public link ``/r/<code>`` carries no
workspace). Clicks are written in batches from a buffer (referrals/clicks.py), each with
its own UUID so a replayed batch inserts nothing twice. A conversion is unique per
workspace by the integration's external id, and per referral.
"""

from __future__ import annotations

import uuid

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.timezone import now

from advocacy.models import Advocate, Workspace, WorkspaceScopedManager
from programs.models import Program

# Unambiguous: no 0/O, 1/I/L, and no vowels that could spell words.
CODE_ALPHABET = "23456789BCDFGHJKMNPQRSTVWXZ"
CODE_LENGTH = 10


class ReferralSettings(models.Model):
    """A program's referral rules: rewards on each side, attribution window, hold period."""

    class RefereeReward(models.TextChoices):
        NONE = "none", "Nothing"
        POINTS = "points", "Points (when the referee is an advocate)"
        COUPON = "coupon", "A coupon code from the pool"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    program = models.OneToOneField(Program, on_delete=models.CASCADE, related_name="referral_settings")
    referrer_points = models.PositiveIntegerField(default=500, validators=[MaxValueValidator(1_000_000)])
    referee_reward = models.CharField(max_length=8, choices=RefereeReward.choices, default=RefereeReward.COUPON)
    referee_points = models.PositiveIntegerField(default=0, validators=[MaxValueValidator(1_000_000)])
    attribution_window_days = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text="Empty: the workspace's window (90 days by default).",
    )
    hold_days = models.PositiveSmallIntegerField(default=30, validators=[MaxValueValidator(365)],
                                                 help_text="Days before referral points become spendable.")
    updated_at = models.DateTimeField(auto_now=True)

    objects = WorkspaceScopedManager()

    def __str__(self) -> str:
        return f"Referral settings of {self.program_id}"


class ReferralCode(models.Model):
    """One code per advocate per program."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="referral_codes")
    advocate = models.ForeignKey(Advocate, on_delete=models.CASCADE, related_name="referral_codes")
    code = models.CharField(max_length=16, unique=True)
    created_at = models.DateTimeField(default=now)

    objects = WorkspaceScopedManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "program", "advocate"], name="referralcode_one_per_program"),
        ]

    def __str__(self) -> str:
        return self.code


class Click(models.Model):
    """A follow of ``/r/<code>``, written from the click buffer in batches."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    code = models.ForeignKey(ReferralCode, on_delete=models.CASCADE, related_name="clicks")
    at = models.DateTimeField()
    ip_hash = models.CharField(max_length=64, help_text="HMAC-SHA256 of the IP with a secret salt; the IP is never stored.")
    user_agent = models.CharField(max_length=300, blank=True)
    referer = models.CharField(max_length=500, blank=True)
    attributed = models.BooleanField(default=True, help_text="False for a paused program or a departed advocate.")
    flagged = models.BooleanField(default=False, help_text="Over 20 clicks a minute from one IP on one code: not counted.")

    objects = WorkspaceScopedManager()

    class Meta:
        ordering = ["-at"]
        indexes = [
            models.Index(fields=["workspace", "at"]),
            models.Index(fields=["workspace", "code", "at"]),
        ]

    def __str__(self) -> str:
        return f"click on {self.code_id} at {self.at:%Y-%m-%d %H:%M}"


class ReferralState(models.TextChoices):
    LEAD = "lead", "Lead"
    QUALIFIED = "qualified", "Qualified"
    CONVERTED = "converted", "Converted"
    REJECTED = "rejected", "Rejected"


class Referral(models.Model):
    """A person referred by an advocate's code: created by the landing page's form or an
    integration, then qualified, converted, or rejected with a reason."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    code = models.ForeignKey(ReferralCode, on_delete=models.PROTECT, related_name="referrals")
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="+")
    advocate = models.ForeignKey(Advocate, on_delete=models.CASCADE, related_name="referrals_made")
    referee_email = models.EmailField(max_length=254)
    referee_name = models.CharField(max_length=200, blank=True)
    referee_company = models.CharField(max_length=200, blank=True)
    state = models.CharField(max_length=10, choices=ReferralState.choices, default=ReferralState.LEAD)
    reason = models.CharField(max_length=300, blank=True, help_text="Why it was rejected.")
    flags = models.JSONField(default=list, blank=True, help_text='Fraud rules that flagged it: [{"rule": …, "reason": …}].')
    source = models.CharField(max_length=10, default="form", help_text='"form" (landing page) or "api".')
    first_touch_at = models.DateTimeField(default=now, help_text="When the referee first came through the code.")
    created_at = models.DateTimeField(default=now)
    qualified_at = models.DateTimeField(null=True, blank=True)
    converted_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    rewarded_at = models.DateTimeField(
        null=True, blank=True, help_text="When the referrer's reward was granted (once; a flagged conversion waits for a manager).",
    )

    objects = WorkspaceScopedManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["workspace", "state", "-created_at"]),
            models.Index(fields=["workspace", "advocate", "-created_at"]),
            models.Index(fields=["workspace", "referee_email"]),
        ]

    def __str__(self) -> str:
        return f"{self.referee_email} via {self.code_id}"

    @property
    def is_flagged(self) -> bool:
        return bool(self.flags)


class Conversion(models.Model):
    """A referee became a customer, reported by an integration: once per external id and
    once per referral."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    referral = models.OneToOneField(Referral, null=True, blank=True, on_delete=models.PROTECT, related_name="conversion")
    external_id = models.CharField(max_length=200)
    referee_email = models.EmailField(max_length=254)
    value = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3)
    attributed = models.BooleanField(default=True, help_text="False when no referral's first touch was within the window.")
    occurred_at = models.DateTimeField(default=now)
    created_at = models.DateTimeField(default=now)

    objects = WorkspaceScopedManager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["workspace", "external_id"], name="conversion_unique_external_id")]
        indexes = [models.Index(fields=["workspace", "occurred_at"])]

    def __str__(self) -> str:
        return f"{self.external_id} ({self.value} {self.currency})"


class Coupon(models.Model):
    """A coupon code in a program's pool, given to a converted referee at most once."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="coupons")
    code = models.CharField(max_length=100)
    referral = models.OneToOneField(Referral, null=True, blank=True, on_delete=models.SET_NULL, related_name="coupon")
    assigned_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=now)

    objects = WorkspaceScopedManager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "program", "code"], name="coupon_unique_code")]
        indexes = [models.Index(fields=["workspace", "program"], condition=Q(referral__isnull=True), name="coupon_free")]

    def __str__(self) -> str:
        return self.code
