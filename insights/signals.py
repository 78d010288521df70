"""Receivers that keep advocacy scores current after the events that change them: an NPS
answer, an approved assignment, a conversion, a batch of activity events. Each sends one
task (after commit) recomputing the people concerned (insights/scores.py); the nightly
``recompute_scores`` catches everything else (time passing, declines, expiries).

The same signals (and outcome changes) mark the past days they land on dirty for the
hourly rollup (insights/dirty.py), so late data is rolled up without a manual backfill."""

from __future__ import annotations

from django.dispatch import receiver

from advocacy.signals import events_recorded
from nps.signals import response_recorded
from programs.signals import assignment_approved, outcome_changed
from referrals.signals import conversion_recorded


def _mark(workspace_id: int, *, days=(), instants=()) -> None:
    from advocacy.models import Workspace

    from .dirty import mark_dirty

    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is not None:
        mark_dirty(workspace=workspace, days=days, instants=instants)


def refresh_scores(*, workspace_id: int, advocate_ids: list[int]) -> None:
    ids = sorted({int(i) for i in advocate_ids if i})
    if not ids:
        return
    from advocacy.tasks import enqueue

    from .tasks import recompute_advocate_scores

    enqueue(recompute_advocate_scores, workspace_id=workspace_id, advocate_ids=ids)


@receiver(response_recorded, dispatch_uid="insights.score_after_nps_answer")
def _after_nps_answer(sender, response, **kwargs) -> None:
    refresh_scores(workspace_id=response.workspace_id, advocate_ids=[response.advocate_id])
    # A replaced answer keeps its first answered_at: that day's counts changed.
    _mark(response.workspace_id, instants=[response.answered_at])


@receiver(assignment_approved, dispatch_uid="insights.score_after_approval")
def _after_approval(sender, assignment, **kwargs) -> None:
    refresh_scores(workspace_id=assignment.workspace_id, advocate_ids=[assignment.advocate_id])


@receiver(conversion_recorded, dispatch_uid="insights.score_after_conversion")
def _after_conversion(sender, conversion, **kwargs) -> None:
    _mark(conversion.workspace_id, instants=[conversion.occurred_at])
    referral = getattr(conversion, "referral", None) if conversion.referral_id else None
    if referral is not None:
        refresh_scores(workspace_id=conversion.workspace_id, advocate_ids=[referral.advocate_id])


@receiver(events_recorded, dispatch_uid="insights.score_after_events")
def _after_events(sender, workspace, advocate_ids, days=(), **kwargs) -> None:
    refresh_scores(workspace_id=workspace.pk, advocate_ids=advocate_ids)
    if days:
        from .dirty import mark_dirty

        mark_dirty(workspace=workspace, days=days)


@receiver(outcome_changed, dispatch_uid="insights.rollup_after_outcome")
def _after_outcome(sender, outcome, previous_decided_at=None, **kwargs) -> None:
    # pipeline counts on the created day, revenue won on the decided day (old and new)
    _mark(outcome.workspace_id, instants=[outcome.created_at, outcome.decided_at, previous_decided_at])
