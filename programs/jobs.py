"""Scheduled work of the programs app, run per workspace by the Celery tasks
(programs/tasks.py) and the management commands: ask rotation (programs/rotation.py),
offer expiry and reminders (programs/services.py) and the daily fatigue check here.

``check_fatigue`` (PRODUCT.md "Fatigue", the daily job), three set-based selections, each
safe to rerun:

- **Pause after 3 declines**: an active advocate whose last 3 answered offers since they
  became active were all declined or let expire (no offer accepted, submitted, approved or
  rejected after them; offers still open or withdrawn are not answers) is paused, and a
  "personal check-in" task is opened. Paused people are not selected again, and the
  task's dedupe key names the streak's latest offer.
- **Suggest alumni**: an active or paused advocate without activity for 180 days (no
  activity event, no assignment accepted or submitted, no stage change) gets an "alumni"
  suggestion task, once per quiet spell. The stage is not changed: a manager decides.
- **Check in**: an active advocate (for 180 days or more) without a personal follow-up
  (a check-in, follow-up or detractor task done in the last 180 days, or one still open)
  gets a "personal check-in" task, once per 180 days.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Count, DateTimeField, Exists, F, Max, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from advocacy.budget import day
from advocacy.errors import DomainError
from advocacy.models import Advocate, Stage, Task, TaskKind, Workspace
from advocacy.services.advocates import change_stage
from advocacy.services.tasks import open_task

from .models import Assignment, AssignmentState

log = logging.getLogger(__name__)

S = AssignmentState
DECLINE_STREAK = 3
QUIET_DAYS = 180
CHECK_IN_EVERY_DAYS = 180
# Answers that show the advocate took part: they break a streak of declines.
TOOK_PART = (S.ACCEPTED, S.SUBMITTED, S.APPROVED, S.REJECTED)
PERSONAL_TASKS = (TaskKind.CHECK_IN, TaskKind.FOLLOW_UP, TaskKind.DETRACTOR)


@dataclass(frozen=True)
class FatigueRun:
    paused: int = 0
    alumni_suggested: int = 0
    check_ins: int = 0


def declining_advocates(workspace: Workspace, *, now: datetime) -> QuerySet:
    """{advocate_id, declines, latest}: active advocates whose last DECLINE_STREAK answered
    offers (since they became active) were all declined or expired. One grouped query:
    the declines with no taking part after them, counted per advocate."""
    took_part_after = Assignment.objects.filter(
        workspace_id=workspace.pk, advocate_id=OuterRef("advocate_id"), offered_at__gt=OuterRef("offered_at"),
    ).filter(Q(state__in=TOOK_PART) | Q(accepted_at__isnull=False))
    return (
        Assignment.objects.filter(
            workspace_id=workspace.pk, advocate__stage=Stage.ACTIVE,
            offered_at__gte=F("advocate__stage_changed_at"), offered_at__lte=now,
        )
        # Offers said no to, or let lapse; work accepted and then overtaken by a deadline is not a "no".
        .filter(Q(state=S.DECLINED) | Q(state=S.EXPIRED, accepted_at__isnull=True))
        .exclude(Exists(took_part_after))
        .order_by().values("advocate_id")
        .annotate(declines=Count("pk"), latest=Max("pk"))
        .filter(declines__gte=DECLINE_STREAK)
    )


def quiet_advocates(workspace: Workspace, *, now: datetime) -> QuerySet[Advocate]:
    """Active or paused advocates without activity for QUIET_DAYS who have not had an
    alumni suggestion since they went quiet (annotated with ``quiet_since``)."""
    cutoff = now - timedelta(days=QUIET_DAYS)
    took_part = Assignment.objects.filter(workspace_id=workspace.pk).filter(
        Q(accepted_at__gt=cutoff) | Q(submitted_at__gt=cutoff)).values("advocate_id")
    suggested = Task.objects.filter(workspace_id=workspace.pk, advocate_id=OuterRef("pk"), kind=TaskKind.ALUMNI,
                                    created_at__gte=OuterRef("quiet_since"))
    return (
        Advocate.objects.filter(workspace_id=workspace.pk, stage__in=[Stage.ACTIVE, Stage.PAUSED], erased_at__isnull=True,
                                stage_changed_at__lt=cutoff)
        .filter(Q(last_activity_at__isnull=True) | Q(last_activity_at__lt=cutoff))
        .exclude(pk__in=took_part)
        .annotate(quiet_since=Greatest(Coalesce("last_activity_at", "stage_changed_at"), "stage_changed_at"))
        .exclude(Exists(suggested))
        .order_by("pk")
    )


def check_in_due(workspace: Workspace, *, now: datetime) -> QuerySet[Advocate]:
    """Active advocates (for CHECK_IN_EVERY_DAYS or more) with no personal follow-up done
    in that time and none open (annotated with ``last_touch``)."""
    cutoff = now - timedelta(days=CHECK_IN_EVERY_DAYS)
    personal = Task.objects.filter(workspace_id=workspace.pk, kind__in=PERSONAL_TASKS)
    last_done = personal.filter(advocate_id=OuterRef("pk"), done_at__isnull=False).order_by("-done_at").values("done_at")[:1]
    return (
        Advocate.objects.filter(workspace_id=workspace.pk, stage=Stage.ACTIVE, erased_at__isnull=True, stage_changed_at__lt=cutoff)
        .exclude(pk__in=personal.filter(status=Task.Status.OPEN, advocate__isnull=False).values("advocate_id"))
        .exclude(pk__in=personal.filter(done_at__gte=cutoff, advocate__isnull=False).values("advocate_id"))
        .annotate(last_touch=Greatest(Coalesce(Subquery(last_done, output_field=DateTimeField()), "stage_changed_at"),
                                      "stage_changed_at"))
        .order_by("pk")
    )


def check_fatigue(*, workspace: Workspace, now: datetime | None = None) -> FatigueRun:
    """The daily fatigue job for one workspace (see the module's docstring). Idempotent:
    a rerun finds nobody new."""
    now = now or timezone.now()
    paused = _pause_decliners(workspace, now)
    alumni = _suggest_alumni(workspace, now)
    check_ins = _open_check_ins(workspace, now)
    log.info("fatigue check of workspace %s: %s paused, %s alumni suggestions, %s check-ins",
             workspace.pk, paused, alumni, check_ins)
    return FatigueRun(paused, alumni, check_ins)


def _pause_decliners(workspace: Workspace, now: datetime) -> int:
    streaks = {row["advocate_id"]: row for row in declining_advocates(workspace, now=now)}
    paused = 0
    for advocate in Advocate.objects.filter(workspace_id=workspace.pk, pk__in=list(streaks)).select_related("workspace"):
        streak = streaks[advocate.pk]
        try:
            with transaction.atomic():
                change_stage(advocate=advocate, stage=Stage.PAUSED, actor=None,
                             reason=f"{streak['declines']} offers in a row declined or expired")
                open_task(
                    workspace=workspace, kind=TaskKind.CHECK_IN, advocate=advocate,
                    title=f"Personal check-in with {advocate.display_name}",
                    detail=(f"{advocate.display_name} declined or let expire their last {streak['declines']} offers, so "
                            f"they were paused on {day(now, workspace)}: no more asks until they are active again. "
                            "Ask how they are and what would suit them better."),
                    dedupe_key=f"fatigue:declines:{advocate.pk}:{streak['latest']}",
                )
        except DomainError as exc:  # e.g. opted out meanwhile
            log.info("advocate %s not paused: %s", advocate.pk, exc)
            continue
        paused += 1
    return paused


def _suggest_alumni(workspace: Workspace, now: datetime) -> int:
    opened = 0
    for advocate in quiet_advocates(workspace, now=now):
        task = open_task(
            workspace=workspace, kind=TaskKind.ALUMNI, advocate=advocate,
            title=f"Suggest alumni: {advocate.display_name}",
            detail=(f"No activity since {day(advocate.quiet_since, workspace)} ({QUIET_DAYS} days or more). Alumni receive "
                    "no asks and the relationship stays warm; they can rejoin. Move them if that fits."),
            dedupe_key=f"fatigue:alumni:{advocate.pk}:{advocate.quiet_since:%Y%m%d}",
        )
        opened += task is not None
    return opened


def _open_check_ins(workspace: Workspace, now: datetime) -> int:
    opened = 0
    for advocate in check_in_due(workspace, now=now):
        task = open_task(
            workspace=workspace, kind=TaskKind.CHECK_IN, advocate=advocate,
            title=f"Personal check-in with {advocate.display_name}",
            detail=(f"No personal follow-up since {day(advocate.last_touch, workspace)}. A short personal note "
                    "keeps the relationship warm."),
            dedupe_key=f"fatigue:check-in:{advocate.pk}:{advocate.last_touch:%Y%m%d}",
        )
        opened += task is not None
    return opened
