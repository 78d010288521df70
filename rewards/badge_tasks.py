"""Celery tasks of badges (kept apart from rewards/tasks.py, the ledger's jobs).

Registered through ``RewardsConfig.ready`` (Celery's autodiscovery only finds ``tasks``)."""

from __future__ import annotations

import logging

from celery import shared_task

from advocacy.tasks import WorkspaceTask

log = logging.getLogger(__name__)


@shared_task(name="rewards.badge_tasks.award_tenure_badges", acks_late=True, reject_on_worker_lost=True)
def award_tenure_badges() -> int:
    """Daily: tenure badges (``days_in_program``) to the advocates who reached them."""
    from .badges import award_tenure_badges as run

    awarded = run()
    log.info("awarded %s tenure badges", awarded)
    return awarded


@shared_task(base=WorkspaceTask, bind=True, name="rewards.badge_tasks.award_badge_to_qualifying")
def award_badge_to_qualifying(self, *, workspace_id: int, badge_id: int) -> int:
    """After a badge is created or changed: give it to everyone who already meets its rule."""
    from .badges import award_to_qualifying
    from .models import Badge

    badge = Badge.objects.filter(workspace_id=workspace_id, pk=badge_id).first()
    return award_to_qualifying(badge=badge) if badge else 0


@shared_task(base=WorkspaceTask, bind=True, name="rewards.badge_tasks.award_workspace_badges")
def award_workspace_badges(self, *, workspace_id: int) -> int:
    from advocacy.models import Workspace

    from .badges import award_all_badges

    return award_all_badges(workspace=Workspace.objects.get(pk=workspace_id))
