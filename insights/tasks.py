"""Celery tasks of the insights app (conventions: advocacy/tasks.py).

- ``rollup_today`` (hourly, :25) and ``rollup_yesterday`` (01:40) fan out one
  ``rollup_workspace`` per workspace (on the ``rollups`` queue, so a big workspace's
  rollup never holds up the other jobs), which recomputes that workspace's local today
  (or yesterday) whole (insights/rollups.py); in the first two hours of a local day the
  hourly run also finishes yesterday, and it recomputes the past days marked dirty by late
  data (insights/dirty.py). Idempotent: each run recomputes the day's
  rows in one transaction under a per-workspace lock (a rerun leaves identical rows), so
  ``acks_late`` and a redelivery are safe.
"""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task

from advocacy.models import Workspace
from advocacy.scoping import scopes_disabled
from advocacy.tasks import WorkspaceTask

QUEUE = "jobs"
ROLLUP_QUEUE = "rollups"


def _fan_out(task, **kwargs) -> int:
    with scopes_disabled():
        ids = list(Workspace.objects.order_by("pk").values_list("pk", flat=True))
    for workspace_id in ids:
        task.apply_async(kwargs={"workspace_id": workspace_id, **kwargs}, queue=getattr(task, "queue", None) or QUEUE)
    return len(ids)


@shared_task(name="insights.tasks.rollup_today")
def rollup_today() -> int:
    """Hourly: today's rollups of every workspace (today in each workspace's time zone)."""
    return _fan_out(rollup_workspace, days_ago=0, catch_up=True)


@shared_task(name="insights.tasks.rollup_yesterday")
def rollup_yesterday() -> int:
    """Nightly: yesterday's rollups again, whole (late events of the day are picked up)."""
    return _fan_out(rollup_workspace, days_ago=1)


# In the first hours of a local day, today's hourly run also finishes yesterday (whose last
# minutes came after its last hourly run): the nightly run is at 01:40 UTC, which is not
# every workspace's night.
CATCH_UP_HOURS = 2


@shared_task(base=WorkspaceTask, bind=True, name="insights.tasks.rollup_workspace", queue=ROLLUP_QUEUE)
def rollup_workspace(self, *, workspace_id: int, days_ago: int = 0, catch_up: bool = False) -> int:
    """Recompute one workspace's local day ``days_ago`` days before today (0: today; with
    ``catch_up``, as the hourly job runs it, yesterday too in the first ``CATCH_UP_HOURS``
    of the local day)."""
    from django.utils import timezone

    from advocacy.budget import workspace_zone

    from .rollups import rollup_days

    workspace = Workspace.objects.get(pk=workspace_id)
    days_ago = max(0, int(days_ago))
    now = timezone.localtime(timezone.now(), workspace_zone(workspace))
    day = now.date() - timedelta(days=days_ago)
    start = day - timedelta(days=1) if catch_up and days_ago == 0 and now.hour < CATCH_UP_HOURS else day
    if catch_up:  # the hourly run: late data of past days too (insights/dirty.py)
        from .dirty import rollup_with_dirty_days

        return rollup_with_dirty_days(workspace=workspace, start=start, end=day)
    return rollup_days(workspace=workspace, start=start, end=day)


# --- Advocacy scores (insights/scores.py) ---------------------------------------------------------
# Idempotent: a recompute writes the score the data gives now, so a redelivery or a second
# run only writes it again.


@shared_task(name="insights.tasks.recompute_scores")
def recompute_scores() -> int:
    """Nightly (02:30): every workspace's advocacy scores, one task per workspace."""
    return _fan_out(recompute_scores_in_workspace)


@shared_task(base=WorkspaceTask, bind=True, name="insights.tasks.recompute_scores_in_workspace")
def recompute_scores_in_workspace(self, *, workspace_id: int) -> int:
    from .scores import recompute_scores as run

    return run(workspace=Workspace.objects.get(pk=workspace_id))


@shared_task(base=WorkspaceTask, bind=True, name="insights.tasks.recompute_advocate_scores")
def recompute_advocate_scores(self, *, workspace_id: int, advocate_ids: list[int]) -> int:
    """After the events that change them (insights/signals.py): these people's scores."""
    from .scores import recompute_scores as run

    return run(workspace=Workspace.objects.get(pk=workspace_id), advocate_ids=[int(i) for i in advocate_ids])
