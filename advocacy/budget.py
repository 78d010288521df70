"""The one contact budget: every way the workspace reaches out to a person (ask offers,
NPS surveys, referral nudges) is a ``Contact`` row, and every contact the budget holds
back is a ``ContactHold`` row with its reason, shown to managers.

Programs and NPS both call this module; neither imports the other (ARCHITECTURE.md).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from .models import Advocate, Contact, ContactHold, Suppression, Workspace


def record_contact(*, advocate: Advocate, kind: str, subject: str, at: datetime | None = None) -> None:
    """Count one contact against the person's budget (once per ``subject``)."""
    Contact.objects.bulk_create(
        [Contact(workspace_id=advocate.workspace_id, advocate=advocate, kind=kind, subject=subject, at=at or timezone.now())],
        ignore_conflicts=True,
    )


def record_hold(*, advocate: Advocate, subject_type: str, subject_id: int, reason: str, detail: str, at: datetime | None = None) -> None:
    """Remember that a contact about ``subject`` was held back, and why (refreshed if held again)."""
    ContactHold.objects.bulk_create(
        [ContactHold(workspace_id=advocate.workspace_id, advocate=advocate, subject_type=subject_type, subject_id=subject_id,
                     reason=reason, detail=detail[:200], held_at=at or timezone.now())],
        update_conflicts=True, unique_fields=["workspace", "subject_type", "subject_id", "advocate"],
        update_fields=["reason", "detail", "held_at"],
    )


@transaction.atomic
def suppress_asks(*, advocate: Advocate, reason: str, days: int | None = None, detail: str = "", starts_at: datetime | None = None) -> Suppression:
    """No asks for ``advocate`` until ``starts_at + days`` (default: the workspace's
    detractor quiet period). NPS calls this for a detractor's answer."""
    starts_at = starts_at or timezone.now()
    workspace: Workspace = advocate.workspace
    days = workspace.detractor_quiet_days if days is None else days
    return Suppression.objects.create(
        workspace=workspace, advocate=advocate, reason=reason, detail=detail[:300], starts_at=starts_at,
        until=starts_at + timedelta(days=days),
    )
