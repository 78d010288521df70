"""Celery tasks of the NPS app (conventions: advocacy/tasks.py).

- ``send_surveys`` (hourly beat, queue ``jobs``) fans out one ``send_surveys_in_workspace``
  per workspace with a due active survey; each sends the due rounds
  (``nps.services.send_due_surveys``). Idempotent: each round is claimed with a
  conditional UPDATE, and sends are unique per (survey, round, person).
- ``run_answer_loop`` runs the promoter/detractor loop of an answer once its settle period
  has passed (nps/loop.py), for the answer's category at that time; idempotent.
- ``send_survey_emails`` emails a batch of sends after the round's commit; a dedupe mark
  per send (nps/notifications.py) makes a redelivery send no second copy.
"""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from advocacy.models import Workspace
from advocacy.scoping import scopes_disabled
from advocacy.tasks import WorkspaceTask

QUEUE = "jobs"


@shared_task(name="nps.tasks.send_surveys")
def send_surveys() -> int:
    """Hourly: the due rounds of every workspace, one task per workspace that has some."""
    from .models import Survey, SurveyStatus

    with scopes_disabled():
        ids = list(Survey.objects.filter(status=SurveyStatus.ACTIVE, next_run_at__lte=timezone.now())
                   .order_by().values_list("workspace_id", flat=True).distinct())
    for workspace_id in ids:
        send_surveys_in_workspace.apply_async(kwargs={"workspace_id": workspace_id}, queue=QUEUE)
    return len(ids)


@shared_task(base=WorkspaceTask, bind=True, name="nps.tasks.send_surveys_in_workspace")
def send_surveys_in_workspace(self, *, workspace_id: int) -> int:
    from .services import send_due_surveys

    return send_due_surveys(workspace=Workspace.objects.get(pk=workspace_id))


@shared_task(base=WorkspaceTask, bind=True, name="nps.tasks.send_survey_emails", autoretry_for=(OSError,),
             retry_backoff=30, retry_backoff_max=600, max_retries=8)
def send_survey_emails(self, *, workspace_id: int, send_ids: list[int]) -> int:
    from .notifications import send_survey_emails as run

    return run(workspace_id=workspace_id, send_ids=send_ids)


@shared_task(base=WorkspaceTask, bind=True, name="nps.tasks.run_answer_loop")
def run_answer_loop(self, *, workspace_id: int, response_id: int) -> str | None:
    from .loop import run_settled_loop

    return run_settled_loop(workspace_id=workspace_id, response_id=response_id)
