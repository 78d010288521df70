"""Leaderboards: advocates ranked by points EARNED (earn_* entries and positive manual
adjustments) in a month, a quarter or all time, per workspace or per program. Spending,
refunds and expiry never move anyone on a leaderboard. Advocates who opted out of
leaderboards, and erased ones, are never listed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Max, Sum
from django.utils import timezone

from advocacy.models import Workspace

from .models import LedgerEntry, earned_entries

PERIODS = {"month": "This month", "quarter": "This quarter", "all": "All time"}


@dataclass(frozen=True)
class LeaderboardRow:
    rank: int
    advocate_id: int
    name: str
    email: str
    company: str
    points: int

    @property
    def display_name(self) -> str:
        return self.name or self.email

    @property
    def public_name(self) -> str:
        """How other advocates see this one: first name and last initial, never an email."""
        parts = self.name.split()
        if not parts:
            return "An advocate"
        return parts[0] if len(parts) == 1 else f"{parts[0]} {parts[-1][0]}."


def _zone(workspace: Workspace) -> ZoneInfo:
    try:
        return ZoneInfo(workspace.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def period_start(period: str, *, workspace: Workspace, now: datetime | None = None) -> datetime | None:
    """The first instant of the current month or quarter in the workspace's timezone;
    None for all time."""
    if period not in PERIODS:
        raise ValueError(f"unknown period {period!r}")
    if period == "all":
        return None
    local = (now or timezone.now()).astimezone(_zone(workspace))
    month = local.month if period == "month" else 3 * ((local.month - 1) // 3) + 1
    return local.replace(month=month, day=1, hour=0, minute=0, second=0, microsecond=0)


def leaderboard(
    *, workspace: Workspace, period: str = "month", program_id: int | None = None, limit: int = 20, now: datetime | None = None,
) -> list[LeaderboardRow]:
    """The top ``limit`` advocates by points earned in ``period``: one grouped query.
    Ties share a rank and are listed by who got there first, then by id (stable)."""
    entries = LedgerEntry.objects.filter(workspace=workspace).filter(earned_entries()).filter(
        advocate__show_on_leaderboards=True, advocate__erased_at__isnull=True,
    )
    start = period_start(period, workspace=workspace, now=now)
    if start is not None:
        entries = entries.filter(created_at__gte=start)
    if now is not None:
        entries = entries.filter(created_at__lte=now)
    if program_id is not None:
        entries = entries.filter(program_id=program_id)
    grouped = (
        entries.order_by()
        .values("advocate_id", "advocate__name", "advocate__email", "advocate__company")
        .annotate(points=Sum("amount"), reached=Max("created_at"))
        .order_by("-points", "reached", "advocate_id")[: max(1, min(limit, 500))]
    )
    rows, rank, previous = [], 0, None
    for i, g in enumerate(grouped, start=1):
        if g["points"] != previous:
            rank, previous = i, g["points"]
        rows.append(LeaderboardRow(rank, g["advocate_id"], g["advocate__name"], g["advocate__email"], g["advocate__company"], g["points"]))
    return rows


def own_standing(*, advocate, period: str = "month", now: datetime | None = None) -> tuple[int, int | None]:
    """The advocate's points earned in ``period`` and their rank among those listed (None
    when they earned nothing or are hidden): two queries, however many advocates."""
    workspace = advocate.workspace
    entries = LedgerEntry.objects.filter(workspace=workspace).filter(earned_entries())
    start = period_start(period, workspace=workspace, now=now)
    if start is not None:
        entries = entries.filter(created_at__gte=start)
    mine = entries.filter(advocate=advocate).aggregate(total=Sum("amount"))["total"] or 0
    if not mine or not advocate.show_on_leaderboards or advocate.erased_at is not None:
        return mine, None
    ahead = (
        entries.filter(advocate__show_on_leaderboards=True, advocate__erased_at__isnull=True).order_by()
        .values("advocate_id").annotate(points=Sum("amount")).filter(points__gt=mine).count()
    )
    return mine, ahead + 1


def leaderboard_program_ids(workspace: Workspace, limit: int = 200) -> list[int]:
    """The programs that have earned points in this workspace (for the program selector)."""
    return list(
        LedgerEntry.objects.filter(workspace=workspace, program_id__isnull=False)
        .order_by("program_id").values_list("program_id", flat=True).distinct()[:limit]
    )
