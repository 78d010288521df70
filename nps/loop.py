"""The promoter/detractor loop (PRODUCT.md "NPS surveys", "Automation"), run by
``nps.services`` inside the answer's transaction when an answer's category is new for its
response (a first answer, or a change of category):

- a promoter (9-10): the badge fact ``promoter_answers`` once per response (an audit row
  ``nps.promoter`` naming the response is the marker, so promoter → passive → promoter
  counts once); and when the survey auto-invites promoters and the person is a
  ``candidate``, an invitation from the workspace's team (no program);
- a detractor (0-6): a close-the-loop task for a manager carrying the comment
  (``dedupe_key`` ``nps-detractor:<response id>``, kept in ``response.follow_up_task``)
  and no asks for the workspace's quiet period (``suppress_asks``), once per response;
- a passive (7-8): nothing.

A later change from detractor to promoter does not close the task: the manager closes it
with what was done. The advocacy score rises through the ``response_recorded`` signal
(the insights floor recomputes it).
"""

from __future__ import annotations

import logging

from django.db import transaction

from advocacy.audit import log_action
from advocacy.budget import suppress_asks
from advocacy.errors import DomainError
from advocacy.models import AuditLog, Stage, Suppression, Task, TaskKind
from advocacy.services.tasks import open_task
from rewards.badges import record_fact

from .models import Category, SurveyResponse

log = logging.getLogger(__name__)

PROMOTER_ACTION = "nps.promoter"
DETRACTOR_ACTION = "nps.detractor"


def dedupe_key(response: SurveyResponse) -> str:
    return f"nps-detractor:{response.pk}"


def task_detail(response: SurveyResponse) -> str:
    """What the detractor's follow-up task says: the score, the survey and the comment."""
    source = f"“{response.survey.name}”" if response.survey_id else "an integration"
    lines = [f"Answered {response.score} out of 10 to {source}."]
    if response.comment:
        lines += ["", "Their comment:", response.comment]
    else:
        lines += ["", "No comment yet."]
    return "\n".join(lines)


def invitation_message(workspace_name: str) -> dict[str, str]:
    """The polite default note of an automatic invitation to a promoter."""
    return {
        "note": (f"Thank you for your kind answer to our survey! We would love to have you in the {workspace_name} "
                 "advocate program: a small group of customers who help others discover us, in ways that suit them."),
        "why_chosen": "You told us you would recommend us, which means a lot to the whole team.",
        "whats_in_it": "Early news, points for what you do that you can spend on rewards, and a direct line to our team.",
        "what_taking_part_looks_like": "Now and then a small, optional ask (a review, a quick call, a short answer). "
                                       "Say no to any ask, pause or leave whenever you like.",
    }


def run_loop(*, response: SurveyResponse, previous_category: str | None) -> None:
    if response.category == previous_category:
        return
    if response.category == Category.PROMOTER:
        _promoter(response)
    elif response.category == Category.DETRACTOR:
        _detractor(response)


def _promoter(response: SurveyResponse) -> None:
    advocate = response.advocate
    workspace = response.workspace
    seen = AuditLog.objects.filter(workspace_id=response.workspace_id, advocate_id=advocate.pk, action=PROMOTER_ACTION,
                                   data__response=response.pk).exists()
    if not seen:
        log_action(workspace=workspace, actor=None, action=PROMOTER_ACTION, advocate=advocate,
                   message=f"Promoter: answered {response.score} out of 10", data={"response": response.pk})
        record_fact(advocate=advocate, fact="promoter_answers")
    survey = response.survey if response.survey_id else None
    if survey is not None and survey.auto_invite_promoters and advocate.stage == Stage.CANDIDATE:
        from programs.invitations import invite_advocate

        try:
            with transaction.atomic():
                invite_advocate(advocate=advocate, actor=None, message=invitation_message(workspace.name),
                                inviter_name=f"The {workspace.name} team"[:120], program=None)
        except DomainError as exc:  # e.g. they take no email: they stay a candidate
            log.info("no automatic invitation for advocate %s: %s", advocate.pk, exc.message)


def _detractor(response: SurveyResponse) -> None:
    advocate = response.advocate
    workspace = response.workspace
    task = open_task(
        workspace=workspace, kind=TaskKind.DETRACTOR, advocate=advocate,
        title=f"Follow up with {advocate.display_name}: NPS {response.score}",
        detail=task_detail(response), dedupe_key=dedupe_key(response),
    )
    if task is None:  # this response opened its task before (detractor → promoter → detractor)
        return
    SurveyResponse.objects.filter(pk=response.pk, workspace_id=response.workspace_id).update(follow_up_task=task)
    response.follow_up_task = task
    survey = f" to “{response.survey.name}”" if response.survey_id else ""
    suppress_asks(advocate=advocate, reason=Suppression.Reason.DETRACTOR,
                  detail=f"answered {response.score} out of 10{survey}", starts_at=response.updated_at)
    log_action(workspace=workspace, actor=None, action=DETRACTOR_ACTION, advocate=advocate,
               message=f"Detractor: answered {response.score} out of 10; follow-up task opened, no asks for "
                       f"{workspace.detractor_quiet_days} days",
               data={"response": response.pk, "task": task.pk})


def refresh_follow_up(*, response: SurveyResponse) -> None:
    """Put the response's comment in its open follow-up task."""
    if not response.follow_up_task_id:
        return
    Task.objects.filter(pk=response.follow_up_task_id, workspace_id=response.workspace_id, status=Task.Status.OPEN).update(
        detail=task_detail(response)[:10_000],
    )
