"""The core: tenancy (workspaces, staff, API keys), people (advocates, tags), activity events,
the audit log and the API's idempotency records.

Every tenant model carries ``workspace``; its unique keys and hot indexes start with it.
Tenant models use a scoped manager that fails closed: a query outside ``scope(workspace=…)``
raises instead of returning every workspace's rows (django-scopes).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.timezone import now
from django_scopes import ScopedManager


def WorkspaceScopedManager():
    return ScopedManager(workspace="workspace")


# ---------------------------------------------------------------------------------------
# Users and workspaces
# ---------------------------------------------------------------------------------------


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("An email address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """A person who signs in: staff of one or more workspaces, or an advocate (or both).

    Email is the identifier; there is no username."""

    username = None
    email = models.EmailField("email address", unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    def __str__(self) -> str:
        return self.email

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.email


slug_validator = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$",
    "Use 1 to 50 lower-case letters, digits and hyphens, not starting or ending with a hyphen.",
)

RESERVED_SLUGS = {"new", "api", "admin", "accounts", "portal", "static", "media", "r", "s", "w"}


class Workspace(models.Model):
    """One company running advocacy programs: the tenant."""

    slug = models.SlugField(max_length=50, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=120)
    timezone = models.CharField(max_length=64, default="UTC")
    currency = models.CharField(max_length=3, default="USD")
    created_at = models.DateTimeField(default=now)

    # Fatigue policy: one contact budget per person (PRODUCT.md "Fatigue").
    max_contacts_per_30_days = models.PositiveSmallIntegerField(
        default=4, validators=[MinValueValidator(1), MaxValueValidator(30)],
        help_text="Offers and surveys per person in any rolling 30 days.",
    )
    min_days_between_offers = models.PositiveSmallIntegerField(
        default=7, validators=[MaxValueValidator(90)],
        help_text="Days that must pass between two offers to one person.",
    )
    rest_days_after_large_ask = models.PositiveSmallIntegerField(
        default=30, validators=[MaxValueValidator(365)],
        help_text="Days of rest after a person completes a large ask.",
    )
    max_reference_calls_per_90_days = models.PositiveSmallIntegerField(
        default=2, validators=[MinValueValidator(1), MaxValueValidator(20)],
        help_text="Reference calls per person in any 90 days.",
    )
    detractor_quiet_days = models.PositiveSmallIntegerField(
        default=90, validators=[MaxValueValidator(365)],
        help_text="Days without asks after a detractor's NPS answer (0-6).",
    )
    # Referrals and scores (used by later parts; kept with the other workspace settings).
    attribution_window_days = models.PositiveSmallIntegerField(
        default=90, validators=[MinValueValidator(1), MaxValueValidator(365)]
    )
    score_weights = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    MANAGER = "manager", "Manager"
    VIEWER = "viewer", "Viewer"


ROLE_RANK = {Role.VIEWER: 1, Role.MANAGER: 2, Role.OWNER: 3}


class Membership(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MANAGER)
    created_at = models.DateTimeField(default=now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user"], name="membership_unique_user"),
        ]
        ordering = ["workspace", "user__email"]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}) in {self.workspace}"

    def has_role(self, minimum: str) -> bool:
        return ROLE_RANK[Role(self.role)] >= ROLE_RANK[Role(minimum)]


def _new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class StaffInvitation(models.Model):
    """An invitation for a colleague to join a workspace's staff with a role."""

    VALID_FOR = timedelta(days=14)

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="staff_invitations")
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MANAGER)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=now)
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = models.Manager()
    scoped = WorkspaceScopedManager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["workspace", "email"])]

    def __str__(self) -> str:
        return f"Invitation of {self.email} to {self.workspace_id}"

    @property
    def expires_at(self):
        return self.created_at + self.VALID_FOR

    @property
    def is_open(self) -> bool:
        return not self.accepted_at and not self.revoked_at and now() < self.expires_at


class ApiKey(models.Model):
    """A workspace's API key. Only a SHA-256 hash is stored; the prefix tells keys apart."""

    PREFIX_LEN = 12

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16)
    key_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = models.Manager()
    scoped = WorkspaceScopedManager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["workspace", "created_at"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def generate() -> str:
        return "adv_" + secrets.token_urlsafe(32)

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


# ---------------------------------------------------------------------------------------
# People
# ---------------------------------------------------------------------------------------


class Stage(models.TextChoices):
    CANDIDATE = "candidate", "Candidate"
    INVITED = "invited", "Invited"
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    ALUMNI = "alumni", "Alumni"
    OPTED_OUT = "opted_out", "Opted out"


class AdvocateType(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    EMPLOYEE = "employee", "Employee"
    PARTNER = "partner", "Partner"


class Motivation(models.TextChoices):
    UNKNOWN = "unknown", "Unknown"
    INTRINSIC = "intrinsic", "Intrinsic"
    EXTRINSIC = "extrinsic", "Extrinsic"


class Expressiveness(models.TextChoices):
    UNKNOWN = "unknown", "Unknown"
    INTROVERTED = "introverted", "Introverted"
    AMBIVERTED = "ambiverted", "Ambiverted"
    EXTRAVERTED = "extraverted", "Extraverted"


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    PORTAL = "portal", "Portal"


def default_channels() -> list[str]:
    return [Channel.EMAIL.value, Channel.PORTAL.value]


class Tag(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=50)

    objects = WorkspaceScopedManager()

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="tag_unique_name")]

    def __str__(self) -> str:
        return self.name


class Advocate(models.Model):
    """Every person the workspace knows, whatever their stage."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="advocates")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="advocate_profiles", help_text="The portal login, linked at first sign-in.",
    )
    name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(max_length=254)
    company = models.CharField(max_length=200, blank=True)
    title = models.CharField(max_length=200, blank=True)
    type = models.CharField(max_length=10, choices=AdvocateType.choices, default=AdvocateType.CUSTOMER)
    external_id = models.CharField(max_length=100, null=True, blank=True)
    customer_since = models.DateField(null=True, blank=True)
    renewal_date = models.DateField(null=True, blank=True)
    tags = models.ManyToManyField(Tag, through="AdvocateTag", related_name="advocates", blank=True)
    motivation = models.CharField(max_length=10, choices=Motivation.choices, default=Motivation.UNKNOWN)
    expressiveness = models.CharField(max_length=12, choices=Expressiveness.choices, default=Expressiveness.UNKNOWN)
    stage = models.CharField(max_length=10, choices=Stage.choices, default=Stage.CANDIDATE)
    stage_changed_at = models.DateTimeField(default=now)

    # The advocate's own preferences; the stricter of these and the workspace policy wins.
    max_asks_per_month = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(0), MaxValueValidator(30)]
    )
    channels = models.JSONField(default=default_channels, blank=True)
    preferred_ask_kinds = models.JSONField(default=list, blank=True)
    show_on_leaderboards = models.BooleanField(default=True)

    # Derived values, kept up to date by the services and jobs that own them.
    score = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(100)])
    score_breakdown = models.JSONField(default=dict, blank=True)
    last_asked_at = models.DateTimeField(null=True, blank=True)
    last_activity_at = models.DateTimeField(null=True, blank=True)
    points_balance = models.IntegerField(default=0)
    lifetime_points = models.IntegerField(default=0)
    tier = models.CharField(max_length=40, blank=True)

    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(auto_now=True)
    erased_at = models.DateTimeField(null=True, blank=True)

    objects = WorkspaceScopedManager()

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint("workspace", Lower("email"), name="advocate_unique_email"),
            models.UniqueConstraint(
                fields=["workspace", "external_id"], condition=Q(external_id__isnull=False),
                name="advocate_unique_external_id",
            ),
            models.CheckConstraint(condition=Q(points_balance__gte=0), name="advocate_balance_not_negative"),
        ]
        indexes = [
            models.Index(fields=["workspace", "stage", "id"]),
            models.Index(fields=["workspace", "last_activity_at"]),
            models.Index(fields=["workspace", "-score"]),
            models.Index(fields=["workspace", "created_at"]),
            # Rotation's queue: active advocates, never asked first, then longest ago.
            models.Index(models.F("workspace"), models.F("last_asked_at").asc(nulls_first=True),
                         condition=Q(stage="active"), name="advocate_rotation_queue"),
        ]

    def __str__(self) -> str:
        return self.name or self.email

    @property
    def display_name(self) -> str:
        return self.name or self.email

    @property
    def is_erased(self) -> bool:
        return self.erased_at is not None


class AdvocateTag(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    advocate = models.ForeignKey(Advocate, on_delete=models.CASCADE, related_name="+")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="+")

    objects = WorkspaceScopedManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "advocate", "tag"], name="advocatetag_unique"),
        ]
        indexes = [models.Index(fields=["workspace", "tag", "advocate"])]

    def __str__(self) -> str:
        return f"{self.advocate_id}:{self.tag_id}"


class EventKind(models.TextChoices):
    EMAIL_OPEN = "email_open", "Email opened"
    EMAIL_CLICK = "email_click", "Email clicked"
    EVENT_ATTENDED = "event_attended", "Event attended"
    PURCHASE = "purchase", "Purchase"
    RENEWAL = "renewal", "Renewal"
    SOCIAL_MENTION = "social_mention", "Social mention"
    REVIEW_POSTED = "review_posted", "Review posted"
    COMMUNITY_POST = "community_post", "Community post"
    SUPPORT_TICKET = "support_ticket", "Support ticket"
    TESTIMONIAL = "testimonial", "Testimonial"
    CASE_STUDY = "case_study", "Case study"
    CUSTOM = "custom", "Custom"


class ActivityEvent(models.Model):
    """Something a customer did, posted by an integration. Expect millions of rows."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    advocate = models.ForeignKey(Advocate, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=EventKind.choices)
    occurred_at = models.DateTimeField()
    value = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    properties = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=now)

    objects = WorkspaceScopedManager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["workspace", "advocate", "-occurred_at"]),
            models.Index(fields=["workspace", "occurred_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} at {self.occurred_at:%Y-%m-%d %H:%M}"


class AuditLog(models.Model):
    """What a person did to people, points, rewards and settings, written in the same
    transaction as the change."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_label = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=60)
    advocate = models.ForeignKey(Advocate, null=True, blank=True, on_delete=models.CASCADE, related_name="audit_entries")
    message = models.CharField(max_length=500)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=now)

    objects = WorkspaceScopedManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["workspace", "-created_at"]),
            models.Index(fields=["workspace", "advocate", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.action}: {self.message}"


class IdempotencyRecord(models.Model):
    """The first answer to a POST with an ``Idempotency-Key``, replayed on a repeat."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(default=now)

    objects = WorkspaceScopedManager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "key"], name="idempotency_unique_key")]
        indexes = [models.Index(fields=["created_at"])]

    def __str__(self) -> str:
        return self.key


class ImportStatus(models.TextChoices):
    PREVIEW = "preview", "Awaiting confirmation"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Importing"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class ImportJob(models.Model):
    """A CSV of advocates: previewed, then upserted (in the worker when large)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    filename = models.CharField(max_length=255)
    content = models.TextField(help_text="The uploaded CSV, decoded to text.")
    status = models.CharField(max_length=10, choices=ImportStatus.choices, default=ImportStatus.PREVIEW)
    total_rows = models.PositiveIntegerField(default=0)
    valid_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text='[{"line": 3, "reason": "…"}]')
    failure = models.TextField(blank=True)
    created_at = models.DateTimeField(default=now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = WorkspaceScopedManager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["workspace", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.filename} ({self.status})"

    @property
    def progress_percent(self) -> int:
        if not self.valid_rows:
            return 100 if self.status == ImportStatus.DONE else 0
        return min(100, round(100 * self.processed_rows / self.valid_rows))


class OutboxMessage(models.Model):
    """Mail kept by the demo's outbox backend (EMAIL_URL=outbox://), read at /_mail/."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    to = models.TextField()
    subject = models.CharField(max_length=500)
    body = models.TextField()
    html = models.TextField(blank=True)
    headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.subject


# ---------------------------------------------------------------------------------------
# The one contact budget, suppressions and the manager's tasks (shared by programs and nps)
# ---------------------------------------------------------------------------------------


class ContactKind(models.TextChoices):
    OFFER = "offer", "Ask offer"
    SURVEY = "survey", "NPS survey"
    NUDGE = "nudge", "Referral nudge"


class Contact(models.Model):
    """One time the workspace reached out to a person. Offers, surveys and nudges all
    draw on the same budget (advocacy/budget.py counts these rows)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    advocate = models.ForeignKey(Advocate, on_delete=models.CASCADE, related_name="contacts")
    kind = models.CharField(max_length=10, choices=ContactKind.choices)
    subject = models.CharField(max_length=60, help_text='What reached out, e.g. "assignment:12", "survey-send:7".')
    at = models.DateTimeField(default=now)

    objects = WorkspaceScopedManager()

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [models.UniqueConstraint(fields=["workspace", "subject"], name="contact_unique_subject")]
        indexes = [
            models.Index(fields=["workspace", "advocate", "at"]),
            models.Index(fields=["workspace", "at"], name="contact_budget_window"),  # contacts in the rolling 30 days
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.advocate_id} at {self.at:%Y-%m-%d}"


class HoldReason(models.TextChoices):
    BUDGET = "budget", "Contact budget used up"
    OWN_CAP = "own_cap", "Their own monthly limit"
    SPACING = "spacing", "Offered too recently"
    RESTING = "resting", "Resting after a large ask"
    REFERENCE_OVERUSE = "reference_overuse", "Too many reference calls"
    SUPPRESSED = "suppressed", "No asks for now (e.g. recent detractor)"
    SURVEY_THROTTLE = "survey_throttle", "Surveyed recently"
    NO_CHANNEL = "no_channel", "No channel they accept"


class ContactHold(models.Model):
    """A contact the budget held back, with why: shown to managers on the ask (or survey)
    and on the person. One row per subject and person, refreshed when held again."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    advocate = models.ForeignKey(Advocate, on_delete=models.CASCADE, related_name="contact_holds")
    subject_type = models.CharField(max_length=10, help_text='"ask" or "survey".')
    subject_id = models.BigIntegerField()
    reason = models.CharField(max_length=20, choices=HoldReason.choices)
    detail = models.CharField(max_length=200)
    held_at = models.DateTimeField(default=now)

    objects = WorkspaceScopedManager()

    class Meta:
        ordering = ["-held_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "subject_type", "subject_id", "advocate"], name="contacthold_unique"),
        ]
        indexes = [models.Index(fields=["workspace", "advocate", "-held_at"])]

    def __str__(self) -> str:
        return f"held {self.advocate_id}: {self.detail}"


class Suppression(models.Model):
    """"No asks until": set by a detractor's answer (or a manager). Rotation and manual
    offers skip the person while ``until`` is in the future."""

    class Reason(models.TextChoices):
        DETRACTOR = "detractor", "Recent detractor"
        MANUAL = "manual", "Set by a manager"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    advocate = models.ForeignKey(Advocate, on_delete=models.CASCADE, related_name="suppressions")
    reason = models.CharField(max_length=10, choices=Reason.choices)
    detail = models.CharField(max_length=300, blank=True)
    starts_at = models.DateTimeField(default=now)
    until = models.DateTimeField()
    created_at = models.DateTimeField(default=now)

    objects = WorkspaceScopedManager()

    class Meta:
        ordering = ["-until"]
        indexes = [models.Index(fields=["workspace", "advocate", "until"])]

    def __str__(self) -> str:
        return f"no asks for {self.advocate_id} until {self.until:%Y-%m-%d}"


class TaskKind(models.TextChoices):
    CHECK_IN = "check_in", "Personal check-in"
    FOLLOW_UP = "follow_up", "Follow-up"
    DETRACTOR = "detractor", "Detractor follow-up"
    ALUMNI = "alumni", "Suggest alumni"
    CUSTOM = "custom", "Other"


class Task(models.Model):
    """Something a manager should do about a person: check-ins, follow-ups, suggestions.
    Jobs open them idempotently through ``dedupe_key``."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DONE = "done", "Done"
        DISMISSED = "dismissed", "Dismissed"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    advocate = models.ForeignKey(Advocate, null=True, blank=True, on_delete=models.CASCADE, related_name="tasks")
    kind = models.CharField(max_length=12, choices=TaskKind.choices)
    title = models.CharField(max_length=200)
    detail = models.TextField(blank=True, help_text="Why it was opened (e.g. the detractor's comment).")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    notes = models.TextField(blank=True, help_text="What was done.")
    dedupe_key = models.CharField(max_length=120, null=True, blank=True)
    assigned_to = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=now)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    objects = WorkspaceScopedManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "dedupe_key"], condition=Q(dedupe_key__isnull=False), name="task_unique_dedupe_key"),
        ]
        indexes = [
            models.Index(fields=["workspace", "status", "-created_at"]),
            models.Index(fields=["workspace", "advocate", "kind", "-created_at"]),
        ]

    def __str__(self) -> str:
        return self.title
