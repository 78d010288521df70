"""Programs, asks, assignments, invitations, enrolments and outcomes.

An assignment joins an ask and an advocate and moves through the states of
``AssignmentState``; which state may follow which is defined once, in
``programs/states.py``. Every table carries ``workspace`` and its unique keys start with it.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.timezone import now

from advocacy.models import Advocate, Tag, Workspace, WorkspaceScopedManager


class Goal(models.TextChoices):
    REFERRALS = "referrals", "Referrals"
    REVIEWS = "reviews", "Reviews"
    REFERENCES = "references", "References"
    CASE_STUDIES = "case_studies", "Case studies"
    BETA_FEEDBACK = "beta_feedback", "Beta feedback"
    CO_MARKETING = "co_marketing", "Co-marketing"
    COMMUNITY = "community", "Community"
    MIXED = "mixed", "Mixed"


class ProgramStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    ARCHIVED = "archived", "Archived"


# The metrics a program can set a target for (objectives), with how they read.
OBJECTIVE_METRICS = {
    "completions": "Asks completed",
    "reviews": "Reviews published",
    "reference_calls": "Reference calls taken",
    "case_studies": "Case studies",
    "referrals": "Referral leads",
    "conversions": "Referral conversions",
    "pipeline": "Pipeline influenced",
    "revenue_won": "Influenced revenue won",
    "active_advocates": "Active advocates",
}


class Program(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="programs")
    name = models.CharField(max_length=120)
    goal = models.CharField(max_length=16, choices=Goal.choices, default=Goal.MIXED)
    status = models.CharField(max_length=10, choices=ProgramStatus.choices, default=ProgramStatus.ACTIVE)
    description = models.TextField(blank=True, help_text="What the program is for; advocates see it.")
    landing_url = models.URLField(max_length=500, blank=True, help_text="Where referral links land.")
    objectives = models.JSONField(default=dict, blank=True, help_text='Targets, e.g. {"reviews": 50, "pipeline": 250000}.')
    onboarding_steps = models.JSONField(
        default=list, blank=True,
        help_text="Steps an advocate completes before their first ask in this program (e.g. accept the terms).",
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = WorkspaceScopedManager()

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="program_unique_name")]
        indexes = [models.Index(fields=["workspace", "status"])]

    def __str__(self) -> str:
        return self.name

    @property
    def requires_onboarding(self) -> bool:
        return bool(self.onboarding_steps)


class AskKind(models.TextChoices):
    REVIEW = "review", "Review"
    SOCIAL_SHARE = "social_share", "Social share"
    COMMUNITY_ANSWER = "community_answer", "Community answer"
    BETA_FEEDBACK = "beta_feedback", "Beta feedback"
    SURVEY = "survey", "Survey"
    TESTIMONIAL = "testimonial", "Testimonial"
    REFERRAL = "referral", "Referral"
    REFERENCE_CALL = "reference_call", "Reference call"
    CASE_STUDY = "case_study", "Case study"
    SPEAKING = "speaking", "Speaking"
    CUSTOM = "custom", "Custom"


class Effort(models.TextChoices):
    SMALL = "small", "Small"
    MEDIUM = "medium", "Medium"
    LARGE = "large", "Large"


# PRODUCT.md: small 50-100, medium 150-200, large 300-500. The form suggests the low end.
DEFAULT_POINTS = {Effort.SMALL: 50, Effort.MEDIUM: 150, Effort.LARGE: 300}
POINTS_RANGE = {Effort.SMALL: (50, 100), Effort.MEDIUM: (150, 200), Effort.LARGE: (300, 500)}


class AskStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class Ask(models.Model):
    """One specific, small request, offered to advocates who match its audience."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="asks")
    kind = models.CharField(max_length=20, choices=AskKind.choices)
    title = models.CharField(max_length=200)
    instructions = models.TextField(blank=True)
    effort = models.CharField(max_length=6, choices=Effort.choices, default=Effort.SMALL)
    points = models.PositiveIntegerField(default=50, validators=[MaxValueValidator(100_000)])
    capacity = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1), MaxValueValidator(100_000)],
                                           help_text="How many completions are wanted.")
    overbook = models.PositiveSmallIntegerField(default=2, validators=[MinValueValidator(1), MaxValueValidator(10)],
                                                help_text="Offers per open place (people decline or let offers expire).")
    deadline = models.DateTimeField(null=True, blank=True)
    needs_approval = models.BooleanField(default=True, help_text="A manager approves the proof before points are credited.")
    status = models.CharField(max_length=6, choices=AskStatus.choices, default=AskStatus.OPEN)

    # Audience: every given criterion must match; an empty one matches everybody.
    audience_tags = models.ManyToManyField(Tag, through="AskAudienceTag", blank=True, related_name="+",
                                           help_text="Any of these tags.")
    audience_types = models.JSONField(default=list, blank=True)
    audience_motivations = models.JSONField(default=list, blank=True)
    audience_expressiveness = models.JSONField(default=list, blank=True)
    min_tier = models.CharField(max_length=40, blank=True, help_text="Lowest tier (by name) that may be offered the ask.")
    tenure_min_days = models.PositiveIntegerField(null=True, blank=True, help_text="Customer for at least this many days.")
    tenure_max_days = models.PositiveIntegerField(null=True, blank=True, help_text="Customer for at most this many days.")

    # Reference matching (reference calls): rotation prefers advocates tagged with these.
    prospect_industry = models.CharField(max_length=80, blank=True)
    prospect_company_size = models.CharField(max_length=80, blank=True)
    prospect_use_case = models.CharField(max_length=80, blank=True)

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=now)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_reason = models.CharField(max_length=200, blank=True)

    objects = WorkspaceScopedManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["workspace", "status"]),
            models.Index(fields=["workspace", "program", "status"]),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def prospect(self) -> list[str]:
        return [v for v in (self.prospect_industry, self.prospect_company_size, self.prospect_use_case) if v]


class AskAudienceTag(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    ask = models.ForeignKey(Ask, on_delete=models.CASCADE, related_name="+")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="+")

    objects = WorkspaceScopedManager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "ask", "tag"], name="askaudiencetag_unique")]

    def __str__(self) -> str:
        return f"{self.ask_id}:{self.tag_id}"


class AssignmentState(models.TextChoices):
    OFFERED = "offered", "Offered"
    ACCEPTED = "accepted", "Accepted"
    SUBMITTED = "submitted", "Submitted"
    APPROVED = "approved", "Approved"
    DECLINED = "declined", "Declined"
    EXPIRED = "expired", "Expired"
    REJECTED = "rejected", "Rejected"
    WITHDRAWN = "withdrawn", "Withdrawn"


OFFER_VALID_FOR = timedelta(days=7)


class Assignment(models.Model):
    """An ask offered to one advocate, and what became of it. One per ask and advocate:
    nobody is offered the same ask twice."""

    class Source(models.TextChoices):
        ROTATION = "rotation", "Rotation"
        MANUAL = "manual", "Offered by a manager"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    ask = models.ForeignKey(Ask, on_delete=models.CASCADE, related_name="assignments")
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="+")
    advocate = models.ForeignKey(Advocate, on_delete=models.CASCADE, related_name="assignments")
    state = models.CharField(max_length=10, choices=AssignmentState.choices, default=AssignmentState.OFFERED)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.ROTATION)
    offered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    offered_at = models.DateTimeField(default=now)
    offer_expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True, help_text="When it reached its final state.")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.CharField(max_length=300, blank=True, help_text="Why it was declined, rejected, expired or withdrawn.")
    proof_url = models.URLField(max_length=500, blank=True)
    proof_text = models.TextField(blank=True)
    proof_file = models.FileField(upload_to="proofs/%Y/%m/", blank=True, max_length=300)
    points_entry_id = models.BigIntegerField(null=True, blank=True, help_text="The ledger entry that credited the points.")
    reminded_at = models.DateTimeField(null=True, blank=True)

    objects = WorkspaceScopedManager()

    class Meta:
        ordering = ["-offered_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "ask", "advocate"], name="assignment_once_per_ask"),
        ]
        indexes = [
            models.Index(fields=["workspace", "ask", "state"]),
            models.Index(fields=["workspace", "advocate", "-offered_at"]),
            models.Index(fields=["workspace", "state", "offer_expires_at"]),
            models.Index(fields=["workspace", "state", "-submitted_at"]),
            models.Index(fields=["workspace", "state", "decided_at"], name="assignment_state_decided"),  # rest after large asks
        ]

    def __str__(self) -> str:
        return f"{self.ask_id} → {self.advocate_id} ({self.state})"


class Invitation(models.Model):
    """A personal invitation to join the advocacy program (optionally a given program).
    The token is stored hashed; the link works for 14 days and can be resent."""

    VALID_FOR = timedelta(days=14)

    class Status(models.TextChoices):
        SENT = "sent", "Sent"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"
        REVOKED = "revoked", "Revoked"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    advocate = models.ForeignKey(Advocate, on_delete=models.CASCADE, related_name="invitations")
    program = models.ForeignKey(Program, null=True, blank=True, on_delete=models.SET_NULL, related_name="invitations")
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    inviter_name = models.CharField(max_length=120, help_text="The named manager the note comes from.")
    note = models.TextField(help_text="A personal note.")
    why_chosen = models.TextField(blank=True)
    whats_in_it = models.TextField(blank=True, help_text="What is in it for them.")
    what_taking_part_looks_like = models.TextField(blank=True)
    token_hash = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SENT)
    sent_at = models.DateTimeField(default=now)
    send_count = models.PositiveSmallIntegerField(default=1)
    responded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=now)

    objects = WorkspaceScopedManager()

    class Meta:
        ordering = ["-sent_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "advocate"], condition=Q(status="sent"), name="invitation_one_open_per_advocate"),
        ]
        indexes = [models.Index(fields=["workspace", "status", "-sent_at"])]

    def __str__(self) -> str:
        return f"Invitation of {self.advocate_id}"

    @property
    def expires_at(self):
        return self.sent_at + self.VALID_FOR

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.SENT and now() < self.expires_at


class Enrollment(models.Model):
    """An advocate's place in a program: onboarding steps done, and when they finished."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="enrollments")
    advocate = models.ForeignKey(Advocate, on_delete=models.CASCADE, related_name="enrollments")
    steps_done = models.JSONField(default=list, blank=True)
    onboarded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=now)

    objects = WorkspaceScopedManager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "program", "advocate"], name="enrollment_unique")]
        indexes = [models.Index(fields=["workspace", "program", "onboarded_at"])]

    def __str__(self) -> str:
        return f"{self.advocate_id} in {self.program_id}"


class OutcomeKind(models.TextChoices):
    DEAL = "deal", "Deal influenced"
    REVIEW = "review", "Published review"
    REACH = "reach", "Reach"


class DealStatus(models.TextChoices):
    OPEN = "open", "Open"
    WON = "won", "Won"
    LOST = "lost", "Lost"


class Outcome(models.Model):
    """What an approved assignment achieved, told back to the advocate (closing the loop)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="outcomes")
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="+")
    advocate = models.ForeignKey(Advocate, on_delete=models.CASCADE, related_name="outcomes")
    kind = models.CharField(max_length=8, choices=OutcomeKind.choices)
    deal_name = models.CharField(max_length=200, blank=True)
    amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    deal_status = models.CharField(max_length=6, choices=DealStatus.choices, blank=True)
    url = models.URLField(max_length=500, blank=True)
    reach = models.PositiveIntegerField(null=True, blank=True, help_text="People reached (views, readers, attendees).")
    note = models.CharField(max_length=500, blank=True, help_text="A line for the advocate.")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(default=now)
    decided_at = models.DateTimeField(null=True, blank=True,
                                      help_text="When a deal was marked won or lost (empty while open); other edits keep it.")

    objects = WorkspaceScopedManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["workspace", "advocate", "-created_at"]),
            models.Index(fields=["workspace", "program", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for assignment {self.assignment_id}"
