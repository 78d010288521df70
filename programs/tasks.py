"""Celery tasks of the programs app (conventions: advocacy/tasks.py). Each beat task fans
out one task per workspace that has something to do; each per-workspace task runs in that
workspace's scope (``WorkspaceTask``, which also sets ``acks_late``: every one of these is
idempotent, so a redelivery after a lost worker does no harm):

- rotation: the unique (workspace, ask, advocate) key, a recount under the ask's row lock
  and the per-workspace run lock; a second run finds the places taken;
- fatigue check: paused people are not selected again, tasks have dedupe keys;
- expiry: conditional ``UPDATE … WHERE state = …``; reminders: a conditional claim on
  ``reminded_at`` before each email.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.db.models import Q
from django.utils import timezone

from advocacy.models import Workspace
from advocacy.scoping import scopes_disabled
from advocacy.tasks import WorkspaceTask

log = logging.getLogger(__name__)

QUEUE = "jobs"


def _fan_out(task, workspace_ids: list[int]) -> int:
    for workspace_id in workspace_ids:
        task.apply_async(kwargs={"workspace_id": workspace_id}, queue=QUEUE)
    return len(workspace_ids)


@shared_task(name="programs.tasks.rotate_asks")
def rotate_asks() -> int:
    """Every 15 minutes: rotate the open asks of every workspace that has some."""
    from .models import Ask, AskStatus

    with scopes_disabled():
        ids = list(Ask.objects.filter(status=AskStatus.OPEN).order_by().values_list("workspace_id", flat=True).distinct())
    return _fan_out(rotate_asks_in_workspace, ids)


@shared_task(base=WorkspaceTask, bind=True, name="programs.tasks.rotate_asks_in_workspace")
def rotate_asks_in_workspace(self, *, workspace_id: int) -> int:
    from .rotation import rotate_asks as run

    return run(workspace=Workspace.objects.get(pk=workspace_id)).offers


@shared_task(name="programs.tasks.check_fatigue")
def check_fatigue() -> int:
    """Daily: pause after three declines, suggest alumni, open check-ins, per workspace."""
    with scopes_disabled():
        ids = list(Workspace.objects.order_by("pk").values_list("pk", flat=True))
    return _fan_out(check_fatigue_in_workspace, ids)


@shared_task(base=WorkspaceTask, bind=True, name="programs.tasks.check_fatigue_in_workspace")
def check_fatigue_in_workspace(self, *, workspace_id: int) -> int:
    from .jobs import check_fatigue as run

    result = run(workspace=Workspace.objects.get(pk=workspace_id))
    return result.paused + result.alumni_suggested + result.check_ins


def _with_open_assignments():
    from .models import Assignment, AssignmentState

    return (Assignment.objects.filter(state__in=[AssignmentState.OFFERED, AssignmentState.ACCEPTED])
            .order_by().values_list("workspace_id", flat=True).distinct())


@shared_task(name="programs.tasks.expire_assignments")
def expire_assignments() -> int:
    """Hourly: offers untaken for 7 days and passed deadlines expire, per workspace."""
    from .models import Ask, AskStatus

    with scopes_disabled():
        late_asks = Ask.objects.filter(status=AskStatus.OPEN, deadline__lte=timezone.now()).values_list("workspace_id", flat=True)
        ids = sorted(set(_with_open_assignments()) | set(late_asks))
    return _fan_out(expire_assignments_in_workspace, ids)


@shared_task(base=WorkspaceTask, bind=True, name="programs.tasks.expire_assignments_in_workspace")
def expire_assignments_in_workspace(self, *, workspace_id: int) -> int:
    from .services import expire_assignments as run

    return run(workspace=Workspace.objects.get(pk=workspace_id))


@shared_task(name="programs.tasks.send_reminders")
def send_reminders() -> int:
    """Hourly: remind advocates of offers that expire within two days, once each."""
    from .models import Assignment, AssignmentState

    with scopes_disabled():
        ids = list(Assignment.objects.filter(Q(reminded_at__isnull=True), state=AssignmentState.OFFERED)
                   .order_by().values_list("workspace_id", flat=True).distinct())
    return _fan_out(send_reminders_in_workspace, ids)


@shared_task(base=WorkspaceTask, bind=True, name="programs.tasks.send_reminders_in_workspace")
def send_reminders_in_workspace(self, *, workspace_id: int) -> int:
    from .services import send_reminders as run

    return run(workspace=Workspace.objects.get(pk=workspace_id))


@shared_task(base=WorkspaceTask, bind=True, name="programs.tasks.send_bulk_invitations")
def send_bulk_invitations(self, *, workspace_id: int, advocate_ids: list[int], message: dict, program_id: int | None,
                          actor_id: int | None, requested_at: str) -> int:
    """A bulk invitation of more than 50 people (programs.invitations.bulk_invite)."""
    from datetime import datetime

    from advocacy.models import User

    from .invitations import invite_in_bulk
    from .models import Program

    workspace = Workspace.objects.get(pk=workspace_id)
    program = Program.objects.filter(workspace=workspace, pk=program_id).first() if program_id else None
    actor = User.objects.filter(pk=actor_id).first() if actor_id else None
    return invite_in_bulk(workspace=workspace, advocate_ids=advocate_ids, message=message, program=program, actor=actor,
                          requested_at=datetime.fromisoformat(requested_at))
