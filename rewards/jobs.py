"""Scheduled work of the rewards app: points expiry (with its advance notice) and the
release of held rewards. Celery tasks (rewards/tasks.py) and management commands call
these; each is idempotent, so a rerun or a duplicate delivery writes nothing new.

Expiry is first in, first out: a debit consumes the oldest credits first, so what has
expired by ``cutoff`` (``now`` minus the workspace's months) is

    max(0, credits created on or before cutoff - every debit ever), capped at the balance.

Earlier ``expire`` entries are debits too, which is what makes a rerun find nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from dateutil.relativedelta import relativedelta
from django.db import transaction
from django.db.models import F, IntegerField, Q, Sum, Value
from django.db.models.functions import Coalesce, Least
from django.utils import timezone

from advocacy.models import Advocate, Workspace
from advocacy.notifications import email_advocate

from .models import EntryKind, ExpiryNotice, LedgerEntry, RewardSettings
from .services import NotEnoughPoints, debit_points, release_held_rewards

log = logging.getLogger(__name__)

NOTICE_DAYS = 14


@dataclass(frozen=True)
class ExpiryRun:
    expired_entries: int = 0
    expired_points: int = 0
    notices: int = 0


def expiry_months(workspace: Workspace) -> int | None:
    months = RewardSettings.objects.filter(workspace=workspace).values_list("points_expire_after_months", flat=True).first()
    return months or None


def expiry_cutoff(months: int, at: datetime) -> datetime:
    """Points earned on or before this moment have expired at ``at``."""
    return at - relativedelta(months=months)


def points_expiring(workspace: Workspace, *, cutoff: datetime) -> dict[int, int]:
    """{advocate id: points expired by ``cutoff``} for every advocate with some: one grouped
    query over the workspace's entries (set-based, no loop over advocates)."""
    zero = Value(0, output_field=IntegerField())
    rows = (
        LedgerEntry.objects.filter(workspace=workspace)
        .values("advocate_id")
        .annotate(
            old_credits=Coalesce(Sum("amount", filter=Q(amount__gt=0, created_at__lte=cutoff)), zero),
            debits=Coalesce(Sum(-F("amount"), filter=Q(amount__lt=0)), zero),
            balance=F("advocate__points_balance"),
        )
        .annotate(due=Least(F("old_credits") - F("debits"), F("balance")))
        .filter(due__gt=0)
        .values_list("advocate_id", "due")
    )
    return dict(rows)


def expire_points(*, workspace: Workspace, now: datetime | None = None) -> ExpiryRun:
    """Write the workspace's due ``expire`` entries, then tell advocates whose points expire
    in 14 days. Does nothing when the workspace's points never expire."""
    months = expiry_months(workspace)
    if not months:
        return ExpiryRun()
    now = now or timezone.now()
    cutoff = expiry_cutoff(months, now)
    due = points_expiring(workspace, cutoff=cutoff)
    advocates = Advocate.objects.filter(workspace=workspace).in_bulk(list(due))
    entries = points = 0
    for advocate_id, amount in due.items():
        try:
            with transaction.atomic():
                entry = debit_points(
                    advocate=advocates[advocate_id], amount=amount, kind=EntryKind.EXPIRE,
                    reason=f"Points earned on or before {cutoff:%d %b %Y} expired ({months} months)",
                    cause="expiry", idempotency_key=f"expire:{advocate_id}:{cutoff.date().isoformat()}",
                )
        except NotEnoughPoints:  # spent meanwhile: the next run recomputes
            log.info("expiry of %s points for advocate %s skipped: balance changed", amount, advocate_id)
            continue
        if not entry.replayed:
            entries += 1
            points += amount
    notices = notify_expiring_points(workspace=workspace, months=months, now=now)
    return ExpiryRun(entries, points, notices)


def notify_expiring_points(*, workspace: Workspace, months: int, now: datetime) -> int:
    """One notice per advocate and expiry date for points that expire within 14 days and
    that no pending notice has announced yet. The ExpiryNotice row is the dedupe."""
    expires_on: date = (now + timedelta(days=NOTICE_DAYS)).date()
    at_risk = points_expiring(workspace, cutoff=expiry_cutoff(months, now + timedelta(days=NOTICE_DAYS)))
    if not at_risk:
        return 0
    announced = dict(
        ExpiryNotice.objects.filter(workspace=workspace, advocate_id__in=list(at_risk), expires_on__gt=now.date())
        .values("advocate_id").annotate(total=Sum("points")).values_list("advocate_id", "total")
    )
    sent = 0
    advocates = Advocate.objects.filter(workspace=workspace).select_related("workspace").in_bulk(list(at_risk))
    for advocate_id, amount in at_risk.items():
        new = amount - announced.get(advocate_id, 0)
        if new <= 0:
            continue
        with transaction.atomic():
            notice, created = ExpiryNotice.objects.get_or_create(
                workspace=workspace, advocate_id=advocate_id, expires_on=expires_on, defaults={"points": new},
            )
            if created:
                sent += 1
                _send_expiry_notice(advocates[advocate_id], notice)
    return sent


def _send_expiry_notice(advocate: Advocate, notice: ExpiryNotice) -> None:
    email_advocate(
        advocate=advocate, template="points_expiring",
        context={"points": notice.points, "expires_on": notice.expires_on, "balance": advocate.points_balance},
    )


def workspaces_with_expiry() -> list[int]:
    """Ids of the workspaces whose points expire (call with scopes disabled)."""
    return list(RewardSettings.objects.filter(points_expire_after_months__gt=0).values_list("workspace_id", flat=True))


def release_due_rewards(*, workspace: Workspace, now: datetime | None = None) -> int:
    return release_held_rewards(workspace=workspace, now=now)
