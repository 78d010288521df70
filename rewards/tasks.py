"""Celery tasks of the rewards app (conventions: advocacy/tasks.py). The beat tasks fan
out one task per workspace; each per-workspace task runs in that workspace's scope and is
idempotent (expiry entries and notices have unique keys, held rewards a conditional claim)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from advocacy.models import Workspace
from advocacy.scoping import scopes_disabled
from advocacy.tasks import WorkspaceTask

log = logging.getLogger(__name__)


@shared_task(name="rewards.tasks.expire_points")
def expire_points() -> int:
    """Daily: expire points in every workspace whose points expire."""
    from .jobs import workspaces_with_expiry

    with scopes_disabled():
        ids = workspaces_with_expiry()
    for workspace_id in ids:
        expire_points_in_workspace.apply_async(kwargs={"workspace_id": workspace_id})
    return len(ids)


@shared_task(base=WorkspaceTask, bind=True, name="rewards.tasks.expire_points_in_workspace")
def expire_points_in_workspace(self, *, workspace_id: int) -> int:
    from .jobs import expire_points as run

    result = run(workspace=Workspace.objects.get(pk=workspace_id))
    log.info("workspace %s: %s expiry entries (%s points), %s notices", workspace_id, result.expired_entries,
             result.expired_points, result.notices)
    return result.expired_entries


@shared_task(name="rewards.tasks.release_held_rewards")
def release_held_rewards() -> int:
    """Hourly: credit the held rewards that are due, per workspace."""
    from .models import HeldReward

    with scopes_disabled():
        ids = list(
            HeldReward.objects.filter(status=HeldReward.Status.HELD, release_at__lte=timezone.now())
            .order_by().values_list("workspace_id", flat=True).distinct()
        )
    for workspace_id in ids:
        release_held_rewards_in_workspace.apply_async(kwargs={"workspace_id": workspace_id})
    return len(ids)


@shared_task(base=WorkspaceTask, bind=True, name="rewards.tasks.release_held_rewards_in_workspace")
def release_held_rewards_in_workspace(self, *, workspace_id: int) -> int:
    from .jobs import release_due_rewards

    return release_due_rewards(workspace=Workspace.objects.get(pk=workspace_id))
