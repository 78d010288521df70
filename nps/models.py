"""NPS surveys (PRODUCT.md "NPS surveys"): a survey, the people it was sent to (one
``SurveySend`` per person and round, each with its own signed answer link) and their
answers (one ``SurveyResponse`` per send, replaced when answered again).

Every table carries ``workspace``; unique keys and hot indexes start with it.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.timezone import now

from advocacy.models import Advocate, AdvocateType, Stage, Tag, Workspace, WorkspaceScopedManager

DEFAULT_QUESTION = "How likely are you to recommend {company} to a friend or colleague?"
DEFAULT_FOLLOW_UP = "What is the main reason for your score?"
# The same person is never surveyed more than once in this many days, across all surveys.
THROTTLE_DAYS = 90


class Audience(models.TextChoices):
    ALL = "all", "Everybody"
    TAG = "tag", "People with a tag"
    TYPE = "type", "People of a type"
    STAGE = "stage", "People at a stage"


class Schedule(models.TextChoices):
    ONCE = "once", "Once"
    RECURRING = "recurring", "Every N days"


class SurveyStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"  # sends when next_run_at comes
    PAUSED = "paused", "Paused"
    DONE = "done", "Done"  # a one-off survey after its run


class SurveyChannel(models.TextChoices):
    EMAIL = "email", "Email"
    PORTAL = "portal", "Portal"


class ResponseChannel(models.TextChoices):
    EMAIL = "email", "Email link"
    PORTAL = "portal", "Portal"
    API = "api", "Integration"


class Category(models.TextChoices):
    PROMOTER = "promoter", "Promoter"  # 9-10
    PASSIVE = "passive", "Passive"  # 7-8
    DETRACTOR = "detractor", "Detractor"  # 0-6


def default_survey_channels() -> list[str]:
    return [SurveyChannel.EMAIL.value, SurveyChannel.PORTAL.value]


class Survey(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=120)
    question = models.CharField(max_length=300, default=DEFAULT_QUESTION,
                                help_text="{company} is replaced by the workspace's name.")
    follow_up_question = models.CharField(max_length=300, default=DEFAULT_FOLLOW_UP, blank=True,
                                          help_text="Asked after the score; leave empty to ask no comment.")
    audience = models.CharField(max_length=5, choices=Audience.choices, default=Audience.ALL)
    audience_tag = models.ForeignKey(Tag, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    audience_type = models.CharField(max_length=10, choices=AdvocateType.choices, blank=True)
    audience_stage = models.CharField(max_length=10, choices=Stage.choices, blank=True)
    channels = models.JSONField(default=default_survey_channels,
                                help_text='Where it is sent: ["email"], ["portal"] or both.')
    schedule = models.CharField(max_length=9, choices=Schedule.choices, default=Schedule.ONCE)
    every_days = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(730)],
        help_text="For a recurring survey: days between rounds.",
    )
    status = models.CharField(max_length=6, choices=SurveyStatus.choices, default=SurveyStatus.DRAFT)
    next_run_at = models.DateTimeField(null=True, blank=True, help_text="When send_surveys next sends a round.")
    last_run_at = models.DateTimeField(null=True, blank=True)
    rounds = models.PositiveIntegerField(default=0, help_text="Rounds sent so far.")
    auto_invite_promoters = models.BooleanField(
        default=False, help_text="Invite candidates who answer 9 or 10 to the advocacy program.",
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = WorkspaceScopedManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="survey_unique_name"),
            models.CheckConstraint(condition=Q(schedule="once") | Q(every_days__isnull=False), name="survey_recurring_has_interval"),
        ]
        indexes = [
            # send_surveys: due active surveys of every workspace.
            models.Index(fields=["next_run_at"], condition=Q(status="active"), name="survey_due"),
        ]

    def __str__(self) -> str:
        return self.name

    def question_for(self, workspace: Workspace | None = None) -> str:
        return self.question.replace("{company}", (workspace or self.workspace).name)


class SurveySend(models.Model):
    """One person asked in one round of a survey. Its signed token (nps/tokens.py) is the
    personal answer link; ``channel`` is how it reached them."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="sends")
    advocate = models.ForeignKey(Advocate, on_delete=models.CASCADE, related_name="survey_sends")
    round = models.PositiveIntegerField(default=1)
    channel = models.CharField(max_length=6, choices=SurveyChannel.choices)
    sent_at = models.DateTimeField(default=now)
    answered_at = models.DateTimeField(null=True, blank=True)

    objects = WorkspaceScopedManager()

    class Meta:
        ordering = ["-sent_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "survey", "round", "advocate"], name="surveysend_once_per_round"),
        ]
        indexes = [
            # The 90-day throttle: who was surveyed since a date.
            models.Index(fields=["workspace", "sent_at", "advocate"], name="surveysend_throttle"),
            models.Index(fields=["workspace", "advocate", "-sent_at"]),
            models.Index(fields=["workspace", "survey", "round"]),
        ]

    def __str__(self) -> str:
        return f"{self.survey_id} round {self.round} to {self.advocate_id}"


class SurveyResponse(models.Model):
    """An answer: 0-10 and an optional comment. One per send (answering again with the same
    link replaces it); integrations may post answers without a send.

    ``advocate_type`` and ``advocate_stage`` are the person's at the time of the answer, so
    breakdowns do not shift when a promoter is later invited."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    survey = models.ForeignKey(Survey, null=True, blank=True, on_delete=models.CASCADE, related_name="responses")
    send = models.OneToOneField(SurveySend, null=True, blank=True, on_delete=models.CASCADE, related_name="response")
    advocate = models.ForeignKey(Advocate, on_delete=models.CASCADE, related_name="survey_responses")
    score = models.PositiveSmallIntegerField(validators=[MaxValueValidator(10)])
    category = models.CharField(max_length=9, choices=Category.choices)
    comment = models.TextField(blank=True, max_length=5000)
    channel = models.CharField(max_length=6, choices=ResponseChannel.choices)
    external_id = models.CharField(max_length=100, null=True, blank=True,
                                   help_text="An integration's id for the answer: a repeat is the same answer.")
    advocate_type = models.CharField(max_length=10, choices=AdvocateType.choices)
    advocate_stage = models.CharField(max_length=10, choices=Stage.choices)
    answered_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(default=now)
    # The close-the-loop task a detractor's answer opened (advocacy.Task), if any.
    follow_up_task = models.ForeignKey("advocacy.Task", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    objects = WorkspaceScopedManager()

    class Meta:
        ordering = ["-answered_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(score__gte=0, score__lte=10), name="surveyresponse_score_0_10"),
            models.CheckConstraint(
                condition=(Q(category="promoter", score__gte=9) | Q(category="passive", score__in=[7, 8])
                           | Q(category="detractor", score__lte=6)),
                name="surveyresponse_category_matches_score",
            ),
            models.UniqueConstraint(fields=["workspace", "external_id"], condition=Q(external_id__isnull=False),
                                    name="surveyresponse_unique_external_id"),
        ]
        indexes = [
            models.Index(fields=["workspace", "survey", "answered_at"]),
            models.Index(fields=["workspace", "answered_at"]),
            models.Index(fields=["workspace", "advocate", "-answered_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.score} from {self.advocate_id}"


def category_of(score: int) -> str:
    """Promoters 9-10, passives 7-8, detractors 0-6."""
    if score >= 9:
        return Category.PROMOTER
    if score >= 7:
        return Category.PASSIVE
    return Category.DETRACTOR
