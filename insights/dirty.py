"""Late data: past days whose source rows changed after their rollup.

The hourly rollup recomputes today (and, early in the day, yesterday); anything that lands
on an older day — a back-dated activity event, a conversion reported late, an NPS answer
recorded by an integration with its own ``answered_at``, a deal created or decided, a
program cost entered for last month — marks that local day dirty (``RollupDirtyDay``,
one row per workspace and day) from the signals the apps send after commit
(insights/signals.py) or from the cost services. The next hourly run recomputes the
workspace's dirty days whole (with the levels of the days after them, see
``rollup_days``), then deletes the marks it computed: only those whose ``marked_at`` it
read, so a day marked again during the run stays dirty for the next run.

Only days before today are marked (today is recomputed every hour anyway), and none more
than ``MAX_DAYS`` back or before 2000.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from advocacy.budget import workspace_zone
from advocacy.models import Workspace
from advocacy.scoping import scopes_disabled

from .models import RollupDirtyDay
from .periods import EARLIEST, MAX_DAYS, local_today


def mark_dirty(*, workspace: Workspace, days: Iterable[date] = (), instants: Iterable[datetime | None] = ()) -> int:
    """Mark the workspace's local days (given as dates, or as instants in time) for the
    next hourly rollup. Returns how many past days were marked."""
    zone = workspace_zone(workspace)
    today = local_today(workspace)
    wanted = set(days) | {timezone.localtime(t, zone).date() for t in instants if t is not None}
    keep = sorted(d for d in wanted if max(EARLIEST, today - timedelta(days=MAX_DAYS)) <= d < today)
    if not keep:
        return 0
    now = timezone.now()
    with scopes_disabled():
        RollupDirtyDay.objects.bulk_create(
            [RollupDirtyDay(workspace_id=workspace.pk, day=d, marked_at=now) for d in keep],
            update_conflicts=True, unique_fields=["workspace", "day"], update_fields=["marked_at"])
    return len(keep)


def dirty_days(workspace: Workspace) -> dict[date, datetime]:
    """The workspace's marked days and when each was last marked."""
    with scopes_disabled():
        return dict(RollupDirtyDay.objects.filter(workspace_id=workspace.pk).values_list("day", "marked_at"))


def clear_dirty(workspace: Workspace, marks: dict[date, datetime]) -> int:
    """Delete the marks as they were read (a day marked again since keeps its mark)."""
    if not marks:
        return 0
    condition = Q()
    for day, marked_at in marks.items():
        condition |= Q(day=day, marked_at=marked_at)
    with scopes_disabled():
        deleted, _ = RollupDirtyDay.objects.filter(condition, workspace_id=workspace.pk).delete()
    return deleted


def runs(days: Iterable[date]) -> list[tuple[date, date]]:
    """Consecutive days as (first, last) ranges: 1, 2, 3, 7 → (1, 3), (7, 7)."""
    out: list[tuple[date, date]] = []
    for d in sorted(set(days)):
        if out and d == out[-1][1] + timedelta(days=1):
            out[-1] = (out[-1][0], d)
        else:
            out.append((d, d))
    return out


def rollup_with_dirty_days(*, workspace: Workspace, start: date, end: date) -> int:
    """The hourly run: the days ``start`` to ``end``, then the workspace's dirty days
    outside them, then clear the marks read before the first computation (each dirty day
    was computed after it was read). Returns the days computed."""
    from .rollups import rollup_days

    marks = dirty_days(workspace)
    computed = rollup_days(workspace=workspace, start=start, end=end)
    for first, last in runs(d for d in marks if not start <= d <= end):
        computed += rollup_days(workspace=workspace, start=first, end=last)
    clear_dirty(workspace, marks)
    return computed
