"""Receivers that keep advocacy scores current after the events that change them: an NPS
answer, an approved assignment, a conversion, a batch of activity events. Each sends one
task (after commit) recomputing the people concerned (insights/scores.py); the nightly
``recompute_scores`` catches everything else (time passing, declines, expiries)."""

from __future__ import annotations

from django.dispatch import receiver

from advocacy.signals import events_recorded
from nps.signals import response_recorded
from programs.signals import assignment_approved
from referrals.signals import conversion_recorded


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


@receiver(assignment_approved, dispatch_uid="insights.score_after_approval")
def _after_approval(sender, assignment, **kwargs) -> None:
    refresh_scores(workspace_id=assignment.workspace_id, advocate_ids=[assignment.advocate_id])


@receiver(conversion_recorded, dispatch_uid="insights.score_after_conversion")
def _after_conversion(sender, conversion, **kwargs) -> None:
    referral = getattr(conversion, "referral", None) if conversion.referral_id else None
    if referral is not None:
        refresh_scores(workspace_id=conversion.workspace_id, advocate_ids=[referral.advocate_id])


@receiver(events_recorded, dispatch_uid="insights.score_after_events")
def _after_events(sender, workspace, advocate_ids, **kwargs) -> None:
    refresh_scores(workspace_id=workspace.pk, advocate_ids=advocate_ids)
