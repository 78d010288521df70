"""The manager's task list: check-ins, follow-ups and suggestions about people.

Jobs open tasks with a ``dedupe_key`` so a rerun opens nothing new; managers close them
with notes on what was done."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from ..audit import acting_user, log_action
from ..errors import InvalidTransition, ValidationFailed
from ..models import Advocate, Task, Workspace

MAX_NOTES = 5000


def open_task(
    *, workspace: Workspace, kind: str, title: str, advocate: Advocate | None = None, detail: str = "",
    dedupe_key: str | None = None,
) -> Task | None:
    """Open a task; with ``dedupe_key``, at most once per key (returns None when it exists)."""
    try:
        with transaction.atomic():
            return Task.objects.create(
                workspace=workspace, advocate=advocate, kind=kind, title=title[:200], detail=detail[:10_000],
                dedupe_key=dedupe_key,
            )
    except IntegrityError:
        if dedupe_key is None:
            raise
        return None


@transaction.atomic
def close_task(*, task: Task, actor, notes: str = "", status: str = Task.Status.DONE) -> Task:
    """Mark a task done (or dismissed) with notes on what was done."""
    if status not in (Task.Status.DONE, Task.Status.DISMISSED):
        raise ValidationFailed("A task is closed as done or dismissed.", fields={"status": ["Invalid."]})
    notes = (notes or "").strip()
    if len(notes) > MAX_NOTES:
        raise ValidationFailed(f"Notes are at most {MAX_NOTES:,} characters.", fields={"notes": ["Too long."]})
    now = timezone.now()
    user = acting_user(actor)
    if not Task.objects.filter(pk=task.pk, workspace_id=task.workspace_id, status=Task.Status.OPEN).update(
        status=status, notes=notes, done_at=now, done_by=user,
    ):
        task.refresh_from_db()
        raise InvalidTransition(f"This task is already {task.get_status_display().lower()}.")
    task.refresh_from_db()
    log_action(workspace=task.workspace, actor=actor, action=f"task.{status}", advocate=task.advocate,
               message=f"Task “{task.title}” {task.get_status_display().lower()}" + (f": {notes[:300]}" if notes else ""),
               data={"task": task.pk})
    return task


@transaction.atomic
def reopen_task(*, task: Task, actor) -> Task:
    if not Task.objects.filter(pk=task.pk, workspace_id=task.workspace_id).exclude(status=Task.Status.OPEN).update(
        status=Task.Status.OPEN, done_at=None, done_by=None,
    ):
        raise InvalidTransition("This task is already open.")
    task.refresh_from_db()
    log_action(workspace=task.workspace, actor=actor, action="task.reopened", advocate=task.advocate,
               message=f"Task “{task.title}” reopened", data={"task": task.pk})
    return task
