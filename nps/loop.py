"""The promoter/detractor loop (PRODUCT.md "NPS surveys", "Automation").

When it runs:

- an answer to a send (the email link, the portal) whose category is new for its response
  schedules ``nps.tasks.run_answer_loop`` after commit (``schedule_loop``), delayed by the
  settle period for the email link (``settings.NPS_LOOP_SETTLE_SECONDS``, default 600 s;
  none for the portal). The task reads the response's *current* category and runs the loop
  for it, idempotently: a link scanner that runs scripts and posts a score, then the
  person's own answer within the settle period, start the loop for the final answer only;
- an integration's answer (the API) runs it in its own transaction (no scanner there).

What it does:

- a promoter (9-10): the badge fact ``promoter_answers`` once per response (an audit row
  ``nps.promoter`` naming the response is the marker, so promoter → passive → promoter
  counts once); and when the survey auto-invites promoters and the person is a
  ``candidate``, an invitation from the workspace's team (no program);
- a detractor (0-6): a close-the-loop task for a manager carrying the comment
  (``dedupe_key`` ``nps-detractor:<response id>``, kept in ``response.follow_up_task``)
  and no asks for the workspace's quiet period (``suppress_asks``), once per response;
- a passive (7-8): nothing.

An answer is judged at its time (``answer_time``: when the integration says it was given,
else the latest answer): a detractor's "no asks" runs from then for the quiet period, and
when that period is already over (an old answer an integration imports) neither the
suppression nor the task is made; a promoter answer older than 90 days adds no badge fact
and invites nobody.

A later change from detractor to promoter does not close the task: the manager closes it
with what was done. The advocacy score rises through the ``response_recorded`` signal
(the insights floor recomputes it).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from advocacy.audit import log_action
from advocacy.budget import suppress_asks
from advocacy.errors import DomainError
from advocacy.models import AuditLog, Stage, Suppression, Task, TaskKind
from advocacy.services.tasks import open_task
from rewards.badges import record_fact

from .models import THROTTLE_DAYS, Category, ResponseChannel, SurveyResponse

log = logging.getLogger(__name__)

PROMOTER_ACTION = "nps.promoter"
DETRACTOR_ACTION = "nps.detractor"
DEFAULT_SETTLE_SECONDS = 600
PROMOTER_MAX_AGE = timedelta(days=THROTTLE_DAYS)  # older promoter answers add no fact and invite nobody


def settle_seconds() -> int:
    return int(getattr(settings, "NPS_LOOP_SETTLE_SECONDS", DEFAULT_SETTLE_SECONDS))


def answer_time(response: SurveyResponse) -> datetime:
    """When the answer the loop judges was given: an integration's ``answered_at``, else the
    latest answer to the send (``updated_at``)."""
    if response.channel == ResponseChannel.API:
        return response.answered_at
    return response.updated_at or response.answered_at


def schedule_loop(*, response: SurveyResponse) -> None:
    """Run the loop for this response after commit, once the settle period has passed (the
    email link) or at once (the portal)."""
    from .tasks import run_answer_loop

    countdown = settle_seconds() if response.channel == ResponseChannel.EMAIL else 0
    kwargs = {"workspace_id": response.workspace_id, "response_id": response.pk}
    transaction.on_commit(lambda: run_answer_loop.apply_async(kwargs=kwargs, countdown=countdown))


@transaction.atomic
def run_settled_loop(*, workspace_id: int, response_id: int, now: datetime | None = None) -> str | None:
    """The task's body: the loop for the response's current category (idempotent: the
    promoter's audit marker, the detractor task's dedupe key). Returns the category run.
    ``now`` is for the demo, which replays a year of answers."""
    response = (SurveyResponse.objects.select_for_update(of=("self",)).select_related("advocate", "survey", "workspace")
                .filter(pk=response_id, workspace_id=workspace_id).first())
    if response is None or response.advocate.is_erased:
        return None
    run_loop(response=response, previous_category=None, now=now)
    return response.category


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


def run_loop(*, response: SurveyResponse, previous_category: str | None, now: datetime | None = None) -> None:
    if response.category == previous_category:
        return
    now = now or timezone.now()
    if response.category == Category.PROMOTER:
        _promoter(response, now)
    elif response.category == Category.DETRACTOR:
        _detractor(response, now)


def _promoter(response: SurveyResponse, now: datetime) -> None:
    advocate = response.advocate
    workspace = response.workspace
    if answer_time(response) < now - PROMOTER_MAX_AGE:
        return  # an old answer an integration imports: no badge fact, no invitation
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


def _detractor(response: SurveyResponse, now: datetime) -> None:
    advocate = response.advocate
    workspace = response.workspace
    starts_at = answer_time(response)
    quiet = timedelta(days=workspace.detractor_quiet_days)
    if quiet and starts_at + quiet <= now:
        return  # the quiet period after this (old) answer is over: nothing to suppress or follow up now
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
                  detail=f"answered {response.score} out of 10{survey}", starts_at=starts_at)
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
