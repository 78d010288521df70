"""The points ledger, held rewards and tiers.

The ledger is append-only: the database refuses UPDATE and DELETE on its rows (a trigger,
see migration 0002). An advocate's spendable balance is cached on ``Advocate.points_balance``
(``CHECK (points_balance >= 0)``) and always equals the sum of their entries;
``manage.py check_ledger`` proves it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.timezone import now

from advocacy.models import Advocate, Workspace, WorkspaceScopedManager


class EntryKind(models.TextChoices):
    EARN_ASK = "earn_ask", "Ask completed"
    EARN_REFERRAL = "earn_referral", "Referral"
    EARN_BADGE = "earn_badge", "Badge"
    EARN_BONUS = "earn_bonus", "Bonus"
    REDEEM = "redeem", "Redeemed"
    REFUND = "refund", "Refund"
    EXPIRE = "expire", "Expired"
    ADJUST = "adjust", "Adjustment"
    DONATE = "donate", "Donation"


EARN_KINDS = {EntryKind.EARN_ASK, EntryKind.EARN_REFERRAL, EntryKind.EARN_BADGE, EntryKind.EARN_BONUS}
CREDIT_KINDS = EARN_KINDS | {EntryKind.REFUND, EntryKind.ADJUST}
DEBIT_KINDS = {EntryKind.REDEEM, EntryKind.EXPIRE, EntryKind.ADJUST, EntryKind.DONATE}


def earned_entries() -> Q:
    """Entries that count as points *earned* (lifetime points, tiers, leaderboards): the
    earn_* kinds and positive manual adjustments; never refunds, spending or expiry."""
    return Q(kind__in=sorted(EARN_KINDS)) | Q(kind=EntryKind.ADJUST, amount__gt=0)


class LedgerEntry(models.Model):
    """One movement of points. Never edited or deleted: a mistake gets a reversing entry."""

    workspace = models.ForeignKey(Workspace, on_delete=models.PROTECT, related_name="+")
    advocate = models.ForeignKey(Advocate, on_delete=models.PROTECT, related_name="ledger_entries")
    kind = models.CharField(max_length=16, choices=EntryKind.choices)
    amount = models.IntegerField(help_text="Signed: credits are positive, debits negative.")
    reason = models.CharField(max_length=300)
    cause = models.CharField(max_length=100, blank=True, help_text='What caused it, e.g. "assignment:12", "redemption:7".')
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_label = models.CharField(max_length=254, blank=True)
    idempotency_key = models.CharField(max_length=200)
    balance_after = models.IntegerField(help_text="The advocate's balance right after this entry.")
    program_id = models.BigIntegerField(
        null=True, blank=True,
        help_text="The program the points were earned in, for per-program leaderboards (an id, not a foreign key: rewards knows nothing of programs).",
    )
    created_at = models.DateTimeField(default=now)

    objects = WorkspaceScopedManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "idempotency_key"], name="ledger_unique_idempotency_key"),
            models.CheckConstraint(condition=~Q(amount=0), name="ledger_amount_not_zero"),
            models.CheckConstraint(
                condition=Q(kind__in=sorted(EARN_KINDS | {EntryKind.REFUND}), amount__gt=0)
                | Q(kind__in=[EntryKind.REDEEM, EntryKind.EXPIRE, EntryKind.DONATE], amount__lt=0)
                | Q(kind=EntryKind.ADJUST),
                name="ledger_sign_matches_kind",
            ),
        ]
        indexes = [
            models.Index(fields=["workspace", "advocate", "-created_at"]),
            models.Index(fields=["workspace", "created_at"]),
            models.Index(fields=["workspace", "program_id", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.amount:+d} {self.kind} for {self.advocate_id}"


class HeldReward(models.Model):
    """Points earned but not yet spendable (a hold period), or held back by a rule. The
    advocate sees each one and why; ``release_held_rewards`` credits it when due."""

    class Status(models.TextChoices):
        HELD = "held", "Held"
        RELEASED = "released", "Released"
        CANCELLED = "cancelled", "Cancelled"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    advocate = models.ForeignKey(Advocate, on_delete=models.CASCADE, related_name="held_rewards")
    kind = models.CharField(max_length=16, choices=EntryKind.choices)
    amount = models.PositiveIntegerField()
    reason = models.CharField(max_length=300)
    held_because = models.CharField(max_length=300)
    cause = models.CharField(max_length=100, blank=True)
    idempotency_key = models.CharField(max_length=200)
    release_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.HELD)
    entry = models.OneToOneField(LedgerEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=now)

    objects = WorkspaceScopedManager()

    class Meta:
        ordering = ["release_at", "id"]
        constraints = [models.UniqueConstraint(fields=["workspace", "idempotency_key"], name="held_unique_idempotency_key")]
        indexes = [models.Index(fields=["workspace", "status", "release_at"])]

    def __str__(self) -> str:
        return f"{self.amount} held for {self.advocate_id} until {self.release_at:%Y-%m-%d}"


class Tier(models.Model):
    """A rung of the workspace's ladder, reached by lifetime points earned (never the
    current balance, so spending never demotes)."""

    DEFAULTS = [("Member", 0, "Welcome to the program."), ("Insider", 1000, "Early access to betas and roadmap previews."),
                ("Champion", 5000, "Invitations to the customer advisory board."), ("Elite", 15000, "A seat at our annual summit.")]

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="tiers")
    name = models.CharField(max_length=40)
    threshold = models.PositiveIntegerField(help_text="Lifetime points earned to reach this tier.")
    perks = models.TextField(blank=True)

    objects = WorkspaceScopedManager()

    class Meta:
        ordering = ["threshold"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "threshold"], name="tier_unique_threshold"),
            models.UniqueConstraint(fields=["workspace", "name"], name="tier_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class RewardSettings(models.Model):
    """A workspace's reward rules: expiry, the yearly value cap and the referral hold."""

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, related_name="reward_settings")
    points_expire_after_months = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Points expire this many months after they were earned, oldest first. Empty: never.",
    )
    yearly_value_cap = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True,
        help_text="At most this much reward value per advocate per calendar year (tax rules). Empty: no cap.",
    )
    referral_hold_days = models.PositiveSmallIntegerField(default=30, help_text="Days before referral points become spendable.")

    objects = WorkspaceScopedManager()

    def __str__(self) -> str:
        return f"Reward settings of {self.workspace_id}"


class ItemKind(models.TextChoices):
    GIFT_CARD = "gift_card", "Gift card"
    SWAG = "swag", "Swag"
    EVENT_PASS = "event_pass", "Event pass"
    EXPERIENCE = "experience", "Experience"
    DISCOUNT = "discount", "Discount"
    CHARITY = "charity", "Charity donation"
    CUSTOM = "custom", "Custom"


class CatalogItem(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=12, choices=ItemKind.choices)
    cost = models.PositiveIntegerField(help_text="Points.")
    value = models.DecimalField(max_digits=10, decimal_places=2, default=0, help_text="Money value, for the yearly cap.")
    stock = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: unlimited.")
    per_advocate_limit = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: no limit.")
    needs_approval = models.BooleanField(default=True)
    fulfilment_instructions = models.TextField(blank=True)
    charity_name = models.CharField(max_length=120, blank=True, help_text="For charity donations.")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=now)

    objects = WorkspaceScopedManager()

    class Meta:
        ordering = ["cost", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(cost__gt=0), name="catalog_cost_positive"),
            models.CheckConstraint(condition=Q(stock__isnull=True) | Q(stock__gte=0), name="catalog_stock_not_negative"),
        ]
        indexes = [models.Index(fields=["workspace", "active", "cost"])]

    def __str__(self) -> str:
        return self.name


class Redemption(models.Model):
    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        APPROVED = "approved", "Approved"
        FULFILLED = "fulfilled", "Fulfilled"
        REJECTED = "rejected", "Rejected"
        CANCELLED = "cancelled", "Cancelled"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    advocate = models.ForeignKey(Advocate, on_delete=models.PROTECT, related_name="redemptions")
    item = models.ForeignKey(CatalogItem, on_delete=models.PROTECT, related_name="redemptions")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.REQUESTED)
    points = models.PositiveIntegerField()
    value = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    debit_entry = models.OneToOneField(LedgerEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    refund_entry = models.OneToOneField(LedgerEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    fulfilment_note = models.TextField(blank=True, help_text="A code or a tracking note for the advocate.")
    reason = models.CharField(max_length=300, blank=True, help_text="Why it was rejected or cancelled.")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=now)
    decided_at = models.DateTimeField(null=True, blank=True)
    fulfilled_at = models.DateTimeField(null=True, blank=True)

    objects = WorkspaceScopedManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["workspace", "status", "created_at"]),
            models.Index(fields=["workspace", "advocate", "item"]),
        ]

    def __str__(self) -> str:
        return f"{self.item_id} for {self.advocate_id} ({self.status})"


class Badge(models.Model):
    """A badge awarded by a rule held as data: ``{"fact": "reviews_completed", "at_least": 1}``.
    Facts are reported to rewards by the apps that know them (``record_fact``)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    code = models.SlugField(max_length=50)
    name = models.CharField(max_length=80)
    description = models.CharField(max_length=300, blank=True)
    rule = models.JSONField(default=dict)
    points = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=now)

    objects = WorkspaceScopedManager()

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "code"], name="badge_unique_code")]

    def __str__(self) -> str:
        return self.name


class BadgeAward(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    badge = models.ForeignKey(Badge, on_delete=models.CASCADE, related_name="awards")
    advocate = models.ForeignKey(Advocate, on_delete=models.CASCADE, related_name="badge_awards")
    entry = models.OneToOneField(LedgerEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    awarded_at = models.DateTimeField(default=now)

    objects = WorkspaceScopedManager()

    class Meta:
        ordering = ["-awarded_at"]
        constraints = [models.UniqueConstraint(fields=["workspace", "badge", "advocate"], name="badge_award_once")]

    def __str__(self) -> str:
        return f"{self.badge_id} to {self.advocate_id}"


class AdvocateFact(models.Model):
    """A counted fact about an advocate, reported by a higher app (asks completed, reviews,
    converted referrals, reference calls, promoter answers): what badge rules read."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    advocate = models.ForeignKey(Advocate, on_delete=models.CASCADE, related_name="facts")
    fact = models.CharField(max_length=50)
    count = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(default=now)

    objects = WorkspaceScopedManager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "advocate", "fact"], name="fact_unique")]

    def __str__(self) -> str:
        return f"{self.fact}={self.count} for {self.advocate_id}"


class ExpiryNotice(models.Model):
    """The advance notice that points will expire, sent once per advocate and date."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    advocate = models.ForeignKey(Advocate, on_delete=models.CASCADE, related_name="+")
    expires_on = models.DateField()
    points = models.PositiveIntegerField()
    sent_at = models.DateTimeField(default=now)

    objects = WorkspaceScopedManager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "advocate", "expires_on"], name="expiry_notice_once")]

    def __str__(self) -> str:
        return f"{self.points} points of {self.advocate_id} expire {self.expires_on}"
