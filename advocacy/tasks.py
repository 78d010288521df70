"""Celery tasks of the core, and the conventions every app's tasks follow:

- tasks take ids, never model instances, and are dispatched with ``enqueue`` so they run
  only after the surrounding transaction commits;
- a task that works on one workspace takes ``workspace_id`` and runs inside that
  workspace's scope (``WorkspaceTask`` re-enters it), so a tenant query cannot leak;
- every task is idempotent (a conditional claim, a unique key or ON CONFLICT), which is
  what makes ``acks_late`` + ``reject_on_worker_lost`` safe.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import Task, shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .scoping import scopes_disabled, workspace_scope

log = logging.getLogger(__name__)


class WorkspaceTask(Task):
    """Runs the task body inside the scope of the ``workspace_id`` it was given."""

    acks_late = True
    reject_on_worker_lost = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        workspace_id = kwargs.get("workspace_id")
        if workspace_id is None:
            raise TypeError(f"{self.name} must be called with workspace_id=…")
        with workspace_scope(int(workspace_id)):
            return super().__call__(*args, **kwargs)


def enqueue(task: Task, **kwargs: Any) -> None:
    """Send ``task`` with keyword arguments once the current transaction commits."""
    transaction.on_commit(lambda: task.apply_async(kwargs=kwargs))


@shared_task(base=WorkspaceTask, bind=True, name="advocacy.tasks.run_import")
def run_import(self, *, workspace_id: int, import_id: int) -> None:
    from .services.imports import apply_import

    apply_import(job_id=import_id)


@shared_task(name="advocacy.tasks.send_email", acks_late=True, autoretry_for=(OSError,),
             retry_backoff=30, retry_backoff_max=600, max_retries=8)
def send_email(*, to: list[str], subject: str, text: str, html: str = "", headers: dict | None = None) -> None:
    """Deliver one rendered message (rendering happens where the context is, sending here)."""
    from django.core.mail import EmailMultiAlternatives

    message = EmailMultiAlternatives(subject=subject, body=text, to=to, headers=headers or {})
    if html:
        message.attach_alternative(html, "text/html")
    message.send()


@shared_task(name="advocacy.tasks.purge_idempotency_keys")
def purge_idempotency_keys() -> int:
    """Forget idempotency records older than their time to live (24 hours)."""
    from .models import IdempotencyRecord

    cutoff = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    with scopes_disabled():
        deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    log.info("purged %s idempotency records", deleted)
    return deleted
